"""mmpose_boir/engine/config_check.py: a config entry that would fail later
(a transform or codec argument typo, an unknown transform type, a number
given as text) is refused naming the entry and the closest name; every
shipped config passes the check."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG
from mmpose_boir.engine.config_check import ConfigCheckError, check_config


def test_config_check_names_the_entry_and_the_closest_name():
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    cases = {
        'test_evaluator.nms_thr': ('0.5x', "nms_thr='0.5x' is a str, "
                                   'expected float'),
        'test_dataloader.dataset.pipeline.1.input_sise': (
            256, "test_dataloader.dataset.pipeline[1]: transform "
            "BoIRBottomupResize has no argument 'input_sise' (did you mean "
            'input_size?)'),
        'train_dataloader.dataset.pipeline.3.encoder.heatmap_sise': (
            3, 'pipeline[3].encoder: codec BoIRDecoupledHeatmap has no '
            "argument 'heatmap_sise' (did you mean heatmap_size?)"),
        'train_dataloader.dataset.pipeline.0.type': (
            'LoadImagee', "unknown transform type 'LoadImagee' (did you "
            'mean LoadImage?)'),
    }
    for key, (value, message) in cases.items():
        bad = cfg.copy()
        bad.merge_from_dict({key: value})
        with pytest.raises(ConfigCheckError) as err:
            check_config(bad)
        assert message in str(err.value), (key, str(err.value))
    check_config(cfg)


def test_every_shipped_config_passes_the_check():
    configs = [c for c in glob.glob(osp.join(REPO_ROOT, 'configs', 'boir',
                                             '**', '*.py'), recursive=True)
               if not osp.basename(c).startswith('_base_')]
    assert len(configs) > 10
    for config in configs:
        check_config(Config.fromfile(config))
