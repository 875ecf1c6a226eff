"""FlushDenormalHook: denormals flushed during the run, restored after."""
import torch

from mmpose_boir.engine import FlushDenormalHook


def _denormal_survives() -> bool:
    return (torch.tensor([1e-39]) * 1.0).item() != 0.0


def test_flush_denormal_hook_sets_and_restores():
    assert _denormal_survives()
    hook = FlushDenormalHook()
    hook.before_run(None)
    try:
        if hook._enabled:  # supported on this CPU (x86 with SSE3)
            assert not _denormal_survives()
    finally:
        hook.after_run(None)
    assert _denormal_survives()
