"""BatchSizeCheckHook (mmpose_boir/engine/batch_size_hook.py): every paper
config warns once, before training, when the batch is not the paper's 80
(4 GPUs x 20 images) and the learning rate is not scaled; the tiny configs
(CPU tests, batch 2) do not carry it. The configs are put together by
MMPose's own ``tools/train.py`` argument handling. The warning in a real
run's log is checked in test_amp_loss_scale.py, on the training run it
shares with the AMP loss scale."""
import os.path as osp
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import HOOKS

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT
from mmpose_train_args import train_script_cfg

W32 = 'configs/boir/boir_w32_coco.py'
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'boir')
RECIPE = '4 GPUs x 20 images'


class WarningRecorder:
    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)


def batch_warnings(cfg, world_size):
    """What the config's custom hooks warn before training in a run of
    ``world_size`` processes."""
    init_default_scope('mmpose')
    logger = WarningRecorder()
    runner = SimpleNamespace(cfg=cfg, world_size=world_size, logger=logger)
    for hook_cfg in cfg.custom_hooks:
        hook = HOOKS.build(hook_cfg)
        hook.before_train(runner)
    return logger.warnings


def test_tiny_configs_train_without_the_batch_warning():
    """The tiny configs (CPU tests, batch 2) replace the paper's custom
    hooks: they are not the paper's recipe, a warning there is noise."""
    for name in ('boir_tiny_coco.py', 'boir_tiny_crowdpose.py',
                 'boir_tiny_ochuman.py'):
        cfg = Config.fromfile(osp.join(CONFIG_DIR, 'tiny', name))
        assert not any(h['type'] == 'BatchSizeCheckHook'
                       for h in cfg.custom_hooks), name
        assert batch_warnings(cfg, 1) == []


@pytest.mark.parametrize('world_size,argv,warns', [
    (4, [], False),                                   # the paper's recipe
    (2, ['train_dataloader.batch_size=40'], False),   # another way to 80
    (1, [], True),                                    # 20
    (8, [], True),                                    # 160
    (4, ['train_dataloader.batch_size=16'], True),    # 64
])
def test_batch_guard(world_size, argv, warns, monkeypatch, tmp_path):
    extra = ['--cfg-options', *argv] if argv else []
    cfg = train_script_cfg(monkeypatch, W32, '--work-dir', tmp_path, *extra)
    warnings = batch_warnings(cfg, world_size)
    if not warns:
        assert warnings == []
        return
    assert len(warnings) == 1, warnings
    msg = warnings[0]
    batch = world_size * cfg.train_dataloader.batch_size
    assert f'a batch of {batch} ({world_size} process(es)' in msg, msg
    assert f"paper's recipe is {RECIPE} (a batch of 80) at lr 0.001, " \
        'unscaled' in msg, msg
    assert 'train_dataloader.batch_size=20' in msg, msg
    assert f'{batch}/80 = {0.001 * batch / 80:g}' in msg, msg
    assert '--auto-scale-lr' in msg, msg


@pytest.mark.parametrize('world_size', [1, 8])
def test_batch_guard_is_silent_with_auto_scale_lr(world_size, monkeypatch,
                                                  tmp_path):
    cfg = train_script_cfg(monkeypatch, W32, '--work-dir', tmp_path,
                           '--auto-scale-lr')
    assert cfg.auto_scale_lr.enable is True
    assert batch_warnings(cfg, world_size) == []


def test_batch_guard_needs_the_paper_batch(monkeypatch, tmp_path):
    cfg = train_script_cfg(monkeypatch, W32, '--work-dir', tmp_path)
    del cfg.auto_scale_lr['base_batch_size']
    with pytest.raises(ValueError, match=r'auto_scale_lr\.base_batch_size'):
        batch_warnings(cfg, 1)
    with pytest.raises(ValueError, match='gpus'):
        HOOKS.build(dict(type='BatchSizeCheckHook', gpus=0))
