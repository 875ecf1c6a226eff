from . import transforms  # noqa: F401
from .validation import (EVAL_FIELDS, MAX_ABS_COORDINATE, AnnotationError,
                         ValidatedCocoDataset, ValidatedCrowdPoseDataset,
                         ValidatedOCHumanDataset, ValidatePoseAnnotations,
                         annotation_file_problems)

__all__ = [
    'AnnotationError', 'EVAL_FIELDS', 'MAX_ABS_COORDINATE',
    'ValidatedCocoDataset', 'ValidatedCrowdPoseDataset',
    'ValidatedOCHumanDataset', 'ValidatePoseAnnotations',
    'annotation_file_problems'
]
