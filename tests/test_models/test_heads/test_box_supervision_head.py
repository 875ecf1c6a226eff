"""BoxSupervisionHead (the box supervision of any bottom-up model, here on
the tiny CID's samples): each part switches on alone, with its loss, its
float32 maps and its weight; the losses stay float32 under autocast."""
import copy

import numpy as np
import pytest
import torch
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from tiny_training import BOX_CID, packed_samples, tiny_cid


@pytest.fixture(scope='module')
def cid_samples():
    np.random.seed(0)
    return packed_samples(tiny_cid(BOX_CID), indices=(0, 1, 2, 3))


@pytest.mark.parametrize('on', ['heatmap_head', 'embedding_head',
                                'bbox_head'])
def test_each_part_switches_on_alone(on, cid_samples):
    from mmpose_boir.models.heads.box_supervision_head import (LOSS_NAMES,
                                                               PARTS)
    box_cfg = tiny_cid(BOX_CID).model.aux_head
    cfg = dict(box_cfg, **{p: None for p in PARTS if p != on})
    head = MODELS.build(cfg)
    assert list(head.parts) == [on]
    torch.manual_seed(0)
    feats = (torch.rand(len(cid_samples), 120, 32, 32), )
    losses = head.loss(feats, cid_samples)
    assert list(losses) == [LOSS_NAMES[on]]
    losses[LOSS_NAMES[on]].backward()
    grads = [p.grad for p in getattr(head, on).parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    # float64 model: the part hands its loss float32 maps, as the release
    # casts them
    head64 = copy.deepcopy(head).double()
    part = getattr(head64, on)
    seen = []
    part.loss_module.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].dtype))
    head64.loss((feats[0].double(), ), cid_samples)
    assert seen == [torch.float32]
    # the weight scales the loss
    heavier = copy.deepcopy(cfg)
    heavier[on] = dict(heavier[on], loss=dict(heavier[on]['loss'],
                                              loss_weight=2.0 * heavier[on]
                                              ['loss']['loss_weight']))
    twice = MODELS.build(heavier)
    twice.load_state_dict(head.state_dict())
    torch.testing.assert_close(
        twice.loss(feats, cid_samples)[LOSS_NAMES[on]],
        2 * head.loss(feats, cid_samples)[LOSS_NAMES[on]])
    with pytest.raises(ValueError, match='every part is switched off'):
        MODELS.build(dict(box_cfg, **{p: None for p in PARTS}))


def test_losses_are_float32_under_autocast(cid_samples):
    box_cfg = tiny_cid(BOX_CID).model.aux_head
    head = MODELS.build(box_cfg)
    feats = (torch.rand(len(cid_samples), 120, 32, 32), )
    with torch.autocast('cpu', dtype=torch.bfloat16):
        maps = head(feats)
        losses = head.loss(feats, cid_samples)
    assert all(m.dtype == torch.bfloat16 for m in maps.values())
    assert all(v.dtype == torch.float32 for v in losses.values())
