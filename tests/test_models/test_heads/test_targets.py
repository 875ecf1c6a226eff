"""The box supervision's targets (mmpose_boir/models/heads/targets.py):
``collect_instance_boxes`` from the tiny CID's samples and from RTMO's
input-pixel boxes, its map-size check, and the public collation training a
user's own head with BboxMaskLoss."""
import numpy as np
import pytest
import torch
from torch import nn

import mmpose_boir  # noqa: F401
from mmpose_boir.models.heads import collect_instance_boxes
from mmpose_boir.models.losses import BboxMaskLoss
from tiny_training import BOX_CID, packed_samples, tiny_cid


@pytest.fixture(scope='module')
def cid_samples():
    np.random.seed(0)
    return packed_samples(tiny_cid(BOX_CID), indices=(0, 1, 2, 3))


def test_bbox_mask_loss_trains_a_users_own_head(cid_samples):
    """A five-line head of one's own, the loss and the public collation."""

    class MyEmbedding(nn.Module):

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            return self.conv(x)

    torch.manual_seed(0)
    head = MyEmbedding().double()
    loss_fn = BboxMaskLoss(loss_weight=1.0)
    boxes = collect_instance_boxes(cid_samples, (32, 32), dtype=torch.float64)
    assert boxes.boxes.dtype == torch.float64 and len(boxes.boxes) > 0
    assert [len(b) for b in boxes.per_image()] == [
        len(s.gt_instance_labels.instance_coords) for s in cid_samples]
    x = torch.rand(len(cid_samples), 3, 32, 32, dtype=torch.float64)
    optim = torch.optim.SGD(head.parameters(), lr=1.0)
    values = []
    for _ in range(20):
        loss = loss_fn(head(x), boxes.per_image())
        optim.zero_grad()
        loss.backward()
        values.append(loss.item())
        optim.step()
    assert head.conv.weight.grad.abs().sum() > 0
    assert values[-1] < 0.9 * values[0]


def test_collect_instance_boxes_from_input_pixel_boxes():
    """RTMO's codec packs input-pixel boxes: scaled to the map by the
    batch's input shape, corners clipped, centers at the box center."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    sample = PoseDataSample(metainfo=dict(batch_input_shape=(64, 128),
                                          img_path='a.jpg'))
    sample.gt_instance_labels = InstanceData(bboxes=torch.tensor(
        [[8., 16., 40., 48.], [-16., 0., 32., 80.]]))
    boxes = collect_instance_boxes([sample], (32, 16))
    torch.testing.assert_close(boxes.boxes, torch.tensor(
        [[2., 4., 8., 8.], [0., 0., 8., 15.]]))
    assert boxes.coords.tolist() == [[6, 8], [4, 7]]
    assert boxes.img_ids.tolist() == [0, 0]
    with pytest.raises(ValueError, match='map_size'):
        collect_instance_boxes([sample])
    sample.gt_instance_labels = InstanceData()
    with pytest.raises(KeyError, match=r'a\.jpg.*GenerateInstanceBoxes'):
        collect_instance_boxes([sample], (32, 16))


def test_boxes_on_another_map_than_the_features_are_refused(cid_samples):
    with pytest.raises(ValueError, match='32x32 map, the features on a 16x16'):
        collect_instance_boxes(cid_samples, (16, 16))
