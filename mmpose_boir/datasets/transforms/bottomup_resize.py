"""The test-time resize of the BoIR release (and of CID and DEKR)."""
from typing import Dict

import cv2
import numpy as np
from mmpose.datasets.transforms import BottomupResize
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_warp_matrix


@TRANSFORMS.register_module()
class BoIRBottomupResize(BottomupResize):
    """MMPose's ``BottomupResize`` with the release's image center.

    The release resizes a test image about the center
    ``(int(w / 2 + 0.5), int(h / 2 + 0.5))``, whole pixels, where
    ``BottomupResize`` uses ``(w / 2, h / 2)``. For an image of odd width
    or height the two inputs are shifted by half an image pixel, which
    changes every bilinear sample; keypoints are mapped back with the same
    center, so both are right, but only this one gives the release's
    numbers. ``center_rounding=False`` is MMPose's center (opt-in).

    Same arguments as ``BottomupResize`` (``use_udp`` must stay False),
    plus ``center_rounding``. Sets the same keys (``input_center`` is the
    rounded center).
    """

    def __init__(self, *args, center_rounding: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if self.use_udp and center_rounding:
            raise ValueError('BoIRBottomupResize: center_rounding applies '
                             'to the plain affine, not use_udp=True')
        self.center_rounding = center_rounding

    def transform(self, results: Dict) -> Dict:
        if not self.center_rounding:
            return super().transform(results)
        img = results['img']
        img_h, img_w = results['ori_shape']
        w, h = self.input_size
        input_sizes = [(w, h)] + [(int(w * s), int(h * s))
                                  for s in (self.aug_scales or [])]
        center = np.array([int(img_w / 2 + 0.5), int(img_h / 2 + 0.5)],
                          dtype=np.float32)
        imgs = []
        for i, size in enumerate(input_sizes):
            actual, padded = self._get_input_size(
                img_size=(img_w, img_h), input_size=size)
            scale = np.array([img_w * padded[0] / actual[0],
                              img_h * padded[1] / actual[1]],
                             dtype=np.float32)
            warp_mat = get_warp_matrix(center=center, scale=scale, rot=0,
                                       output_size=padded)
            imgs.append(cv2.warpAffine(img, warp_mat, padded,
                                       flags=cv2.INTER_LINEAR,
                                       borderValue=self.pad_val))
            if i == 0:
                results['img_shape'] = padded[::-1]
                results['input_center'] = center
                results['input_scale'] = scale
                results['input_size'] = padded
        if self.aug_scales:
            results['img'] = imgs
            results['aug_scales'] = self.aug_scales
        else:
            results['img'] = imgs[0]
            results['aug_scale'] = None
        return results
