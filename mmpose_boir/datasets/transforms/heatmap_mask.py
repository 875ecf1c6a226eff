"""The ignore mask of bottom-up training, drawn as the BoIR release draws it."""
from typing import Dict, Tuple

import cv2
import numpy as np
from mmpose.datasets.transforms import BottomupGetHeatmapMask
from mmpose.registry import TRANSFORMS
from pycocotools import mask as cocomask


@TRANSFORMS.register_module()
class BottomupGetHeatmapMaskRLE(BottomupGetHeatmapMask):
    """The valid-region mask on the heatmap grid, as the BoIR release makes it.

    The mask is 0 on the segmentations of ``invalid_segs`` (COCO: crowd
    regions and people without keypoints) and 1 elsewhere in the image. As
    the release does, it is warped by the bottom-up affine straight onto the
    heatmap grid (``warp_mat`` scaled by heatmap/input size), as ``uint8``
    0/255 with bilinear interpolation and a zero border, then thresholded at
    0.5; so cells that fall outside the image are ignored too. A flip is
    applied on the heatmap grid.

    Differences from MMPose's ``BottomupGetHeatmapMask`` (which warps at
    input size and resizes down): the release's warp above, and
    segmentations given as RLE (``counts`` a list or a string, COCO's crowd
    regions) are decoded instead of skipped. An RLE whose size differs from
    the image raises a ``ValueError``.

    Place it after ``GenerateTarget`` (it needs ``heatmaps`` for the grid
    size). ``heatmap_mask`` is packed by :class:`BoIRDecoupledHeatmap`'s
    ``field_mapping_table``.
    """

    def transform(self, results: Dict) -> Dict:
        if 'heatmaps' not in results:
            raise KeyError('BottomupGetHeatmapMaskRLE needs `heatmaps`: put '
                           'it after GenerateTarget '
                           f'({results.get("img_path", "unknown image")})')
        H, W = np.asarray(results['heatmaps']).shape[-2:]
        img_h, img_w = results['img_shape'][:2]
        mask = self._segs_to_mask(results.get('invalid_segs', []),
                                  (img_h, img_w))
        valid = (mask < 0.5).astype(np.uint8) * 255
        if self.get_invalid:
            valid = 255 - valid
        if 'warp_mat' in results:
            in_w, in_h = results['input_size']
            to_grid = np.diag([W / in_w, H / in_h, 1.0])
            warp = np.asarray(results['warp_mat'], dtype=np.float64)
            if warp.shape[0] == 2:
                warp = np.concatenate((warp, [[0.0, 0.0, 1.0]]))
            grid_mat = (to_grid @ warp)[:2]
            valid = cv2.warpAffine(valid, grid_mat, (int(W), int(H)))
        else:
            valid = cv2.resize(valid, (int(W), int(H)),
                               interpolation=cv2.INTER_LINEAR)
        heatmap_mask = valid / 255 > 0.5
        if results.get('flip', False):
            direction = results.get('flip_direction')
            if direction == 'horizontal':
                heatmap_mask = heatmap_mask[:, ::-1]
            elif direction == 'vertical':
                heatmap_mask = heatmap_mask[::-1]
            elif direction == 'diagonal':
                heatmap_mask = heatmap_mask[::-1, ::-1]
        results['heatmap_mask'] = np.ascontiguousarray(heatmap_mask)
        return results

    def _segs_to_mask(self, segs: list, img_shape: Tuple[int,
                                                         int]) -> np.ndarray:
        h, w = int(img_shape[0]), int(img_shape[1])
        rles = []
        for seg in segs:
            if isinstance(seg, (tuple, list)):
                if not seg:
                    continue
                rle = cocomask.frPyObjects(seg, h, w)
                rles.extend(rle if isinstance(rle, list) else [rle])
            elif isinstance(seg, dict):
                size = [int(s) for s in seg.get('size', ())]
                if size != [h, w]:
                    raise ValueError(f'RLE segmentation of size {size} on an '
                                     f'image of size {[h, w]}')
                counts = seg['counts']
                if isinstance(counts, list):
                    rles.append(cocomask.frPyObjects(seg, h, w))
                else:
                    rles.append(dict(
                        size=[h, w],
                        counts=counts.encode() if isinstance(counts, str)
                        else counts))
        if rles:
            return cocomask.decode(cocomask.merge(rles))
        return np.zeros((h, w), dtype=np.uint8)
