"""PackMultiScalePoseInputs (mmpose_boir/datasets/transforms/
multiscale_packing.py): without an image pyramid it packs what MMPose's
PackPoseInputs packs. The pyramid, batched per scale:
test_models/test_data_preprocessors/test_data_preprocessor.py; the
multi-scale test end to end: test_models/test_pose_estimators/test_boir.py.
"""
import copy

import torch
from mmpose.registry import DATASETS, TRANSFORMS

import mmpose_boir  # noqa: F401
from conftest import tiny_config


def test_pack_single_image_is_pack_pose_inputs():
    cfg = tiny_config()
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    ours = dataset[0]
    pack = cfg.test_dataloader.dataset.pipeline[-1]
    theirs_cfg = dict(pack, type='PackPoseInputs')
    dataset.pipeline.transforms[-1] = TRANSFORMS.build(theirs_cfg)
    theirs = dataset[0]
    assert torch.equal(ours['inputs'], theirs['inputs'])
    assert ours['data_samples'].metainfo.keys() == \
        theirs['data_samples'].metainfo.keys()
