from . import transforms  # noqa: F401
from .validation import (AnnotationError, ValidatedCocoDataset,
                         ValidatedCrowdPoseDataset, ValidatedOCHumanDataset,
                         ValidatePoseAnnotations)

__all__ = [
    'AnnotationError', 'ValidatedCocoDataset', 'ValidatedCrowdPoseDataset',
    'ValidatedOCHumanDataset', 'ValidatePoseAnnotations'
]
