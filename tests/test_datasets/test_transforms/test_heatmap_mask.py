"""BottomupGetHeatmapMaskRLE: crowd regions in every COCO format (RLE,
compressed RLE, polygon) are masked out of the heatmap loss."""
import copy

import numpy as np
import pytest
from mmpose.datasets.transforms import BottomupGetHeatmapMask

from hostile_samples import K, uncompressed_rle
from mmpose_boir.datasets.transforms import BottomupGetHeatmapMaskRLE


@pytest.mark.parametrize('fmt', ['rle', 'compressed_rle', 'polygon'])
def test_crowd_regions_are_masked(fmt):
    """A crowd region covering the image leaves no valid pixel.

    MMPose's BottomupGetHeatmapMask ignores RLE regions, which is how COCO
    stores every crowd; BottomupGetHeatmapMaskRLE masks them."""
    from pycocotools import mask as cocomask
    h, w = 40, 60
    full = np.ones((h, w), np.uint8)
    seg = {'rle': uncompressed_rle(full),
           'compressed_rle': cocomask.encode(np.asfortranarray(full)),
           'polygon': [[0, 0, w, 0, w, h, 0, h]]}[fmt]
    results = dict(img_shape=(h, w), input_size=(w, h), invalid_segs=[seg],
                   warp_mat=np.eye(2, 3, dtype=np.float32),
                   heatmaps=np.zeros((K + 1, h // 4, w // 4), np.float32))
    ours = BottomupGetHeatmapMaskRLE()(copy.deepcopy(results))
    assert ours['heatmap_mask'].max() == 0
    mmpose = BottomupGetHeatmapMask()(copy.deepcopy(results))
    if fmt == 'polygon':
        assert mmpose['heatmap_mask'].max() == 0
    else:  # the MMPose bug this transform fixes
        assert mmpose['heatmap_mask'].min() == 1
