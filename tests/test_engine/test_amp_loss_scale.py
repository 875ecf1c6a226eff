"""BoIROptimWrapperConstructor (mmpose_boir/engine/
optim_wrapper_constructor.py): ``--amp`` on a paper config starts at the
release's loss scale, 2^14; MMEngine's constructor, a loss scale the config
chooses and a resumed scaler's state are kept.

A real run (tools/train.py's arguments, ``--amp``, two iterations of the
tiny config with the paper configs' custom hooks) checks the loss scale it
trained at and, on the same run (built once, here), that the batch guard of
test_batch_size_hook.py warns once in its log.
"""
import functools

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmpose_boir  # noqa: F401
from conftest import TINY_CONFIG
from mmpose_train_args import train_script_cfg

W32 = 'configs/boir/boir_w32_coco.py'
RELEASE_SCALE = 2.**14
RECIPE = '4 GPUs x 20 images'


def amp_on_cpu(monkeypatch):
    """Let MMEngine's AmpOptimWrapper (CUDA only) run on this CPU: its
    GPU check passes and its GradScaler is PyTorch's CPU one (same dynamic
    scaling). No-op where a GPU exists."""
    if torch.cuda.is_available():
        return
    from mmengine.optim.optimizer import amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    monkeypatch.setattr(amp, 'GradScaler',
                        functools.partial(torch.amp.GradScaler, 'cpu'))


@pytest.fixture(scope='module')
def tiny_amp_run(tmp_path_factory):
    """Two iterations of the tiny config (batch 2, one process) through
    MMEngine's Runner, with ``--amp`` and the paper configs' custom hooks
    added to the tiny config's own."""
    work_dir = tmp_path_factory.mktemp('tiny_amp')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            cfg = train_script_cfg(mp, TINY_CONFIG, '--work-dir', work_dir,
                                   '--amp', '--cfg-options',
                                   'train_cfg.max_epochs=1',
                                   'train_cfg.val_interval=10')
            cfg.custom_hooks = Config.fromfile(W32).custom_hooks + \
                cfg.custom_hooks
            amp_on_cpu(mp)
            runner = Runner.from_cfg(cfg)
            runner.train()
    finally:
        torch.set_num_threads(threads)
    return runner


def test_real_run_warns_once_about_the_batch(tiny_amp_run):
    log = open(tiny_amp_run.logger.log_file).read()
    assert log.count("paper's recipe") == 1, log[-3000:]
    line = next(ln for ln in log.splitlines() if "paper's recipe" in ln)
    assert 'WARNING' in line, line
    assert 'a batch of 2 (1 process(es) x train_dataloader.batch_size=2)' \
        in line, line
    assert f'{RECIPE} (a batch of 80) at lr 0.001, unscaled' in line, line


def test_real_run_with_amp_starts_at_the_release_loss_scale(tiny_amp_run):
    wrapper = tiny_amp_run.optim_wrapper
    assert isinstance(wrapper, AmpOptimWrapper)
    state = wrapper.loss_scaler.state_dict()
    # two steps without overflow (the growth tracker counts them), so the
    # scale is still the one it started at: the release's, not 2^16
    assert state['_growth_tracker'] == 2, state
    assert state['scale'] == RELEASE_SCALE, state
    assert state['growth_interval'] == 2000 and \
        state['growth_factor'] == 2.0 and state['backoff_factor'] == 0.5


def _wrapper(monkeypatch, tmp_path, *argv):
    cfg = train_script_cfg(monkeypatch, W32, '--work-dir', tmp_path, *argv)
    amp_on_cpu(monkeypatch)
    init_default_scope('mmpose')
    return build_optim_wrapper(torch.nn.Linear(2, 2), cfg.optim_wrapper)


def test_amp_loss_scale_options(monkeypatch, tmp_path):
    # --amp: dynamic, from the release's 2^14
    wrapper = _wrapper(monkeypatch, tmp_path, '--amp')
    assert isinstance(wrapper, AmpOptimWrapper)
    assert wrapper.loss_scaler.get_scale() == RELEASE_SCALE
    assert wrapper._scale_update_param is None  # dynamic
    # MMEngine's start, with MMEngine's constructor
    wrapper = _wrapper(monkeypatch, tmp_path, '--amp', '--cfg-options',
                       'optim_wrapper.constructor='
                       'DefaultOptimWrapperConstructor')
    assert wrapper.loss_scaler.get_scale() == 2.**16
    # a loss scale the config chooses is kept (a number: static)
    wrapper = _wrapper(monkeypatch, tmp_path, '--amp', '--cfg-options',
                       'optim_wrapper.loss_scale=512.')
    assert wrapper.loss_scaler.get_scale() == 512.
    assert wrapper._scale_update_param == 512.
    # without --amp: MMEngine's plain wrapper, unchanged
    wrapper = _wrapper(monkeypatch, tmp_path)
    assert type(wrapper) is OptimWrapper


def test_resumed_amp_run_keeps_its_saved_loss_scale(monkeypatch, tmp_path):
    """Resuming loads the scaler's state over the release's start."""
    wrapper = _wrapper(monkeypatch, tmp_path, '--amp')
    saved = wrapper.state_dict()
    assert saved['loss_scaler']['scale'] == RELEASE_SCALE
    saved['loss_scaler']['scale'] = 1024.
    wrapper = _wrapper(monkeypatch, tmp_path, '--amp')
    wrapper.load_state_dict(saved)
    assert wrapper.loss_scaler.get_scale() == 1024.
