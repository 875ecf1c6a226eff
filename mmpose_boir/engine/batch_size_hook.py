"""Warn when training with another batch than the paper's recipe."""
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class BatchSizeCheckHook(Hook):
    """One warning at the start of training when the effective batch
    (processes x ``train_dataloader.batch_size``) differs from the paper's
    and the learning rate is not scaled (``auto_scale_lr.enable``, which
    ``tools/train.py --auto-scale-lr`` sets).

    The paper's numbers come from ``gpus`` GPUs whose images per GPU add up
    to ``auto_scale_lr.base_batch_size``, trained at the config's learning
    rate unscaled. Another batch silently trains another recipe; the warning
    says how to match it or how to scale the learning rate instead.

    Args:
        gpus (int): the number of GPUs of the paper's runs. Default: 4.
    """

    def __init__(self, gpus: int = 4) -> None:
        if not isinstance(gpus, int) or gpus < 1:
            raise ValueError(f'BatchSizeCheckHook: gpus must be a positive '
                             f'integer, got {gpus!r}')
        self.gpus = gpus

    def before_train(self, runner) -> None:
        cfg = runner.cfg
        auto_scale_lr = cfg.get('auto_scale_lr') or {}
        base = auto_scale_lr.get('base_batch_size')
        if not isinstance(base, int) or base < 1:
            raise ValueError(
                'BatchSizeCheckHook compares the batch with the config\'s '
                '`auto_scale_lr.base_batch_size` (the paper\'s batch), '
                f'which is {base!r}; set it (e.g. auto_scale_lr = '
                'dict(base_batch_size=80)) or remove the hook from '
                '`custom_hooks`')
        if auto_scale_lr.get('enable', False):
            return
        per_gpu = cfg.train_dataloader['batch_size']
        batch = runner.world_size * per_gpu
        if batch == base:
            return
        lr = cfg.optim_wrapper['optimizer']['lr']
        if base % self.gpus == 0:
            recipe = (f'{self.gpus} GPUs x {base // self.gpus} images '
                      f'(a batch of {base})')
            match = (f'train on {self.gpus} GPUs (tools/dist_train.sh '
                     f'CONFIG {self.gpus}) with train_dataloader.batch_size='
                     f'{base // self.gpus}, or on any number of GPUs whose '
                     f'images per GPU add up to {base}')
        else:
            recipe = f'{self.gpus} GPUs, a batch of {base}'
            match = (f'train on GPUs whose images per GPU add up to {base}')
        runner.logger.warning(
            f'This run trains with a batch of {batch} ({runner.world_size} '
            f'process(es) x train_dataloader.batch_size={per_gpu}); the '
            f"paper's recipe is {recipe} at lr {lr:g}, unscaled. To match "
            f'it, {match}. To scale the learning rate linearly with the '
            f'batch instead (lr {lr:g} x {batch}/{base} = '
            f'{lr * batch / base:g}), add --auto-scale-lr to tools/train.py '
            '(auto_scale_lr.enable=True).')
