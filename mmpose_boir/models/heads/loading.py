"""How a checkpoint loads into :class:`BoIRHead`: the head's own hooks.

PyTorch calls a module's ``load_state_dict`` hooks for its part of any state
dict, so these run wherever the head sits (the ``BoIR`` estimator, MMPose's
``BottomupPoseEstimator``, a model of yours) and however the weights are
loaded: MMEngine's ``load_checkpoint`` (a config's ``load_from``,
``tools/test.py``, MMPose's inferencer) or torch's ``load_state_dict``.

Before the head's weights load (:func:`fit_checkpoint`, a pre-hook):

1. Earlier names, mapped to today's (:data:`RENAMED_MODULES`, the one key
   mapping, as :data:`LEGACY_PREFIXES`): the auxiliary multi-person heatmap
   head was ``keypoint_head`` in this project's earlier checkpoints.
   MMPose's estimators rename every key containing ``keypoint_head`` to
   ``head`` in a state dict without version metadata (their conversion of
   MMPose 0.x top-down checkpoints), so such a checkpoint's keys arrive as
   ``head.*`` and are mapped too.
2. A deployed head (``with_aux_heads=False``) drops the auxiliary heads'
   weights (:data:`AUX_HEADS`, and an ablation's own auxiliary neck:
   :data:`AUX_MODULES`).
3. The head's weights must all be there, by name and shape, except the
   auxiliary heads when the checkpoint has none of them (one deployed or
   stripped by ``tools/strip_aux_heads.py``; they keep their initial
   weights) and the keypoint-count-dependent layers (:data:`KEYPOINT_LAYERS`)
   of a checkpoint with another keypoint count. Anything else raises
   :class:`CheckpointMismatchError` with the counts, an example and the
   config that fits the checkpoint; an authors' release checkpoint that was
   not converted (its ``multihead.*`` / ``kpt_head.*`` keys) raises it with
   the converter's command.
4. A checkpoint with another keypoint count (COCO's 17 -> CrowdPose's 14):
   its keypoint layers are dropped (one log line) and keep their fresh
   initialisation. That is fine-tuning's start: the head is marked, and
   :meth:`BoIRHead.predict_tensors` (predict, the test, the inferencer,
   export) raises :class:`KeypointCountMismatchError`, naming both counts and
   the config that fits, until ``loss`` has run (training clears the mark).

After the head's weights load (:func:`forgive_missing_aux_heads`, a
post-hook): the auxiliary weights of a checkpoint without any are not
reported missing (one log line instead of a warning per key), so such a
checkpoint also loads with ``strict=True``.

The backbone's fit is MMEngine's (its lists of missing and mismatched keys);
a checkpoint of another backbone width already differs in the head's input
channels.
"""
import re
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

#: Sub-modules of BoIRHead used only to compute training losses.
AUX_HEADS = ('multi_heatmap_head', 'embedding_head', 'bbox_head')
#: ... and the auxiliary heads' own neck (``aux_neck=True``, an ablation):
#: what a deployed head drops and a checkpoint without them may lack.
AUX_MODULES = AUX_HEADS + ('aux_neck', )
#: Parameters of BoIRHead whose shape depends on the number of keypoints K.
KEYPOINT_LAYERS = ('multi_heatmap_head.1.weight',
                   'multi_heatmap_head.1.bias',
                   'instance_head.heatmap_conv.weight',
                   'instance_head.heatmap_conv.bias')
#: The parameter giving a checkpoint's K (dimension 0) and in_channels (1).
_SHAPE_KEYS = ('instance_head.heatmap_conv.weight',
               'instance_head.conv_down.weight')
#: Top-level modules of the authors' release model (multihead: the neck and
#: the dense heads; kpt_head: the instance keypoint head).
RELEASE_MODULES = ('multihead', 'kpt_head')
CONVERTER = 'python tools/convert_release_checkpoint.py SRC DST'
#: Sub-modules of this head renamed since earlier checkpoints: old -> new
#: (the auxiliary multi-person heatmap head was ``keypoint_head``).
RENAMED_MODULES = {'keypoint_head': 'multi_heatmap_head'}
#: The key prefixes they arrive with -> today's: the old name, and ``head.``,
#: what MMPose's estimators make of ``keypoint_head.`` in a state dict
#: without version metadata.
LEGACY_PREFIXES = {f'{old}.': f'{new}.'
                   for old, new in RENAMED_MODULES.items()}
LEGACY_PREFIXES['head.'] = LEGACY_PREFIXES['keypoint_head.']
#: The released configs, by the head's input channels (backbone width) and
#: by the keypoint count (dataset).
_CONFIGS = {480: 'configs/boir/boir_w32_{}.py',
            720: 'configs/boir/boir_w48_{}.py',
            120: 'configs/boir/tiny/boir_tiny_{}.py'}
_DATASETS = {17: 'coco', 14: 'crowdpose'}


class CheckpointMismatchError(RuntimeError):
    """A checkpoint that does not fit the BoIR head (another model, another
    width, an unconverted release checkpoint)."""


class KeypointCountMismatchError(CheckpointMismatchError):
    """Prediction with keypoint layers dropped at load and not trained."""


def fitting_config(num_keypoints: Optional[int],
                   in_channels: Optional[int]) -> str:
    """The config for a checkpoint with this K and head input width."""
    template = _CONFIGS.get(in_channels)
    dataset = _DATASETS.get(num_keypoints)
    if template and dataset:
        return template.format(dataset)
    what = [f'head.num_keypoints={num_keypoints}' if num_keypoints else '',
            f'head.in_channels={in_channels}' if in_channels else '']
    return 'a config with ' + ' and '.join(w for w in what if w)


def _shape(state_dict: dict, key: str, dim: int) -> Optional[int]:
    value = state_dict.get(key)
    shape = tuple(getattr(value, 'shape', ()))
    return shape[dim] if len(shape) > dim else None


def _looks_like_release(keys: Sequence[str], parent: str) -> bool:
    """Keys of the release's modules (``module.``-prefixed: the release's
    DDP training checkpoint) beside the head's parent module."""
    pattern = re.compile(re.escape(parent) + r'(module\.)?(' +
                         '|'.join(RELEASE_MODULES) + r')\.')
    return any(pattern.match(k) for k in keys)


def fit_checkpoint(head, state_dict: dict, prefix: str, local_metadata,
                   strict, missing_keys, unexpected_keys,
                   error_msgs) -> None:
    """Load pre-hook of :class:`BoIRHead` (see the module's docstring)."""
    # 1. earlier names
    for old, new in LEGACY_PREFIXES.items():
        old, new = prefix + old, prefix + new
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[new + key[len(old):]] = state_dict.pop(key)
    # 2. a deployed head ignores the auxiliary heads' weights
    aux = tuple(f'{prefix}{name}.' for name in AUX_MODULES)
    if not head.with_aux_heads:
        for key in [k for k in state_dict if k.startswith(aux)]:
            state_dict.pop(key)
    own = {k: tuple(v.shape) for k, v in head.state_dict().items()
           if not k.endswith('num_batches_tracked')}
    no_aux = not any(k.startswith(aux) for k in state_dict)
    required = [k for k in own if not (no_aux and (prefix + k).startswith(aux))]
    fit, missing, other = [], [], []
    for k in required:
        value = state_dict.get(prefix + k)
        if value is None:
            missing.append(k)
        elif tuple(getattr(value, 'shape', ())) == own[k]:
            fit.append(k)
        else:
            other.append(k)
    ckpt_k = _shape(state_dict, prefix + _SHAPE_KEYS[0], 0)
    ckpt_c = _shape(state_dict, prefix + _SHAPE_KEYS[1], 1)
    keypoint_only = (not missing and other
                     and all(k in KEYPOINT_LAYERS for k in other)
                     and ckpt_k is not None and ckpt_k != head.num_keypoints)
    # 3. the checkpoint must fit
    if missing or (other and not keypoint_only):
        parent = prefix.rstrip('.').rpartition('.')[0]
        parent += '.' if parent else ''
        if not fit and _looks_like_release(
                list(state_dict) + list(unexpected_keys), parent):
            raise CheckpointMismatchError(
                "this is a checkpoint of the authors' release (its keys "
                f'start with {" / ".join(m + "." for m in RELEASE_MODULES)})'
                ', not converted to this project\'s layout. Convert it '
                f'first: {CONVERTER} (then load DST)')
        raise CheckpointMismatchError(_mismatch_message(
            head, state_dict, prefix, own, fit, missing, other, ckpt_k,
            ckpt_c))
    # 4. another keypoint count: fine-tuning's start
    if keypoint_only:
        dropped = [f'{prefix}{k} {tuple(state_dict.pop(prefix + k).shape)}'
                   for k in other]
        head._checkpoint_keypoints = ckpt_k
        print_log(
            f'BoIRHead ({head.num_keypoints} keypoints): dropped the '
            'keypoint-count-dependent layers of the checkpoint '
            f'({ckpt_k} keypoints), which stay freshly initialised until '
            'trained (fine-tuning; prediction refuses them before): '
            f'{", ".join(dropped)}', logger='current')
    elif ckpt_k == head.num_keypoints:
        head._checkpoint_keypoints = None
    head._aux_missing_at = prefix if (no_aux and head.with_aux_heads) \
        else None


def _mismatch_message(head, state_dict: dict, prefix: str,
                      own: Dict[str, tuple], fit: List[str],
                      missing: List[str], other: List[str],
                      ckpt_k: Optional[int], ckpt_c: Optional[int]) -> str:
    examples = []
    if missing:
        examples.append(f'missing e.g. {prefix}{missing[0]}')
    if other:
        k = other[0]
        examples.append(
            f'other shape e.g. {prefix}{k} '
            f'{tuple(state_dict[prefix + k].shape)} vs {own[k]} here')
    here = (f'this config: {head.num_keypoints} keypoints, input channels '
            f'{head.in_channels}')
    if ckpt_k is not None or ckpt_c is not None:
        theirs = (f'the checkpoint: {ckpt_k} keypoints, input channels '
                  f'{ckpt_c}, which fits {fitting_config(ckpt_k, ckpt_c)}')
    else:
        theirs = ('the checkpoint has no BoIR head weights: is it a '
                  'checkpoint of another model (e.g. CID, whose backbone '
                  'fits)?')
    return (f'the checkpoint does not fit the BoIR head: {len(fit)} of '
            f'{len(fit) + len(missing) + len(other)} head parameters fit by '
            f'name and shape ({", ".join(examples)}); {here}; {theirs}')


def forgive_missing_aux_heads(head, incompatible_keys) -> None:
    """Load post-hook of :class:`BoIRHead`: a checkpoint without auxiliary
    heads does not report their weights missing."""
    prefix, head._aux_missing_at = head._aux_missing_at, None
    if prefix is None:
        return
    aux = tuple(f'{prefix}{name}.' for name in AUX_MODULES)
    missing = incompatible_keys.missing_keys
    kept = [k for k in missing if not k.startswith(aux)]
    if len(kept) != len(missing):
        missing[:] = kept
        print_log(
            'BoIRHead: the checkpoint has no auxiliary heads '
            f'({", ".join(AUX_HEADS)}; training only, as written by '
            'tools/strip_aux_heads.py): they keep their initial weights; '
            'inference is not affected', logger='current')


def check_keypoints_trained(head) -> None:
    """Raise :class:`KeypointCountMismatchError` when the head's keypoint
    layers were dropped at load (another K) and not trained since."""
    ckpt_k = getattr(head, '_checkpoint_keypoints', None)
    if ckpt_k is None:
        return
    raise KeypointCountMismatchError(
        f'the checkpoint has {ckpt_k} keypoints and this config '
        f'{head.num_keypoints}: its keypoint layers '
        f'({", ".join(KEYPOINT_LAYERS)}) were dropped when it was loaded and '
        'are untrained, so the poses would be meaningless. To predict with '
        f'it, use a config with {ckpt_k} keypoints: '
        f'{fitting_config(ckpt_k, head.in_channels)}. To fine-tune this '
        'config from it, give it as load_from to a training run (training '
        'fits those layers).')
