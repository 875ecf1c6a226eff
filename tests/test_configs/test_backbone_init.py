"""The W48 paper configs start from the release's ImageNet weights with the
switch that docs/model_zoo.md gives.

The release initialises W48 from HRNet-Image-Classification's
``hrnetv2_w48_imagenet_pretrained.pth``: a checkpoint in that layout (built
here from the classification network's structure, synthetic values) loads
into our W48 backbone through the config's ``init_cfg``, every backbone key
matched and the dropped classification keys reported. The configs are put
together by MMPose's own ``tools/train.py`` argument handling.
"""
import os
import os.path as osp
import re
import shlex

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT
from mmpose_train_args import train_script_cfg

W48 = 'configs/boir/boir_w48_coco.py'
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'boir')
PAPER = sorted(osp.join('configs/boir', f) for f in os.listdir(CONFIG_DIR)
               if f.endswith('.py') and not f.startswith('_'))


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
