"""Annotation checks that name what is wrong: one layer, two users.

A corrupt annotation must never turn into a NaN loss, a crash deep inside
numpy/cv2/torch, a person silently dropped from training, or a bare
``KeyError`` from the evaluator after a whole inference pass. The checks of
this module look at raw COCO-style entries: ids present and unique, every
``image_id`` names an image, images have a ``file_name`` and a positive
``width`` and ``height``, the keypoint count matches the dataset (``3 * K``
values), all numbers are finite and coordinates lie within
``+-MAX_ABS_COORDINATE`` pixels, visibilities are non-negative, ``bbox`` has
4 numbers, ``category_id`` is present, crowd and segmentation fields are
well formed. MMPose itself would reshape a wrong count into a different K
(or fail in ``np.concatenate`` without naming the file) and silently skip
annotations without ``keypoints`` or ``bbox``.

What each evaluator reads from the same file (:data:`EVAL_FIELDS`) is
checked too when asked (datasets in test mode): COCO and OCHuman
(``CocoMetric``, ``use_area=True``) need ``area`` in every annotation;
CrowdPose (``iou_type='keypoints_crowd'``, ``use_area=False``) needs
``num_keypoints`` in every annotation and ``crowdIndex`` in every image (its
easy / medium / hard split). Both need ``categories``, and every
annotation's ``category_id`` must name one (others are silently not
evaluated).

Used by the datasets of :mod:`mmpose_boir.datasets.coco_style` when the
annotation file loads (they stop at the first problem) and by
``tools/check_annotations.py`` (:func:`annotation_file_problems`: every
problem of a whole file, without images). Problems name the annotation
file, the image (file name and id), the annotation id and the field, and
are raised as :class:`AnnotationError`, a ``ValueError``.
"""
import numbers
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

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
