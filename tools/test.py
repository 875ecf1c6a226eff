"""Test a BoIR model: MMPose's `tools/test.py` with mmpose_boir registered.

Same arguments as MMPose's script (`python tools/test.py -h`); the configs
also import mmpose_boir through `custom_imports`, so
`mim test mmpose CONFIG ...` works too.

With `--launcher pytorch` (`tools/dist_test.sh`) on a machine without a GPU,
the processes run on CPU with the gloo backend
(`mmpose_boir.engine.cpu_distributed`);
MMPose's own script (`mim test mmpose ... --launcher pytorch`) does not.

Before MMPose's script runs (`mmpose_boir.engine.mmpose_tools`): the config
and the
checkpoint are checked (a missing or unreadable file: one line, exit 1);
the config as merged with `--cfg-options` is checked by
`mmpose_boir.engine.config_check` (an unknown transform argument or a
metric option of the wrong kind, e.g. `test_evaluator.nms_thr=0.5x`, fails
here, not after the inference pass); on a busy CPU fewer threads are used
unless OMP_NUM_THREADS is set; the merged config that MMEngine writes into
the work directory never replaces a file named on the command line.
`--show-dir DIR` draws the people that inference returns
(`BoIRVisualizationHook`).
"""
import sys

from mmpose_boir.engine.mmpose_tools import run_mmpose_tool


def check_files(argv) -> int:
    """A missing config, a missing or unreadable checkpoint: one clear
    line (the demo's checks) instead of MMEngine's traceback."""
    positional = [a for a in argv[:2] if not a.startswith('-')]
    if len(positional) < 2:
        return 0  # let MMPose's argparse explain the usage
    from mmpose_boir.engine.tool_setup import (ToolInputError,
                                               check_checkpoint_file,
                                               check_config_file)
    try:
        check_config_file(positional[0])
        check_checkpoint_file(positional[1])
    except ToolInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    if check_files(sys.argv[1:]):
        sys.exit(1)
    run_mmpose_tool('test')
