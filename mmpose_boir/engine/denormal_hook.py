"""Flush denormal floats to zero while training on CPU."""
import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class FlushDenormalHook(Hook):
    """``torch.set_flush_denormal(True)`` for the run (CPU only).

    BoIR's heads start from N(0, 0.001) weights; their gradients and Adam's
    second moments fall into the denormal float range, where x86 CPUs are
    orders of magnitude slower: a tiny-config CPU step took 8-9 s instead of
    0.11 s (measured with tools/overfit_tiny.py on 2 cores). Flushing them to
    zero changes values below 1.2e-38 only. GPUs are unaffected either way;
    the previous setting is restored after the run.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        self._enabled = torch.set_flush_denormal(True)

    def after_run(self, runner) -> None:
        if getattr(self, '_enabled', False):
            torch.set_flush_denormal(False)
