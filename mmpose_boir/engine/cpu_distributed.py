"""Let ``--launcher pytorch`` run on CPU-only machines (gloo backend).

Used by ``tools/train.py`` and ``tools/test.py`` (and so by
``tools/dist_train.sh`` / ``tools/dist_test.sh``): :mod:`.mmpose_tools`
calls :func:`patch` before running MMPose's script when they are launched
with a launcher other than ``none``. ``import mmpose_boir`` does not apply
it.

MMEngine 0.10's ``_init_dist_pytorch`` always calls
``torch.cuda.set_device(LOCAL_RANK)`` and the default runtime asks for the
``nccl`` backend; ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]``
to DistributedDataParallel. All three fail without a GPU, so
``tools/dist_train.sh CONFIG 2`` could not run on a CPU machine (CI).

On a machine where ``torch.cuda.is_available()`` is False (and no NPU, MLU
or MUSA), :func:`patch` makes

- ``init_dist(launcher='pytorch')`` skip ``set_device`` and use ``gloo``
  when ``nccl`` was asked for (any other backend is kept);
- ``MMDistributedDataParallel`` drop ``device_ids``/``output_device`` when
  the wrapped module has no parameter on an accelerator (the documented
  way to wrap a CPU module).

Importing this module changes nothing; :func:`patch` applies the patch for
the rest of the process, :func:`unpatch` takes it back. On machines with an
accelerator :func:`patch` changes nothing. SyncBN (``sync_bn='torch'``) still
needs GPUs: ``torch.nn.SyncBatchNorm`` refuses CPU tensors.
"""
import functools

_PATCHED = False
_ORIGINALS = {}


def _accelerator_present() -> bool:
    from mmengine.device import (is_cuda_available, is_mlu_available,
                                 is_musa_available, is_npu_available)
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def patch() -> bool:
    """Install the CPU fallbacks; returns whether they are (now) installed."""
    global _PATCHED
    if _PATCHED:
        return True
    if _accelerator_present():
        return False
    import torch.distributed as torch_dist
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import distributed as wrappers

    def _init_dist_pytorch_cpu(backend='gloo', init_backend='torch',
                               **kwargs) -> None:
        if init_backend != 'torch':
            raise ValueError(f'init_backend={init_backend!r} is not '
                             'supported on a CPU-only machine')
        if backend == 'nccl':
            backend = 'gloo'
        torch_dist.init_process_group(backend=backend, **kwargs)

    _ORIGINALS['init_dist_pytorch'] = dist_utils._init_dist_pytorch
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu

    ddp_cls = wrappers.MMDistributedDataParallel
    original_init = ddp_cls.__init__

    @functools.wraps(original_init)
    def __init__(self, module, *args, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        original_init(self, module, *args, **kwargs)

    _ORIGINALS['ddp_init'] = original_init
    ddp_cls.__init__ = __init__
    _PATCHED = True
    return True


def unpatch() -> None:
    """Restore MMEngine's ``_init_dist_pytorch`` and
    ``MMDistributedDataParallel.__init__``."""
    global _PATCHED
    if not _PATCHED:
        return
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import distributed as wrappers
    dist_utils._init_dist_pytorch = _ORIGINALS.pop('init_dist_pytorch')
    wrappers.MMDistributedDataParallel.__init__ = _ORIGINALS.pop('ddp_init')
    _PATCHED = False
