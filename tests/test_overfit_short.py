"""A short run of tools/overfit_tiny.py: the loss falls on the 4 images and
the final checkpoint is kept in the work directory."""
import importlib.util
import re

from mmengine.runner import Runner


def _overfit_module():
    spec = importlib.util.spec_from_file_location('overfit_tiny',
                                                  'tools/overfit_tiny.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loss_falls_when_overfitting(tmp_path):
    cfg = _overfit_module().overfit_config(iters=30, input_size=128, lr=2e-3,
                                           work_dir=str(tmp_path))
    cfg.default_hooks.logger.interval = 1
    cfg.train_cfg.val_interval = 1000  # no validation in this short run
    runner = Runner.from_cfg(cfg)
    runner.train()
    log = open(runner.logger.log_file).read()
    losses = [float(v) for v in re.findall(r' loss: ([\d.]+)', log)]
    assert len(losses) == 30
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, (first, last)
    # the last epoch's checkpoint stays in work_dir (only that one)
    kept = sorted(p.name for p in tmp_path.glob('*.pth'))
    assert kept == ['epoch_30.pth'], kept
    from mmengine.runner import CheckpointLoader
    state = CheckpointLoader.load_checkpoint(str(tmp_path / 'epoch_30.pth'),
                                             map_location='cpu')
    assert state['meta']['epoch'] == 30
    assert any(k.startswith('head.') for k in state['state_dict'])


def test_main_prints_the_kept_checkpoint():
    text = open('tools/overfit_tiny.py').read()
    assert "'--work-dir'" in text and 'tempfile' not in text
    assert 'checkpoint {' in text
