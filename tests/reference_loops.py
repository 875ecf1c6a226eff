"""A per-box Python-loop reference of the Bbox Mask Loss.

Written for clarity, not speed: it computes one box at a time, and is what
the vectorised ``BboxMaskLoss`` is checked against. (The release's instance
keypoint head and keypoint decoding, ``direct_form`` and
``reference_decode``, live in ``tools/benchmark.py``, which times ours
against them; the tests load them from there.)
"""
import math
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _pull(group: List[Tensor]) -> Tensor:
    """Squared distance of the group's vectors [n, D] to their mean, / D."""
    g = torch.stack(group)
    return ((g - g.mean(0, keepdim=True))**2).sum() / g.shape[1]


def _push(vectors: List[Tensor], beta: float) -> Tensor:
    """0.5 * mean over ordered pairs of exp(-beta * mean squared distance)."""
    n = len(vectors)
    if n < 2:
        return vectors[0].new_zeros(())
    v = torch.stack(vectors)
    d = ((v[:, None] - v[None])**2).mean(-1)
    d = d * (1 - torch.eye(n, dtype=d.dtype, device=d.device))
    return 0.5 * torch.exp(-beta * d).sum() / (n - 1)


def reference_bbox_mask_loss(embeddings: Tensor,
                             boxes: Sequence[Tensor],
                             beta: float = 10.0,
                             background: str = 'image',
                             center: str = 'box',
                             eps: float = 1e-5,
                             detach_similarity: bool = True) -> Tensor:
    """The Bbox Mask Loss with Python loops over images and boxes.

    Args and result as ``BboxMaskLoss(loss_weight=1.0)``: ``embeddings``
    [B, D, H, W], ``boxes`` B tensors [n_i, 4] (x, y, w, h) in map cells;
    a scalar divided by the number of boxes. ``detach_similarity=False``
    backpropagates through the similarity weights (the method does not).
    """
    B, D, H, W = embeddings.shape
    emb = F.normalize(embeddings.float(), dim=1)
    total = emb.new_zeros(())
    for b in range(B):
        e = emb[b]
        union = torch.zeros(H, W, device=e.device)
        centers = []
        for x, y, w, h in boxes[b].tolist():
            x1 = min(max(int(x) - 1, 0), W - 1)
            x2 = min(max(int(x + w) + 1, 0), W - 1)
            y1 = min(max(int(y) - 1, 0), H - 1)
            y2 = min(max(int(y + h) + 1, 0), H - 1)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            if center == 'box':
                cx, cy = math.floor(x + w / 2), math.floor(y + h / 2)
            else:
                cx, cy = math.floor((x + w) / 2), math.floor((y + h) / 2)
            cx, cy = min(max(cx, 0), W - 1), min(max(cy, 0), H - 1)
            ec = e[:, cy, cx]
            part = e[:, y1:y2, x1:x2]
            if detach_similarity:
                s = torch.exp(-beta * ((ec.detach()[:, None, None] -
                                        part.detach())**2).sum(0))
            else:
                s = torch.exp(-beta * ((ec[:, None, None] - part)**2).sum(0))
            s = s / s.detach().max().clamp(min=1.0)
            centers.append(ec)
            group = [ec] if float(s.sum()) < eps else [
                ec, (part * s).sum((1, 2)) / s.sum()
            ]
            if background == 'instance':
                mask = torch.zeros(H, W, device=e.device)
                mask[y1:y2, x1:x2] = 1
                vectors = [torch.stack(group).mean(0)]
                if float(mask.sum()) < H * W:
                    vectors.append((e * (1 - mask)).sum((1, 2)) /
                                   (H * W - mask.sum()))
                total = total + _pull(group) + _push(vectors, beta)
            else:
                union[y1:y2, x1:x2] = 1
        vectors = list(centers)
        if background == 'image' and centers and float(union.sum()) < H * W:
            vectors.append((e * (1 - union)).sum((1, 2)) /
                           (H * W - union.sum()))
        if len(vectors) > 1:
            total = total + _push(vectors, beta)
    return total / max(sum(len(b) for b in boxes), 1)
