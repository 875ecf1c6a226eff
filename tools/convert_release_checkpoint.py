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
"""
import argparse
import functools
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from mmpose_boir.converters import (ReleaseCheckpointError,
                                    convert_state_dict, extract_state_dict,
                                    load_release_checkpoint)
from mmpose_boir.converters.release_checkpoint import detect_layout

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
