"""Run MMPose's own command-line tools with mmpose_boir registered.

Used by ``tools/train.py`` and ``tools/test.py`` (both import it from this
directory). When they are launched with a launcher (``--launcher pytorch``,
as ``tools/dist_train.sh`` and ``tools/dist_test.sh`` do), the CPU fallback
of ``tools/cpu_distributed.py`` is applied first; it changes nothing on a
machine with a GPU.
"""
import os.path as osp
import runpy
import sys
from typing import List, Optional


def launcher_of(argv: List[str]) -> Optional[str]:
    """The value of ``--launcher`` in ``argv`` (MMPose's scripts' option),
    or None when it is not given."""
    for i, arg in enumerate(argv):
        if arg == '--launcher' and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith('--launcher='):
            return arg.split('=', 1)[1]
    return None


def run_mmpose_tool(name: str) -> None:
    """Run ``mmpose/.mim/tools/{name}.py`` as ``__main__`` with this
    process's arguments (``tools/train.py`` and ``tools/test.py``)."""
    import mmpose

    import mmpose_boir  # noqa: F401  (compat shims + registration)
    if launcher_of(sys.argv[1:]) not in (None, 'none'):
        import cpu_distributed
        cpu_distributed.patch()  # no-op where a GPU exists
    script = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                      f'{name}.py')
    sys.argv[0] = script
    runpy.run_path(script, run_name='__main__')
