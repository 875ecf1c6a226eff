"""AuxBottomupPoseEstimator: MMPose's bottom-up estimator with a
training-only auxiliary head (e.g. BoIR's box supervision)."""
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, SampleList
from torch import Tensor, nn

#: The auxiliary head's place in the model and its state dict.
AUX_PREFIX = 'aux_head.'


@MODELS.register_module()
class AuxBottomupPoseEstimator(BottomupPoseEstimator):
    """MMPose's ``BottomupPoseEstimator`` plus ``aux_head``, used by
    :meth:`loss` only (MMSegmentation's ``auxiliary_head``, for poses).

    - Training: the losses of ``head`` (as MMPose's estimator) and of
      ``aux_head`` on the same features (``extract_feat``), the latter
      logged with the prefix ``aux.`` (e.g. ``aux.loss_bbox_mask``).
    - Inference (``predict``, ``forward(mode='tensor')``, so export): MMPose's
      own methods, inherited unchanged; ``aux_head`` is never called. With
      the same weights the outputs, the FLOPs and an exported graph are
      those of the plain model.
    - State dict: the plain model's keys unchanged (``backbone.*``,
      ``neck.*``, ``head.*``) and the auxiliary head's under ``aux_head.*``.
      A checkpoint of this model loads into the plain model's config for
      deployment: MMEngine reports the ``aux_head.*`` keys as unexpected
      (one warning listing them) and loads every other key. A checkpoint of
      the plain model (e.g. to fine-tune it with box supervision) loads
      here: the auxiliary head keeps its initial weights, with one info
      line instead of a list of missing keys.

    Args:
        aux_head: the auxiliary head's config (e.g.
            ``dict(type='BoxSupervisionHead', in_channels=480)``); ``None``
            is MMPose's ``BottomupPoseEstimator``.
        Others: as ``BottomupPoseEstimator``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 aux_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 use_syncbn: bool = False,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            use_syncbn=use_syncbn,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.aux_head = None
        if aux_head is not None:
            self.aux_head = MODELS.build(aux_head)
            if use_syncbn and get_world_size() > 1:
                self.aux_head = nn.SyncBatchNorm.convert_sync_batchnorm(
                    self.aux_head)
        self._aux_absent = False
        self._aux_prefix = AUX_PREFIX
        self.register_load_state_dict_pre_hook(_note_absent_aux_head)
        self.register_load_state_dict_post_hook(_forgive_absent_aux_head)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """The head's losses and the auxiliary head's (prefixed ``aux.``)."""
        feats = self.extract_feat(inputs)
        losses = dict()
        if self.with_head:
            losses.update(
                self.head.loss(feats, data_samples, train_cfg=self.train_cfg))
        if self.aux_head is not None:
            aux = self.aux_head.loss(feats, data_samples,
                                     train_cfg=self.train_cfg)
            losses.update({f'aux.{k}': v for k, v in aux.items()})
        return losses


def _note_absent_aux_head(model, state_dict, prefix, *args) -> None:
    """Load pre-hook: whether the checkpoint has no auxiliary head."""
    aux = prefix + AUX_PREFIX
    model._aux_absent = model.aux_head is not None and not any(
        k.startswith(aux) for k in state_dict)
    model._aux_prefix = aux


def _forgive_absent_aux_head(model, incompatible_keys) -> None:
    """Load post-hook: a checkpoint without an auxiliary head (the plain
    model's) does not list the head's weights as missing."""
    if not model._aux_absent:
        return
    model._aux_absent = False
    missing = incompatible_keys.missing_keys
    kept = [k for k in missing if not k.startswith(model._aux_prefix)]
    if len(kept) != len(missing):
        missing[:] = kept
        print_log(
            f'{type(model).__name__}: the checkpoint has no auxiliary head '
            f'({model._aux_prefix}*, training only): it keeps its initial '
            'weights', logger='current')
