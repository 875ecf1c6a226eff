"""The horizontal flip of the BoIR release's training data."""
from typing import Dict, Optional

import numpy as np
from mmpose.datasets.transforms import RandomFlip
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class BoIRRandomFlip(RandomFlip):
    """MMPose's ``RandomFlip`` with the release's keypoint flip.

    The release flips the image at input resolution but the keypoints and
    box corners on the heatmap grid, ``x -> W - 1 - x`` cells. MMPose's
    ``RandomFlip`` flips them at input resolution, ``x -> w - 1 - x``
    pixels, which is ``W - 1/s - x`` cells at stride ``s``: 0.75 cell
    (stride 4) to the right of the release's targets. With
    ``heatmap_stride=s`` a horizontally flipped sample's keypoints and box
    corners are moved by ``-(s - 1)`` input pixels, which gives the release's
    targets; ``heatmap_stride=None`` is MMPose's flip (opt-in: it matches the
    flipped image exactly).

    Args:
        heatmap_stride: input pixels per heatmap cell (4 in BoIR), or None.
        **kwargs: ``RandomFlip``'s (``prob``, ``direction``).
    """

    def __init__(self, heatmap_stride: Optional[int] = 4, **kwargs) -> None:
        super().__init__(**kwargs)
        self.heatmap_stride = heatmap_stride

    def transform(self, results: Dict) -> Dict:
        results = super().transform(results)
        if (self.heatmap_stride is None or not results.get('flip', False)
                or results.get('flip_direction') != 'horizontal'):
            return results
        shift = float(self.heatmap_stride - 1)
        for key in ('keypoints', 'bbox'):
            if results.get(key) is not None:
                value = np.array(results[key], dtype=np.float32, copy=True)
                value[..., 0] -= shift
                results[key] = value
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction}, '
                f'heatmap_stride={self.heatmap_stride})')
