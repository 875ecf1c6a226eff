"""BoIRRandomAffine's translation draw in the release's mode (the
distribution against the release's formula is in
test_release/test_release_data_recipe.py)."""
import math

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import TRANSFORMS

import mmpose_boir  # noqa: F401


def test_translation_bounds_are_the_releases():
    """Whole pixels in ``[-floor(m), floor(m) - 1]``, ``m = 0.2 * short side
    * s``, on both axes."""
    init_default_scope('mmpose')
    t = TRANSFORMS.build(dict(
        type='BoIRRandomAffine', input_size=(512, 512), shift_mode='release',
        shift_factor=0.2, scale_factor=(1.0, 1.0), rotate_factor=0,
        distribution='uniform'))
    t._image_hw = (333, 500)
    np.random.seed(0)
    shifts = np.array([t._get_transform_params()[0] * [500, 333]
                       for _ in range(3000)])
    assert np.allclose(shifts, np.round(shifts), atol=1e-9)
    m = math.floor(0.2 * 333)
    for axis in (0, 1):
        assert shifts[:, axis].min() == -m
        assert shifts[:, axis].max() == m - 1
    with pytest.raises(ValueError, match='shift_mode'):
        TRANSFORMS.build(dict(type='BoIRRandomAffine', input_size=(64, 64),
                              shift_mode='pixels'))
    with pytest.raises(ValueError, match='distribution'):
        TRANSFORMS.build(dict(type='BoIRRandomAffine', input_size=(64, 64),
                              distribution='trunc_norm'))
