"""MMEngine checkpoints under torch's weights-only ``torch.load`` default.

torch >= 2.6 loads with ``weights_only=True`` by default; MMEngine 0.10.7
calls ``torch.load`` without the argument, and its checkpoints hold a few
non-tensor objects (the message hub's ``HistoryBuffer`` log buffers and the
numpy arrays and scalars inside them), so ``load_checkpoint``, ``load_from``
and ``--resume`` fail with an ``UnpicklingError``.

Rather than turning weights-only loading off (passing ``weights_only``
as False, or
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``, which would unpickle any file,
arbitrary code included), :func:`allow_mmengine_checkpoints` adds exactly
these types to torch's weights-only allow-list. A checkpoint with anything
else is still refused.
"""
from typing import List

import numpy as np
import torch


def mmengine_checkpoint_globals() -> List[object]:
    """The globals, beyond tensors and plain containers, that MMEngine
    checkpoints (``meta.message_hub``) pickle."""
    from mmengine.logging.history_buffer import HistoryBuffer
    multiarray = np.core.multiarray
    dtype_classes = [
        v for v in vars(np.dtypes).values()
        if isinstance(v, type) and issubclass(v, np.dtype)
    ]
    return [
        HistoryBuffer,  # the message hub's log buffers
        np.ndarray, np.dtype, *dtype_classes,  # their numpy contents
        multiarray._reconstruct, multiarray.scalar,  # how numpy pickles
        getattr,  # how HistoryBuffer's pickled reduce looks up numpy types
    ]


def allow_mmengine_checkpoints() -> None:
    """Allow-list MMEngine's checkpoint contents for weights-only loading."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


allow_mmengine_checkpoints()
