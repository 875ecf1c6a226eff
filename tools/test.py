"""Test a BoIR model: MMPose's `tools/test.py` with mmpose_boir registered.

Same arguments as MMPose's script (`python tools/test.py -h`); the configs
also import mmpose_boir through `custom_imports`, so
`mim test mmpose CONFIG ...` works too.

With `--launcher pytorch` (`tools/dist_test.sh`) on a machine without a GPU,
the processes run on CPU with the gloo backend (`tools/cpu_distributed.py`);
MMPose's own script (`mim test mmpose ... --launcher pytorch`) does not.
"""
from mmpose_tools import run_mmpose_tool  # tools/mmpose_tools.py

if __name__ == '__main__':
    run_mmpose_tool('test')
