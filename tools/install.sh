#!/usr/bin/env bash
# Install mmpose-boir and its pinned OpenMMLab stack into the current Python
# (set PYTHON=/path/to/python to choose another). Idempotent: when every pin
# in requirements/pinned.txt is already satisfied and the package is
# installed from this checkout, it only checks and exits.
#
#   bash tools/install.sh            # CPU or CUDA machine, mmcv-lite
#
# The first run downloads/copies about 6 GB (torch 2.14.1 is a CUDA build,
# which also runs on CPU); see README.md for measured times.
set -euo pipefail

PYTHON=${PYTHON:-python}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PINS="$ROOT/requirements/pinned.txt"

group() {  # the requirement lines of one group of pinned.txt
    awk -v g="$1" '/^# --- group:/ {on = ($4 == g); next}
                   on && !/^#/ && NF {print $1}' "$PINS"
}

satisfied() {  # exit 0 when every pin is met and mmpose_boir is ours
    "$PYTHON" - "$PINS" "$ROOT" <<'PY'
import os
import sys
from importlib import metadata

from packaging.requirements import Requirement

pins, root = sys.argv[1:3]
for line in open(pins):
    line = line.strip()
    if not line or line.startswith('#'):
        continue
    req = Requirement(line)
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        sys.exit(f'missing {req.name}')
    if not req.specifier.contains(version, prereleases=True):
        sys.exit(f'{req.name} {version} does not satisfy {req}')
try:
    import mmpose_boir
except ImportError:
    sys.exit('mmpose_boir is not installed')
here = os.path.realpath(os.path.join(root, 'mmpose_boir'))
if os.path.realpath(os.path.dirname(mmpose_boir.__file__)) != here:
    sys.exit(f'mmpose_boir is installed from {mmpose_boir.__file__}')
PY
}

start=$(date +%s)
if reason=$(cd / && satisfied 2>&1); then
    echo "install.sh: everything pinned is installed; nothing to do"
else
    echo "install.sh: installing (${reason##*$'\n'})"
    # shellcheck disable=SC2046
    "$PYTHON" -m pip install --disable-pip-version-check $(group base)
    # shellcheck disable=SC2046
    "$PYTHON" -m pip install --disable-pip-version-check --no-deps \
        $(group nodeps)
    "$PYTHON" -m pip install --disable-pip-version-check --no-deps \
        --no-build-isolation -e "$ROOT"
fi
# the mmcv.ops fallback at interpreter start (docs/install.md, "The mmcv.ops
# fallback without the plugin"): a hook module and a one-line .pth file in
# site-packages; rewritten only when they differ. Undo: delete both.
SITE=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
HOOK_SRC="$ROOT/mmpose_boir/compat/mmcv_ops_hook.py"
HOOK="$SITE/mmpose_boir_mmcv_ops_hook.py"
PTH="$SITE/mmpose_boir_mmcv_ops.pth"
PTH_LINE='import mmpose_boir_mmcv_ops_hook; mmpose_boir_mmcv_ops_hook.install()'
if ! cmp -s "$HOOK_SRC" "$HOOK"; then
    cp "$HOOK_SRC" "$HOOK"
    echo "install.sh: wrote $HOOK"
fi
if [ "$(cat "$PTH" 2>/dev/null)" != "$PTH_LINE" ]; then
    printf '%s\n' "$PTH_LINE" > "$PTH"
    echo "install.sh: wrote $PTH"
fi
# prove the stack works (names the broken package otherwise)
"$PYTHON" "$ROOT/tools/env_check.py" --quiet
echo "install.sh: done in $(( $(date +%s) - start )) s"
