"""What :class:`BoIRHead` reads from ``model.test_cfg`` and ``model.train_cfg``.

:data:`TEST_CFG` and :data:`TRAIN_CFG` name every key and the kind of value
it takes; :func:`check_runtime_cfg` refuses anything else with a
``ValueError`` naming the key: an unknown key (a typo: ``flip_tset`` ->
"did you mean flip_test?") or a value of the wrong kind (``score_thr='abc'``
given through ``--cfg-options``, which would otherwise fail only when a
score is first compared with it).

The head checks ``test_cfg`` when the model is built (MMPose's pose
estimators, ``BottomupPoseEstimator`` and BoIR alike, hand their head a copy
of it, ``head.test_cfg = ...``) and again on each ``predict`` (MMPose's
inferencer rewrites the estimator's ``test_cfg`` before it predicts), and
``train_cfg`` on each ``loss`` (the estimators hand it to the head only
there).
"""
import difflib
import math
import numbers
from typing import Callable, Dict, Mapping, Tuple

import numpy as np

Kind = Tuple[Callable[[object], bool], str]


def _bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _number(value) -> bool:
    return (isinstance(value, numbers.Real) and not _bool(value)
            and math.isfinite(value))


def _int(value) -> bool:
    return isinstance(value, numbers.Integral) and not _bool(value)


BOOL: Kind = (_bool, 'True or False')
NUMBER: Kind = (_number, 'a finite number')
NUMBER_OR_NONE: Kind = (lambda v: v is None or _number(v),
                        'a finite number or None')
INT: Kind = (_int, 'an integer')
POSITIVE_INT: Kind = (lambda v: _int(v) and v > 0, 'a positive integer')
ODD_POSITIVE_INT: Kind = (lambda v: _int(v) and v > 0 and v % 2 == 1,
                          'an odd positive integer')

#: ``model.test_cfg``: key -> kind of value (see docs/api.md for each)
TEST_CFG: Dict[str, Kind] = {
    'flip_test': BOOL,
    'multiscale_test': BOOL,
    'max_instances': POSITIVE_INT,
    # the people returned: center score above it (None: the release's
    # 0.01); MMPose's inferencer sets it to its ``bbox_thr``
    'score_thr': NUMBER_OR_NONE,
    # MMPose's CID head's name for the same threshold (see people_score_thr)
    'score_threshold': NUMBER,
    'blur_kernel_size': ODD_POSITIVE_INT,
    'bbox_keypoint_thr': NUMBER,
    'output_heatmaps': BOOL,  # also set by MMPose's inferencer
    # MMPose's CID configs set these two; CID's head and BoIR's ignore them
    'shift_heatmap': BOOL,
    'align_corners': BOOL,
}
#: the release's center threshold (``TEST.KEYPOINT_THRESHOLD``): the people
#: a model returns when its ``test_cfg`` gives none, every candidate that
#: the evaluation scores
RELEASE_SCORE_THR = 0.01
#: the center score above which our tools draw people when the call gives
#: no threshold: ``tools/demo.py --bbox-thr``, ``BoIRVisualizationHook`` and
#: the ONNX model's ``valid`` rows. MMPose's inferencer has its own default
#: (``bbox_thr=0.3``).
PEOPLE_SCORE_THR = 0.1


def people_score_thr(test_cfg: Mapping) -> float:
    """The center score above which a peak is a person: ``score_thr``
    (RTMO's name, which MMPose's inferencer sets to its ``bbox_thr``) or
    ``score_threshold`` (CID's name for it); the higher one when both are
    given; :data:`RELEASE_SCORE_THR` when neither is (or None)."""
    given = [test_cfg.get(key) for key in ('score_thr', 'score_threshold')]
    given = [float(v) for v in given if v is not None]
    return max(given) if given else RELEASE_SCORE_THR
#: ``model.train_cfg``: key -> kind of value
TRAIN_CFG: Dict[str, Kind] = {
    'max_train_instances': INT,
}


def check_runtime_cfg(cfg: Mapping, schema: Mapping[str, Kind],
                      name: str) -> None:
    """Raise ``ValueError`` for a key of ``cfg`` that ``schema`` lacks
    (naming the closest key) or a value not of the key's kind."""
    for key, value in (cfg or {}).items():
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = (f'did you mean {close[0]}?' if close else
                    'it is not read by BoIR')
            raise ValueError(
                f'{name} has an unknown key {key!r} ({hint}); BoIR reads: '
                f'{", ".join(sorted(schema))}')
        accepts, expected = schema[key]
        if not accepts(value):
            raise ValueError(
                f'{name}.{key} = {value!r} ({type(value).__name__}): '
                f'expected {expected}')
