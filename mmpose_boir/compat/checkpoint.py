"""MMEngine checkpoints under torch's weights-only ``torch.load`` default.

torch >= 2.6 loads with ``weights_only=True`` by default; MMEngine 0.10.7
calls ``torch.load`` without the argument, and the checkpoints its Runner
saves hold a few non-tensor objects: the message hub's ``HistoryBuffer`` log
buffers, the numpy arrays and scalars inside them, and references to
``HistoryBuffer.min``/``max``/``current``/``mean`` (its statistics methods,
which pickle as ``getattr(HistoryBuffer, 'min')``). ``load_checkpoint``,
``load_from`` and ``--resume`` would fail with an ``UnpicklingError``.

Weights-only loading is never turned off (no ``weights_only`` set to False, no
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``), and nothing is added to torch's
process-wide allow-list. Instead:

- :func:`mmengine_checkpoint_globals` lists exactly what those checkpoints
  pickle beyond tensors and plain containers. ``getattr`` is not among them:
  the pickled ``getattr`` is resolved to :func:`history_buffer_statistic`,
  which returns only those four methods of ``HistoryBuffer`` and refuses
  every other lookup;
- :func:`allow_mmengine_checkpoints` is a context manager that allow-lists
  them for the ``with`` block only;
- :func:`install` (run on import) re-registers MMEngine's local-file and
  http(s) checkpoint loaders with ``CheckpointLoader.register_scheme`` so
  that each ``torch.load`` they make runs inside
  :func:`allow_mmengine_checkpoints`. Every MMEngine code path that reads a
  checkpoint (``load_checkpoint``, ``Runner.load_checkpoint`` for
  ``load_from`` and MMPose's ``tools/test.py``, ``Runner.resume``) goes
  through them. :func:`uninstall` puts MMEngine's loaders back.

A checkpoint holding anything else (a pickled function or class, any other
``getattr``) is still refused by torch's weights-only unpickler.
"""
import contextlib
import functools
import pickle
from typing import Callable, Iterator, List

import numpy as np
import torch

#: The ``HistoryBuffer`` statistics methods a Runner checkpoint refers to.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
#: Prefixes of the MMEngine checkpoint loaders that :func:`install` wraps.
WRAPPED_PREFIXES = ('', 'http://', 'https://')


def history_buffer_statistic(owner: object, name: str) -> Callable:
    """What a pickled ``getattr(owner, name)`` resolves to while loading an
    MMEngine checkpoint: ``HistoryBuffer.<name>`` for its default statistics
    methods; any other lookup raises ``UnpicklingError``."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({owner!r}, {name!r}): an MMEngine checkpoint '
        'only refers to the statistics methods of HistoryBuffer '
        f'{HISTORY_BUFFER_STATISTICS}')


def mmengine_checkpoint_globals() -> List[object]:
    """The globals, beyond tensors and plain containers, that the
    checkpoints of MMEngine's Runner pickle (``message_hub``)."""
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
        # how HistoryBuffer's statistics methods pickle (protocol 2)
        (history_buffer_statistic, 'builtins.getattr'),
    ]


@contextlib.contextmanager
def allow_mmengine_checkpoints() -> Iterator[None]:
    """Allow-list :func:`mmengine_checkpoint_globals` for weights-only
    loading inside the ``with`` block only (entries already allow-listed
    are left as they were)."""
    present = set(torch.serialization.get_safe_globals())
    ours = [g for g in mmengine_checkpoint_globals() if g not in present]
    with torch.serialization.safe_globals(ours):
        yield


def _scoped(loader: Callable) -> Callable:
    """``loader`` running inside :func:`allow_mmengine_checkpoints`."""

    @functools.wraps(loader)  # keeps the name MMEngine logs ("local")
    def load(*args, **kwargs):
        with allow_mmengine_checkpoints():
            return loader(*args, **kwargs)

    load._mmpose_boir_scoped = True
    return load


def _current_loaders() -> dict:
    from mmengine.runner.checkpoint import CheckpointLoader
    return {prefix: CheckpointLoader._get_checkpoint_loader(prefix + 'x')
            for prefix in WRAPPED_PREFIXES}


def installed() -> bool:
    """Whether MMEngine's local and http(s) loaders are wrapped."""
    return all(getattr(loader, '_mmpose_boir_scoped', False)
               for loader in _current_loaders().values())


def install() -> None:
    """Wrap MMEngine's local and http(s) checkpoint loaders (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefix, loader in _current_loaders().items():
        if not getattr(loader, '_mmpose_boir_scoped', False):
            CheckpointLoader.register_scheme(
                prefix, _scoped(loader), force=True)


def uninstall() -> None:
    """Give MMEngine back its own local and http(s) checkpoint loaders."""
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefix, loader in _current_loaders().items():
        if getattr(loader, '_mmpose_boir_scoped', False):
            CheckpointLoader.register_scheme(
                prefix, loader.__wrapped__, force=True)


install()
