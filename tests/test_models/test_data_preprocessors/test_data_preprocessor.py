"""BoIRDataPreprocessor (mmpose_boir/models/data_preprocessors/): the
multi-scale test's image pyramid, packed per image by the test pipeline
(``BottomupResize(aug_scales=...)`` -> ``PackMultiScalePoseInputs``), is
batched per scale; the main scale as MMPose's PoseDataPreprocessor
batches it. The multi-scale test end to end:
test_models/test_pose_estimators/test_boir.py."""
import copy

import torch
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from conftest import tiny_config


def test_pyramid_is_packed_and_batched_per_scale():
    cfg = tiny_config()
    pipeline = cfg.test_dataloader.dataset.pipeline
    resize = [t for t in pipeline if t['type'] == 'BoIRBottomupResize'][0]
    resize['aug_scales'] = [0.5, 1.5]
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    sample = dataset[0]
    inputs = sample['inputs']
    assert isinstance(inputs, list) and len(inputs) == 3
    h, w = inputs[0].shape[-2:]
    assert sample['data_samples'].metainfo['aug_scales'] == [0.5, 1.5]
    assert tuple(sample['data_samples'].metainfo['input_size']) == (w, h)
    # each scale padded to the config's size factor (32)
    for x in inputs:
        assert x.shape[0] == 3 and x.shape[1] % 32 == 0 and x.shape[2] % 32 == 0
    assert inputs[1].shape[-1] < w < inputs[2].shape[-1]

    pre = MODELS.build(cfg.model.data_preprocessor)
    plain = MODELS.build(dict(cfg.model.data_preprocessor,
                              type='PoseDataPreprocessor'))
    data = pseudo_collate([dataset[0], dataset[0]])
    out = pre(copy.deepcopy(data))
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 3
    for x, single in zip(out['inputs'], inputs):
        assert x.shape == (2, 3) + tuple(single.shape[-2:])
    # pseudo_collate transposes: data['inputs'][s] holds scale s of each image
    main = plain(dict(inputs=list(data['inputs'][0]),
                      data_samples=data['data_samples']))
    assert torch.allclose(out['inputs'][0], main['inputs'])
    # the metainfo set by the preprocessor describes the main scale
    assert out['data_samples'][0].metainfo['batch_input_shape'] == (h, w)
