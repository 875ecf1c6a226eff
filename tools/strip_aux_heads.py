"""Make a deployable BoIR checkpoint: drop the training-only heads.

    python tools/strip_aux_heads.py work_dirs/boir_w32_coco/epoch_140.pth \
        boir_w32_coco_deploy.pth

Keeps ``state_dict`` (without ``head.multi_heatmap_head``,
``head.embedding_head`` and ``head.bbox_head``) and ``meta``; drops the
optimizer and scheduler state. Load the result into a config with
``model.head.with_aux_heads=False`` (a training checkpoint loads there too:
the head drops the auxiliary weights itself).
"""
import argparse

import torch
from mmengine.runner import CheckpointLoader

import mmpose_boir  # noqa: F401  (MMEngine's loader reads Runner checkpoints)
from mmpose_boir.models.heads.boir_head import AUX_HEADS


def strip_aux_heads(state_dict: dict, prefix: str = 'head.') -> dict:
    """``state_dict`` without the auxiliary heads' entries."""
    aux = tuple(f'{prefix}{name}.' for name in AUX_HEADS)
    return {k: v for k, v in state_dict.items() if not k.startswith(aux)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    args = parser.parse_args()
    from mmpose_boir.engine.tool_setup import check_output
    try:
        check_output(args.dst, args.src)
    except ValueError as exc:
        raise SystemExit(f'error: {exc}')
    ckpt = CheckpointLoader.load_checkpoint(args.src, map_location='cpu')
    state_dict = ckpt.get('state_dict', ckpt)
    stripped = strip_aux_heads(state_dict)
    meta = dict(ckpt.get('meta', {}), stripped_aux_heads=True)
    torch.save(dict(state_dict=stripped, meta=meta), args.dst)
    print(f'{args.dst}: kept {len(stripped)} of {len(state_dict)} entries')


if __name__ == '__main__':
    main()
