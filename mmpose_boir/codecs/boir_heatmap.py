"""BoIR's codec: CID's decoupled heatmaps as the release builds them (training
targets), and the release's batched decoding of centers and keypoints."""
import math
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpose.codecs import DecoupledHeatmap
from mmpose.registry import KEYPOINT_CODECS
from torch import Tensor

from ..models.utils.heatmaps import smooth_heatmaps


def gaussian_radius(height: float, width: float,
                    min_overlap: float = 0.7) -> float:
    """CornerNet's radius for a box of ``height x width`` (smallest root of
    its three overlap cases)."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 16 * c2)) / 2
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 16 * min_overlap * c3)) / 2
    return min(r1, r2, r3)


def gaussian_kernel(radius: int) -> np.ndarray:
    """The ``(2r+1)^2`` kernel, sigma ``(2r+1)/6``, peak 1, with values below
    ``eps * max`` set to 0 (float64, as the release draws it)."""
    diameter = 2 * radius + 1
    sigma = diameter / 6
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    kernel = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    kernel[kernel < np.finfo(kernel.dtype).eps * kernel.max()] = 0
    return kernel


@KEYPOINT_CODECS.register_module()
class BoIRDecoupledHeatmap(DecoupledHeatmap):
    """CID's decoupled heatmaps with the BoIR release's exact target rules.

    For each annotated person (keypoints ``(N, K, 2)`` and box corners
    ``(N, 4, 2)`` in input pixels after the bottom-up affine), on the
    ``heatmap_size`` grid:

    - **radius**: the box corners are clipped to the map, the lengths of the
      box's two edges rounded up, and CornerNet's radius ``r`` of that size
      truncated to an integer; the Gaussian has diameter ``2r + 1`` and sigma
      ``(2r + 1) / 6`` (:func:`gaussian_kernel`).
    - **peaks**: each labelled keypoint (visibility > 0) is drawn at the cell
      ``(int(x), int(y))`` (truncation toward zero, so -0.5 lands on cell 0)
      if that cell is on the map; overlapping Gaussians take the maximum.
      ``peak_rounding=True`` (an opt-in) draws at the nearest cell instead,
      the instance center cells too, and :meth:`decode_keypoints` then
      reads a peak's cell as the keypoint (the release's half-cell offset
      belongs to truncation).
    - **center**: the mean of the person's labelled keypoints (wherever they
      fall), drawn as channel K of ``heatmaps`` with the same radius; people
      whose box area (input pixels^2, the transformed box: ``w * h`` times
      the affine's scale squared) is below ``min_instance_area`` get none.
    - **instances**: people with a center, ordered by increasing area
      (``np.argsort``), skipped when the center cell is off the map or repeats
      an earlier instance's cell. With ``jitter`` the cell moves by a random
      offset in {-1, 0, 1}^2, kept only when it stays on the map. Each gets
      its own ``K`` keypoint heatmaps, ``keypoint_weights`` (1 for labelled
      keypoints, 0 otherwise), its center cell ``instance_coords`` (x, y),
      and ``instance_indices`` (which annotated person it is, so that per
      person data such as boxes stays aligned).
    - ``encode_max_instances``: a random subset of at most this many
      instances per image (order kept); ``None`` (the release) for no cap.
    - ``placeholder_instance``: an image left without any instance gets one
      placeholder, as the release's distributed training feeds it: center
      cell (0, 0), all-zero keypoint heatmaps and weights, and
      ``instance_indices`` -1 (:class:`BoxEmbeddingSampling` gives it the
      box (0, 0, 0, 0)). It adds nothing to the keypoint losses, but counts
      as one instance of the Bbox Mask Loss and its 2x2 cells at (0, 0) enter
      the box loss. ``False`` (opt-in) feeds such an image no instance.

    Args:
        input_size: (w, h) of the network input.
        heatmap_size: (W, H) of the output maps.
        root_type: only ``'kpt_center'`` (the release's center).
        heatmap_min_overlap: CornerNet's min overlap (0.7).
        encode_max_instances: per-image cap, or None.
        min_instance_area: minimum box area for a person to get a center
            (32^2 on COCO, 0 on CrowdPose).
        jitter: jitter the instance center cells (training).
        peak_rounding: draw peaks and center cells at the nearest cell and
            decode accordingly (opt-in, not the release).
        placeholder_instance: one placeholder instance for an image without
            any (the release's distributed training; see above).
    """

    #: ``instance_boxes`` (from :class:`BoxEmbeddingSampling`) and
    #: ``heatmap_mask`` (from :class:`BottomupGetHeatmapMaskRLE`) are added
    #: to the results after this codec runs; declaring them here lets
    #: ``PackPoseInputs`` pack them.
    label_mapping_table = dict(
        keypoint_weights='keypoint_weights',
        instance_coords='instance_coords',
        instance_boxes='instance_boxes',
    )
    field_mapping_table = dict(
        heatmaps='heatmaps',
        instance_heatmaps='instance_heatmaps',
        heatmap_mask='heatmap_mask',
    )

    def __init__(self,
                 input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 root_type: str = 'kpt_center',
                 heatmap_min_overlap: float = 0.7,
                 encode_max_instances: Optional[int] = None,
                 min_instance_area: float = 32**2,
                 jitter: bool = True,
                 peak_rounding: bool = False,
                 placeholder_instance: bool = False):
        if root_type != 'kpt_center':
            raise ValueError("BoIRDecoupledHeatmap: root_type must be "
                             f"'kpt_center' (the release's), got {root_type!r}")
        super().__init__(input_size, heatmap_size, root_type,
                         heatmap_min_overlap,
                         encode_max_instances or 0)
        self.encode_max_instances = encode_max_instances
        self.min_instance_area = min_instance_area
        self.jitter = jitter
        self.peak_rounding = peak_rounding
        self.placeholder_instance = placeholder_instance

    # --------------------------------------------------------------- drawing
    def _radius(self, corners: np.ndarray) -> int:
        """Integer radius of one person from its (4, 2) corners in cells
        (order left-top, left-bottom, right-top, right-bottom)."""
        W, H = self.heatmap_size
        c = np.stack((corners[:, 0].clip(0, W - 1),
                      corners[:, 1].clip(0, H - 1)), -1).astype(np.float64)
        h = math.sqrt(((c[1] - c[0])**2).sum())
        w = math.sqrt(((c[2] - c[0])**2).sum())
        return max(0, int(gaussian_radius(math.ceil(h), math.ceil(w),
                                          self.heatmap_min_overlap)))

    def _cell(self, x: float, y: float) -> Tuple[int, int]:
        if self.peak_rounding:
            return int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
        return int(x), int(y)

    def _draw(self, heatmap: np.ndarray, x: float, y: float,
              kernel: np.ndarray, radius: int) -> None:
        """Max-paste ``kernel`` centered on the cell of (x, y), in place."""
        H, W = heatmap.shape
        cx, cy = self._cell(x, y)
        if cx < 0 or cy < 0 or cx >= W or cy >= H:
            return
        left, right = min(cx, radius), min(W - cx, radius + 1)
        top, bottom = min(cy, radius), min(H - cy, radius + 1)
        patch = heatmap[cy - top:cy + bottom, cx - left:cx + right]
        np.maximum(patch, kernel[radius - top:radius + bottom,
                                 radius - left:radius + right], out=patch)

    # ---------------------------------------------------------------- encode
    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               bbox: Optional[np.ndarray] = None) -> dict:
        """Encode (N, K, 2) keypoints and (N, 4, 2) box corners.

        Returns:
            dict with ``heatmaps`` (K+1, H, W: keypoints then center),
            ``instance_heatmaps`` (M*K, H, W), ``keypoint_weights`` (M, K),
            ``instance_coords`` (M, 2) int (x, y) cells and
            ``instance_indices`` (M,) int (-1: the placeholder).
        """
        if bbox is None:
            raise ValueError('BoIRDecoupledHeatmap needs the box corners '
                             "('bbox'); use BottomupRandomAffine with "
                             'bbox_keep_corner=True before GenerateTarget')
        if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
            raise ValueError(f'BoIRDecoupledHeatmap: keypoints of shape '
                             f'{keypoints.shape}, expected (N, K, 2)')
        N, K = keypoints.shape[:2]
        if keypoints_visible is None:
            keypoints_visible = np.ones((N, K), dtype=np.float32)
        W, H = self.heatmap_size
        corners = np.asarray(bbox, dtype=np.float64).reshape(-1, 4, 2)
        labelled = np.asarray(keypoints_visible) > 0
        kpts = np.asarray(keypoints, dtype=np.float64) / self.scale_factor
        cells = corners / self.scale_factor

        # area in input pixels^2: |cross| of the transformed box edges
        e1, e2 = corners[:, 2] - corners[:, 0], corners[:, 1] - corners[:, 0]
        areas = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
        count = labelled.sum(1)
        centers = np.zeros((N, 2))
        has_center = (count > 0) & (areas >= self.min_instance_area)
        for i in np.flatnonzero(count > 0):
            centers[i] = kpts[i][labelled[i]].sum(0) / count[i]

        radii = [self._radius(cells[i]) for i in range(N)]
        kernels = {r: gaussian_kernel(r) for r in set(radii)}

        heatmaps = np.zeros((K + 1, H, W), dtype=np.float32)
        for i in range(N):
            r = radii[i]
            for k in np.flatnonzero(labelled[i]):
                self._draw(heatmaps[k], *kpts[i, k], kernels[r], r)
            if has_center[i]:
                self._draw(heatmaps[K], *centers[i], kernels[r], r)

        inst_roots, inst_indices = [], []
        for i in np.argsort(areas):
            if not has_center[i]:
                continue
            x, y = self._cell(*centers[i])
            if x < 0 or x >= W or y < 0 or y >= H:
                continue
            if self.jitter:
                nx = x + np.random.randint(-1, 2)
                ny = y + np.random.randint(-1, 2)
                if 0 <= nx < W and 0 <= ny < H:
                    x, y = nx, ny
            if (x, y) in inst_roots:
                continue
            inst_roots.append((x, y))
            inst_indices.append(int(i))
        cap = self.encode_max_instances
        if cap is not None and len(inst_indices) > cap:
            keep = sorted(np.random.choice(len(inst_indices), cap,
                                           replace=False))
            inst_roots = [inst_roots[i] for i in keep]
            inst_indices = [inst_indices[i] for i in keep]

        M = len(inst_indices)
        inst_heatmaps = np.zeros((M, K, H, W), dtype=np.float32)
        for m, i in enumerate(inst_indices):
            r = radii[i]
            for k in np.flatnonzero(labelled[i]):
                self._draw(inst_heatmaps[m, k], *kpts[i, k], kernels[r], r)
        weights = labelled[inst_indices].astype(np.float32).reshape(M, K)
        if M == 0 and self.placeholder_instance:
            M, inst_roots, inst_indices = 1, [(0, 0)], [-1]
            inst_heatmaps = np.zeros((1, K, H, W), dtype=np.float32)
            weights = np.zeros((1, K), dtype=np.float32)

        return dict(
            heatmaps=heatmaps,
            instance_heatmaps=inst_heatmaps.reshape(M * K, H, W),
            keypoint_weights=weights,
            instance_coords=np.array(inst_roots, dtype=np.int64).reshape(
                -1, 2),
            instance_indices=np.array(inst_indices, dtype=np.int64))

    # ---------------------------------------------------------------- decode
    # Decoding is batched tensor code (no Python loop over instances) that
    # runs inside the network's graph: BoIRHead.predict_tensors calls the
    # head's codec for prediction, export, the benchmark and the
    # visualisation alike.

    def decode_centers(self, centers: Tensor, max_instances: int,
                       score_thr: float, blur_kernel_size: int = 3,
                       padded: bool = False) -> Tuple[Tensor, ...]:
        """Instance centers: top-k local maxima of the smoothed center maps.

        As the release: ``(h + avgpool_k(h)) / 2``, peaks where a max-pool
        (kernel :func:`peak_pool_kernel`) equals the map, the
        ``max_instances`` highest per image, kept when above
        ``score_thr``.

        Args:
            centers: ``[B, H, W]`` center probabilities.
            max_instances: k per image.
            score_thr: keep peaks strictly above it.
            blur_kernel_size: the smoothing kernel.
            padded: return every image's k rows with a ``valid`` mask
                (fixed shapes, for export) instead of only the kept ones.

        Returns:
            ``scores [N]``, ``coords [N, 2]`` (x, y) long: the peak cells,
            ``img_ids [N]``, ordered by image then by descending score;
            with ``padded`` also ``valid [N]`` bool and ``N = B * k``.
        """
        B, H, W = centers.shape
        smoothed = smooth_heatmaps(centers, blur_kernel_size)
        k = peak_pool_kernel(H, W)
        maxima = F.max_pool2d(smoothed[:, None], k, 1, (k - 1) // 2)[:, 0]
        peaks = (smoothed * torch.eq(maxima, smoothed).float()).reshape(B, -1)
        scores, index = peaks.topk(min(max_instances, H * W), dim=1)
        img_ids = torch.arange(B, device=scores.device)[:, None].expand_as(
            scores)
        coords = torch.stack(
            (index % W, torch.div(index, W, rounding_mode='floor')), -1)
        valid = scores > score_thr
        if padded:
            return (scores.reshape(-1), coords.reshape(-1, 2),
                    img_ids.reshape(-1), valid.reshape(-1))
        return scores[valid], coords[valid], img_ids[valid]

    def decode_keypoints(self, heatmaps: Tensor,
                         blur_kernel_size: int = 3) -> Tuple[Tensor, Tensor]:
        """Keypoints of instance heatmaps, as the release decodes them.

        The maps are smoothed as the centers; each keypoint's argmax moves a
        quarter cell towards the higher of its two neighbours along x and
        along y (no move at the map border or on ties). Where the encoder
        truncates (``peak_rounding=False``, the release), a keypoint in
        ``[x, x + 1)`` was drawn at cell ``x``, so the cell's center is the
        keypoint: ``(x + 0.5, y + 0.5)`` cells, the release's ``x * 4 + 2``
        input pixels at stride 4. Where it rounds (``peak_rounding=True``),
        cell ``x`` holds ``[x - 0.5, x + 0.5)``: the keypoint is ``(x, y)``.

        Args:
            heatmaps: ``[N, K, H, W]`` probabilities.
            blur_kernel_size: the smoothing kernel.

        Returns:
            keypoints ``[N, K, 2]`` (x, y) in heatmap cells (float) and
            scores ``[N, K]``, the smoothed maxima.
        """
        heatmaps = smooth_heatmaps(heatmaps, blur_kernel_size)
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
        center = 0.0 if self.peak_rounding else 0.5
        keypoints = torch.stack(
            (x.float() + dx + center, y.float() + dy + center), dim=-1)
        return keypoints, scores

    def decode(self, instance_heatmaps: np.ndarray,
               instance_scores: np.ndarray,
               blur_kernel_size: int = 3) -> Tuple[np.ndarray, np.ndarray]:
        """MMPose's codec interface (``DecoupledHeatmap.decode``) with this
        codec's arithmetic (:meth:`decode_keypoints`; MMPose's own decode
        refines and offsets differently).

        Args:
            instance_heatmaps: ``(N, K, H, W)`` probabilities.
            instance_scores: ``(N,)`` or ``(N, 1)`` center scores.
            blur_kernel_size: the smoothing kernel.

        Returns:
            keypoints ``(N, K, 2)`` in input pixels (cells times
            ``scale_factor``) and keypoint scores ``(N, K)`` (the smoothed
            maxima times the instance's score).
        """
        keypoints, scores = self.decode_keypoints(
            torch.from_numpy(np.ascontiguousarray(instance_heatmaps)),
            blur_kernel_size)
        return (keypoints.numpy() * np.asarray(self.scale_factor),
                scores.numpy() * np.asarray(instance_scores).reshape(-1, 1))


def peak_pool_kernel(height: int, width: int) -> int:
    """The release's max-pool kernel for center peaks: 7 if the mean side
    is above 300 cells, 5 above 200, else 3."""
    size = (height + width) / 2.0
    return 7 if size > 300 else 5 if size > 200 else 3
