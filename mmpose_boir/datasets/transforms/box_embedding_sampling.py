"""Per-instance boxes for the Bbox Mask Loss and the box head."""
from typing import Dict, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class BoxEmbeddingSampling(BaseTransform):
    """Turn each encoded instance's box into an output-map (x, y, w, h) box.

    Place it after ``GenerateTarget`` with :class:`BoIRDecoupledHeatmap`.
    The person's annotated box corners, already carried through the same
    affine (and flip) as the keypoints by ``BottomupRandomAffine(
    bbox_keep_corner=True)``, are scaled to the output map; their
    axis-aligned extent ``(x, y, w, h)`` is the box, clipped to the map:

    - ``box_clip='release'`` (the release): each of x, y, w and h is clipped
      on its own to ``[0, W-1]`` (x, w) or ``[0, H-1]`` (y, h), so a box cut
      by the left border keeps its full width;
    - ``box_clip='extent'`` (opt-in): the corners are clipped to the map
      first, so the box is the visible part of the extent.

    The
    boxes follow ``instance_indices`` from the codec, so they are aligned
    one-to-one (same order, same filtering) with ``instance_coords``,
    ``instance_heatmaps`` and ``keypoint_weights``.

    The codec's placeholder instance (index -1, an image without any
    instance) gets the box (0, 0, 0, 0), as the release feeds it.

    Required keys: ``bbox`` (N, 4, 2) corners in input pixels,
    ``instance_indices`` (M,). Added keys: ``instance_boxes`` (M, 4) float32,
    packed into ``gt_instance_labels`` by ``PackPoseInputs`` (the codec's
    ``label_mapping_table`` names it).

    Args:
        input_size: (w, h) of the network input.
        heatmap_size: (W, H) of the output maps.
        box_clip: ``'release'`` or ``'extent'``, see above.
    """

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 box_clip: str = 'release') -> None:
        super().__init__()
        if box_clip not in ('release', 'extent'):
            raise ValueError("BoxEmbeddingSampling: box_clip must be "
                             f"'release' or 'extent', got {box_clip!r}")
        self.box_clip = box_clip
        self.input_size = tuple(input_size)
        self.heatmap_size = tuple(heatmap_size)
        self.scale = np.array(input_size, dtype=np.float32) / np.array(
            heatmap_size, dtype=np.float32)

    def transform(self, results: Dict) -> Optional[dict]:
        if 'instance_indices' not in results:
            raise KeyError(
                'BoxEmbeddingSampling needs `instance_indices` from '
                'GenerateTarget(encoder=dict(type="BoIRDecoupledHeatmap"))'
                f' ({results.get("img_path", "unknown image")})')
        indices = np.asarray(results['instance_indices'], dtype=np.int64)
        corners = np.asarray(results.get('bbox', np.zeros((0, 4, 2))),
                             dtype=np.float64).reshape(-1, 4, 2)
        if len(indices) and indices.max() >= len(corners):
            raise ValueError(
                f'{results.get("img_path", "unknown image")}: instance index '
                f'{indices.max()} has no box ({len(corners)} boxes)')
        if len(indices) and indices.min() < -1:
            raise ValueError(
                f'{results.get("img_path", "unknown image")}: instance index '
                f'{indices.min()} (only -1, the codec\'s placeholder, may be '
                'negative)')
        W, H = self.heatmap_size
        # the placeholder's box is (0, 0, 0, 0): all four corners at 0
        real = indices >= 0
        inst_corners = np.zeros((len(indices), 4, 2))
        inst_corners[real] = corners[indices[real]] / self.scale
        corners = inst_corners
        bad = ~np.isfinite(corners).all((1, 2))
        if bad.any():
            ids = results.get('id')
            people = indices[bad][:10].tolist()
            named = ([ids[i] for i in people] if ids is not None
                     and np.ndim(ids) == 1 and len(ids) == len(
                         results.get('bbox', ())) else people)
            raise ValueError(
                f'{results.get("img_path", "unknown image")}: non-finite '
                f'box corners for annotation(s) {named}')
        x1y1 = corners.min(1)
        x2y2 = corners.max(1)
        upper = np.array([W - 1, H - 1], dtype=np.float64)
        if self.box_clip == 'extent':
            x1y1 = np.clip(x1y1, 0, upper)
            x2y2 = np.clip(x2y2, 0, upper)
            boxes = np.concatenate((x1y1, x2y2 - x1y1), axis=1)
        else:
            boxes = np.clip(np.concatenate((x1y1, x2y2 - x1y1), axis=1), 0,
                            np.tile(upper, 2))
        boxes = boxes.astype(np.float32)
        results['instance_boxes'] = boxes.reshape(-1, 4)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'heatmap_size={self.heatmap_size}, '
                f'box_clip={self.box_clip!r})')
