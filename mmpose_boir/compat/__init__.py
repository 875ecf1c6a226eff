"""Narrow compatibility shims for the pinned OpenMMLab stack.

Applied on ``import mmpose_boir`` (before ``mmpose.models`` is imported), see
docs/install.md, "Compatibility shims":

- :mod:`.mmcv_ops`: a placeholder ``mmcv.ops`` only when the real one does
  not import (mmcv-lite);
- :mod:`.checkpoint`: MMEngine's checkpoint loaders allow-list MMEngine's
  checkpoint types for weights-only ``torch.load`` while they load, and
  only then (torch's process-wide allow-list is not touched).

The CPU fallback of ``--launcher pytorch`` is not applied on import:
``tools/train.py`` and ``tools/test.py`` apply it
(``mmpose_boir.engine.cpu_distributed``).
"""
from . import mmcv_ops  # noqa: F401  (first: mmpose.models needs it)
from . import checkpoint  # noqa: F401
