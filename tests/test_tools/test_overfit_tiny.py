"""A short run of tools/overfit_tiny.py's training (its config, in this
process): the loss falls on the 4 images and the final checkpoint is kept
in the work directory. (The whole tool, on its command line, runs in
test_doc_pictures.py.)"""
import contextlib
import re

from mmengine.runner import CheckpointLoader, Runner

from conftest import REPO_ROOT
from tool_modules import load_tool
from tool_runs import new_second

ITERS = 20


def test_loss_falls_when_overfitting(tmp_path):
    """``ITERS`` steps at the tool's default learning rate (5e-3)."""
    with contextlib.chdir(REPO_ROOT):  # the config's paths are relative
        cfg = load_tool('overfit_tiny').overfit_config(
            iters=ITERS, input_size=128, lr=5e-3, work_dir=str(tmp_path))
        cfg.default_hooks.logger.interval = 1
        cfg.train_cfg.val_interval = 1000  # no validation in this short run
        # MMEngine keeps one visualizer per name in a process: a fresh one
        cfg.visualizer.name = f'visualizer_{tmp_path}'
        new_second()  # and its own timestamped logger
        runner = Runner.from_cfg(cfg)
        runner.train()
    log = open(runner.logger.log_file).read()
    losses = [float(v) for v in re.findall(r' loss: ([\d.]+)', log)]
    assert len(losses) == ITERS
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, (first, last)
    # the last epoch's checkpoint stays in work_dir (only that one)
    kept = sorted(p.name for p in tmp_path.glob('*.pth'))
    assert kept == [f'epoch_{ITERS}.pth'], kept
    state = CheckpointLoader.load_checkpoint(
        str(tmp_path / f'epoch_{ITERS}.pth'), map_location='cpu')
    assert state['meta']['epoch'] == ITERS
    assert any(k.startswith('head.') for k in state['state_dict'])
