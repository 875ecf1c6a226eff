"""Heatmap operations of the model and its decoding: the release's clamped
sigmoid (logits to heatmaps) and its smoothing before peaks are read."""
import torch
import torch.nn.functional as F
from torch import Tensor


def sigmoid_clamped(x: Tensor, delta: float = 1e-4,
                    inplace: bool = False) -> Tensor:
    """Sigmoid clamped to ``[delta, 1 - delta]``, computed in float32 for
    any input dtype, float64 included: the release's
    ``_sigmoid(x.type(torch.float32))``, whose maps are float32 also when
    its network runs in float64 (its float64 center map is float32 values;
    a float64 sigmoid reorders its near-tied peaks). ``inplace``: into
    ``x`` itself when it is float32 (no new map; not for tensors that
    autograd needs)."""
    if inplace:
        return x.float().sigmoid_().clamp_(min=delta, max=1 - delta)
    return x.float().sigmoid().clamp(min=delta, max=1 - delta)


def smooth_heatmaps(heatmaps: Tensor, kernel: int = 3,
                    block: int = 1 << 20) -> Tensor:
    """The release's smoothing ``(h + avg_pool2d(h, kernel, 1, (kernel - 1)
    // 2)) / 2`` (zero padding, counted in the average); any ``[..., H, W]``
    shape.

    The sums of PyTorch's CPU ``avg_pool2d`` (each window in row-major
    order, then divided by ``kernel ** 2``; the same results, bit for bit
    on the development CPU), as ``kernel ** 2`` shifted additions of the
    zero-padded maps, on blocks of maps of about ``block`` values that stay
    in cache: about 3x faster than ``avg_pool2d`` at one CPU thread on a
    flip test's ``[30, 17, 128, 192]`` keypoint maps, and traceable (a few
    blocks in an exported graph).
    """
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f'smooth_heatmaps: the kernel (test_cfg.'
                         f'blur_kernel_size) must be odd, got {kernel}')
    shape = heatmaps.shape
    H, W = shape[-2:]
    maps = heatmaps.reshape(-1, H, W)
    r = (kernel - 1) // 2
    step = max(1, block // (H * W))
    outs = []
    for lo in range(0, len(maps), step):
        part = maps[lo:lo + step]
        padded = F.pad(part, (r, r, r, r))
        acc = padded[:, :H, :W].clone()
        for i in range(kernel):
            for j in range(kernel):
                if i or j:
                    acc += padded[:, i:i + H, j:j + W]
        outs.append(acc.div_(kernel * kernel).add_(part).mul_(0.5))
    if not outs:  # no maps
        return heatmaps.clone()
    return (outs[0] if len(outs) == 1 else torch.cat(outs)).reshape(shape)
