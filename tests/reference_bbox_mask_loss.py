"""A literal, per-box transcription of spec section 3.1 (the release's
arithmetic), used as the oracle for the vectorised BboxMaskLoss."""
import math
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _pull(group: List[Tensor]) -> Tensor:
    g = torch.stack(group)
    return ((g - g.mean(0, keepdim=True))**2).sum() / g.shape[1]


def _push(vectors: List[Tensor], beta: float) -> Tensor:
    n = len(vectors)
    if n < 2:
        return vectors[0].new_zeros(())
    v = torch.stack(vectors)
    d = ((v[:, None] - v[None])**2).mean(-1)
    d = d * (1 - torch.eye(n, dtype=d.dtype))
    return 0.5 * torch.exp(-beta * d).sum() / (n - 1)


def reference_bbox_mask_loss(embeddings: Tensor,
                             boxes: Sequence[Tensor],
                             beta: float = 10.0,
                             background: str = 'image',
                             center: str = 'box',
                             eps: float = 1e-5,
                             detach_similarity: bool = True) -> Tensor:
    B, D, H, W = embeddings.shape
    emb = F.normalize(embeddings, dim=1)
    total = emb.new_zeros(())
    for b in range(B):
        e = emb[b]
        mask = torch.zeros(H, W)
        centers = []
        for box in boxes[b]:
            x, y, w, h = [float(v) for v in box]
            x1 = min(max(int(x) - 1, 0), W - 1)
            x2 = min(max(int(x + w) + 1, 0), W - 1)
            y1 = min(max(int(y) - 1, 0), H - 1)
            y2 = min(max(int(y + h) + 1, 0), H - 1)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            if background == 'instance':
                mask = torch.zeros(H, W)
            mask[y1:y2, x1:x2] = 1
            if center == 'box':
                cx, cy = math.floor(x + w / 2), math.floor(y + h / 2)
            else:
                cx, cy = math.floor((x + w) / 2), math.floor((y + h) / 2)
            ec = e[:, cy, cx]
            part = e[:, y1:y2, x1:x2]
            if detach_similarity:
                s = torch.exp(-beta * ((ec.detach()[:, None, None] -
                                        part.detach())**2).sum(0))
            else:
                s = torch.exp(-beta * ((ec[:, None, None] - part)**2).sum(0))
            s = s / max(float(s.detach().max()), 1.0)
            centers.append(ec)
            if float(s.sum()) < eps:
                group = [ec]
            else:
                group = [ec, (part * s).sum((1, 2)) / s.sum()]
            if background == 'instance':
                bg = (e * (1 - mask)).sum((1, 2)) / (H * W - mask.sum())
                mean = torch.stack(group).mean(0)
                total = total + _pull(group) + _push([mean, bg], beta)
        vectors = list(centers)
        if background == 'image' and centers and float(mask.sum()) < H * W:
            vectors.append((e * (1 - mask)).sum((1, 2)) / (H * W - mask.sum()))
        if len(vectors) > 1:
            total = total + _push(vectors, beta)
    return total / sum(len(b) for b in boxes)
