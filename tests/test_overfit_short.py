"""A short run of tools/overfit_tiny.py: the loss falls on the 4 images."""
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
