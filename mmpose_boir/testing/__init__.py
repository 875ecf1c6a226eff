"""Helpers for tests and benchmarks (as ``mmpose.testing``): literal
per-instance Python-loop versions of the vectorised code, used as oracles
by the tests and as the "before vectorisation" timings by
``tools/benchmark.py``."""
from .reference_loops import reference_bbox_mask_loss, reference_decode

__all__ = ['reference_bbox_mask_loss', 'reference_decode']
