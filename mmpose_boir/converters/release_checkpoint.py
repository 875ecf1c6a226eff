"""Map the authors' released BoIR state dicts to this project's layout.

Release layout (spec section 7): ``backbone.*`` (identical to MMPose's
HRNet), ``multihead.neck.0.*``, ``multihead.{center_head, buk_head,
emb_head, bbox_head}.head.{0,1}.*`` (BasicBlock shortcut as
``downsample.conv`` / ``downsample.norm_layer``) and ``kpt_head.*``.
"""
import re
from typing import Dict, Iterable, List, Optional, Tuple

import torch

from mmpose_boir.models.heads.boir_head import AUX_HEADS

#: (release prefix, our prefix), first match wins.
PREFIXES: List[Tuple[str, str]] = [
    ('backbone.', 'backbone.'),
    ('multihead.neck.0.', 'head.neck.'),
    ('multihead.center_head.head.', 'head.center_head.'),
    ('multihead.buk_head.head.', 'head.keypoint_head.'),
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
