"""Mixed precision: bf16 autocast on CPU, and `--amp` on a GPU when present.

The release trains with AMP. The losses that must stay in float32 (the two
focal heatmap losses, the Bbox Mask Loss and the CIoU loss) receive float32
inputs and return float32 values while the network runs in bf16.
"""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from conftest import LOSS_NAMES, TINY_CONFIG, read_scalars, run_cmd, train_cmd

LOSS_MODULES = ('multi_heatmap_loss', 'instance_heatmap_loss',
                'bbox_mask_loss', 'bbox_loss')


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """Tiny tensors: one thread is as fast, and bf16 CPU kernels slow down a
    lot under OpenMP oversubscription when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def cfg():
    init_default_scope('mmpose')
    return Config.fromfile(TINY_CONFIG)


@pytest.fixture(scope='module')
def batch(cfg):
    """Two sample COCO images through the real training pipeline."""
    np.random.seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(2)])


def _model(cfg):
    torch.manual_seed(0)
    model_cfg = copy.deepcopy(cfg.model)
    # non-zero bbox head weights so every loss has gradients to check
    model_cfg.head.bbox_head_init = 'normal'
    return MODELS.build(model_cfg)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)


def _record_loss_dtypes(head):
    """Forward hooks noting the dtypes each loss module sees and returns."""
    seen = {}

    def hook(name):
        def fn(module, args, output):
            seen[name] = ({t.dtype for t in _tensors(args)
                           if t.is_floating_point()}, output.dtype)
        return fn

    handles = [getattr(head, n).register_forward_hook(hook(n))
               for n in LOSS_MODULES]
    return seen, handles


def test_bf16_autocast_losses_stay_float32(cfg, batch):
    model = _model(cfg)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    with torch.no_grad():
        fp32 = model(**copy.deepcopy(data), mode='loss')

    seen, handles = _record_loss_dtypes(model.head)
    neck_dtype = []
    handles.append(model.head.neck.register_forward_hook(
        lambda m, a, out: neck_dtype.append(out.dtype)))
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model(**data, mode='loss')
    finally:
        for h in handles:
            h.remove()

    # autocast really ran the network in bf16 ...
    assert neck_dtype == [torch.bfloat16]
    # ... but every loss got float32 inputs and returned float32
    assert set(seen) == set(LOSS_MODULES)
    for name, (inputs, output) in seen.items():
        assert inputs == {torch.float32}, (name, inputs)
        assert output == torch.float32, (name, output)
    assert set(losses) == set(LOSS_NAMES)
    for name, value in losses.items():
        assert value.dtype == torch.float32, name
        assert torch.isfinite(value), (name, value)
        # bf16 activations change the values only slightly
        value, ref = float(value.detach()), float(fp32[name])
        assert math.isclose(value, ref, rel_tol=0.05, abs_tol=0.02), (
            name, value, ref)

    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert all(g is None or g.dtype == torch.float32 for g in grads)
    assert sum(g is not None and bool(g.abs().sum() > 0) for g in grads) > 0


def test_bf16_autocast_training_steps_stay_finite(cfg, batch):
    """A few optimizer steps with the forward pass in bf16."""
    from mmengine.optim import build_optim_wrapper
    model = _model(cfg)
    model.train()
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(
        cfg.optim_wrapper))
    for _ in range(3):
        data = model.data_preprocessor(copy.deepcopy(batch), training=True)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model(**data, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        assert all(math.isfinite(float(v)) for v in log_vars.values())
    for p in model.parameters():
        assert torch.isfinite(p).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_training_on_gpu(tmp_path, dtype):
    """`tools/train.py --amp` (MMEngine's AmpOptimWrapper) on a GPU."""
    run_cmd(train_cmd(TINY_CONFIG, tmp_path, '--amp', '--cfg-options',
                      'train_cfg.max_epochs=1', 'train_cfg.val_interval=10',
                      f'optim_wrapper.dtype={dtype}'))
    records = read_scalars(str(tmp_path))
    assert records
    for rec in records:
        for name in LOSS_NAMES:
            assert math.isfinite(rec[name]), rec
