"""Test a BoIR model: MMPose's `tools/test.py` with mmpose_boir registered.

Same arguments as MMPose's script (`python tools/test.py -h`); the configs
also import mmpose_boir through `custom_imports`, so
`mim test mmpose CONFIG ...` works too.
"""
from mmpose_boir.engine.mmpose_tools import run_mmpose_tool

if __name__ == '__main__':
    run_mmpose_tool('test')
