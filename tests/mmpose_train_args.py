"""A config as MMPose's own ``tools/train.py`` puts it together from its
command line (not a test module): what ``tools/train.py`` and ``mim train
mmpose`` run, for the tests of the paper configs' training switches (the W48
ImageNet weights, the batch guard, the AMP loss scale)."""
import importlib.util
import os.path as osp
import sys

import mmpose
from mmengine.config import Config


def train_script_cfg(monkeypatch, *argv):
    """The config that MMPose's tools/train.py builds from ``argv`` (its
    argument parsing and ``merge_args``, without running it)."""
    script = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                      'train.py')
    spec = importlib.util.spec_from_file_location('mmpose_train', script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [script, *map(str, argv)])
    monkeypatch.setenv('LOCAL_RANK', '0')
    args = module.parse_args()
    return module.merge_args(Config.fromfile(args.config), args)
