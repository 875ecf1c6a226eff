"""Reject bad annotations with a message that names them: one layer.

A corrupt annotation must never turn into a NaN loss, a crash deep inside
numpy/cv2/torch, a person silently dropped from training, or a bare
``KeyError`` from the evaluator after a whole inference pass. All input
checks run once, when the annotation file loads:

- :class:`ValidatedCocoDataset` (and the CrowdPose and OCHuman variants)
  check every raw COCO entry before MMPose parses it: ids present and
  unique, every ``image_id`` names an image, images have a ``file_name``
  and a positive ``width`` and ``height``, the keypoint count matches the
  dataset (``3 * K`` values), all numbers are finite and coordinates lie
  within ``+-MAX_ABS_COORDINATE`` pixels, visibilities are non-negative,
  ``bbox`` has 4 numbers, ``category_id`` is present, crowd and
  segmentation fields are well formed. MMPose itself would reshape a wrong
  count into a different K (or fail in ``np.concatenate`` without naming
  the file) and silently skip annotations without ``keypoints`` or
  ``bbox``.
- Datasets built with ``test_mode=True`` (val / test) also check what the
  evaluator will read from the same file (:data:`EVAL_FIELDS`): COCO and
  OCHuman (``CocoMetric``, ``use_area=True``) need ``area`` in every
  annotation; CrowdPose (``iou_type='keypoints_crowd'``,
  ``use_area=False``) needs ``num_keypoints`` in every annotation and
  ``crowdIndex`` in every image (its easy / medium / hard split). Both need
  ``categories``, and every annotation's ``category_id`` must name one
  (others are silently not evaluated).

Errors name the annotation file, the image (file name and id), the
annotation id and the field. A dataset stops at the first problem;
``tools/check_annotations.py`` runs the same checks
(:func:`annotation_file_problems`) over a whole file without images and
lists every problem.

:class:`ValidatePoseAnnotations` is an optional pipeline transform with the
same checks and threshold, for custom datasets that bypass the validated
ones; the BoIR configs do not use it.

Everything raises :class:`AnnotationError`, a ``ValueError``. Image files
are read by the pipeline, not at load: one that is missing or does not
decode (a truncated JPEG) raises :class:`ImageFileError` naming it and the
annotation file, on its first read.
"""
import json
import numbers
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmpose.datasets.datasets.body import (CocoDataset, CrowdPoseDataset,
                                           OCHumanDataset)
from mmpose.registry import DATASETS, TRANSFORMS

#: The one threshold: coordinates (keypoints, boxes, polygons) beyond this
#: many pixels from the origin are corrupt, not "far outside the image" (no
#: image is a million pixels wide; every augmentation stays far below the
#: integer range of the heatmap code).
MAX_ABS_COORDINATE = 1e6

#: What each dataset's evaluator reads from the annotation file, checked
#: for datasets in test mode: fields of every annotation and of every image.
#: (xtcocotools fills a missing ``iscrowd`` with 0 when it loads a file.)
EVAL_FIELDS = {
    'coco': dict(annotation=('area', ), image=()),
    'ochuman': dict(annotation=('area', ), image=()),
    'crowdpose': dict(annotation=('num_keypoints', ), image=('crowdIndex', )),
}

#: Keypoints per dataset (the tool's default K).
NUM_KEYPOINTS = dict(coco=17, ochuman=17, crowdpose=14)

_HINT = ' (tools/check_annotations.py lists every problem of the file)'


class AnnotationError(ValueError):
    """A malformed annotation; the message names file, image and annotation."""


class ImageFileError(ValueError):
    """A dataset image that is missing or cannot be decoded; the message
    names the image file and the annotation file that lists it."""


def _mmpose_metainfo(name: str) -> dict:
    """MMPose's dataset description ``configs/_base_/datasets/<name>`` by
    its installed path (MMPose's relative default warns outside its own
    repository)."""
    import os.path as osp

    import mmpose
    return dict(from_file=osp.join(osp.dirname(mmpose.__file__), '.mim',
                                   'configs', '_base_', 'datasets', name))


# ------------------------------------------------------------ shared checks
def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def bad_values(values: np.ndarray, bounded: bool = True,
               non_negative: bool = False) -> np.ndarray:
    """Mask of the entries of ``values`` that are corrupt.

    Non-finite (NaN, inf), beyond ``+-MAX_ABS_COORDINATE`` when
    ``bounded``, negative when ``non_negative``. Shared by the load-time
    checks and :class:`ValidatePoseAnnotations`.
    """
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values)
    finite = np.where(bad, 0, values)
    if bounded:
        bad |= np.abs(finite) > MAX_ABS_COORDINATE
    if non_negative:
        bad |= finite < 0
    return bad


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
    if bounded and len(arr) and bad_values(arr).any():
        raise AnnotationError(
            f'{where}: {field!r} has values beyond +-{MAX_ABS_COORDINATE:g} '
            f'at positions {np.flatnonzero(bad_values(arr))[:10].tolist()}')
    return arr


def _collect(problems: List[str], check, *args, **kwargs):
    """Run ``check``; an AnnotationError becomes an entry of ``problems``."""
    try:
        return check(*args, **kwargs)
    except AnnotationError as e:
        problems.append(str(e))
        return None


def _image_where(img: Dict, source: str) -> str:
    return f'{source}: image id {img.get("id", "?")}'


def image_problems(img: Dict, source: str,
                   required: Sequence[str] = ()) -> List[str]:
    """Problems of a COCO ``images`` entry (file_name, width, height and
    the ``required`` evaluation fields, e.g. CrowdPose's ``crowdIndex``)."""
    where = _image_where(img, source)
    name = img.get('file_name')
    problems = []
    if not isinstance(name, str) or not name:
        problems.append(f'{where}: missing or empty "file_name"')
    else:
        where = f'{where} ({name!r})'
    for key in ('width', 'height'):
        value = img.get(key)
        if not _is_number(value) or not np.isfinite(value) or value < 1:
            problems.append(f'{where}: {key!r} must be a positive number, '
                            f'got {value!r}')
    for key in required:
        if key not in img:
            problems.append(f'{where}: missing field {key!r} (the '
                            'evaluator reads it)')
        elif not _is_number(img[key]) or not np.isfinite(img[key]):
            problems.append(f'{where}: {key!r} must be a finite number, got '
                            f'{img[key]!r}')
    return problems


def check_coco_image(img: Dict, source: str,
                     required: Sequence[str] = ()) -> None:
    """Raise :class:`AnnotationError` for the first of
    :func:`image_problems`."""
    problems = image_problems(img, source, required)
    if problems:
        raise AnnotationError(problems[0])


def _annotation_where(ann: Dict, img: Dict, source: str) -> str:
    return (f'{source}: annotation id {ann.get("id", "?")} of image '
            f'{img.get("file_name", "?")!r} (id {img.get("id", "?")})')


def annotation_problems(ann: Dict, img: Dict, num_keypoints: int,
                        source: str,
                        required: Sequence[str] = ()) -> List[str]:
    """Every problem of one raw COCO person annotation.

    Args:
        ann: the ``annotations`` entry.
        img: its ``images`` entry.
        num_keypoints: K of the dataset.
        source: the annotation file (for the message).
        required: fields the evaluator reads (``area`` or
            ``num_keypoints``), required in test mode.

    Returns:
        messages naming ``source``, the image, the annotation id and the
        field; empty when the annotation is valid.
    """
    where = _annotation_where(ann, img, source)
    problems = []
    # (``id``, ``image_id`` and ``category_id``: :func:`index_problems`)
    for key in ('keypoints', 'bbox', *required):
        if key not in ann:
            problems.append(f'{where}: missing field {key!r}' + (
                ' (the evaluator reads it)' if key in required else ''))
    if 'keypoints' in ann:
        kpts = _collect(problems, _numbers, ann['keypoints'], 'keypoints',
                        where)
        if kpts is not None and len(kpts) != 3 * num_keypoints:
            problems.append(
                f'{where}: "keypoints" has {len(kpts)} values but the dataset '
                f'has {num_keypoints} keypoints ({3 * num_keypoints} values: '
                'x, y, v per keypoint); is this annotation file for another '
                'dataset?')
        elif kpts is not None and (kpts[2::3] < 0).any():
            problems.append(
                f'{where}: "keypoints" has negative visibilities at keypoints '
                f'{np.flatnonzero(kpts[2::3] < 0)[:10].tolist()}')
    if 'bbox' in ann:
        _collect(problems, _numbers, ann['bbox'], 'bbox', where, length=4)
    if 'area' in ann:
        area = ann['area']
        if not _is_number(area) or bad_values(area, non_negative=True).any():
            problems.append(
                f'{where}: "area" must be a finite non-negative number, got '
                f'{area!r}')
    if 'num_keypoints' in ann:
        count = ann['num_keypoints']
        if not _is_number(count) or bad_values(count,
                                               non_negative=True).any():
            problems.append(f'{where}: "num_keypoints" must be a '
                            f'non-negative number, got {count!r}')
    crowd = ann.get('iscrowd', 0)
    if crowd not in (0, 1):  # also accepts False / True
        problems.append(f'{where}: "iscrowd" must be 0 or 1, got {crowd!r}')
        crowd = 0
    seg = ann.get('segmentation')
    if seg is None or (isinstance(seg, list) and not seg):
        if crowd:
            problems.append(
                f'{where}: a crowd annotation (iscrowd=1) needs a '
                '"segmentation" to mask the crowd region')
    elif isinstance(seg, dict):
        size = seg.get('size')
        if 'counts' not in seg or not isinstance(size, (list, tuple)) or \
                len(size) != 2:
            problems.append(
                f'{where}: RLE "segmentation" needs "counts" and "size"')
        elif list(size) != [img.get('height'), img.get('width')]:
            problems.append(
                f'{where}: RLE "segmentation" size {list(size)} differs from '
                f'the image size [{img.get("height")}, {img.get("width")}]')
        counts = seg.get('counts')
        if isinstance(counts, list):
            _collect(problems, _numbers, counts, 'segmentation.counts',
                     where, bounded=False)
        elif counts is not None and not isinstance(counts, (str, bytes)):
            problems.append(
                f'{where}: RLE "segmentation.counts" must be a list or a '
                f'string, got {type(counts).__name__}')
    elif isinstance(seg, list):
        for i, poly in enumerate(seg):
            _collect(problems, _numbers, poly, f'segmentation[{i}]', where,
                     multiple_of=2)
    else:
        problems.append(
            f'{where}: "segmentation" must be polygons (a list) or an RLE '
            f'(a dict), got {type(seg).__name__}')
    return problems


def check_coco_annotation(ann: Dict, img: Dict, num_keypoints: int,
                          source: str, required: Sequence[str] = ()) -> None:
    """Raise :class:`AnnotationError` for the first of
    :func:`annotation_problems`."""
    problems = annotation_problems(ann, img, num_keypoints, source, required)
    if problems:
        raise AnnotationError(problems[0])


def index_problems(data: Dict, source: str,
                   test_mode: bool = False) -> List[str]:
    """Problems of the file's structure (what pycocotools would fail on
    with a bare ``KeyError`` or silently get wrong).

    ``images`` and ``annotations`` are lists of objects, each with an
    ``id`` (annotations also an ``image_id``); ids are unique; every
    ``image_id`` names an image. In ``test_mode`` also: ``categories`` is a
    non-empty list of objects with ids and every annotation's
    ``category_id`` names one (the evaluator scores only those).
    """
    problems = []
    if not isinstance(data, dict):
        return [f'{source}: not a COCO annotation file (a JSON object with '
                '"images" and "annotations")']
    images = data.get('images')
    anns = data.get('annotations', [])
    if not isinstance(images, list):
        problems.append(f'{source}: "images" must be a list')
        images = []
    if not isinstance(anns, list):
        problems.append(f'{source}: "annotations" must be a list')
        anns = []
    img_ids = []
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            problems.append(f'{source}: images[{i}] is not an object')
        elif 'id' not in img:
            problems.append(f'{source}: images[{i}] has no "id" '
                            f'({img.get("file_name", "?")!r})')
        else:
            img_ids.append(img['id'])
    dup = [i for i, c in Counter(img_ids).items() if c > 1]
    if dup:
        problems.append(f'{source}: image ids {dup[:10]} are used more than '
                        'once')
    ann_ids, orphans = [], []
    known = set(img_ids)
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            problems.append(f'{source}: annotations[{i}] is not an object')
            continue
        for key in ('id', 'image_id', 'category_id'):  # pycocotools' index
            if key not in ann:
                problems.append(
                    f'{source}: annotation id {ann.get("id", "?")} of image '
                    f'id {ann.get("image_id", "?")} (annotations[{i}]): '
                    f'missing field {key!r}')
        if 'id' in ann:
            ann_ids.append(ann['id'])
        if 'image_id' in ann and ann['image_id'] not in known:
            orphans.append(ann.get('id', f'annotations[{i}]'))
    dup = [i for i, c in Counter(ann_ids).items() if c > 1]
    if dup:
        problems.append(
            f'{source}: annotation ids {dup[:10]} are used more than once '
            '(pycocotools would keep only the last of each)')
    if orphans:
        problems.append(
            f'{source}: annotation ids {orphans[:10]} refer to image ids '
            'that are not in "images" (they would be silently ignored)')
    if test_mode:
        cats = data.get('categories')
        if not isinstance(cats, list) or not cats or not all(
                isinstance(c, dict) and 'id' in c for c in cats):
            problems.append(
                f'{source}: "categories" must be a non-empty list of objects '
                'with an "id" (the evaluator reads it)')
        else:
            cat_ids = {c['id'] for c in cats}
            stray = [a.get('id', '?') for a in anns if isinstance(a, dict)
                     and 'category_id' in a
                     and a['category_id'] not in cat_ids]
            if stray:
                problems.append(
                    f'{source}: annotation ids {stray[:10]} have a '
                    '"category_id" that is not in "categories" (the '
                    'evaluator would silently leave them out)')
    return problems


def annotation_file_problems(data: Dict, source: str, num_keypoints: int,
                             test_mode: bool = False,
                             dataset: str = 'coco') -> List[str]:
    """Every problem of a whole COCO-style annotation file (a loaded dict).

    The checks of the validated datasets, over every image and annotation;
    ``dataset`` (a key of :data:`EVAL_FIELDS`) and ``test_mode`` choose the
    evaluation fields to require.
    """
    problems = index_problems(data, source, test_mode)
    if not isinstance(data, dict):
        return problems
    needs = EVAL_FIELDS[dataset] if test_mode else dict(annotation=(),
                                                        image=())
    images = {}
    for img in _objects(data.get('images')):
        problems += image_problems(img, source, needs['image'])
        images.setdefault(img.get('id'), img)
    for ann in _objects(data.get('annotations')):
        img = images.get(ann.get('image_id'), {})
        problems += annotation_problems(ann, img, num_keypoints, source,
                                        needs['annotation'])
    return problems


def _objects(entries) -> Iterable[Dict]:
    return (e for e in (entries if isinstance(entries, list) else [])
            if isinstance(e, dict))


# ---------------------------------------------------------------- datasets
class ValidatedCocoStyleMixin:
    """Validate raw annotations while a COCO-style dataset loads.

    Mix in before an MMPose ``BaseCocoStyleDataset`` subclass. Runs the
    checks of this module (:func:`index_problems`, :func:`image_problems`
    on every image, :func:`annotation_problems` on every annotation; in
    test mode with the evaluation fields of ``EVAL_FIELDS[eval_dataset]``)
    and raises :class:`AnnotationError` for the first problem, naming the
    annotation file, image, annotation id and field.

    In bottom-up training mode the number of images left out because they
    have no annotation at all (as in MMPose and the release) is logged, so
    that this is never silent.

    ``filter_cfg=dict(min_labelled_people=n)`` (bottom-up mode) also leaves
    out every image with fewer than ``n`` labelled people, a labelled person
    being a non-crowd annotation with at least one keypoint of visibility
    > 0. ``n = 1`` is the release's COCO training-image filter; the number
    of images dropped is logged. Other ``filter_cfg`` keys (MMPose's
    ``bbox_score_thr``) behave as in MMPose.

    ``clip_bbox=False`` keeps each person's box as annotated, ``(x, y,
    x + w, y + h)`` of its ``bbox``, as the release reads it; ``True``
    (MMPose's) clips it to ``x2 <= width - 1``, ``y2 <= height - 1`` (and
    ``>= 0``), so a box touching the right or bottom edge is up to one
    source pixel shorter.
    """

    #: the key of :data:`EVAL_FIELDS` (what the evaluator reads)
    eval_dataset = 'coco'

    def __init__(self, *args, clip_bbox: bool = True, **kwargs) -> None:
        self.clip_bbox = clip_bbox
        super().__init__(*args, **kwargs)

    def _eval_fields(self) -> Dict[str, Sequence[str]]:
        if not self.test_mode:
            return dict(annotation=(), image=())
        return EVAL_FIELDS[self.eval_dataset]

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        if not getattr(self, '_index_checked', False):
            self._check_index()
        ann = raw_data_info['raw_ann_info']
        img = raw_data_info['raw_img_info']
        check_coco_annotation(ann, img, int(self.metainfo['num_keypoints']),
                              str(self.ann_file),
                              self._eval_fields()['annotation'])
        data_info = super().parse_data_info(raw_data_info)
        if data_info is not None and not self.clip_bbox:
            x, y, w, h = ann['bbox']
            data_info['bbox'] = np.array([[x, y, x + w, y + h]],
                                         dtype=np.float32)
        if data_info is not None and data_info.get('segmentation') is None:
            # no region; MMPose's bottom-up merge of an image's annotations
            # fails on a None next to another annotation's polygons
            data_info['segmentation'] = []
        return data_info

    def _raise_first(self, problems: List[str]) -> None:
        if problems:
            more = f' (and {len(problems) - 1} more problems)' if \
                len(problems) > 1 else ''
            raise AnnotationError(problems[0] + more + _HINT)

    def _check_index(self) -> None:
        """The file's structure and every ``images`` entry."""
        source = str(self.ann_file)
        data = self.coco.dataset
        self._raise_first(index_problems(data, source, self.test_mode))
        required = self._eval_fields()['image']
        for img in data.get('images', []):
            check_coco_image(img, source, required)
        self._index_checked = True

    def _structure_error(self, err: Exception) -> str:
        """Find the entry that made pycocotools fail."""
        source = str(self.ann_file)
        try:
            with get_local_path(self.ann_file) as path, open(path) as f:
                data = json.load(f)
        except Exception as e:  # noqa: BLE001  report the original error
            return f'{source}: cannot be read as JSON ({e})'
        problems = index_problems(data, source)
        if problems:
            return problems[0] + _HINT
        return f'{source}: malformed COCO file ({type(err).__name__}: {err})'

    def _load_annotations(self):
        self._index_checked = False
        try:
            instance_list, image_list = super()._load_annotations()
        except (KeyError, TypeError, AttributeError) as e:
            raise AnnotationError(self._structure_error(e)) from e
        if not self._index_checked:  # a file without annotations
            self._check_index()
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

    def prepare_data(self, idx: int):
        """MMPose's, and when it fails on an image file that is missing or
        does not decode (e.g. a truncated JPEG): :class:`ImageFileError`
        naming it, instead of MMPose's "Please check whether the file
        exists" (found on the first read of each image)."""
        try:
            return super().prepare_data(idx)
        except Exception as err:
            problem = self._image_problem(idx)
            if problem is None:
                raise
            raise ImageFileError(problem) from err

    def _image_problem(self, idx: int) -> Optional[str]:
        """Why the image of sample ``idx`` cannot be read, or None."""
        import mmcv
        from mmengine import fileio
        info = self.get_data_info(idx)
        path = info.get('img_path')
        if not isinstance(path, str):
            return None
        where = (f'image file {path} (image id {info.get("img_id", "?")} of '
                 f'{self.ann_file})')
        try:
            data = fileio.get(path,
                              backend_args=getattr(self, 'backend_args',
                                                   None))
        except Exception:  # noqa: BLE001  (any backend's "not found")
            return f'{where} cannot be read: no such file'
        try:
            img = mmcv.imfrombytes(data)
        except Exception:  # noqa: BLE001  (a decoder's own error)
            img = None
        if img is None:
            return (f'{where} cannot be decoded ({len(data)} bytes: a '
                    'truncated or corrupt image); replace the file or '
                    'remove the image from the annotation file')
        return None

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
    """:class:`mmpose.datasets.CocoDataset` with load-time validation (in
    test mode also ``area``, which ``CocoMetric`` reads)."""

    METAINFO = _mmpose_metainfo('coco.py')


@DATASETS.register_module()
class ValidatedCrowdPoseDataset(ValidatedCocoStyleMixin, CrowdPoseDataset):
    """:class:`mmpose.datasets.CrowdPoseDataset` with load-time validation
    (in test mode also ``num_keypoints`` and ``crowdIndex``)."""

    eval_dataset = 'crowdpose'
    METAINFO = _mmpose_metainfo('crowdpose.py')


@DATASETS.register_module()
class ValidatedOCHumanDataset(ValidatedCocoStyleMixin, OCHumanDataset):
    """:class:`mmpose.datasets.OCHumanDataset` with load-time validation."""

    eval_dataset = 'ochuman'
    METAINFO = _mmpose_metainfo('ochuman.py')


# ---------------------------------------------------------------- pipeline
@TRANSFORMS.register_module()
class ValidatePoseAnnotations(BaseTransform):
    """Optional: the load-time checks for samples of other datasets.

    The validated datasets check every annotation when the file loads, so
    the BoIR configs do not use this transform. It is for custom datasets
    that bypass them (or in-memory samples): put it right after
    ``LoadImage``. It applies the same checks (:func:`bad_values`) and the
    same threshold (:data:`MAX_ABS_COORDINATE`) to the parsed arrays:

    - ``img`` is a non-empty image array;
    - ``keypoints`` ``(N, K, 2)``, ``keypoints_visible`` ``(N, K)`` and
      ``bbox`` ``(N, 4)`` (x1, y1, x2, y2) are present with matching N and
      K (K from ``num_keypoints`` or the length of ``flip_indices``);
    - every coordinate is finite and within ``+-MAX_ABS_COORDINATE``
      pixels, visibilities are finite and non-negative, ``area`` is finite
      and non-negative;
    - N >= 1 unless ``allow_empty`` (MMPose's ``BottomupRandomAffine`` cannot
      transform an image without people; MMPose's bottom-up datasets leave
      such images out of training).

    Keypoints and boxes outside the image, people without visible
    keypoints, zero-size or inverted boxes, crowd annotations and any number
    of people are valid: the pipeline and the losses handle them.

    Args:
        num_keypoints: K; by default the length of ``flip_indices``.
        allow_empty: accept samples without people.
    """

    def __init__(self, num_keypoints: Optional[int] = None,
                 allow_empty: bool = False) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
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
        checks = [('keypoints', kpts.reshape(N, -1), dict()),
                  ('keypoints_visible', vis, dict(non_negative=True)),
                  ('bbox', bbox, dict())]
        if results.get('area') is not None and np.size(results['area']) == N:
            checks.append(('area', np.reshape(results['area'], (N, 1)),
                           dict(non_negative=True)))
        for field, values, kwargs in checks:
            bad = bad_values(values, **kwargs).any(1)
            if bad.any():
                people = np.flatnonzero(bad)
                raise AnnotationError(
                    f'{path}: annotation id(s) '
                    f'{[ids[i] for i in people[:10]]} (people '
                    f'{people[:10].tolist()} of {N}): {field!r} has '
                    'non-finite, negative or out-of-range '
                    f'(beyond +-{MAX_ABS_COORDINATE:g} px) values')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_keypoints='
                f'{self.num_keypoints}, allow_empty={self.allow_empty})')
