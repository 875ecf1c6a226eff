"""Convert an authors' BoIR release checkpoint to this project's layout.

    python tools/convert_release_checkpoint.py SRC DST [--strip-aux]

SRC is any checkpoint file the release's ``tools/train.py`` writes: the
final ``model.module.state_dict()`` or ``model_best.pth.tar`` (plain state
dicts), or the training checkpoint ``checkpoint.pth.tar`` (its
``best_state_dict`` is used when present, else its ``state_dict``, whose
``module.`` prefix is stripped); training layout with auxiliary heads or
deployed layout; W32 or W48; 17 or 14 keypoints. It is read with
``torch.load(weights_only=True)`` and the tool prints which state dict it
used. DST is an MMEngine checkpoint (``state_dict`` + ``meta``) for
``configs/boir/boir_w{32,48}_*.py``. Every key is checked against the model
built from the matching config (its layer widths, e.g. the instance
keypoint head's channels, come from there): unknown, missing or mis-shaped
keys stop the conversion with a message naming them.

The key mapping (:func:`release_key_to_ours`), the readers
(:func:`load_release_checkpoint`, :func:`extract_state_dict`) and
:class:`ReleaseCheckpointError` live in this file; the tests import it as a
module by its path.

Release layout: ``backbone.*`` (identical to MMPose's HRNet),
``multihead.neck.0.*``, ``multihead.{center_head, buk_head, emb_head,
bbox_head}.head.{0,1}.*`` (BasicBlock shortcut as ``downsample.conv`` /
``downsample.norm_layer``) and ``kpt_head.*``.

The release's ``tools/train.py`` writes three kinds of file, all read by
:func:`load_release_checkpoint` + :func:`extract_state_dict`:

* ``model/final_state0.pth.tar``: ``model.module.state_dict()``, a plain
  state dict;
* ``model_best.pth.tar``: the training checkpoint's ``best_state_dict``, a
  plain state dict;
* ``model/checkpoint.pth.tar``: a training checkpoint, a dict with
  ``epoch``, ``model`` (the model name), ``state_dict`` (of the
  ``DistributedDataParallel``/``DataParallel`` wrapper, so every key starts
  with ``module.``), ``best_state_dict`` (``model.module.state_dict()``),
  ``perf``, ``optimizer`` and ``scaler``.

The published ``w32.pth.tar`` / ``w48.pth.tar`` are one of these (the
release's ``tools/valid.py`` reads a plain state dict or the
``best_state_dict`` entry).
"""
import argparse
import functools
import os.path as osp
import pickle
import re
import sys
from typing import Dict, Iterable, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from mmpose_boir.models.heads.boir_head import AUX_HEADS

#: Entries of a release training checkpoint that hold a state dict, in the
#: order they are preferred.
TRAINING_STATE_KEYS = ('best_state_dict', 'state_dict')
#: Keys every BoIR release state dict has (deployed and training layouts).
REQUIRED_RELEASE_KEYS = (
    'backbone.conv1.weight',
    'backbone.stage2.0.branches.0.0.conv1.weight',
    'multihead.neck.0.project.0.weight',
    'multihead.center_head.head.1.weight',
    'kpt_head.conv_down.weight',
    'kpt_head.heatmap_conv.weight',
)
#: Prefix of the keys of a state dict saved from a DDP/DataParallel wrapper.
WRAPPER_PREFIX = 'module.'

#: (release prefix, our prefix), first match wins.
PREFIXES: List[Tuple[str, str]] = [
    ('backbone.', 'backbone.'),
    ('multihead.neck.0.', 'head.neck.'),
    ('multihead.center_head.head.', 'head.center_head.'),
    ('multihead.buk_head.head.', 'head.multi_heatmap_head.'),
    ('multihead.emb_head.head.', 'head.embedding_head.'),
    ('multihead.bbox_head.head.', 'head.bbox_head.'),
    ('kpt_head.conv_down.', 'head.instance_head.conv_down.'),
    ('kpt_head.c_attn.atn.', 'head.instance_head.channel_attention.atn.'),
    ('kpt_head.s_attn.atn.', 'head.instance_head.spatial_attention.atn.'),
    ('kpt_head.s_attn.conv.', 'head.instance_head.spatial_attention.conv.'),
    ('kpt_head.fuse_attn.', 'head.instance_head.fuse_attention.'),
    ('kpt_head.heatmap_conv.', 'head.instance_head.heatmap_conv.'),
]


class ReleaseCheckpointError(ValueError):
    """A release checkpoint that does not match the expected layout."""


def release_key_to_ours(key: str) -> Optional[str]:
    """Our key for a release key, or None if the key is unknown."""
    for src, dst in PREFIXES:
        if key.startswith(src):
            ours = dst + key[len(src):]
            ours = re.sub(r'\.downsample\.conv\.', '.downsample.0.', ours)
            return re.sub(r'\.downsample\.norm_layer\.', '.downsample.1.',
                          ours)
    return None


def load_release_checkpoint(path: str) -> object:
    """``torch.load(path, weights_only=True)`` on the CPU, with a clear
    :class:`ReleaseCheckpointError` for a file that is missing, unreadable,
    corrupt/truncated or holds more than tensors and plain containers."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except OSError as exc:  # missing file, a directory, no permission
        raise ReleaseCheckpointError(
            f'{path}: cannot read the file ({exc.strerror or exc})') from None
    except pickle.UnpicklingError as exc:
        found = re.search(r'Unsupported global: GLOBAL ([\w.]+)', str(exc))
        if found:
            raise ReleaseCheckpointError(
                f'{path}: holds a {found.group(1)} object, not only tensors '
                'and plain containers as a BoIR release checkpoint does; '
                'refusing to unpickle it') from None
        raise ReleaseCheckpointError(
            f'{path} is not a readable PyTorch checkpoint: it cannot be '
            'unpickled (corrupt or truncated file, or not written by '
            'torch.save)') from None
    except Exception as exc:  # zip reader errors, EOFError, ValueError...
        raise ReleaseCheckpointError(
            f'{path} is not a readable PyTorch checkpoint: it cannot be '
            f'unpickled (corrupt or truncated file, or not written by '
            f'torch.save; {type(exc).__name__})') from None


def extract_state_dict(obj: object) -> Tuple[Dict[str, torch.Tensor], str]:
    """The release state dict inside what ``torch.load`` returned.

    Accepts a plain release state dict, or a release training checkpoint
    (``checkpoint.pth.tar``), whose ``best_state_dict`` is taken when
    present, else its ``state_dict``; a ``module.`` prefix on the keys (a
    DDP/DataParallel wrapper's state dict) is stripped.

    Returns:
        ``(state_dict, description)``; the description says which entry was
        used, e.g. ``"training checkpoint (epoch 140): best_state_dict"``.

    Raises:
        ReleaseCheckpointError: ``obj`` is no dict, a dict of anything but
            tensors, or a state dict without the release's keys (a CID
            checkpoint, this project's own layout, any other model), naming
            what was found and which release keys are missing.
    """
    if not isinstance(obj, dict):
        raise ReleaseCheckpointError(
            f'not a BoIR release checkpoint: found a {type(obj).__name__}, '
            'expected a state dict or a training checkpoint dict')
    if not obj:
        raise ReleaseCheckpointError(
            'not a BoIR release checkpoint: found an empty dict')
    entry = next((k for k in TRAINING_STATE_KEYS
                  if isinstance(obj.get(k), dict)), None)
    if entry is not None:
        state_dict = obj[entry]
        epoch = obj.get('epoch')
        description = ('training checkpoint'
                       + (f' (epoch {epoch})' if epoch is not None else '')
                       + f': {entry}')
    else:
        state_dict, description = obj, 'plain state dict'
    non_tensors = [k for k, v in state_dict.items()
                   if not isinstance(k, str) or not torch.is_tensor(v)]
    if non_tensors:
        where = f'its {entry!r}' if entry else 'it'
        raise ReleaseCheckpointError(
            f'not a BoIR release checkpoint: {where} is not a state dict of '
            f'tensors (non-tensor entries: '
            f'{_listing(map(repr, non_tensors), 8)}); top-level keys: '
            f'{_listing(map(repr, obj), 12)}')
    if state_dict and all(k.startswith(WRAPPER_PREFIX) for k in state_dict):
        state_dict = {k[len(WRAPPER_PREFIX):]: v
                      for k, v in state_dict.items()}
        description += f' ({WRAPPER_PREFIX} prefix stripped)'
    missing = [k for k in REQUIRED_RELEASE_KEYS if k not in state_dict]
    if missing:
        raise ReleaseCheckpointError(
            f'not a BoIR release state dict ({description}'
            f'{_guess_model(state_dict)}): missing release keys '
            f'{_listing(missing)}; found {len(state_dict)} keys under '
            f'{_key_groups(state_dict)}')
    return state_dict, description


def _key_groups(state_dict: Dict[str, object], limit: int = 12) -> str:
    """``"backbone.* (1754), iia.* (2)"``: key counts by first name."""
    counts: Dict[str, int] = {}
    for key in state_dict:
        head = key.split('.', 1)[0]
        counts[head] = counts.get(head, 0) + 1
    return _listing([f'{k}.* ({n})' for k, n in counts.items()], limit) \
        if counts else 'nothing'


def _guess_model(state_dict: Dict[str, object]) -> str:
    """A hint for state dicts of models that are often mistaken for
    BoIR's release."""
    heads = {key.split('.', 1)[0] for key in state_dict}
    if {'iia', 'gfd'} & heads or any('iia_module.' in k or 'gfd_module.' in k
                                     for k in state_dict):
        return '; its iia/gfd keys are those of a CID checkpoint'
    if any(k.startswith('head.instance_head.') for k in state_dict):
        return ('; it is already in this project\'s layout: load it '
                'directly, without converting')
    return ''


def detect_layout(state_dict: Dict[str, torch.Tensor]) -> Dict[str, object]:
    """Backbone width, keypoint count and whether aux heads are present."""
    try:
        width = state_dict[
            'backbone.stage2.0.branches.0.0.conv1.weight'].shape[0]
        num_keypoints = state_dict['kpt_head.heatmap_conv.weight'].shape[0]
    except KeyError as exc:
        raise ReleaseCheckpointError(
            f'not a BoIR release checkpoint: no {exc.args[0]}') from None
    with_aux = any(k.startswith('multihead.buk_head.') for k in state_dict)
    return dict(width=int(width), num_keypoints=int(num_keypoints),
                with_aux=with_aux)


def convert_state_dict(
        state_dict: Dict[str, torch.Tensor],
        expected: Dict[str, Tuple[int, ...]],
        strip_aux: bool = False) -> Dict[str, torch.Tensor]:
    """Convert and check against ``expected`` (our key -> shape).

    Raises :class:`ReleaseCheckpointError` listing unknown keys, keys whose
    shape differs, and expected keys that the checkpoint lacks.
    """
    converted, unknown, wrong = {}, [], []
    for key, value in state_dict.items():
        ours = release_key_to_ours(key)
        if ours is None or ours not in expected:
            unknown.append(key)
            continue
        if tuple(value.shape) != tuple(expected[ours]):
            wrong.append(f'{key} ({tuple(value.shape)}, expected '
                         f'{tuple(expected[ours])} for {ours})')
            continue
        converted[ours] = value
    # the auxiliary heads are optional (deployed layout), but all or none
    has_aux = any(_is_aux(k) for k in converted)
    missing = [k for k in expected
               if k not in converted and (has_aux or not _is_aux(k))]
    problems = []
    if unknown:
        problems.append(f'unknown keys: {_listing(unknown)}')
    if wrong:
        problems.append(f'wrong shapes: {_listing(wrong)}')
    if missing:
        problems.append(f'missing keys: {_listing(missing)}')
    if problems:
        raise ReleaseCheckpointError('; '.join(problems))
    if strip_aux:
        converted = {k: v for k, v in converted.items() if not _is_aux(k)}
    return converted


def _is_aux(key: str) -> bool:
    return key.split('.')[1] in AUX_HEADS if key.startswith('head.') \
        else False


def _listing(keys: Iterable[str], limit: int = 20) -> str:
    keys = list(keys)
    more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


CONFIGS = {32: 'boir_w32_coco.py', 48: 'boir_w48_coco.py'}


def expected_layout(width: int, num_keypoints: int) -> dict:
    """Our state-dict keys and shapes for a BoIR of this width and K."""
    if width not in CONFIGS:
        raise ReleaseCheckpointError(f'unsupported HRNet width {width}')
    return dict(_expected_layout(width, num_keypoints))


@functools.lru_cache(maxsize=None)
def _expected_layout(width: int, num_keypoints: int) -> dict:
    init_default_scope('mmpose')
    root = osp.join(osp.dirname(osp.abspath(__file__)), '..')
    cfg = Config.fromfile(osp.join(root, 'configs', 'boir', CONFIGS[width]))
    cfg.model.backbone.init_cfg = None
    cfg.model.head.num_keypoints = num_keypoints
    cfg.model.head.decoder = None
    model = MODELS.build(cfg.model)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def convert(src: str, dst: str, strip_aux: bool = False) -> dict:
    """Convert ``src`` to ``dst``; returns the ``meta`` written, whose
    ``source_state_dict`` says which state dict of ``src`` was used."""
    loaded = load_release_checkpoint(src)  # its errors name the file
    try:
        state_dict, used = extract_state_dict(loaded)
        layout = detect_layout(state_dict)
        converted = convert_state_dict(
            state_dict,
            expected_layout(layout['width'], layout['num_keypoints']),
            strip_aux=strip_aux)
    except ReleaseCheckpointError as exc:
        raise ReleaseCheckpointError(f'{src}: {exc}') from None
    meta = dict(source=osp.abspath(src), source_format='BoIR release',
                source_state_dict=used,
                width=layout['width'], num_keypoints=layout['num_keypoints'],
                with_aux_heads=layout['with_aux'] and not strip_aux)
    torch.save(dict(state_dict=converted, meta=meta), dst)
    return meta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--strip-aux', action='store_true',
                        help='drop the training-only heads')
    args = parser.parse_args()
    try:
        meta = convert(args.src, args.dst, args.strip_aux)
    except ReleaseCheckpointError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'{args.src}: using the {meta["source_state_dict"]}')
    print(f'{args.dst}: W{meta["width"]}, {meta["num_keypoints"]} keypoints,'
          f' auxiliary heads {"kept" if meta["with_aux_heads"] else "none"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
