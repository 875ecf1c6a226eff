"""Shared test constants, fixtures and helpers. Run the suite from the
repository root.

The suite runs in parallel (pytest.ini: ``-n auto --dist loadgroup``, one
pytest-xdist worker per core). Each worker runs torch and OpenMP with one
thread, and so do the processes the tests start (``repo_env``), so that N
workers do not oversubscribe N cores. The tests of one module run on one
worker, in order, so that its module-scoped fixtures are built once (one
group per parameter of a parametrized module-scoped fixture:
``xdist_group``), except the modules marked ``spread``, whose tests are
independent and are spread over the workers one by one, and those marked
``shared_worker(name)``, which share a worker because they must not run at
the same time (see :data:`SCHEDULING_MARKS`). ``-n 0`` runs everything in
this process, with torch's default threads. A worker that dies (e.g.
killed for memory) stops the run (``--max-worker-restart 0``: xdist cannot
replace a worker under ``--dist loadgroup``).

Fixtures here: ``tiny_cfg`` (a fresh tiny config), ``tiny_checkpoint``
(a tiny model whose center scores spread around 0.5, built once per
session), ``one_torch_thread``. Helpers also serve tests that start
training processes (`tools/train.py`, `tools/dist_train.sh`) and read what
they logged.
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

#: The scheduling marks a test module may carry (``pytestmark``), read by
#: :func:`pytest_collection_modifyitems` (registered in pytest.ini):
#: ``spread``: its tests are independent and are handed out one by one
#: (each worker that runs one of them builds the module's fixtures itself);
#: ``shared_worker(name)``: the modules naming the same group share one
#: worker, so that they never run at the same time (the float64 parity
#: modules: one float64 training step peaks near 13 GB);
#: ``run_first(rank)``: the modules that take longest, handed out first
#: (lowest rank first) so that no worker is left alone with one of them at
#: the end; the others follow in collection order.
SCHEDULING_MARKS = ('spread', 'shared_worker', 'run_first')
TESTS_DIR = osp.dirname(osp.abspath(__file__))


def pytest_configure(config):
    if XDIST_WORKER:
        import torch
        torch.set_num_threads(1)


def module_name(item) -> str:
    """The test module's path under tests/ (``test_models/...py``)."""
    return osp.relpath(str(item.path), TESTS_DIR).replace(os.sep, '/')


def xdist_group(item):
    """The worker group of a test: its module, and the parameter of each
    module- or session-scoped parametrized fixture it uses (the tests of one
    fixture instance run on one worker, other instances may run on
    others); a ``shared_worker`` mark names the group of whole modules."""
    shared = item.get_closest_marker('shared_worker')
    if shared is not None:
        return shared.args[0]
    group = module_name(item)
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
    worker (except ``spread`` modules), ``run_first`` modules first."""
    def rank(item):
        mark = item.get_closest_marker('run_first')
        return mark.args[0] if mark is not None else float('inf')
    items.sort(key=rank)  # stable: collection order otherwise
    for item in items:
        if item.get_closest_marker('spread') is None:
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


def tiny_config(path: str = TINY_CONFIG):
    """A fresh ``Config`` of a tiny config (``path`` relative to the
    repository root), MMPose's registry scope set, no ImageNet loading."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    cfg.model.backbone.init_cfg = None
    return cfg


def build_model(cfg):
    """The model of ``cfg`` (a ``Config``), built by MMPose's registry."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    return MODELS.build(cfg.model)


@pytest.fixture
def tiny_cfg():
    """A fresh tiny COCO config (:func:`tiny_config`)."""
    return tiny_config()


def _build_spread_checkpoint(path):
    import torch
    torch.manual_seed(0)
    model = build_model(tiny_config())
    for m in model.head.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.reset_parameters()  # PyTorch's default (Kaiming) init
    with torch.no_grad():  # center logits of about +-1 instead of +-1e-4
        model.head.center_head[-1].weight.mul_(5000)
    save_checkpoint(model, path / 'tiny.pth', center_bias=0.0)


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory):
    """A checkpoint of the tiny COCO model (random weights, seed 0) whose
    head convolutions have PyTorch's default init and whose center scores
    spread around 0.5 (center logits of about +-1, bias 0): candidates lie
    well above and below the usual thresholds. Built once per session for
    all workers; returns its path."""
    return str(shared_dir(tmp_path_factory, 'tiny_checkpoint',
                          _build_spread_checkpoint) / 'tiny.pth')


@pytest.fixture(scope='module')
def one_torch_thread():
    """One torch thread for a module of tiny tensors (faster, and immune
    to OpenMP oversubscription when other processes share the CPU); the
    count is restored after. Use with
    ``pytestmark = pytest.mark.usefixtures('one_torch_thread')``."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _loggers_without_closed_streams():
    """After each test: MMEngine's loggers created during it (a tool or a
    runner run in this process, e.g. under ``capsys``) may write to a
    stream that pytest has closed since; such handlers are removed, so
    that a later test does not get logging errors on its stderr."""
    yield
    logging = sys.modules.get('mmengine.logging')
    if logging is None:
        return
    for logger in list(logging.MMLogger._instance_dict.values()):
        for handler in list(logger.handlers):
            if getattr(getattr(handler, 'stream', None), 'closed', False):
                logger.removeHandler(handler)
