"""The random affine of the BoIR release's training data."""
from typing import Dict, Optional, Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmpose.datasets.transforms import BottomupRandomAffine
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class BoIRRandomAffine(BottomupRandomAffine):
    """MMPose's ``BottomupRandomAffine`` with the release's translation draw.

    ``shift_mode='release'``: as the release's ``RandomAffineTransform``, the
    crop center moves by whole source pixels, the same range on both axes
    and proportional to the scale draw ``s``::

        m = shift_factor * short_side * s   # the release: MAX_TRANSLATE (40)
                                            # * short_side / 200 * s
        dx = randint(int(-m), int(m))       # numpy truncates float bounds:
        dy = randint(int(-m), int(m))       # dx in [-floor(m), floor(m) - 1]

    drawn after the scale ``s`` (uniform in ``scale_factor``) and the
    rotation (uniform in ``+-rotate_factor``), in the release's order.
    (``short_side`` is the long side with ``scale_type='long'``.)

    ``shift_mode='mmpose'`` (opt-in) is MMPose's draw: a float offset of up
    to ``shift_factor`` times the image width in x and its height in y,
    independent of ``s`` (with the ``*_prob`` and ``distribution`` options).

    Everything else (the warp of the image, keypoints, box corners and
    areas) is MMPose's.

    Args:
        shift_mode: ``'release'`` or ``'mmpose'``.
        **kwargs: ``BottomupRandomAffine``'s. With ``shift_mode='release'``
            the draws are uniform and always applied, as in the release:
            ``distribution='uniform'`` and the ``*_prob`` options at 1 are
            required, and ``transform_mode`` must be ``'affine'``.
    """

    def __init__(self, shift_mode: str = 'release', **kwargs) -> None:
        super().__init__(**kwargs)
        if shift_mode not in ('release', 'mmpose'):
            raise ValueError("BoIRRandomAffine: shift_mode must be 'release' "
                             f"or 'mmpose', got {shift_mode!r}")
        if shift_mode == 'release':
            bad = {
                k: getattr(self, k)
                for k in ('shift_prob', 'scale_prob', 'rotate_prob')
                if getattr(self, k) != 1
            }
            if self.distribution != 'uniform':
                bad['distribution'] = self.distribution
            if self.transform_mode != 'affine':
                bad['transform_mode'] = self.transform_mode
            if bad:
                raise ValueError(
                    "BoIRRandomAffine(shift_mode='release') draws as the "
                    'release does (uniform, always applied, affine); these '
                    f'options do not apply: {bad} (use shift_mode=\'mmpose\' '
                    'for them)')
        self.shift_mode = shift_mode
        self._image_hw: Optional[Tuple[int, int]] = None

    @cache_randomness
    def _get_transform_params(self) -> Tuple:
        """``(offset rate (2,), scale rate (1,), rotation, shear (2,))`` as
        :meth:`BottomupRandomAffine._get_transform_params` returns them;
        with ``shift_mode='release'`` the offset rate is the release's whole
        pixel draw divided by the image's width and height."""
        if self.shift_mode == 'mmpose':
            draw = BottomupRandomAffine.__dict__['_get_transform_params']
            return draw.func(self)
        scale_min, scale_max = self.scale_factor
        s = np.random.random() * (scale_max - scale_min) + scale_min
        rotate = (np.random.random() * 2 - 1) * self.rotate_factor
        h, w = self._image_hw
        side = min(h, w) if self.scale_type == 'short' else max(h, w)
        # the release's float expression: MAX_TRANSLATE * (side / 200 * s)
        m = (self.shift_factor * 200) * (side / 200 * s)
        shift = [np.random.randint(int(-m), int(m)) if int(m) > 0 else 0
                 for _ in range(2)]
        offset = np.array([shift[0] / w, shift[1] / h], dtype=np.float64)
        return (offset, np.array([s], dtype=np.float64), rotate,
                np.zeros((2, ), dtype=np.float32))

    def transform(self, results: Dict) -> Optional[dict]:
        self._image_hw = tuple(results['img_shape'][:2])
        return super().transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'shift_mode={self.shift_mode!r}, '
                f'shift_factor={self.shift_factor}, '
                f'scale_factor={self.scale_factor}, '
                f'scale_type={self.scale_type!r}, '
                f'rotate_factor={self.rotate_factor})')
