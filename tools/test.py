"""Test a BoIR model: MMPose's `tools/test.py` with mmpose_boir registered.

Same arguments as MMPose's script (`python tools/test.py -h`); the configs
also import mmpose_boir through `custom_imports`, so
`mim test mmpose CONFIG ...` works too.
"""
import os.path as osp
import runpy
import sys

import mmpose

import mmpose_boir  # noqa: F401  (compat shims + registration)

if __name__ == '__main__':
    script = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', 'test.py')
    sys.argv[0] = script
    runpy.run_path(script, run_name='__main__')
