"""Check the installed stack (see mmpose_boir/env.py).

Loads env.py by path, so that it also reports when ``import mmpose_boir``
itself fails.
"""
import importlib.util
import os.path as osp
import sys

if __name__ == '__main__':
    path = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'mmpose_boir',
                    'env.py')
    spec = importlib.util.spec_from_file_location('mmpose_boir_env', path)
    env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(env)
    sys.exit(env.main())
