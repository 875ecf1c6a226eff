"""The BoIR bottom-up pose estimator."""
import torch
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS


@MODELS.register_module()
class BoIR(BottomupPoseEstimator):
    """BoIR: Box-supervised Instance Representation (Jeong et al., BMVC 2023).

    ``HRNet -> FeatureMapProcessor(concat=True) -> BoIRHead``. MMPose's
    :class:`BottomupPoseEstimator` already does what BoIR needs (flip test
    by a second pass on the mirrored input, mapping keypoints back to the
    image), so this class only names the model and lets a multi-scale test
    pyramid (``test_cfg.multiscale_test`` with ``BottomupResize(aug_scales=
    [...])``, :class:`PackMultiScalePoseInputs` and
    :class:`BoIRDataPreprocessor`) reach ``predict``; everything
    BoIR-specific lives in :class:`BoIRHead`.

    Loading: :meth:`_load_state_dict_pre_hook` does not rename
    ``keypoint_head`` keys (see there), so BoIR state dicts load unchanged.
    """

    def _load_state_dict_pre_hook(self, state_dict, prefix, local_meta,
                                  *args, **kwargs) -> None:
        """Drop the data preprocessor's ``mean``/``std``; rename nothing.

        :class:`BasePoseEstimator` registers ``self._load_state_dict_pre_hook``
        in its ``__init__``; the bound method is looked up on the instance,
        so this override replaces MMPose's hook. MMPose's hook does two
        things: it drops ``data_preprocessor.{mean,std}`` (they come from
        the config, not from training; kept here), and it converts MMPose
        0.x top-down checkpoints: in a state dict without version metadata
        (``local_meta`` has no ``version``) every key containing
        ``keypoint_head`` is renamed to ``head``. That metadata is absent
        whenever a state dict is rebuilt as a plain dict, as
        ``tools/convert_release_checkpoint.py`` does, and BoIR's head has a
        sub-module ``head.keypoint_head`` (the auxiliary multi-person
        keypoint heatmap head; the name is kept, the release parity tests
        and the docs use it), so ``head.keypoint_head.*`` would arrive as
        ``head.head.*``: the auxiliary head would keep its initial weights,
        and ``strict=True`` loading would fail with its keys both missing
        and unexpected. No MMPose 0.x BoIR checkpoint exists, so this hook
        renames nothing.
        """
        for name in ('data_preprocessor.mean', 'data_preprocessor.std'):
            state_dict.pop(prefix + name, None)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """``BottomupPoseEstimator.forward``; in predict mode with
        ``multiscale_test`` ``inputs`` may be a list of ``[B, C, H_s, W_s]``
        batches, one per scale, main scale first.

        MMPose 1.3's ``forward`` stacks a list of inputs into one tensor, so
        its own multi-scale test cannot run: a pyramid goes to ``predict``
        unchanged here instead.

        Raises:
            ValueError: in predict mode, when ``test_cfg.multiscale_test``
                and the test pipeline's ``aug_scales`` disagree.
        """
        if mode != 'predict':
            return super().forward(inputs, data_samples, mode)
        multiscale = self.test_cfg.get('multiscale_test', False)
        aug_scales = (data_samples[0].metainfo.get('aug_scales')
                      if data_samples else None)
        if multiscale and not aug_scales:
            raise ValueError(
                'model.test_cfg.multiscale_test is True but the test '
                'pipeline made no image pyramid: give BottomupResize '
                'aug_scales=[...] (the extra scales) and pack with '
                'PackMultiScalePoseInputs')
        if not multiscale and aug_scales:
            raise ValueError(
                f'the test pipeline made an image pyramid (aug_scales='
                f'{list(aug_scales)}) but model.test_cfg.multiscale_test is '
                'False: set it to True, or remove aug_scales from '
                'BottomupResize')
        is_pyramid = (isinstance(inputs, list) and len(inputs) > 0
                      and all(isinstance(x, torch.Tensor) and x.dim() == 4
                              for x in inputs))
        if not (multiscale and is_pyramid):
            return super().forward(inputs, data_samples, mode)
        if self.metainfo is not None:
            for data_sample in data_samples:
                data_sample.set_metainfo(self.metainfo)
        return self.predict(inputs, data_samples)
