"""``python tools/train.py ...`` and ``python tools/test.py ...`` run in
this process (not a test module), for the tests whose point is what the
run does, not the process boundary (that costs an interpreter start with
torch and MMPose, seconds of CPU).

:func:`run_script` executes the script itself (``runpy``, as
``__main__``) in the repository root with ``sys.argv`` set, and takes back
what such a run changes process-wide: ``sys.argv``, torch's thread count
(the tools set it for the machine's load), the environment variables,
torch's deterministic-algorithm
and cuDNN flags (a config's ``randomness.deterministic``), the warning
filters and MMEngine's ``Runner.dump_config`` (patched by
``mmpose_boir.engine.mmpose_tools``). Each run starts in a new second, so
that MMEngine's timestamped names (the log folder, the logger and message
hub instances) are its own (:func:`new_second`, for runs started
otherwise), and gets its own visualizer (MMEngine keeps
one visualizer per name in a process: the configs name theirs
``visualizer``, and a second run would write its scalars into the first
run's folder).
"""
import contextlib
import itertools
import os
import os.path as osp
import runpy
import sys
import time
import warnings

from conftest import REPO_ROOT

_runs = itertools.count()


@contextlib.contextmanager
def process_state_kept():
    """Restores what a tool run changes process-wide (see the module)."""
    import torch
    from mmengine.runner import Runner
    argv = list(sys.argv)
    environ = dict(os.environ)  # MMPose's scripts set LOCAL_RANK
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    cudnn = (torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    dump_config = Runner.dump_config
    try:
        with warnings.catch_warnings(), contextlib.chdir(REPO_ROOT):
            yield
    finally:
        sys.argv[:] = argv
        os.environ.clear()
        os.environ.update(environ)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        (torch.backends.cudnn.deterministic,
         torch.backends.cudnn.benchmark) = cudnn
        Runner.dump_config = dump_config


def new_second():
    """Sleep into the next wall-clock second (MMEngine's timestamps have a
    resolution of one second)."""
    now = time.time()
    time.sleep(int(now) + 1 - now)


def run_script(name: str, *args: str) -> int:
    """``python tools/{name}.py ARGS`` in this process, from the repository
    root; returns its exit status (0 when the script ends normally)."""
    new_second()
    args = [str(a) for a in args]
    if name in ('train', 'test'):
        args += ['--cfg-options',
                 f'visualizer.name=visualizer_{os.getpid()}_{next(_runs)}']
    script = osp.join(REPO_ROOT, 'tools', f'{name}.py')
    with process_state_kept():
        sys.argv[:] = [script, *args]
        try:
            runpy.run_path(script, run_name='__main__')
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None
                                                       else 1)
    return 0


def last_log(work_dir) -> str:
    """The text of the latest MMEngine run log in ``work_dir``
    (``<timestamp>/<timestamp>.log``)."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, f'{d}.log')))
    assert runs, f'no run log in {work_dir}'
    with open(osp.join(work_dir, runs[-1], f'{runs[-1]}.log')) as f:
        return f.read()
