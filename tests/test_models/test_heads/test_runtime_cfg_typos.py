"""mmpose_boir/models/heads/runtime_cfg.py: a ``test_cfg`` typo is refused
when the model is built, a ``train_cfg`` typo at the first training step
(MMPose's estimator hands train_cfg to the head only in ``loss``), each
naming the closest key."""
import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import build_model, tiny_config


def _build(**cfg_options):
    cfg = tiny_config()
    cfg.merge_from_dict(cfg_options)
    return build_model(cfg)


def test_test_cfg_typo_names_the_closest_key():
    with pytest.raises(ValueError, match='did you mean flip_test'):
        _build(**{'model.test_cfg.flip_tset': False})
    # MMPose's estimator hands train_cfg to the head only in loss(): the
    # typo stops the first training step, before any data is used
    model = _build(**{'model.train_cfg.max_train_instance': 5})
    with pytest.raises(ValueError,
                       match='did you mean max_train_instances'):
        model.loss(torch.zeros(1, 3, 64, 64), [])
