"""The release's training recipe around the model: the W48 ImageNet weights,
the batch of the paper's runs and the AMP loss scale.

- The release initialises W48 from HRNet-Image-Classification's
  ``hrnetv2_w48_imagenet_pretrained.pth``: a checkpoint in that layout
  (built here from the classification network's structure, synthetic
  values) loads into our W48 backbone through the config's ``init_cfg``
  with the switch that docs/model_zoo.md gives.
- ``BatchSizeCheckHook`` (every paper config) warns once when the batch is
  not the paper's 80 and the learning rate is not scaled.
- ``BoIROptimWrapperConstructor`` (every paper config) makes ``--amp`` start
  at the release's loss scale, 2^14.

The configs are put together by MMPose's own ``tools/train.py`` argument
handling (what ``tools/train.py`` and ``mim train mmpose`` run).
"""
import functools
import importlib.util
import os
import os.path as osp
import re
import shlex
import sys
from types import SimpleNamespace

import mmpose
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpose.registry import HOOKS, MODELS

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG

W32 = 'configs/boir/boir_w32_coco.py'
W48 = 'configs/boir/boir_w48_coco.py'
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'boir')
PAPER = sorted(osp.join('configs/boir', f) for f in os.listdir(CONFIG_DIR)
               if f.endswith('.py') and not f.startswith('_'))
RELEASE_SCALE = 2.**14
RECIPE = '4 GPUs x 20 images'


# --------------------------------------------------------------------------
# helpers


def train_script_cfg(monkeypatch, *argv):
    """The config that MMPose's tools/train.py builds from ``argv`` (its
    argument parsing and ``merge_args``, without running it)."""
    script = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                      'train.py')
    spec = importlib.util.spec_from_file_location('mmpose_train', script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [script, *map(str, argv)])
    monkeypatch.setenv('LOCAL_RANK', '0')
    args = module.parse_args()
    return module.merge_args(Config.fromfile(args.config), args)


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


# --------------------------------------------------------------------------
# W48 ImageNet weights


def _conv(name, cin, cout, k, bias=False):
    keys = [(f'{name}.weight', (cout, cin, k, k))]
    return keys + [(f'{name}.bias', (cout, ))] if bias else keys


def _bn(name, c):
    params = ('weight', 'bias', 'running_mean', 'running_var')
    return [(f'{name}.{p}', (c, )) for p in params] + \
        [(f'{name}.num_batches_tracked', ())]


def _block(name, bottleneck, cin, planes):
    out = planes * 4 if bottleneck else planes
    if bottleneck:
        keys = (_conv(f'{name}.conv1', cin, planes, 1) +
                _bn(f'{name}.bn1', planes) +
                _conv(f'{name}.conv2', planes, planes, 3) +
                _bn(f'{name}.bn2', planes) +
                _conv(f'{name}.conv3', planes, out, 1) +
                _bn(f'{name}.bn3', out))
    else:
        keys = (_conv(f'{name}.conv1', cin, planes, 3) +
                _bn(f'{name}.bn1', planes) +
                _conv(f'{name}.conv2', planes, planes, 3) +
                _bn(f'{name}.bn2', planes))
    if cin != out:
        keys += (_conv(f'{name}.downsample.0', cin, out, 1) +
                 _bn(f'{name}.downsample.1', out))
    return keys


def _layer(name, bottleneck, cin, planes, blocks):
    out = planes * 4 if bottleneck else planes
    keys = _block(f'{name}.0', bottleneck, cin, planes)
    for i in range(1, blocks):
        keys += _block(f'{name}.{i}', bottleneck, out, planes)
    return keys


def _transition(name, pre, cur):
    keys = []
    for i, c in enumerate(cur):
        if i < len(pre):
            if c != pre[i]:
                keys += (_conv(f'{name}.{i}.0', pre[i], c, 3) +
                         _bn(f'{name}.{i}.1', c))
        else:
            for j in range(i + 1 - len(pre)):
                cout = c if j == i - len(pre) else pre[-1]
                keys += (_conv(f'{name}.{i}.{j}.0', pre[-1], cout, 3) +
                         _bn(f'{name}.{i}.{j}.1', cout))
    return keys


def _stage(name, modules, channels):
    keys = []
    for m in range(modules):
        for b, c in enumerate(channels):
            keys += _layer(f'{name}.{m}.branches.{b}', False, c, c, 4)
        for i, ci in enumerate(channels):
            for j, cj in enumerate(channels):
                fuse = f'{name}.{m}.fuse_layers.{i}.{j}'
                if j > i:
                    keys += _conv(f'{fuse}.0', cj, ci, 1) + _bn(f'{fuse}.1',
                                                                ci)
                for k in range(i - j):
                    cout = ci if k == i - j - 1 else cj
                    keys += (_conv(f'{fuse}.{k}.0', cj, cout, 3) +
                             _bn(f'{fuse}.{k}.1', cout))
    return keys


def hrnet_w48_classification_layout():
    """(key, shape) of HRNet-Image-Classification's ``cls_hrnet`` W48
    (``HighResolutionNet`` with cls_hrnet_w48's stages, every stage
    multi-scale) as its state dict names them: the backbone, then the
    classification head (``incre_modules``, ``downsamp_modules``,
    ``final_layer``, ``classifier``), which the pose model does not have.
    Written from that network's structure, not from MMPose's HRNet."""
    keys = (_conv('conv1', 3, 64, 3) + _bn('bn1', 64) +
            _conv('conv2', 64, 64, 3) + _bn('bn2', 64) +
            _layer('layer1', True, 64, 64, 4))
    pre = [256]
    for s, (modules, channels) in enumerate(
            [(1, [48, 96]), (4, [48, 96, 192]), (3, [48, 96, 192, 384])], 1):
        keys += _transition(f'transition{s}', pre, channels)
        keys += _stage(f'stage{s + 1}', modules, channels)
        pre = channels
    head = [32, 64, 128, 256]
    cls_keys = []
    for i, c in enumerate(pre):
        cls_keys += _layer(f'incre_modules.{i}', True, c, head[i], 1)
    for i in range(3):
        cls_keys += (_conv(f'downsamp_modules.{i}.0', head[i] * 4,
                           head[i + 1] * 4, 3, bias=True) +
                     _bn(f'downsamp_modules.{i}.1', head[i + 1] * 4))
    cls_keys += (_conv('final_layer.0', 1024, 2048, 1, bias=True) +
                 _bn('final_layer.1', 2048) +
                 [('classifier.weight', (1000, 2048)),
                  ('classifier.bias', (1000, ))])
    return keys, cls_keys


@pytest.fixture(scope='module')
def imagenet_w48(tmp_path_factory):
    """A synthetic ``hrnetv2_w48_imagenet_pretrained.pth``: a plain state
    dict (as HRNet-Image-Classification saves it), values drawn per key."""
    backbone, classification = hrnet_w48_classification_layout()
    gen = torch.Generator().manual_seed(48)
    state = {}
    for i, (key, shape) in enumerate(backbone + classification):
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(1000 + i)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen)
    path = tmp_path_factory.mktemp('imagenet') / \
        'hrnetv2_w48_imagenet_pretrained.pth'
    torch.save(state, path)
    return str(path), state, [k for k, _ in backbone], \
        [k for k, _ in classification]


def docs_w48_switch():
    """tools/train.py's arguments in docs/model_zoo.md's command that starts
    W48 from the release's ImageNet file (tools/dist_train.sh CONFIG NPROC
    ARGS... runs tools/train.py CONFIG --launcher pytorch ARGS...)."""
    text = open(osp.join(REPO_ROOT, 'docs', 'model_zoo.md')).read()
    blocks = re.findall(r'```bash\n(.*?)```', text, re.S)
    found = [b for b in blocks if 'hrnetv2_w48_imagenet_pretrained.pth' in b]
    assert len(found) == 1, found
    argv = shlex.split(found[0].replace('\\\n', ' '))
    assert argv[:2] == ['bash', 'tools/dist_train.sh'], argv
    config, _nproc, *args = argv[2:]
    return config, args


def _with_file(args, path):
    """``args`` with the release file's path replaced by ``path``."""
    out = [re.sub(r'=\S*hrnetv2_w48_imagenet_pretrained\.pth$', '=' + path,
                  a) for a in args]
    assert out != args, args
    return out


def test_release_w48_imagenet_layout_loads_into_our_w48_backbone(
        imagenet_w48, tmp_path, monkeypatch):
    """The documented switch, with the synthetic file in the release's
    layout: every backbone parameter and buffer comes from the file, and
    the dropped classification keys are listed in the log."""
    path, state, backbone_keys, classification_keys = imagenet_w48
    config, args = docs_w48_switch()
    assert config == W48
    cfg = train_script_cfg(monkeypatch, config, *_with_file(args, path),
                           '--work-dir', tmp_path)
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained',
                                               checkpoint=path)

    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ours = model.backbone.state_dict()
    # the layout of the file is the layout of our backbone ...
    assert sorted(ours) == sorted(backbone_keys)
    for key in backbone_keys:
        assert tuple(ours[key].shape) == tuple(state[key].shape), key
        # (and no weight starts equal to the file's by chance)
        assert not torch.equal(ours[key], state[key]), key

    log_file = tmp_path / 'init.log'
    MMLogger.get_instance('test_w48_imagenet', log_file=str(log_file))
    model.init_weights()
    # ... and every parameter and buffer is loaded from it
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, state[key]), key
    log = log_file.read_text()
    match = re.search(r'unexpected key in source state_dict: (.*)', log)
    assert match, log[-3000:]
    assert sorted(match.group(1).strip().split(', ')) == sorted(
        classification_keys)
    assert 'missing keys in source state_dict' not in log


@pytest.mark.parametrize(
    'path', [p for p in PAPER if 'w48' in p and 'finetune' not in p])
def test_w48_switch_sets_every_w48_config(path, monkeypatch, tmp_path):
    """Every W48 config that trains from ImageNet (the fine-tunes start
    from a COCO checkpoint) takes the documented switch."""
    _, args = docs_w48_switch()
    args = _with_file(args, '/weights/hrnetv2_w48_imagenet_pretrained.pth')
    cfg = train_script_cfg(monkeypatch, path, *args, '--work-dir', tmp_path)
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint='/weights/hrnetv2_w48_imagenet_pretrained.pth')
    assert cfg.model.backbone.extra.stage4.num_channels == (48, 96, 192, 384)


# --------------------------------------------------------------------------
# the paper configs' hook and constructor


@pytest.mark.parametrize('path', PAPER)
def test_every_paper_config_checks_the_batch_and_the_loss_scale(path):
    cfg = Config.fromfile(path)
    assert dict(type='BatchSizeCheckHook', gpus=4) in cfg.custom_hooks
    assert cfg.optim_wrapper.constructor == 'BoIROptimWrapperConstructor'
    assert cfg.auto_scale_lr.base_batch_size == 80
    assert cfg.train_dataloader.batch_size == 20


def test_tiny_configs_train_without_the_batch_warning():
    """The tiny configs (CPU tests, batch 2) replace the paper's custom
    hooks: they are not the paper's recipe, a warning there is noise."""
    for name in ('boir_tiny_coco.py', 'boir_tiny_crowdpose.py',
                 'boir_tiny_ochuman.py'):
        cfg = Config.fromfile(osp.join(CONFIG_DIR, 'tiny', name))
        assert not any(h['type'] == 'BatchSizeCheckHook'
                       for h in cfg.custom_hooks), name
        assert batch_warnings(cfg, 1) == []


# --------------------------------------------------------------------------
# batch guard


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


# --------------------------------------------------------------------------
# a real run: tools/train.py --amp on the tiny config with the paper's hooks


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


# --------------------------------------------------------------------------
# AMP options, built without training


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
