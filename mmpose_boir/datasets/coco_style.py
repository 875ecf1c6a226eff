"""MMPose's COCO-style datasets with what BoIR adds: annotations checked at
load, the release's training-image filter, unclipped boxes, and image files
that cannot be read named.

- :class:`ValidatedCocoDataset`, :class:`ValidatedCrowdPoseDataset`,
  :class:`ValidatedOCHumanDataset` are MMPose's ``CocoDataset``,
  ``CrowdPoseDataset`` and ``OCHumanDataset`` whose annotation file is
  checked when it loads (:mod:`~mmpose_boir.datasets.annotation_checks`;
  in test mode also what the evaluator reads), with two options of the
  release: ``filter_cfg=dict(min_labelled_people=n)`` (its COCO training
  images: at least ``n`` non-crowd people with a labelled keypoint) and
  ``clip_bbox=False`` (the annotated boxes as they are).
- Image files are read by the pipeline, not at load: one that is missing or
  does not decode (a truncated JPEG) raises :class:`ImageFileError` naming it
  and the annotation file that lists it, on its first read.
"""
import json
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmpose.datasets.datasets.body import (CocoDataset, CrowdPoseDataset,
                                           OCHumanDataset)
from mmpose.registry import DATASETS

from .annotation_checks import (_HINT, EVAL_FIELDS, AnnotationError,
                                check_coco_annotation, check_coco_image,
                                index_problems)


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
