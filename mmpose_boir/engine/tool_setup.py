"""What each tool of ``tools/`` does first: CPU threads and known messages.

Called by the tools' entry points (``setup_tool()``), never on import of
the package: importing mmpose_boir changes no thread count and no warning
filter.

- :func:`set_cpu_threads`: when ``OMP_NUM_THREADS`` is not set and the
  model runs on the CPU, PyTorch gets as many threads as the cores that
  other jobs leave free (at least 1, at most its default, the physical
  cores), and the tool says so on one line when that is fewer than the
  default. PyTorch's threads spin-wait for each other: on a 2-core machine
  with another job running, 40 training iterations of the tiny model took
  252.6 s with PyTorch's default 2 threads and 48.9 s with one.
- :func:`quiet_known_warnings`: MMPose's and MMEngine's harmless messages
  that every command would print (:data:`QUIET_WARNINGS`,
  :data:`QUIET_LOG_MESSAGES`; docs/usage.md, "Messages you may see").

:func:`check_output` refuses an output path that is one of the tool's
inputs (no tool writes over a file the user passed in);
:func:`check_config_file` and :func:`check_checkpoint_file` name a missing
or unreadable input in one line (:class:`ToolInputError`).
"""
import logging
import os
import os.path as osp
import sys
import warnings
from typing import Optional, Tuple

#: known harmless messages of MMPose and MMEngine that every command
#: would print (explained once in docs/usage.md, "Messages you may see")
QUIET_WARNINGS = (
    # MMPose's inferencers import pkg_resources through MMEngine
    'pkg_resources is deprecated',
)
QUIET_LOG_MESSAGES = (
    # MMPose's inferencer looks its collate function up in a "function"
    # registry that MMPose does not have, and falls back to MMEngine's
    'Failed to search registry with scope "mmpose" in the "function"',
)


class _QuietFilter(logging.Filter):

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(m in message for m in QUIET_LOG_MESSAGES)


def quiet_known_warnings() -> None:
    """Silence :data:`QUIET_WARNINGS` and :data:`QUIET_LOG_MESSAGES` in
    this process (a tool's; importing mmpose_boir changes no filter)."""
    for message in QUIET_WARNINGS:
        warnings.filterwarnings('ignore', message=message)
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    if not any(isinstance(f, _QuietFilter) for f in logger.filters):
        logger.addFilter(_QuietFilter())


def _busy_cores() -> float:
    """How many cores other jobs keep busy now: the smaller of the 1-minute
    load average and the most runnable tasks other than this process seen
    in five looks at /proc/loadavg 10 ms apart (so that a job that has just
    ended does not count)."""
    import time
    load = os.getloadavg()[0]
    try:
        running = 0
        for _ in range(5):
            with open('/proc/loadavg') as f:
                running = max(running, int(f.read().split()[3].split('/')[0]))
            time.sleep(0.01)
        return min(load, max(running - 1, 0))
    except (OSError, ValueError, IndexError):
        return load


def cpu_threads(device: Optional[str] = None) -> Tuple[Optional[int], str]:
    """The number of PyTorch CPU threads for a tool, and why.

    ``OMP_NUM_THREADS`` set, or a GPU device (``device`` None: a GPU when
    one is available, as MMEngine's runner picks): None (left as it is).
    Otherwise the cores that other jobs leave free (:func:`_busy_cores`,
    rounded), at least 1 and at most PyTorch's default (the physical cores).
    PyTorch's default threads spin-wait for each other: on a 2-core machine
    with another job running, training the tiny model took 5 times longer
    with 2 threads than with 1.
    """
    import torch
    if 'OMP_NUM_THREADS' in os.environ:
        return None, 'OMP_NUM_THREADS is set'
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if not str(device).startswith('cpu'):
        return None, f'device {device}'
    default = torch.get_num_threads()
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
             else os.cpu_count() or 1)
    try:
        busy = _busy_cores()
    except OSError:
        return None, 'no load average on this system'
    threads = max(1, min(default, int(cores - busy + 0.5)))
    return threads, (f'{cores} cores, about {busy:.1f} busy with other jobs;'
                     ' set OMP_NUM_THREADS to choose')


def set_cpu_threads(device: Optional[str] = None) -> Optional[int]:
    """Apply :func:`cpu_threads`; say so (one line on stderr) when it is
    fewer than PyTorch's default."""
    threads, why = cpu_threads(device)
    if threads is None:
        return None
    import torch
    if threads < torch.get_num_threads():
        torch.set_num_threads(threads)
        print(f'mmpose-boir: {threads} CPU thread(s) ({why})',
              file=sys.stderr)
    return threads


def setup_tool(device: Optional[str] = None) -> None:
    """What each tool does first: :func:`quiet_known_warnings` and
    :func:`set_cpu_threads`."""
    quiet_known_warnings()
    set_cpu_threads(device)


def check_output(path: str, *inputs: str) -> None:
    """``ValueError`` when writing ``path`` would replace one of ``inputs``
    (the same file, by any name)."""
    for source in inputs:
        if source and osp.exists(path) and osp.exists(source) and \
                osp.samefile(path, source):
            raise ValueError(f'{path} is an input of this command ({source});'
                             ' choose another output')


class ToolInputError(Exception):
    """A problem with a tool's inputs (a file missing or unreadable),
    reported as one line."""


def is_url(path: str) -> bool:
    return '://' in path


def check_config_file(config: str) -> None:
    """:class:`ToolInputError` when ``config`` is not a file."""
    if not osp.isfile(config):
        raise ToolInputError(f'config file not found: {config}')


def check_checkpoint_file(checkpoint: str) -> None:
    """A readable checkpoint file (or a URL, left to the loader), or
    :class:`ToolInputError` naming it.

    Read with MMEngine's loader (as the inferencer and the runner read it
    next: torch's weights-only loading, MMEngine's types allowed by
    ``mmpose_boir``'s shims)."""
    if is_url(checkpoint):
        return
    if not osp.isfile(checkpoint):
        raise ToolInputError(f'checkpoint file not found: {checkpoint}')
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    except Exception as exc:
        found = ('Unsupported global' in str(exc)
                 and str(exc).split('GLOBAL ', 1)[-1].split()[0])
        why = (f'it holds a {found} object, which is not loaded (only '
               'tensors, plain containers and MMEngine\'s checkpoint '
               'metadata are)' if found else
               'not a readable PyTorch checkpoint (corrupt or truncated '
               f'file, or not written by torch.save; {type(exc).__name__})')
        raise ToolInputError(
            f'cannot load checkpoint {checkpoint}: {why}') from None
