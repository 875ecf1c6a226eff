"""FlushDenormalHook: denormals flushed during the run, restored after."""
import platform

import pytest
import torch

from mmpose_boir.engine import FlushDenormalHook


def _denormal_survives() -> bool:
    return (torch.tensor([1e-39]) * 1.0).item() != 0.0


@pytest.mark.skipif(platform.machine().lower() not in ('x86_64', 'amd64'),
                    reason='torch flushes denormals on x86 (SSE3) only')
def test_flush_denormal_hook_sets_and_restores():
    assert _denormal_survives()
    hook = FlushDenormalHook()
    hook.before_run(None)
    try:
        assert not _denormal_survives()
    finally:
        hook.after_run(None)
    assert _denormal_survives()
