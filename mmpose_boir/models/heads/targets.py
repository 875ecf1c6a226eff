"""Training targets of the box supervision, collated from a batch's data
samples: per-instance boxes and the multi-person heatmaps.

Public: :func:`collect_instance_boxes` (any head that supervises boxes or a
pixel embedding can call it) and :func:`collect_heatmaps`.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor


class InstanceBoxes(NamedTuple):
    """The encoded instances of a batch and their boxes.

    Attributes:
        boxes: ``[N, 4]`` (x, y, w, h) in cells of the output map, all images.
        coords: ``[N, 2]`` long, (x, y) cell of each instance's center.
        img_ids: ``[N]`` long, the image of each instance in the batch.
        batch_size: B, the number of images.
    """
    boxes: Tensor
    coords: Tensor
    img_ids: Tensor
    batch_size: int

    def per_image(self) -> List[Tensor]:
        """The boxes of each image: B tensors ``[n_b, 4]`` (what
        :class:`BboxMaskLoss` takes)."""
        return [self.boxes[self.img_ids == b] for b in range(self.batch_size)]


def _name(sample, i: int) -> str:
    return sample.metainfo.get('img_path', f'sample {i}')


def collect_instance_boxes(batch_data_samples: Sequence,
                           map_size: Optional[Tuple[int, int]] = None,
                           device: torch.device = None,
                           dtype: torch.dtype = torch.float32
                           ) -> InstanceBoxes:
    """Collate the boxes of a batch's instances.

    Two sources, tried in this order, per data sample:

    1. ``gt_instance_labels.instance_boxes`` (from ``GenerateInstanceBoxes``
       / ``BoxEmbeddingSampling`` after ``GenerateTarget``): one box per
       encoded instance, in output-map cells, with the codec's
       ``instance_coords`` as centers. The codecs of BoIR and CID encode
       them. With ``map_size`` the codec's map (``gt_fields.heatmaps``) must
       have that size.
    2. ``gt_instance_labels.bboxes`` (x1, y1, x2, y2 in input pixels, e.g.
       from MMPose's ``YOLOXPoseAnnotationProcessor``, RTMO's codec; already
       scaled by batch resizing): every box, scaled to ``map_size`` (needed
       then) by the network input (``batch_input_shape``), its corners
       clipped to the map; the center is the box center's cell.

    Args:
        batch_data_samples: the batch's ``PoseDataSample`` list.
        map_size: (W, H) of the map the boxes are used on.
        device: where the tensors go (default: CPU).
        dtype: of ``boxes`` (the values are float32, as the pipeline makes
            them, then cast: float64 keeps them exactly).

    Returns:
        :class:`InstanceBoxes`.

    Raises:
        KeyError: a sample has neither source (naming its image).
        ValueError: box and instance counts differ, or the map sizes do.
    """
    boxes, coords, ids = [], [], []
    for i, d in enumerate(batch_data_samples):
        labels = d.gt_instance_labels
        if 'instance_boxes' in labels:
            n = len(labels.instance_coords)
            if len(labels.instance_boxes) != n:
                raise ValueError(f'{_name(d, i)}: {len(labels.instance_boxes)}'
                                 f' boxes for {n} instances')
            if map_size is not None and 'heatmaps' in d.get('gt_fields', {}):
                own = tuple(d.gt_fields.heatmaps.shape[-2:][::-1])
                if own != tuple(map_size):
                    raise ValueError(
                        f'{_name(d, i)}: the boxes are on the codec\'s '
                        f'{own[0]}x{own[1]} map, the features on a '
                        f'{map_size[0]}x{map_size[1]} one')
            box = torch.as_tensor(labels.instance_boxes).reshape(n, 4)
            coord = torch.as_tensor(labels.instance_coords).reshape(-1, 2)
        elif 'bboxes' in labels:
            if map_size is None:
                raise ValueError('collect_instance_boxes: boxes in input '
                                 'pixels need the map_size to scale to')
            box, coord = _boxes_on_map(d, torch.as_tensor(labels.bboxes),
                                       map_size)
            n = len(box)
        else:
            raise KeyError(
                f'{_name(d, i)}: no `instance_boxes` in gt_instance_labels; '
                'add BoxEmbeddingSampling after GenerateTarget in the '
                'pipeline (GenerateInstanceBoxes, the same transform)')
        boxes.append(box)
        coords.append(coord)
        ids.append(torch.full((n, ), i, dtype=torch.long))
    return InstanceBoxes(
        boxes=torch.cat(boxes).to(device).float().to(dtype),
        coords=torch.cat(coords).long().to(device),
        img_ids=torch.cat(ids).to(device),
        batch_size=len(batch_data_samples))


def _boxes_on_map(sample, xyxy: Tensor,
                  map_size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """(x, y, w, h) boxes and center cells on the map from input-pixel
    (x1, y1, x2, y2) boxes."""
    meta = sample.metainfo
    if 'batch_input_shape' in meta:
        h, w = meta['batch_input_shape']
    else:
        w, h = meta['input_size']
    W, H = map_size
    scale = torch.tensor([W / w, H / h] * 2, dtype=torch.float64)
    upper = torch.tensor([W - 1, H - 1] * 2, dtype=torch.float64)
    xyxy = xyxy.reshape(-1, 4).double() * scale
    xyxy = torch.minimum(xyxy.clamp(min=0), upper)
    box = torch.cat((xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]), 1)
    center = ((xyxy[:, :2] + xyxy[:, 2:]) / 2).floor().long()
    return box.float(), center


def collect_heatmaps(batch_data_samples: Sequence,
                     device: torch.device = None,
                     dtype: torch.dtype = torch.float32
                     ) -> Tuple[Tensor, Optional[Tensor]]:
    """The multi-person heatmaps ``[B, C, H, W]`` (``gt_fields.heatmaps``,
    e.g. K keypoint channels and the center channel of the codecs of BoIR
    and CID) and their ignore mask (``gt_fields.heatmap_mask``; ``None``
    unless every sample has one), float32 values cast to ``dtype``."""
    heatmaps, masks = [], []
    for i, d in enumerate(batch_data_samples):
        fields = d.get('gt_fields')
        if fields is None or 'heatmaps' not in fields:
            raise KeyError(f'{_name(d, i)}: no `heatmaps` in gt_fields: the '
                           'codec encodes no multi-person heatmaps')
        heatmaps.append(fields.heatmaps)
        if 'heatmap_mask' in fields:
            masks.append(fields.heatmap_mask)

    def values(t: Tensor) -> Tensor:
        return t.to(device).float().to(dtype)

    return (values(torch.stack(heatmaps)),
            values(torch.stack(masks))
            if len(masks) == len(batch_data_samples) else None)
