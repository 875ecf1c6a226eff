"""Show BoIR's learned embedding: its similarity to each person's center.

    python tools/vis_embedding.py configs/boir/boir_w32_coco.py CKPT img.jpg \
        --out embedding.png

The qualitative figure of the paper: the embedding head (trained by the
Bbox Mask Loss, used only in training) maps every pixel to a unit vector;
for each detected person center ``c`` the similarity
``exp(-beta * ||e_c - e_i||^2)`` of every pixel ``i`` to it (the loss's
similarity, ``beta`` from the config) is drawn over the image. The loss
pushes each person's center embedding away from the other people's and
from the background's; only its per-instance mode (``background=
'instance'``) also pulls the embeddings inside the box towards the center,
so the per-image mode of the released COCO training need not light up the
whole box.

Panels: the image with the center heatmap and the numbered centers, then
one panel per person (``--max-persons``, highest center score first). The
maps are computed on the test view (the config's test pipeline, no flip)
and warped back onto the original image.

Needs the training-only embedding head: a checkpoint that still has
``head.embedding_head`` weights (not one stripped by
``tools/strip_aux_heads.py``). The authors' published weights may be
deployment-only (without it): the paper's embedding figure cannot be drawn
from such files; a training checkpoint of your own (``tools/train.py``,
``tools/overfit_tiny.py``) or a release training checkpoint converted
without ``--strip-aux`` can.
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import Dict, Optional

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mmengine.config import DictAction

import mmpose_boir  # noqa: F401  (compat shims + registration)
from mmpose_boir.models.heads.boir_head import AUX_HEADS
from mmpose_boir.models.utils import sigmoid_clamped


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('image')
    p.add_argument('--out', default='embedding.png', help='PNG to write')
    p.add_argument('--device', default='cpu')
    p.add_argument('--max-persons', type=int, default=6)
    p.add_argument('--score-thr', type=float, default=0.1,
                   help='center score above which a person is shown')
    p.add_argument('--beta', type=float, default=None,
                   help='similarity sharpness (default: the Bbox Mask '
                   "Loss's beta in the config, 10)")
    p.add_argument('--panel-width', type=int, default=480)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='key=value overrides of the config')
    p.add_argument('--save-maps', default=None,
                   help='also save the maps (input resolution) as .npz')
    return p.parse_args(argv)


def build_model(config: str, checkpoint: Optional[str], device: str,
                cfg_options: Optional[dict] = None):
    """The BoIR estimator with its auxiliary heads, weights loaded
    (``cfg_options`` merged into the config first)."""
    from mmengine.runner import load_checkpoint
    from mmpose.apis.inference import dataset_meta_from_config

    from mmpose_boir.engine.config_check import load_checked_config
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = load_checked_config(config, cfg_options)
    cfg.model.backbone.init_cfg = None
    cfg.model.head.with_aux_heads = True
    model = MODELS.build(cfg.model)
    if checkpoint:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu',
                               strict=False)
        state = ckpt.get('state_dict', ckpt)
        # the training-only heads, the embedding head among them
        aux = tuple(f'{wrapper}head.{name}.' for name in AUX_HEADS
                    for wrapper in ('', 'module.'))
        if not any(k.startswith(aux) for k in state):
            raise ValueError(
                f'{checkpoint} has no head.embedding_head weights: it is '
                'a deployment checkpoint (the embedding head is trained '
                'and used only in training; tools/strip_aux_heads.py and '
                'the converter\'s --strip-aux drop it). The authors\' '
                'published weights may be such deployment-only files; '
                'then the paper\'s embedding figure cannot be drawn from '
                'them. What works: a training checkpoint (epoch_N.pth of '
                'tools/train.py, e.g. the tiny model of '
                'tools/overfit_tiny.py), or a release training checkpoint '
                '(checkpoint.pth.tar) converted without --strip-aux')
    model.cfg = cfg
    model.dataset_meta = dataset_meta_from_config(cfg, 'test')
    return model.to(device).eval()


@torch.no_grad()
def embedding_similarity(model, img: np.ndarray, max_persons: int = 6,
                         score_thr: float = 0.1,
                         beta: Optional[float] = None) -> Dict:
    """Center heatmap, centers and per-center similarity maps of ``img``.

    Returns a dict with ``center_heatmap`` ``[h, w]`` and ``similarity``
    ``[n, h, w]`` (heatmap resolution of the test view), ``centers``
    ``[n, 2]`` (x, y cells), ``scores`` ``[n]``, and ``warp`` (the 2x3
    matrix taking original image pixels to heatmap cells).
    """
    from mmengine.dataset import Compose, pseudo_collate
    from mmpose.structures.bbox import get_warp_matrix
    cfg = model.cfg
    pipeline = Compose(copy.deepcopy(cfg.test_dataloader.dataset.pipeline))
    data = dict(img=img, img_path='', img_id=0)
    data.update(model.dataset_meta or {})
    data = pipeline(data)
    batch = model.data_preprocessor(pseudo_collate([data]), False)
    feats = model.extract_feat(batch['inputs'])
    x = feats[-1] if isinstance(feats, (list, tuple)) else feats
    head = model.head
    dense = head.forward(x)
    center = sigmoid_clamped(dense['center'])[:, 0]
    emb = F.normalize(dense['embeddings'].float(), dim=1)[0]
    scores, coords, _ = head.decoder.decode_centers(
        center, max_persons, score_thr,
        cfg.model.test_cfg.get('blur_kernel_size', 3))
    if beta is None:
        beta = float(getattr(getattr(head, 'bbox_mask_loss', None), 'beta',
                             10.0))
    ec = emb[:, coords[:, 1], coords[:, 0]].T  # [n, D]
    dist = ((ec[:, :, None, None] - emb[None])**2).sum(1)
    similarity = torch.exp(-beta * dist)

    meta = batch['data_samples'][0].metainfo
    h, w = center.shape[-2:]
    in_w, in_h = meta['input_size']
    # original image -> input pixels -> heatmap cells
    warp = get_warp_matrix(
        np.asarray(meta['input_center'], np.float32),
        np.asarray(meta['input_scale'], np.float32), 0.0,
        output_size=(in_w, in_h))
    warp = np.diag([w / in_w, h / in_h]) @ warp
    warp[:, 2] -= 0.5  # cell j is centred on input pixel (j + 0.5) * stride
    return dict(center_heatmap=center[0].cpu().numpy(),
                similarity=similarity.cpu().numpy(),
                centers=coords.cpu().numpy(), scores=scores.cpu().numpy(),
                warp=warp.astype(np.float32), beta=beta)


def _to_image(maps: np.ndarray, warp: np.ndarray, shape) -> np.ndarray:
    """Warp ``[h, w]`` heatmap-cell maps back onto the ``shape`` image."""
    H, W = shape[:2]
    return cv2.warpAffine(maps.astype(np.float32), warp, (W, H),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _overlay(img: np.ndarray, values: np.ndarray) -> np.ndarray:
    heat = cv2.applyColorMap(
        np.clip(values * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(img, 0.45, heat, 0.55, 0)


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    cv2.rectangle(panel, (0, 0), (panel.shape[1], 24), (0, 0, 0), -1)
    cv2.putText(panel, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def draw(img: np.ndarray, res: Dict, panel_width: int = 480) -> np.ndarray:
    """The figure: image + center heatmap, then one panel per person."""
    centers_img = []
    inv = cv2.invertAffineTransform(res['warp'])
    for x, y in res['centers']:
        centers_img.append(inv @ np.array([x, y, 1.0]))
    panels = []
    first = _overlay(img, _to_image(res['center_heatmap'], res['warp'],
                                    img.shape))
    for i, (cx, cy) in enumerate(centers_img):
        cv2.circle(first, (int(cx), int(cy)), 6, (255, 255, 255), -1)
        cv2.putText(first, str(i + 1), (int(cx) + 7, int(cy) - 7),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2,
                    cv2.LINE_AA)
    panels.append((first, f'centers ({len(centers_img)})'))
    for i, sim in enumerate(res['similarity']):
        p = _overlay(img, _to_image(sim, res['warp'], img.shape))
        cx, cy = centers_img[i]
        cv2.drawMarker(p, (int(cx), int(cy)), (255, 255, 255),
                       cv2.MARKER_CROSS, 18, 2)
        panels.append((p, f'person {i + 1}: center score '
                       f'{res["scores"][i]:.2f}'))
    scale = panel_width / img.shape[1]
    size = (panel_width, max(1, int(round(img.shape[0] * scale))))
    tiles = [_label(cv2.resize(p, size, interpolation=cv2.INTER_AREA), t)
             for p, t in panels]
    cols = min(len(tiles), 4)
    rows = -(-len(tiles) // cols)
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (rows * cols - len(tiles))
    grid = [np.concatenate(tiles[r * cols:(r + 1) * cols], 1)
            for r in range(rows)]
    return np.concatenate(grid, 0)


def main(argv=None) -> int:
    from mmpose_boir.engine.config_check import ConfigCheckError
    from mmpose_boir.engine.tool_setup import check_output, setup_tool
    from mmpose_boir.models.heads.loading import CheckpointMismatchError
    args = parse_args(argv)
    setup_tool(args.device)
    img = cv2.imread(args.image)
    if img is None:
        print(f'error: cannot read image {args.image}', file=sys.stderr)
        return 1
    try:
        check_output(args.out, args.image, args.config, args.checkpoint)
        model = build_model(args.config, args.checkpoint, args.device,
                            args.cfg_options)
    except (ConfigCheckError, CheckpointMismatchError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    res = embedding_similarity(model, img, args.max_persons, args.score_thr,
                               args.beta)
    figure = draw(img, res, args.panel_width)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, figure):
        raise OSError(f'could not write {args.out}')
    if args.save_maps:
        np.savez_compressed(args.save_maps, **{
            k: v for k, v in res.items() if isinstance(v, np.ndarray)})
    print(f'{len(res["scores"])} people (center score > {args.score_thr}),'
          f' beta {res["beta"]:g}: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
