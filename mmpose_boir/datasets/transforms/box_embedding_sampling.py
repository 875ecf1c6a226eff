"""Per-instance boxes for the Bbox Mask Loss and the box head."""
from typing import Dict, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.codecs import DecoupledHeatmap
from mmpose.codecs.utils import (generate_gaussian_heatmaps,
                                 get_instance_root)
from mmpose.datasets.transforms import PackPoseInputs
from mmpose.registry import KEYPOINT_CODECS, TRANSFORMS
from mmpose.utils.typing import OptConfigType


@TRANSFORMS.register_module('GenerateInstanceBoxes')
@TRANSFORMS.register_module()
class BoxEmbeddingSampling(BaseTransform):
    """Turn each encoded instance's box into an output-map (x, y, w, h) box.

    Registered as ``BoxEmbeddingSampling`` (the paper configs) and as
    ``GenerateInstanceBoxes`` (the same transform under the name that says
    what it does). Place it right after ``GenerateTarget``.
    The person's annotated box corners, already carried through the same
    affine (and flip) as the keypoints by ``BottomupRandomAffine(
    bbox_keep_corner=True)`` (MMPose's default), are scaled to the output
    map; their axis-aligned extent ``(x, y, w, h)`` is the box, clipped to
    the map:

    - ``box_clip='release'`` (the release): each of x, y, w and h is clipped
      on its own to ``[0, W-1]`` (x, w) or ``[0, H-1]`` (y, h), so a box cut
      by the left border keeps its full width;
    - ``box_clip='extent'`` (opt-in): the corners are clipped to the map
      first, so the box is the visible part of the extent.

    The boxes are aligned one-to-one (same order, same filtering) with the
    encoded ``instance_coords``, ``instance_heatmaps`` and
    ``keypoint_weights``. Which annotated person each encoded instance is:

    - :class:`BoIRDecoupledHeatmap` says it (``instance_indices``);
    - MMPose's ``DecoupledHeatmap`` (CID) does not: give its config as
      ``encoder`` and the correspondence is recovered from what it encoded
      (:func:`decoupled_instance_indices`).

    The codec's placeholder instance (index -1, an image without any
    instance) gets the box (0, 0, 0, 0), as the release feeds it.

    Required keys: ``bbox`` (N, 4, 2) corners in input pixels, and either
    ``instance_indices`` (M,) or (with ``encoder``) ``keypoints``,
    ``keypoints_visible``, ``instance_coords`` and ``instance_heatmaps``.
    Added keys: ``instance_boxes`` (M, 4) float32, packed into
    ``gt_instance_labels`` by ``PackPoseInputs`` (the transform adds it to
    the codec's ``label_mapping_table``).

    Args:
        input_size: (w, h) of the network input (default: the encoder's).
        heatmap_size: (W, H) of the output maps (default: the encoder's).
        box_clip: ``'release'`` or ``'extent'``, see above.
        encoder: the codec config given to ``GenerateTarget``; needed only
            for a codec without ``instance_indices`` (MMPose's
            ``DecoupledHeatmap``).
    """

    def __init__(self, input_size: Optional[Tuple[int, int]] = None,
                 heatmap_size: Optional[Tuple[int, int]] = None,
                 box_clip: str = 'release',
                 encoder: OptConfigType = None) -> None:
        super().__init__()
        if box_clip not in ('release', 'extent'):
            raise ValueError("BoxEmbeddingSampling: box_clip must be "
                             f"'release' or 'extent', got {box_clip!r}")
        self.encoder = None
        if encoder is not None:
            self.encoder = KEYPOINT_CODECS.build(dict(encoder))
            for name, given in (('input_size', input_size),
                                ('heatmap_size', heatmap_size)):
                own = tuple(getattr(self.encoder, name))
                if given is not None and tuple(given) != own:
                    raise ValueError(
                        f'BoxEmbeddingSampling: {name}={tuple(given)} but '
                        f'the encoder has {own}')
            input_size = input_size or self.encoder.input_size
            heatmap_size = heatmap_size or self.encoder.heatmap_size
        if input_size is None or heatmap_size is None:
            raise ValueError('BoxEmbeddingSampling needs input_size and '
                             'heatmap_size, or the codec config as encoder')
        self.box_clip = box_clip
        self.input_size = tuple(input_size)
        self.heatmap_size = tuple(heatmap_size)
        self.scale = np.array(input_size, dtype=np.float32) / np.array(
            heatmap_size, dtype=np.float32)

    def transform(self, results: Dict) -> Optional[dict]:
        if 'instance_indices' in results:
            indices = np.asarray(results['instance_indices'], dtype=np.int64)
        elif (isinstance(self.encoder, DecoupledHeatmap)
              and 'instance_coords' in results):
            indices = decoupled_instance_indices(results, self.encoder)
        else:
            raise KeyError(
                'BoxEmbeddingSampling needs `instance_indices` from '
                'GenerateTarget(encoder=dict(type="BoIRDecoupledHeatmap")), '
                'or, after GenerateTarget with MMPose\'s DecoupledHeatmap '
                '(CID), that codec\'s config as `encoder`'
                f' ({results.get("img_path", "unknown image")})')
        corners = np.asarray(results.get('bbox', np.zeros((0, 4, 2))),
                             dtype=np.float64).reshape(-1, 4, 2)
        if len(indices) and indices.max() >= len(corners):
            raise ValueError(
                f'{results.get("img_path", "unknown image")}: instance index '
                f'{indices.max()} has no box ({len(corners)} boxes)')
        if len(indices) and indices.min() < -1:
            raise ValueError(
                f'{results.get("img_path", "unknown image")}: instance index '
                f'{indices.min()} (only -1, the codec\'s placeholder, may be '
                'negative)')
        W, H = self.heatmap_size
        # the placeholder's box is (0, 0, 0, 0): all four corners at 0
        real = indices >= 0
        inst_corners = np.zeros((len(indices), 4, 2))
        inst_corners[real] = corners[indices[real]] / self.scale
        corners = inst_corners
        bad = ~np.isfinite(corners).all((1, 2))
        if bad.any():
            ids = results.get('id')
            people = indices[bad][:10].tolist()
            named = ([ids[i] for i in people] if ids is not None
                     and np.ndim(ids) == 1 and len(ids) == len(
                         results.get('bbox', ())) else people)
            raise ValueError(
                f'{results.get("img_path", "unknown image")}: non-finite '
                f'box corners for annotation(s) {named}')
        x1y1 = corners.min(1)
        x2y2 = corners.max(1)
        upper = np.array([W - 1, H - 1], dtype=np.float64)
        if self.box_clip == 'extent':
            x1y1 = np.clip(x1y1, 0, upper)
            x2y2 = np.clip(x2y2, 0, upper)
            boxes = np.concatenate((x1y1, x2y2 - x1y1), axis=1)
        else:
            boxes = np.clip(np.concatenate((x1y1, x2y2 - x1y1), axis=1), 0,
                            np.tile(upper, 2))
        boxes = boxes.astype(np.float32)
        results['instance_boxes'] = boxes.reshape(-1, 4)
        # packed into gt_instance_labels (a copy: GenerateTarget hands over
        # the codec class's own table)
        table = results.get('label_mapping_table')
        if table is None:
            table = PackPoseInputs.label_mapping_table
        results['label_mapping_table'] = dict(
            table, instance_boxes='instance_boxes')
        return results

    def __repr__(self) -> str:
        codec = type(self.encoder).__name__ if self.encoder else None
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'heatmap_size={self.heatmap_size}, '
                f'box_clip={self.box_clip!r}, encoder={codec})')


def decoupled_instance_indices(results: Dict,
                               codec: DecoupledHeatmap) -> np.ndarray:
    """Which annotated person each instance encoded by MMPose's
    ``DecoupledHeatmap`` is (its ``encode`` does not say).

    That codec keeps a person when its root (the mean, or the box center,
    of its visible keypoints on the heatmap grid, ``root_type``) is on the
    map, puts the instance at the root's cell moved by a random offset in
    {-1, 0, 1} per axis (clipped to the map, then truncated), and draws the
    person's own Gaussian heatmaps with a sigma from its box. So the
    candidates for an encoded instance are the people one of whose nine
    jittered root cells is its ``instance_coords``; when more than one is
    left (people with roots within two cells of each other), the person
    whose heatmaps, drawn again with the codec's own rule, equal the
    encoded ones is it. Each person is encoded at most once.

    Shapes: ``keypoints`` (N, K, 2) and ``keypoints_visible`` (N, K) as
    ``GenerateTarget`` gave them to the codec, ``bbox`` (N, 4, 2),
    ``instance_coords`` (M, 2), ``instance_heatmaps`` (M * K, H, W) ->
    (M,) indices into the N people.

    Raises:
        ValueError: an encoded instance matches no person (naming the
            image): the results were changed between ``GenerateTarget`` and
            this transform, or the codec's settings differ from ``encoder``.
    """
    coords = np.asarray(results['instance_coords']).reshape(-1, 2)
    M = len(coords)
    if M == 0:
        return np.zeros((0, ), dtype=np.int64)
    keypoints = np.asarray(results['keypoints'])
    visible = np.asarray(results['keypoints_visible'])
    N, K = keypoints.shape[:2]
    W, H = codec.heatmap_size
    _keypoints = keypoints / codec.scale_factor
    roots, _ = get_instance_root(_keypoints, visible, codec.root_type)
    offsets = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    cells = np.clip(roots[:, None] + offsets[None], 0,
                    [W - 1, H - 1]).astype(np.int32)  # [N, 9, 2]
    hit = (cells[None] == coords[:, None, None]).all(-1).any(-1)  # [M, N]
    heatmaps = np.asarray(results['instance_heatmaps']).reshape(M, K, H, W)
    sigmas = None
    used = np.zeros(N, dtype=bool)
    indices = np.zeros(M, dtype=np.int64)
    for j in range(M):
        candidates = np.flatnonzero(hit[j] & ~used)
        if len(candidates) > 1:
            if sigmas is None:
                corners = np.asarray(results['bbox']).reshape(-1, 4, 2)
                sigmas = codec._get_instance_wise_sigmas(
                    corners / codec.scale_factor)
            candidates = [
                i for i in candidates if np.array_equal(
                    generate_gaussian_heatmaps(
                        (W, H), _keypoints[i:i + 1], visible[i:i + 1],
                        sigmas[i].item())[0], heatmaps[j])
            ]
        if len(candidates) == 0:
            raise ValueError(
                f'{results.get("img_path", "unknown image")}: encoded '
                f'instance {j} at cell {tuple(coords[j])} matches no '
                'annotated person; put BoxEmbeddingSampling right after '
                'GenerateTarget and give it the same codec config')
        indices[j] = candidates[0]
        used[candidates[0]] = True
    return indices
