from . import transforms  # noqa: F401
from .annotation_checks import (EVAL_FIELDS, MAX_ABS_COORDINATE,
                                AnnotationError, annotation_file_problems)
from .coco_style import (ImageFileError, ValidatedCocoDataset,
                         ValidatedCrowdPoseDataset, ValidatedOCHumanDataset)

__all__ = [
    'AnnotationError', 'EVAL_FIELDS', 'ImageFileError', 'MAX_ABS_COORDINATE',
    'ValidatedCocoDataset', 'ValidatedCrowdPoseDataset',
    'ValidatedOCHumanDataset', 'annotation_file_problems'
]
