"""The Bbox Mask Loss, BoIR's box-supervised embedding loss (docs/method.md)."""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence


def associative_push(vectors: Tensor, valid: Tensor, beta: float) -> Tensor:
    """Associative-embedding push term for sets of vectors, as the release.

    ``d_jk`` is the mean over D of the squared difference; the sum of
    ``exp(-beta * d_jk)`` runs over all valid pairs *including* the
    diagonal (each self pair adds ``exp(0) = 1``), and the push of a set of
    ``n`` vectors is ``0.5 * sum / (n - 1)``, or 0 when ``n < 2``.

    Args:
        vectors: ``[B, N, D]`` sets of N vectors (padded).
        valid: ``[B, N]`` bool, which vectors belong to each set.
        beta: the push sharpness.

    Returns:
        ``[B]`` push of each set.
    """
    D = vectors.shape[-1]
    sq = (vectors * vectors).sum(-1)
    dist = (sq[:, :, None] + sq[:, None, :] -
            2 * vectors @ vectors.transpose(1, 2)).clamp(min=0) / D
    dist = dist * (1 - torch.eye(vectors.shape[1], device=vectors.device,
                                 dtype=vectors.dtype))
    pair = (valid[:, :, None] & valid[:, None, :]).to(vectors.dtype)
    total = (torch.exp(-beta * dist) * pair).sum((1, 2))
    n = valid.sum(1).to(vectors.dtype)
    return torch.where(n > 1, 0.5 * total / (n - 1).clamp(min=1),
                       torch.zeros_like(total))


@MODELS.register_module()
class BboxMaskLoss(nn.Module):
    """Bbox Mask Loss (Jeong et al., BMVC 2023), vectorised over boxes.

    The embedding map is L2-normalised per pixel. For every box three samples
    are taken: the embedding at the box center ``e_c``, the similarity
    weighted mean ``e_p`` of the embeddings inside the box (weights
    ``exp(-beta * ||e_c - e_i||^2)`` without gradient) and a background mean
    ``e_b``. Terms in associative-embedding form: in-box pull of
    ``{e_c, e_p}``, out-box push between the instance and ``e_b``, and a
    cross-instance push between all centers of an image.

    Args:
        beta: sharpness of similarity weights and pushes (10 in BoIR).
        background: ``'image'`` (the released configs): one background sample
            outside all boxes of an image and only the cross-instance push
            over ``[centers, background]``; ``'instance'`` (the paper's
            three-term form): per box, the pull and the push against the mean
            outside that box, plus the cross-instance push over centers.
        center: ``'box'`` samples the true box center ``(x + w/2, y + h/2)``;
            ``'release'`` the release's ``((x + w) / 2, (y + h) / 2)``.
        loss_weight: multiplier of the returned loss.
        eps: a box whose similarity weights sum below ``eps`` has ``{e_c}``
            as its positive group.

    Boxes whose clipped cell extent is under 2 cells in either direction are
    skipped (no mask, no sample) but still count in the normaliser.
    """

    def __init__(self, beta: float = 10.0, background: str = 'image',
                 center: str = 'box', loss_weight: float = 0.25,
                 eps: float = 1e-5) -> None:
        super().__init__()
        if background not in ('image', 'instance'):
            raise ValueError(f"background must be 'image' or 'instance', "
                             f'got {background!r}')
        if center not in ('box', 'release'):
            raise ValueError(
                f"center must be 'box' or 'release', got {center!r}")
        self.beta = beta
        self.background = background
        self.center = center
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, embeddings: Tensor, boxes: Sequence[Tensor]) -> Tensor:
        """Compute the loss.

        Args:
            embeddings: ``[B, D, H, W]`` raw (not yet normalised) embeddings.
            boxes: B tensors ``[n_i, 4]``, (x, y, w, h) in map cells.

        Returns:
            Scalar: the summed terms divided by ``sum_i n_i`` (times
            ``loss_weight``); 0 (attached to the graph) when there are no
            boxes.
        """
        B, D, H, W = embeddings.shape
        if len(boxes) != B:
            raise ValueError(f'got {len(boxes)} box tensors for a batch of '
                             f'{B} embedding maps')
        num_boxes = sum(len(b) for b in boxes)
        if num_boxes == 0:
            return embeddings.sum() * 0.0
        # float32, or float64 for float64 embeddings (half ones cast up)
        emb = F.normalize(embeddings.to(torch.promote_types(
            embeddings.dtype, torch.float32)), dim=1).flatten(2)  # [B, D, HW]
        device = emb.device
        box = pad_sequence([b.to(device=device, dtype=emb.dtype).reshape(
            -1, 4) for b in boxes], batch_first=True)  # [B, M, 4]
        lengths = torch.tensor([len(b) for b in boxes], device=device)
        M = box.shape[1]
        valid = torch.arange(M, device=device)[None] < lengths[:, None]

        x, y, w, h = box.unbind(-1)
        x1 = (x.long() - 1).clamp(0, W - 1)
        x2 = ((x + w).long() + 1).clamp(0, W - 1)
        y1 = (y.long() - 1).clamp(0, H - 1)
        y2 = ((y + h).long() + 1).clamp(0, H - 1)
        kept = valid & (x2 - x1 >= 2) & (y2 - y1 >= 2)

        cols = torch.arange(W, device=device)
        rows = torch.arange(H, device=device)
        in_x = (cols >= x1[..., None]) & (cols < x2[..., None])  # [B, M, W]
        in_y = (rows >= y1[..., None]) & (rows < y2[..., None])  # [B, M, H]
        mask = (in_y[..., :, None] & in_x[..., None, :]).flatten(2)
        mask = (mask & kept[..., None]).to(emb.dtype)  # [B, M, HW]

        if self.center == 'box':
            cx, cy = torch.floor(x + w / 2), torch.floor(y + h / 2)
        else:
            cx, cy = torch.floor((x + w) / 2), torch.floor((y + h) / 2)
        cx = cx.long().clamp(0, W - 1)
        cy = cy.long().clamp(0, H - 1)
        emb_t = emb.transpose(1, 2)  # [B, HW, D]
        centers = torch.gather(
            emb_t, 1, (cy * W + cx)[..., None].expand(-1, -1, D))  # [B,M,D]

        if self.background == 'instance':
            # in-box positives: only this form's pull and out-box push use them
            with torch.no_grad():
                c = centers.detach()
                dist = ((c * c).sum(-1)[..., None] +
                        (emb * emb).sum(1)[:, None, :] -
                        2 * c @ emb).clamp(min=0)  # [B, M, HW]
                sim = torch.exp(-self.beta * dist) * mask
                sim = sim / sim.amax(-1, keepdim=True).clamp(min=1.0)
                sim_sum = sim.sum(-1)  # [B, M]
            has_pos = sim_sum >= self.eps
            positives = (sim @ emb_t) / sim_sum.clamp(min=self.eps)[..., None]
            pos_mean = torch.where(has_pos[..., None],
                                   (centers + positives) / 2, centers)
            pull = torch.where(has_pos,
                               ((centers - positives)**2).sum(-1) / (2 * D),
                               torch.zeros_like(sim_sum))

            count = mask.sum(-1)  # [B, M]
            outside = emb.sum(-1)[:, None, :] - mask @ emb_t  # [B, M, D]
            has_bg = kept & (count < H * W)
            bg = outside / (H * W - count).clamp(min=1)[..., None]
            pair = torch.stack((pos_mean, bg), dim=2).flatten(0, 1)
            pair_valid = torch.stack((kept, has_bg), dim=2).flatten(0, 1)
            push = associative_push(pair, pair_valid, self.beta).view(B, M)
            instance_terms = ((pull + push) * kept.to(emb.dtype)).sum()
            cross = associative_push(centers, kept, self.beta).sum()
        else:
            union = mask.amax(1)  # [B, HW]
            num_bg = H * W - union.sum(-1)  # [B]
            bg = ((1 - union)[:, None, :] @ emb_t).squeeze(1) / num_bg.clamp(
                min=1)[:, None]  # [B, D]
            has_bg = (num_bg > 0) & kept.any(1)
            vectors = torch.cat((centers, bg[:, None]), dim=1)
            vectors_valid = torch.cat((kept, has_bg[:, None]), dim=1)
            instance_terms = emb.new_zeros(())
            cross = associative_push(vectors, vectors_valid, self.beta).sum()

        loss = (instance_terms + cross) / num_boxes
        return loss * self.loss_weight
