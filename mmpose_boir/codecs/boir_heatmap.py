"""Training targets of BoIR: CID's decoupled heatmaps as the release builds them."""
import math
from typing import Optional, Tuple

import numpy as np
from mmpose.codecs import DecoupledHeatmap
from mmpose.codecs.utils import generate_gaussian_heatmaps, get_instance_root
from mmpose.registry import KEYPOINT_CODECS

#: Coordinates (input pixels, after augmentation) beyond this are corrupt:
#: they would overflow the integer casts of the heatmap code.
MAX_COORDINATE = 1e9


@KEYPOINT_CODECS.register_module()
class BoIRDecoupledHeatmap(DecoupledHeatmap):
    """MMPose's ``DecoupledHeatmap`` with the BoIR release's target rules.

    Differences from the parent (spec section 2):

    - instances are ordered by box area, smallest first (the parent orders by
      the keypoint extent's diagonal);
    - people whose box area is below ``min_instance_area`` (input pixels;
      32^2 on COCO, 0 on CrowdPose) get no center;
    - the center jitter in {-1, 0, 1} falls back to the unjittered cell when
      it would leave the map (the parent clamps);
    - the Gaussian sigma is ``diameter / 6`` with CornerNet's integer radius
      computed from the box clipped to the map;
    - ``encode`` also returns ``instance_indices``: for each encoded instance
      the index of the annotated person it came from, so that per-instance
      data (the boxes of :class:`BoxEmbeddingSampling`) stays aligned.

    ``bbox`` must be the (N, 4, 2) corners after the bottom-up affine
    (``BottomupRandomAffine(bbox_keep_corner=True)``), in input pixels.

    Args:
        input_size: (w, h) of the network input.
        heatmap_size: (W, H) of the output maps.
        root_type: see the parent.
        heatmap_min_overlap: CornerNet's min overlap (0.7).
        encode_max_instances: cap per image (random subset, order kept).
        min_instance_area: minimum box area for a person to get a center.
        jitter: whether to jitter centers (training).
    """

    def __init__(self,
                 input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 root_type: str = 'kpt_center',
                 heatmap_min_overlap: float = 0.7,
                 encode_max_instances: int = 200,
                 min_instance_area: float = 32**2,
                 jitter: bool = True):
        super().__init__(input_size, heatmap_size, root_type,
                         heatmap_min_overlap, encode_max_instances)
        self.min_instance_area = min_instance_area
        self.jitter = jitter

    def _get_instance_wise_sigmas(self, bbox: np.ndarray) -> np.ndarray:
        """Sigma per instance: ``(2 * int(r) + 1) / 6`` (CornerNet radius r).

        Args:
            bbox: (N, 4, 2) corners in heatmap cells, order left-top,
                left-bottom, right-top, right-bottom.
        """
        W, H = self.heatmap_size
        bbox = np.stack(
            (bbox[..., 0].clip(0, W - 1), bbox[..., 1].clip(0, H - 1)), -1)
        heights = np.sqrt(((bbox[:, 0] - bbox[:, 1])**2).sum(-1))
        widths = np.sqrt(((bbox[:, 0] - bbox[:, 2])**2).sum(-1))
        sigmas = np.zeros(len(bbox), dtype=np.float32)
        ov = self.heatmap_min_overlap
        for i, (h, w) in enumerate(zip(np.ceil(heights), np.ceil(widths))):
            r1 = (h + w + math.sqrt((h + w)**2 - 4 * w * h * (1 - ov) /
                                    (1 + ov))) / 2
            r2 = (2 * (h + w) + math.sqrt(4 * (h + w)**2 - 16 *
                                          (1 - ov) * w * h)) / 2
            r3 = (-2 * ov * (h + w) + math.sqrt(
                (2 * ov * (h + w))**2 - 16 * ov * (ov - 1) * w * h)) / 2
            radius = max(0, int(min(r1, r2, r3)))
            sigmas[i] = (2 * radius + 1) / 6
        return sigmas

    @staticmethod
    def _check_finite(keypoints: np.ndarray, keypoints_visible: np.ndarray,
                      corners: np.ndarray) -> None:
        """Reject what would crash (``int(nan)``) or silently drop people.

        Visible keypoints and all box corners must be finite and within
        ``+-MAX_COORDINATE`` pixels; visibilities must be finite. Invisible
        keypoints may hold anything (they are never read). The pipeline's
        ``ValidatePoseAnnotations`` catches these earlier and names the image
        and annotation; this is the codec's own guard.
        """
        N, K = keypoints.shape[:2]
        vis = np.asarray(keypoints_visible)
        if vis.shape != (N, K):
            raise ValueError(f'BoIRDecoupledHeatmap: keypoints_visible of '
                             f'shape {vis.shape}, expected {(N, K)}')
        if len(corners) != N:
            raise ValueError(f'BoIRDecoupledHeatmap: {len(corners)} boxes '
                             f'for {N} people')
        problems = []
        bad = ~np.isfinite(vis).all(1)
        if bad.any():
            problems.append(('non-finite keypoints_visible', bad))
        with np.errstate(invalid='ignore'):
            bad = ((~np.isfinite(keypoints).all(-1) |
                    (np.abs(keypoints) > MAX_COORDINATE).any(-1)) &
                   (vis > 0)).any(1)
            if bad.any():
                problems.append(('non-finite or huge visible keypoints', bad))
            bad = (~np.isfinite(corners) |
                   (np.abs(corners) > MAX_COORDINATE)).any((1, 2))
        if bad.any():
            problems.append(('non-finite or huge box corners', bad))
        if problems:
            raise ValueError('BoIRDecoupledHeatmap: ' + '; '.join(
                f'{what} for people {np.flatnonzero(b)[:10].tolist()}'
                for what, b in problems) + ' (add ValidatePoseAnnotations '
                'after LoadImage to have the image and annotation named)')

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               bbox: Optional[np.ndarray] = None) -> dict:
        """Encode (N, K, 2) keypoints and (N, 4, 2) box corners.

        Returns:
            dict with ``heatmaps`` (1+K... as K+1, H, W: keypoints then
            center), ``instance_heatmaps`` (M*K, H, W), ``keypoint_weights``
            (M, K), ``instance_coords`` (M, 2) int (x, y) cells and
            ``instance_indices`` (M,) int.
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
        corners = np.asarray(bbox, dtype=np.float32).reshape(-1, 4, 2)
        self._check_finite(keypoints, keypoints_visible, corners)
        _keypoints = keypoints / self.scale_factor
        _corners = corners / self.scale_factor

        roots, roots_visible = get_instance_root(_keypoints, keypoints_visible,
                                                 self.root_type)
        extent = corners.max(1) - corners.min(1)  # input pixels
        areas = extent[:, 0] * extent[:, 1]
        roots_visible = roots_visible * (areas >= self.min_instance_area)
        sigmas = self._get_instance_wise_sigmas(_corners)

        heatmaps, weights = generate_gaussian_heatmaps(
            heatmap_size=self.heatmap_size,
            keypoints=np.concatenate((_keypoints, roots[:, None]), axis=1),
            keypoints_visible=np.concatenate(
                (keypoints_visible, roots_visible[:, None]), axis=1),
            sigma=sigmas)
        roots_visible = weights[:, -1]

        inst_roots, inst_indices = [], []
        for i in np.argsort(areas, kind='stable'):
            if roots_visible[i] < 1:
                continue
            x, y = int(roots[i, 0]), int(roots[i, 1])
            if not (0 <= x < W and 0 <= y < H):
                continue
            if self.jitter:
                nx, ny = x + np.random.randint(-1, 2), y + np.random.randint(
                    -1, 2)
                if 0 <= nx < W and 0 <= ny < H:
                    x, y = nx, ny
            if (x, y) not in inst_roots:
                inst_roots.append((x, y))
                inst_indices.append(int(i))
        if len(inst_indices) > self.encode_max_instances:
            keep = sorted(
                np.random.choice(
                    len(inst_indices), self.encode_max_instances,
                    replace=False))
            inst_roots = [inst_roots[i] for i in keep]
            inst_indices = [inst_indices[i] for i in keep]

        inst_heatmaps, inst_weights = [], []
        for i in inst_indices:
            hm, wt = generate_gaussian_heatmaps(
                heatmap_size=self.heatmap_size,
                keypoints=_keypoints[i:i + 1],
                keypoints_visible=keypoints_visible[i:i + 1],
                sigma=float(sigmas[i]))
            inst_heatmaps.append(hm)
            inst_weights.append(wt)
        if inst_indices:
            inst_heatmaps = np.concatenate(inst_heatmaps)
            inst_weights = np.concatenate(inst_weights).astype(np.float32)
        else:
            inst_heatmaps = np.zeros((0, H, W), dtype=np.float32)
            inst_weights = np.zeros((0, K), dtype=np.float32)

        return dict(
            heatmaps=heatmaps,
            instance_heatmaps=inst_heatmaps,
            keypoint_weights=inst_weights,
            instance_coords=np.array(inst_roots, dtype=np.int64).reshape(
                -1, 2),
            instance_indices=np.array(inst_indices, dtype=np.int64))
