"""Train a BoIR model: MMPose's `tools/train.py` with mmpose_boir registered.

Same arguments as MMPose's script (`python tools/train.py -h`); the configs
also import mmpose_boir through `custom_imports`, so
`mim train mmpose CONFIG ...` works too.

With `--launcher pytorch` (`tools/dist_train.sh`) on a machine without a GPU,
the processes run on CPU with the gloo backend
(`mmpose_boir.engine.cpu_distributed`);
MMPose's own script (`mim train mmpose ... --launcher pytorch`) does not.

Before MMPose's script runs (`mmpose_boir.engine.mmpose_tools`): the config
as merged
with `--cfg-options` is checked by `mmpose_boir.engine.config_check` (an
unknown transform argument, `input_sise`, fails here with the closest
name, not at the first batch); on a busy CPU fewer threads are used unless
OMP_NUM_THREADS is set; the merged config that MMEngine writes into the
work directory never replaces a file named on the command line.
"""
from mmpose_boir.engine.mmpose_tools import run_mmpose_tool

if __name__ == '__main__':
    run_mmpose_tool('train')
