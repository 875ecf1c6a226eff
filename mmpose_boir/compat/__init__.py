"""Narrow compatibility shims for the pinned OpenMMLab stack.

Applied on ``import mmpose_boir`` (before ``mmpose.models`` is imported), see
docs/install.md:

- :mod:`.mmcv_ops`: a placeholder ``mmcv.ops`` only when the real one does
  not import (mmcv-lite);
- :mod:`.checkpoint`: MMEngine checkpoint types on torch's weights-only
  allow-list;
- :mod:`.cpu_distributed`: ``--launcher pytorch`` on machines without a GPU
  (gloo, no ``set_device``); no-op where a GPU exists.
"""
from . import mmcv_ops  # noqa: F401  (first: mmpose.models needs it)
from . import checkpoint  # noqa: F401
from . import cpu_distributed  # noqa: F401
