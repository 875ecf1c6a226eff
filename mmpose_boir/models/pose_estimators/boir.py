"""The BoIR bottom-up pose estimator."""
import difflib
import inspect
from typing import Dict, Optional, Tuple

import torch
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS

#: what BoIR reads from ``model.test_cfg`` (:class:`BoIRHead` and MMPose's
#: :class:`BottomupPoseEstimator`; ``output_heatmaps`` is also set by
#: MMPose's inferencer) and from ``model.train_cfg``
TEST_CFG_KEYS = ('flip_test', 'multiscale_test', 'max_instances',
                 'score_threshold', 'blur_kernel_size', 'output_heatmaps',
                 'bbox_keypoint_thr', 'score_thr', 'channels_last')
TRAIN_CFG_KEYS = ('max_train_instances', )

#: a checkpoint is refused when fewer than this share of the model's
#: weights (or of its backbone's, or of its head's) fit it by name and shape
MIN_FIT = 0.5

_AUX_HEADS = ('keypoint_head', 'embedding_head', 'bbox_head')


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose weights mostly do not fit the model (another
    model, another width, another config)."""


def check_cfg_keys(cfg, valid, name: str) -> None:
    """Raise ``ValueError`` for a key of ``cfg`` not in ``valid``, naming
    the closest valid key."""
    for key in (cfg or {}):
        if key in valid:
            continue
        close = difflib.get_close_matches(str(key), valid, n=1)
        hint = (f'did you mean {close[0]}?' if close else
                'it is not read by BoIR')
        raise ValueError(
            f'{name} has an unknown key {key!r} ({hint}); BoIR reads: '
            f'{", ".join(sorted(valid))}')


def _owner_types() -> tuple:
    """MMEngine's classes whose ``cfg`` is the model's config."""
    from mmengine.infer import BaseInferencer
    from mmengine.runner import Runner
    return (Runner, BaseInferencer)


def _loading_context() -> Tuple[Optional[str], Optional[str]]:
    """(checkpoint file, config file) of the load in progress, when the
    call stack shows them (MMEngine's ``load_checkpoint`` and the config of
    the MMEngine runner or inferencer loading it); best effort, ``None``
    when unknown."""
    ckpt = config = None
    frame = inspect.currentframe()
    try:
        while frame is not None and (ckpt is None or config is None):
            try:
                loc = frame.f_locals
                if ckpt is None and frame.f_code.co_name in (
                        'load_checkpoint', '_load_checkpoint', '_init_model'):
                    # MMEngine's loaders and runner; its inferencer
                    for name in ('filename', 'weights'):
                        if isinstance(loc.get(name), str):
                            ckpt = loc[name]
                            break
                owner = loc.get('self')
                if config is None and isinstance(owner, _owner_types()):
                    for cfg in (loc.get('cfg'), getattr(owner, 'cfg', None)):
                        name = getattr(cfg, 'filename', None)
                        if isinstance(name, str) and name:
                            config = name
                            break
            except Exception:  # an odd frame: skip it
                pass
            frame = frame.f_back
    finally:
        del frame
    return ckpt, config


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
    ``keypoint_head`` keys (see there), so BoIR state dicts load unchanged;
    it refuses a checkpoint that mostly does not fit the model
    (:class:`CheckpointMismatchError`) and lets one without the auxiliary
    (training-only) heads load quietly.

    Unknown keys of ``test_cfg`` / ``train_cfg`` (typos) are errors when
    the model is built, naming the closest valid key.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # after MMPose's (which drops the data preprocessor's mean/std)
        self._register_load_state_dict_pre_hook(self._check_checkpoint_fits)
        check_cfg_keys(self.test_cfg, TEST_CFG_KEYS, 'model.test_cfg')
        check_cfg_keys(self.train_cfg, TRAIN_CFG_KEYS, 'model.train_cfg')

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

    def _check_checkpoint_fits(self, state_dict: dict, prefix: str, *args,
                               **kwargs) -> None:
        """Load pre-hook (after :meth:`_load_state_dict_pre_hook`): refuse
        a state dict that mostly does not fit; quietly keep the initial
        auxiliary heads when it has none.

        A weight fits when the state dict has it under the same name with
        the same shape. The auxiliary heads (training only) are not
        counted. Fewer than :data:`MIN_FIT` of the weights fitting, overall
        or in the backbone or in the head, raises
        :class:`CheckpointMismatchError` naming the checkpoint and the
        config where the call stack shows them. Fine-tuning on another
        keypoint count (COCO -> CrowdPose) changes a few head layers only.

        A checkpoint without any auxiliary-head weight (stripped by
        ``tools/strip_aux_heads.py``) loaded into a model that has them:
        they keep their initial weights (logged once) instead of a warning
        per missing key.
        """
        own = {k: v.shape for k, v in self.state_dict().items()
               if not k.startswith('data_preprocessor.')}
        if not own:
            return
        head = getattr(self, 'head', None)
        aux = tuple(f'head.{n}.' for n in _AUX_HEADS)
        required = [k for k in own if not k.startswith(aux)]
        fits = [k for k in required if prefix + k in state_dict and tuple(
            getattr(state_dict[prefix + k], 'shape', ())) == tuple(own[k])]
        fit_set = set(fits)
        parts: Dict[str, Tuple[int, int]] = {}
        for k in required:
            part = k.split('.', 1)[0]
            n_fit, n_all = parts.get(part, (0, 0))
            parts[part] = (n_fit + (k in fit_set), n_all + 1)
        bad = [p for p, (f, n) in parts.items() if f < MIN_FIT * n]
        if len(fits) < MIN_FIT * len(required) or bad:
            ckpt, config = _loading_context()
            missing = [k for k in required if prefix + k not in state_dict]
            wrong = [k for k in required
                     if prefix + k in state_dict and k not in fit_set]
            detail = '; '.join(f'{p} {f} of {n}'
                               for p, (f, n) in parts.items())
            examples = []
            if missing:
                examples.append(f'missing e.g. {missing[0]}')
            if wrong:
                k = wrong[0]
                examples.append(
                    f'other shape e.g. {k} '
                    f'{tuple(state_dict[prefix + k].shape)} vs '
                    f'{tuple(own[k])} here')
            what = f'checkpoint {ckpt}' if ckpt else 'the state dict'
            where = f' of config {config}' if config else ''
            raise CheckpointMismatchError(
                f'{what} does not fit the BoIR model{where}: {len(fits)} of '
                f'{len(required)} parameters fit by name and shape '
                f'({detail}; {", ".join(examples)}). Is it a checkpoint of '
                'another model (e.g. CID) or of another config (e.g. W48 '
                'weights for a W32 config)?')
        if head is not None and getattr(head, 'with_aux_heads', False):
            aux_own = [k for k in own if k.startswith(aux)]
            if aux_own and not any(k.startswith(tuple(prefix + a
                                                       for a in aux))
                                   for k in state_dict):
                current = self.state_dict()
                for k in aux_own:
                    state_dict[prefix + k] = current[k]
                from mmengine.logging import print_log
                print_log(
                    'BoIR: the checkpoint has no auxiliary heads '
                    f'({", ".join(_AUX_HEADS)}; training only, as written '
                    'by tools/strip_aux_heads.py): they keep their initial '
                    'weights; inference is not affected', logger='current')

    def predict(self, inputs, data_samples):
        """MMPose's ``predict``, under ``torch.inference_mode()``: no
        autograd bookkeeping on the prediction path (the results are
        numpy arrays)."""
        with torch.inference_mode():
            return super().predict(inputs, data_samples)

    def extract_feat(self, inputs):
        """MMPose's ``extract_feat``; in eval mode, with
        ``test_cfg.channels_last`` (``None``, the default: on CPU only), the
        input is converted to the channels-last memory format (NHWC), which
        every conv, norm and resize then keeps: oneDNN's NHWC kernels are
        about 1.2x (backbone) to 1.8x (the neck's dilated convs) faster at
        one CPU thread. The features are the same up to float rounding
        (~1e-6 relative). Training is unaffected."""
        use = self.test_cfg.get('channels_last')
        if use is None:
            use = inputs.device.type == 'cpu'
        if use and not self.training:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return super().extract_feat(inputs)

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
