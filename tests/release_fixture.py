"""Re-create the release-layout state dict of the parity fixture
(../shared/fixtures/README.md, "Weight rule")."""
import json
import math
import zlib
from typing import Dict, List, Tuple

import numpy as np
import torch

FIXTURE = '../shared/fixtures/release_coco_w32_seed1234.npz'
#: The W48 inference fixture (640-pixel input).
W48_FIXTURE = '../shared/fixtures/release_coco_w48_seed2024.npz'
#: The training fixture; its manifest is the release's train-mode W32 state
#: dict (auxiliary heads included).
TRAIN_FIXTURE = '../shared/fixtures/release_train_coco_w32_seed1234.npz'


def load_fixture(path: str = FIXTURE) -> Dict[str, np.ndarray]:
    return dict(np.load(path))


def manifest(fixture) -> List[Tuple[str, List[int]]]:
    return json.loads(str(fixture['manifest']))


def weights_from_manifest(entries, seed: int) -> Dict[str, torch.Tensor]:
    state = {}
    for key, shape in entries:
        g = torch.Generator().manual_seed(
            (zlib.crc32(key.encode()) ^ seed) & 0x7fffffff)
        shape = tuple(shape)
        if key.endswith('num_batches_tracked'):
            value = torch.zeros(shape, dtype=torch.int64)
        elif key.endswith('running_var'):
            value = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith('running_mean'):
            value = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:
            value = (0.3 if key.endswith('weight') else 0.0) + \
                0.1 * torch.randn(shape, generator=g)
        else:
            value = torch.randn(shape, generator=g) / math.sqrt(
                math.prod(shape[1:]))
        state[key] = value
    return state
