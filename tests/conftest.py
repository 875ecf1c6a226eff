"""Shared test constants, fixtures and helpers. Run the suite from the
repository root.

The suite runs in parallel (pytest.ini: ``-n auto --dist loadgroup``, one
pytest-xdist worker per core). Each worker runs torch and OpenMP with one
thread, and so do the processes the tests start (``repo_env``), so that N
workers do not oversubscribe N cores. The tests of one module run on one
worker, in order, so that its module-scoped fixtures are built once (one
group per parameter of a parametrized module-scoped fixture:
``xdist_group``), except the modules of ``SPREAD_MODULES``, whose tests are
independent and are spread over the workers one by one, and those of
``SHARED_GROUPS``, which share a worker because they must not run at the
same time. ``-n 0`` runs everything in this process, with torch's default
threads. A worker that dies (e.g. killed for memory) stops the run
(``--max-worker-restart 0``: xdist cannot replace a worker under
``--dist loadgroup``).

Fixtures and helpers here are also for tests that start training processes
(`tools/train.py`, `tools/dist_train.sh`) and read what they logged.
"""
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the tiny configs (narrow HRNet, 128x128, the 4 sample images); paths
#: relative to the repository root, as the configs' data roots are
TINY_CONFIG = 'configs/boir/tiny/boir_tiny_coco.py'
TINY_CROWDPOSE_CONFIG = 'configs/boir/tiny/boir_tiny_crowdpose.py'
#: the sample data (relative to the repository root, as in the configs)
COCO_SAMPLES = '../shared/data/coco/'
COCO_SAMPLE_ANN = COCO_SAMPLES + 'test_coco.json'
CROWDPOSE_SAMPLE_ANN = '../shared/data/crowdpose/test_crowdpose.json'
LOSS_NAMES = ('loss_multi_heatmap', 'loss_instance_heatmap', 'loss_bbox_mask',
              'loss_bbox')
#: the COCO keypoints' left/right flip pairs
COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16,
                     15]

#: this process's pytest-xdist worker id ('gw0', ...), None without xdist
XDIST_WORKER = os.environ.get('PYTEST_XDIST_WORKER')
if XDIST_WORKER:
    # before torch is imported by any test module: one OpenMP thread per
    # worker, also in every process the tests start
    os.environ['OMP_NUM_THREADS'] = '1'
    os.environ['MKL_NUM_THREADS'] = '1'

#: test modules whose tests are spread over the workers one by one (each
#: worker that runs one of them builds that module's fixtures itself)
SPREAD_MODULES = {'test_install_compat.py', 'test_newcomer_errors.py',
                  'test_test_entry_points.py'}
#: modules that share one group, so that they never run at the same time:
#: their float64 W32/W48 models take several GB each (one process of the
#: training parity peaks near 11 GB)
SHARED_GROUPS = {'test_release_parity.py': 'float64_parity',
                 'test_release_train_parity.py': 'float64_parity'}
#: the modules that take longest, handed out first so that no worker is
#: left alone with one of them at the end; the others follow in file order
FIRST_MODULES = ['test_release_parity.py', 'test_release_train_parity.py',
                 'test_docs_blocks.py']


def pytest_configure(config):
    if XDIST_WORKER:
        import torch
        torch.set_num_threads(1)


def xdist_group(item):
    """The worker group of a test: its module, and the parameter of each
    module- or session-scoped parametrized fixture it uses (the tests of one
    fixture instance run on one worker, other instances may run on
    others); SHARED_GROUPS name the group of whole modules."""
    if item.path.name in SHARED_GROUPS:
        return SHARED_GROUPS[item.path.name]
    group = item.path.name
    callspec = getattr(item, 'callspec', None)
    if callspec is not None:
        scopes = getattr(callspec, '_arg2scope', {})
        group += ''.join(
            f'[{name}={callspec.indices[name]}]' for name in sorted(scopes)
            if getattr(scopes[name], 'value', scopes[name]) in (
                'module', 'package', 'session'))
    return group


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup``: the tests of each ``xdist_group`` on one
    worker (except SPREAD_MODULES), and FIRST_MODULES first."""
    first = {name: i for i, name in enumerate(FIRST_MODULES)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))
    for item in items:
        if item.path.name not in SPREAD_MODULES:
            item.add_marker(pytest.mark.xdist_group(xdist_group(item)))


def shared_dir(tmp_path_factory, name, build):
    """A directory that ``build(path)`` fills once per test session, shared
    by all xdist workers (a file lock lets one build it while the others
    wait); returns its path."""
    from filelock import FileLock
    root = tmp_path_factory.getbasetemp()
    if XDIST_WORKER:
        root = root.parent  # the session's folder, above each worker's
    path = root / name
    with FileLock(str(path) + '.lock'):
        if not (path / '.complete').is_file():
            shutil.rmtree(path, ignore_errors=True)  # a failed try
            path.mkdir()
            build(path)
            (path / '.complete').touch()
    return path


def repo_env(**extra):
    """``os.environ`` with the repository first on PYTHONPATH (works also
    when mmpose_boir is not installed) and OpenMP kept to one thread per
    process so that multi-process tests do not oversubscribe small CI
    machines."""
    env = dict(os.environ)
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    env['PYTHONPATH'] = os.pathsep.join([REPO_ROOT] + paths)
    env.setdefault('OMP_NUM_THREADS', '1')
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cmd(args, timeout=600, env=None, check=True):
    """Run ``args`` in the repository root; returns stdout + stderr."""
    proc = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env or repo_env())
    out = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, (f'{" ".join(map(str, args))} exited '
                                      f'{proc.returncode}:\n{out[-4000:]}')
    return out


def train_cmd(config, work_dir, *extra):
    return [sys.executable, 'tools/train.py', config, '--work-dir',
            str(work_dir), *extra]


def free_port():
    """A TCP port that was free a moment ago (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def read_scalars(work_dir):
    """The training records of MMEngine's LocalVisBackend, oldest run first.

    Returns a list of dicts (one per logged training iteration, full float
    precision) with ``step`` (the global iteration) and the loss values.
    """
    records = []
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isdir(osp.join(work_dir, d, 'vis_data')))
    for run in runs:
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if not osp.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec:
                    records.append(rec)
    return records


def save_checkpoint(model, path, center_bias=None):
    """Save ``model`` as an MMEngine-style checkpoint (``state_dict`` and
    ``meta``); returns the path. With ``center_bias`` (a BoIR model), its
    center head's bias is set first: 0 gives untrained models center scores
    near 0.5 instead of the prior 0.01, which sits on the 0.01 score
    threshold, so that people are decoded."""
    import torch
    if center_bias is not None:
        with torch.no_grad():
            model.head.center_head[-1].bias.fill_(center_bias)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)
