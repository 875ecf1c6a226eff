"""Vectorised decoding of BoIR's heatmaps (spec section 5), no Python loops
over instances."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def sigmoid_clamped(x: Tensor, delta: float = 1e-4) -> Tensor:
    """Sigmoid clamped to ``[delta, 1 - delta]``, computed in float32."""
    return x.float().sigmoid().clamp(min=delta, max=1 - delta)


def smooth_heatmaps(heatmaps: Tensor, kernel: int = 3) -> Tensor:
    """``(h + avg_pool(h)) / 2``; any ``[..., H, W]`` shape."""
    shape = heatmaps.shape
    h = heatmaps.reshape(-1, 1, *shape[-2:])
    pooled = F.avg_pool2d(h, kernel, 1, (kernel - 1) // 2)
    return ((h + pooled) / 2).reshape(shape)


def peak_pool_kernel(height: int, width: int) -> int:
    """Max-pool kernel for center peaks: 7 if mean side > 300, 5 if > 200,
    else 3."""
    size = (height + width) / 2.0
    return 7 if size > 300 else 5 if size > 200 else 3


def find_centers(center_heatmaps: Tensor, max_instances: int,
                 score_threshold: float,
                 blur_kernel: int = 3) -> Tuple[Tensor, Tensor, Tensor]:
    """Top-k local maxima of smoothed center heatmaps, per image.

    Args:
        center_heatmaps: ``[B, H, W]`` center probabilities.
        max_instances: k of the top-k per image.
        score_threshold: keep peaks with score strictly above it.
        blur_kernel: smoothing kernel.

    Returns:
        scores ``[N]``, coords ``[N, 2]`` (x, y) long, img_ids ``[N]`` long,
        ordered by image then by descending score.
    """
    B, H, W = center_heatmaps.shape
    smoothed = smooth_heatmaps(center_heatmaps, blur_kernel)
    k = peak_pool_kernel(H, W)
    maxima = F.max_pool2d(smoothed[:, None], k, 1, (k - 1) // 2)[:, 0]
    peaks = (smoothed * torch.eq(maxima, smoothed).float()).reshape(B, -1)
    scores, index = peaks.topk(min(max_instances, H * W), dim=1)
    keep = scores > score_threshold
    img_ids = torch.arange(B, device=scores.device)[:, None].expand_as(
        scores)[keep]
    index = index[keep]
    coords = torch.stack((index % W, torch.div(index, W,
                                               rounding_mode='floor')), 1)
    return scores[keep], coords, img_ids


def decode_instance_heatmaps(heatmaps: Tensor) -> Tuple[Tensor, Tensor]:
    """Argmax with the release's quarter-cell refinement.

    Each keypoint's argmax moves 0.25 cell towards the higher of its two
    neighbours along x and along y (no move at the map border or on ties).

    Args:
        heatmaps: ``[N, K, H, W]`` (already smoothed).

    Returns:
        keypoints ``[N, K, 2]`` (x, y) in heatmap cells, float;
        scores ``[N, K]`` the maxima.
    """
    N, K, H, W = heatmaps.shape
    flat = heatmaps.reshape(N, K, H * W)
    scores, index = flat.max(dim=2)
    x = index % W
    y = torch.div(index, W, rounding_mode='floor')

    def value(yy: Tensor, xx: Tensor) -> Tensor:
        return torch.gather(flat, 2, (yy * W + xx)[..., None])[..., 0]

    x_l, x_r = (x - 1).clamp(min=0), (x + 1).clamp(max=W - 1)
    y_t, y_b = (y - 1).clamp(min=0), (y + 1).clamp(max=H - 1)
    dx = torch.sign(value(y, x_r) - value(y, x_l)) * 0.25
    dy = torch.sign(value(y_b, x) - value(y_t, x)) * 0.25
    dx = dx * ((x > 0) & (x < W - 1)).float()
    dy = dy * ((y > 0) & (y < H - 1)).float()
    keypoints = torch.stack((x.float() + dx, y.float() + dy), dim=-1)
    return keypoints, scores
