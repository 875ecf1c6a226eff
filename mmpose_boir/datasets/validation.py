"""Reject bad annotations with a message that names them.

A corrupt annotation must never turn into a NaN loss, a crash deep inside
numpy/cv2/torch, or a person silently dropped from training. Two layers:

- At load time, :class:`ValidatedCocoDataset` (and the CrowdPose and OCHuman
  variants) check every raw COCO annotation before MMPose parses it: the
  keypoint count matches the dataset (``3 * K`` values), all numbers are
  finite, visibilities are non-negative, ``bbox`` has 4 numbers, crowd and
  segmentation fields are well formed. MMPose itself would reshape a wrong
  count into a different K (or fail in ``np.concatenate`` without naming the
  file) and silently skip annotations without ``keypoints`` or ``bbox``.
  Errors name the annotation file, the image and the annotation id.
- In the pipeline, :class:`ValidatePoseAnnotations` (put it right after
  ``LoadImage``) checks the arrays a sample carries: shapes ``(N, K, 2)``,
  ``(N, K)`` and ``(N, 4)``, finite and not absurdly large coordinates, at
  least one person. It covers data that did not come from a validated
  dataset (custom datasets, in-memory samples) and names the image and the
  annotation ids.

Both raise :class:`AnnotationError`, a ``ValueError``.
"""
import json
import numbers
from collections import Counter
from typing import Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmpose.datasets.datasets.body import (CocoDataset, CrowdPoseDataset,
                                           OCHumanDataset)
from mmpose.registry import DATASETS, TRANSFORMS

#: Coordinates beyond this many pixels from the origin are corrupt, not
#: "far outside the image" (no image is a million pixels wide).
MAX_ABS_COORDINATE = 1e6


class AnnotationError(ValueError):
    """A malformed annotation; the message names file, image and annotation."""


# --------------------------------------------------------------- load time
def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _numbers(value, field: str, where: str, length: Optional[int] = None,
             multiple_of: Optional[int] = None,
             bounded: bool = True) -> np.ndarray:
    """``value`` as a float64 array of finite numbers, or AnnotationError.

    ``bounded``: values must lie within ``+-MAX_ABS_COORDINATE``. (A JSON
    ``true``/``false`` among numbers reads as 1/0, as in MMPose.)
    """
    if not isinstance(value, (list, tuple)):
        raise AnnotationError(f'{where}: {field!r} must be a list of numbers, '
                              f'got {type(value).__name__}')
    arr = np.asarray(value) if value else np.zeros(0)
    if arr.ndim != 1 or arr.dtype.kind not in 'iuf':
        # slow path, only to name the offending entry
        bad = [i for i, v in enumerate(value) if not _is_number(v)]
        if bad:
            raise AnnotationError(
                f'{where}: {field!r} has non-numeric entries at positions '
                f'{bad[:10]} (e.g. {value[bad[0]]!r})')
        arr = np.asarray(value, dtype=np.float64)
    arr = arr.astype(np.float64, copy=False)
    if length is not None and len(arr) != length:
        raise AnnotationError(f'{where}: {field!r} has {len(arr)} values, '
                              f'expected {length}')
    if multiple_of is not None and len(arr) % multiple_of:
        raise AnnotationError(f'{where}: {field!r} has {len(arr)} values, '
                              f'not a multiple of {multiple_of}')
    finite = np.isfinite(arr)
    if not finite.all():
        raise AnnotationError(
            f'{where}: {field!r} has non-finite values (NaN or inf) at '
            f'positions {np.flatnonzero(~finite)[:10].tolist()}')
    if bounded and len(arr) and np.abs(arr).max() > MAX_ABS_COORDINATE:
        raise AnnotationError(
            f'{where}: {field!r} has values beyond +-{MAX_ABS_COORDINATE:g}')
    return arr


def check_coco_image(img: Dict, source: str) -> None:
    """Check a COCO ``images`` entry (id, file_name, width, height)."""
    where = f'{source}: image id {img.get("id", "?")}'
    name = img.get('file_name')
    if not isinstance(name, str) or not name:
        raise AnnotationError(f'{where}: missing or empty "file_name"')
    for key in ('width', 'height'):
        value = img.get(key)
        if not _is_number(value) or not np.isfinite(value) or value < 1:
            raise AnnotationError(
                f'{where} ({name!r}): {key!r} must be a positive number, '
                f'got {value!r}')


def check_coco_annotation(ann: Dict, img: Dict, num_keypoints: int,
                          source: str) -> None:
    """Check one raw COCO person annotation.

    Args:
        ann: the ``annotations`` entry.
        img: its ``images`` entry.
        num_keypoints: K of the dataset.
        source: the annotation file (for the message).

    Raises:
        AnnotationError naming ``source``, the image and the annotation id.
    """
    where = (f'{source}: annotation id {ann.get("id", "?")} of image '
             f'{img.get("file_name", "?")!r} (id {img.get("id", "?")})')
    for key in ('id', 'image_id', 'keypoints', 'bbox'):
        if key not in ann:
            raise AnnotationError(f'{where}: missing field {key!r}')
    kpts = _numbers(ann['keypoints'], 'keypoints', where)
    if len(kpts) != 3 * num_keypoints:
        raise AnnotationError(
            f'{where}: "keypoints" has {len(kpts)} values but the dataset has '
            f'{num_keypoints} keypoints ({3 * num_keypoints} values: x, y, v '
            'per keypoint); is this annotation file for another dataset?')
    vis = kpts[2::3]
    if (vis < 0).any():
        raise AnnotationError(
            f'{where}: negative keypoint visibility at keypoints '
            f'{np.flatnonzero(vis < 0)[:10].tolist()}')
    _numbers(ann['bbox'], 'bbox', where, length=4)
    if 'area' in ann:
        area = ann['area']
        if not _is_number(area) or not np.isfinite(area) or area < 0:
            raise AnnotationError(
                f'{where}: "area" must be a finite non-negative number, got '
                f'{area!r}')
    if 'num_keypoints' in ann and not _is_number(ann['num_keypoints']):
        raise AnnotationError(f'{where}: "num_keypoints" must be a number, '
                              f'got {ann["num_keypoints"]!r}')
    crowd = ann.get('iscrowd', 0)
    if crowd not in (0, 1):  # also accepts False / True
        raise AnnotationError(f'{where}: "iscrowd" must be 0 or 1, got '
                              f'{crowd!r}')
    seg = ann.get('segmentation')
    if seg is None or (isinstance(seg, list) and not seg):
        if crowd:
            raise AnnotationError(
                f'{where}: a crowd annotation (iscrowd=1) needs a '
                '"segmentation" to mask the crowd region')
        return
    if isinstance(seg, dict):
        size = seg.get('size')
        if 'counts' not in seg or not isinstance(size, (list, tuple)) or \
                len(size) != 2:
            raise AnnotationError(
                f'{where}: RLE "segmentation" needs "counts" and "size"')
        if list(size) != [img.get('height'), img.get('width')]:
            raise AnnotationError(
                f'{where}: RLE "segmentation" size {list(size)} differs from '
                f'the image size [{img.get("height")}, {img.get("width")}]')
        counts = seg['counts']
        if isinstance(counts, list):
            _numbers(counts, 'segmentation.counts', where, bounded=False)
        elif not isinstance(counts, (str, bytes)):
            raise AnnotationError(
                f'{where}: RLE "segmentation.counts" must be a list or a '
                f'string, got {type(counts).__name__}')
    elif isinstance(seg, list):
        for i, poly in enumerate(seg):
            _numbers(poly, f'segmentation[{i}]', where, multiple_of=2)
    else:
        raise AnnotationError(
            f'{where}: "segmentation" must be polygons (a list) or an RLE '
            f'(a dict), got {type(seg).__name__}')


class ValidatedCocoStyleMixin:
    """Validate raw annotations while a COCO-style dataset loads.

    Mix in before an MMPose ``BaseCocoStyleDataset`` subclass. Checks, each
    raising :class:`AnnotationError` that names the annotation file:

    - every image and annotation has an ``id``, every annotation an
      ``image_id`` (pycocotools would fail with a bare ``KeyError``);
    - annotation ids are unique and every ``image_id`` names an image
      (pycocotools would silently replace or drop such annotations);
    - every ``images`` entry with annotations and every annotation passes
      :func:`check_coco_image` / :func:`check_coco_annotation`.

    In bottom-up training mode the number of images left out because they
    have no annotation at all (as in MMPose and the release) is logged, so
    that this is never silent.

    ``filter_cfg=dict(min_labelled_people=n)`` (bottom-up mode) also leaves
    out every image with fewer than ``n`` labelled people, a labelled person
    being a non-crowd annotation with at least one keypoint of visibility
    > 0. ``n = 1`` is the release's COCO training-image filter; the number
    of images dropped is logged. Other ``filter_cfg`` keys (MMPose's
    ``bbox_score_thr``) behave as in MMPose.
    """

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        if not getattr(self, '_index_checked', False):
            self._check_index()
        ann = raw_data_info['raw_ann_info']
        img = raw_data_info['raw_img_info']
        source = str(self.ann_file)
        check_coco_image(img, source)
        check_coco_annotation(ann, img, int(self.metainfo['num_keypoints']),
                              source)
        return super().parse_data_info(raw_data_info)

    def _check_index(self) -> None:
        """Duplicate annotation ids and annotations of unknown images."""
        source = str(self.ann_file)
        anns = self.coco.dataset.get('annotations', [])
        dup = [i for i, c in Counter(a['id'] for a in anns).items() if c > 1]
        if dup:
            raise AnnotationError(
                f'{source}: annotation ids {dup[:10]} are used more than once '
                '(pycocotools would keep only the last of each)')
        img_ids = set(self.coco.imgs)
        orphans = [a['id'] for a in anns if a['image_id'] not in img_ids]
        if orphans:
            raise AnnotationError(
                f'{source}: annotation ids {orphans[:10]} refer to image ids '
                'that are not in "images" (they would be silently ignored)')
        self._index_checked = True

    def _structure_error(self, err: Exception) -> str:
        """Find the entry without an id that made pycocotools fail."""
        source = str(self.ann_file)
        try:
            with get_local_path(self.ann_file) as path, open(path) as f:
                data = json.load(f)
        except Exception as e:  # noqa: BLE001  report the original error
            return f'{source}: cannot be read as JSON ({e})'
        for i, img in enumerate(data.get('images', [])):
            if not isinstance(img, dict) or 'id' not in img:
                return f'{source}: images[{i}] has no "id"'
        for i, ann in enumerate(data.get('annotations', [])):
            if not isinstance(ann, dict):
                return f'{source}: annotations[{i}] is not an object'
            for key in ('id', 'image_id'):
                if key not in ann:
                    return (f'{source}: annotations[{i}] has no {key!r} '
                            f'(image_id {ann.get("image_id", "?")})')
        return f'{source}: malformed COCO file ({type(err).__name__}: {err})'

    def _load_annotations(self):
        self._index_checked = False
        try:
            instance_list, image_list = super()._load_annotations()
        except (KeyError, TypeError) as e:
            raise AnnotationError(self._structure_error(e)) from e
        if self.data_mode == 'bottomup' and not self.test_mode:
            used = {d['img_id'] for d in instance_list}
            unused = [i['img_id'] for i in image_list
                      if i['img_id'] not in used]
            if unused:
                print_log(
                    f'{self.ann_file}: {len(unused)} of {len(image_list)} '
                    'images have no person annotation and are not used for '
                    f'bottom-up training (e.g. image ids {unused[:5]})',
                    logger='current')
        return instance_list, image_list

    @staticmethod
    def _labelled_people(data_info: dict) -> int:
        """Non-crowd people with at least one labelled keypoint."""
        vis = data_info.get('keypoints_visible')
        if vis is None:
            return 0
        vis = np.asarray(vis).reshape(len(vis), -1)
        crowd = np.asarray(data_info.get('iscrowd', np.zeros(len(vis))),
                           dtype=bool).reshape(-1)
        if len(crowd) != len(vis):  # no per-person crowd flags: none crowd
            crowd = np.zeros(len(vis), dtype=bool)
        return int(((vis > 0).any(1) & ~crowd).sum())

    def filter_data(self):
        data_list = super().filter_data()
        min_people = (self.filter_cfg or {}).get('min_labelled_people')
        if not min_people:
            return data_list
        if self.data_mode != 'bottomup':
            raise ValueError(
                f'{self.__class__.__name__}: filter_cfg "min_labelled_people"'
                f' is for bottom-up mode (data_mode is {self.data_mode!r})')
        kept = [d for d in data_list
                if self._labelled_people(d) >= min_people]
        dropped = len(data_list) - len(kept)
        print_log(
            f'{self.ann_file}: {dropped} of {len(data_list)} images have '
            f'fewer than {min_people} non-crowd person(s) with a labelled '
            'keypoint and are left out (filter_cfg min_labelled_people)',
            logger='current')
        return kept


@DATASETS.register_module()
class ValidatedCocoDataset(ValidatedCocoStyleMixin, CocoDataset):
    """:class:`mmpose.datasets.CocoDataset` with load-time validation."""


@DATASETS.register_module()
class ValidatedCrowdPoseDataset(ValidatedCocoStyleMixin, CrowdPoseDataset):
    """:class:`mmpose.datasets.CrowdPoseDataset` with load-time validation."""


@DATASETS.register_module()
class ValidatedOCHumanDataset(ValidatedCocoStyleMixin, OCHumanDataset):
    """:class:`mmpose.datasets.OCHumanDataset` with load-time validation."""


# ---------------------------------------------------------------- pipeline
@TRANSFORMS.register_module()
class ValidatePoseAnnotations(BaseTransform):
    """Check a bottom-up training sample; raise naming image and annotation.

    Put it right after ``LoadImage``. Checks:

    - ``img`` is a non-empty image array;
    - ``keypoints`` ``(N, K, 2)``, ``keypoints_visible`` ``(N, K)`` and
      ``bbox`` ``(N, 4)`` (x1, y1, x2, y2) are present with matching N and
      K (K from ``num_keypoints`` or the length of ``flip_indices``);
    - every coordinate is finite and within ``+-max_abs_coordinate`` pixels,
      visibilities are finite and non-negative, ``area`` is finite;
    - N >= 1 unless ``allow_empty`` (MMPose's ``BottomupRandomAffine`` cannot
      transform an image without people; MMPose's bottom-up datasets leave
      such images out of training).

    Keypoints and boxes outside the image, people without visible
    keypoints, zero-size or inverted boxes, crowd annotations and any number
    of people are valid: the pipeline and the losses handle them.

    Args:
        num_keypoints: K; by default the length of ``flip_indices``.
        max_abs_coordinate: larger coordinates are treated as corrupt.
        allow_empty: accept samples without people.
    """

    def __init__(self, num_keypoints: Optional[int] = None,
                 max_abs_coordinate: float = MAX_ABS_COORDINATE,
                 allow_empty: bool = False) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.max_abs_coordinate = max_abs_coordinate
        self.allow_empty = allow_empty

    @staticmethod
    def _ids(results: Dict, n: int) -> Sequence:
        ids = results.get('id')
        if ids is None or np.ndim(ids) == 0 or len(ids) != n:
            return [f'#{i}' for i in range(n)]
        return list(ids)

    def transform(self, results: Dict) -> Dict:
        path = results.get('img_path') or f'image id {results.get("img_id")}'
        img = results.get('img')
        if not isinstance(img, np.ndarray) or img.ndim not in (2, 3) or \
                img.size == 0:
            raise AnnotationError(
                f'{path}: no readable image (got '
                f'{type(img).__name__}{getattr(img, "shape", "")}); put '
                'ValidatePoseAnnotations after LoadImage')
        for key in ('keypoints', 'keypoints_visible', 'bbox'):
            if results.get(key) is None:
                raise AnnotationError(f'{path}: the sample has no {key!r}')
        kpts = np.asarray(results['keypoints'])
        vis = np.asarray(results['keypoints_visible'])
        bbox = np.asarray(results['bbox'])
        K = self.num_keypoints
        if K is None and results.get('flip_indices') is not None:
            K = len(results['flip_indices'])
        if kpts.ndim != 3 or kpts.shape[-1] != 2 or (K is not None
                                                      and kpts.shape[1] != K):
            raise AnnotationError(
                f'{path}: "keypoints" has shape {kpts.shape}, expected '
                f'(num_people, {K if K is not None else "K"}, 2)')
        N, K = kpts.shape[:2]
        if vis.shape != (N, K):
            raise AnnotationError(f'{path}: "keypoints_visible" has shape '
                                  f'{vis.shape}, expected {(N, K)}')
        if bbox.shape != (N, 4):
            raise AnnotationError(f'{path}: "bbox" has shape {bbox.shape}, '
                                  f'expected {(N, 4)} (x1, y1, x2, y2)')
        if N == 0 and not self.allow_empty:
            raise AnnotationError(
                f'{path}: the image has no annotated person; bottom-up '
                'training needs at least one (annotation ids: none)')
        ids = self._ids(results, N)
        checks = [('keypoints', kpts.reshape(N, -1)),
                  ('keypoints_visible', vis), ('bbox', bbox)]
        if results.get('area') is not None and np.size(results['area']) == N:
            checks.append(('area', np.asarray(results['area']).reshape(N, 1)))
        for field, values in checks:
            values = values.astype(np.float64)
            bad = ~np.isfinite(values).all(1)
            if field in ('keypoints', 'bbox'):
                bad |= (np.abs(np.nan_to_num(values)) >
                        self.max_abs_coordinate).any(1)
            elif field == 'keypoints_visible':
                bad |= (np.nan_to_num(values) < 0).any(1)
            if bad.any():
                people = np.flatnonzero(bad)
                raise AnnotationError(
                    f'{path}: annotation id(s) '
                    f'{[ids[i] for i in people[:10]]} (people '
                    f'{people[:10].tolist()} of {N}): {field!r} has '
                    'non-finite, negative or out-of-range '
                    f'(beyond +-{self.max_abs_coordinate:g} px) values')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_keypoints='
                f'{self.num_keypoints}, max_abs_coordinate='
                f'{self.max_abs_coordinate}, allow_empty={self.allow_empty})')
