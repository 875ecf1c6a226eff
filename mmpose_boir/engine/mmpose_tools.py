"""Run MMPose's own command-line tools with mmpose_boir registered.

Used by ``tools/train.py`` and ``tools/test.py``. First, as every tool:
:mod:`.tool_setup` (CPU threads for the machine's load, known harmless
warnings silenced) and the config as merged with ``--cfg-options`` checked
(:mod:`.config_check`); the merged config that MMEngine's runner writes
never replaces a file named on the command line
(:func:`keep_inputs_unchanged`). When they are launched with a launcher
(``--launcher pytorch``, as ``tools/dist_train.sh`` and
``tools/dist_test.sh`` do), the CPU fallback of :mod:`.cpu_distributed` is
applied first; it changes nothing on a machine with a GPU. Importing this
module changes nothing.
"""
import os
import os.path as osp
import runpy
import sys
from typing import List, Optional, Sequence, Tuple


def launcher_of(argv: List[str]) -> Optional[str]:
    """The value of ``--launcher`` in ``argv`` (MMPose's scripts' option),
    or None when it is not given."""
    for i, arg in enumerate(argv):
        if arg == '--launcher' and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith('--launcher='):
            return arg.split('=', 1)[1]
    return None


def config_and_options(argv: Sequence[str]) -> Tuple[Optional[str], dict]:
    """The config (the first argument, as MMPose's scripts take it) and the
    ``--cfg-options`` of an MMPose tool's command line."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    options, _ = parser.parse_known_args(list(argv))
    config = argv[0] if argv and not argv[0].startswith('-') else None
    return config, options.cfg_options


#: the files named on the command line of this process's tool (see
#: :func:`keep_inputs_unchanged`)
_INPUTS: set = set()


def keep_inputs_unchanged(argv: Sequence[str]) -> None:
    """MMEngine's ``Runner`` writes the merged config to
    ``WORK_DIR/<config file name>``. When that is a file named on the
    command line (a config kept in its own work directory), it goes into
    the run's timestamped folder instead, so that no run rewrites its
    input. Applies to this process (a tool's) only; a second call replaces
    the inputs of the first (``Runner.dump_config`` is wrapped once)."""
    from mmengine.dist import master_only
    from mmengine.logging import print_log
    from mmengine.runner import Runner
    _INPUTS.clear()
    _INPUTS.update(osp.realpath(a) for a in argv if osp.isfile(a))
    if getattr(Runner.dump_config, 'keeps_inputs', False):
        return
    original = Runner.dump_config

    @master_only
    def dump_config(self) -> None:
        name = (osp.basename(self.cfg.filename) if self.cfg.filename else
                f'{self.timestamp}.py')
        if osp.realpath(osp.join(self.work_dir, name)) not in _INPUTS:
            return original(self)
        os.makedirs(self.log_dir, exist_ok=True)
        target = osp.join(self.log_dir, name)
        self.cfg.dump(target)
        print_log(f'the merged config is written to {target}, not over '
                  f'{osp.join(self.work_dir, name)} (an input of this '
                  'command)', logger='current')

    dump_config.keeps_inputs = True
    Runner.dump_config = dump_config


def run_mmpose_tool(name: str) -> None:
    """Run ``mmpose/.mim/tools/{name}.py`` as ``__main__`` with this
    process's arguments (``tools/train.py`` and ``tools/test.py``), after
    ``setup_tool``'s two steps, ``load_checked_config`` on the command
    line's config and ``--cfg-options`` (a problem: one line on stderr,
    exit 1) and :func:`keep_inputs_unchanged`."""
    import mmpose

    import mmpose_boir  # noqa: F401  (compat shims + registration)
    from .config_check import ConfigCheckError, load_checked_config
    from .tool_setup import quiet_known_warnings, set_cpu_threads
    argv = sys.argv[1:]
    launcher = launcher_of(argv)
    quiet_known_warnings()
    if launcher in (None, 'none'):
        set_cpu_threads()
    config, cfg_options = config_and_options(argv)
    if config is not None and osp.isfile(config):
        try:
            load_checked_config(config, cfg_options)
        except ConfigCheckError as exc:
            print(f'error: {exc}', file=sys.stderr)
            sys.exit(1)
    keep_inputs_unchanged(argv)
    if launcher not in (None, 'none'):
        from .cpu_distributed import patch
        patch()  # no-op where a GPU exists
    script = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                      f'{name}.py')
    sys.argv[0] = script
    runpy.run_path(script, run_name='__main__')
