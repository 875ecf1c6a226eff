"""Packing an image pyramid for multi-scale testing.

MMPose's ``BottomupResize(aug_scales=[...])`` leaves a list of images of
different sizes (main scale first) in ``results['img']``, but
``PackPoseInputs`` stacks them into one tensor, which fails for different
sizes. :class:`PackMultiScalePoseInputs` packs them as a list of ``[C, H, W]``
tensors instead and adds ``aug_scales`` to the meta keys, which
``BottomupPoseEstimator.predict`` reads. With a single image it is
``PackPoseInputs``. Use it with :class:`~mmpose_boir.models.BoIRDataPreprocessor`,
which batches each scale of the pyramid.
"""
from mmpose.datasets.transforms import PackPoseInputs
from mmpose.datasets.transforms.formatting import image_to_tensor
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackMultiScalePoseInputs(PackPoseInputs):
    """``PackPoseInputs`` that also packs ``BottomupResize``'s image pyramid.

    Single image: the same output as ``PackPoseInputs``. Image pyramid
    (``results['img']`` a list): ``inputs`` is a list of ``[C, H, W]``
    tensors, main scale first, and the data sample's metainfo has
    ``aug_scales``; everything else (``input_size``, ``input_center``,
    ``input_scale``) describes the main scale, as ``BottomupResize`` sets it.
    """

    def __init__(self, meta_keys=None, **kwargs):
        super().__init__(**kwargs)
        if meta_keys is not None:
            self.meta_keys = tuple(meta_keys)
        if 'aug_scales' not in self.meta_keys:
            self.meta_keys = tuple(self.meta_keys) + ('aug_scales', )

    def transform(self, results: dict) -> dict:
        imgs = results.get('img')
        if not isinstance(imgs, (list, tuple)):
            return super().transform(results)
        packed = super().transform(dict(results, img=imgs[0]))
        packed['inputs'] = [image_to_tensor(img) for img in imgs]
        return packed
