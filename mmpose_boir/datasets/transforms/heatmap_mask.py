"""The ignore mask of bottom-up training, with crowd regions, and packed."""
from typing import Dict, Tuple

import numpy as np
from mmpose.datasets.transforms import BottomupGetHeatmapMask
from mmpose.registry import TRANSFORMS
from pycocotools import mask as cocomask


@TRANSFORMS.register_module()
class BottomupGetHeatmapMaskRLE(BottomupGetHeatmapMask):
    """MMPose's ``BottomupGetHeatmapMask``, fixed for BoIR/CID pipelines.

    The ignore mask (spec section 2: "crowd regions and people without
    keypoints are masked out") is lost twice with MMPose 1.3:

    1. the transform decodes only polygon segmentations and silently skips
       RLE ones (dicts), and COCO stores every crowd region (``iscrowd=1``)
       as an RLE, so crowds are never masked;
    2. ``GenerateTarget`` with a decoupled-heatmap codec puts the codec's
       ``field_mapping_table`` (``heatmaps``, ``instance_heatmaps``) into the
       results, which replaces ``PackPoseInputs``' default table, so
       ``heatmap_mask`` is computed but never packed and the head trains
       without any mask.

    This subclass decodes polygons exactly as the parent does, adds
    uncompressed (``counts`` a list) and compressed (``counts`` a string)
    RLEs, and adds ``heatmap_mask`` to the results' ``field_mapping_table``
    so that it reaches ``gt_fields``. An RLE whose size differs from the
    image raises a ``ValueError``.

    Drop-in replacement: ``dict(type='BottomupGetHeatmapMaskRLE')``.
    """

    def transform(self, results: Dict) -> Dict:
        results = super().transform(results)
        table = results.get('field_mapping_table')
        if table is not None and 'heatmap_mask' not in table:
            table = dict(table)
            table['heatmap_mask'] = 'heatmap_mask'
            results['field_mapping_table'] = table
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
