"""The release parity fixtures (../shared/fixtures/README.md): where they
are, which config each belongs to, and the release-layout state dict of
their weights ("Weight rule")."""
import glob
import json
import math
import os.path as osp
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

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the shared fixtures and sample data, next to the repository
FIXTURES_DIR = osp.join(REPO_ROOT, '..', 'shared', 'fixtures')
DATA_DIR = osp.join(REPO_ROOT, '..', 'shared', 'data')


def float64_fixtures(training: bool) -> List[str]:
    """Every float64 fixture (``release_*_f64.npz``) of inference
    (``training=False``) or of a training step (``release_train_*``),
    sorted by name: fixtures dropped into the folder are picked up."""
    found = sorted(glob.glob(osp.join(osp.normpath(FIXTURES_DIR),
                                      'release_*_f64.npz')))
    return [p for p in found
            if osp.basename(p).startswith('release_train_') == training]


def config_of(fixture) -> str:
    """The paper config of a fixture, from its ``cfg_name``
    (``<dataset>_w<width>``, e.g. ``crowdpose_w48``)."""
    name = str(fixture['cfg_name'])
    dataset, _, width = name.rpartition('_')
    path = osp.join('configs', 'boir', f'boir_{width}_{dataset}.py')
    if not (dataset and width.startswith('w')) or not osp.isfile(
            osp.join(REPO_ROOT, path)):
        raise ValueError(f'fixture cfg_name {name!r}: no config {path}')
    return osp.join(REPO_ROOT, path)


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


def converted_state_dict(fixture, work_dir: str) -> Dict[str, torch.Tensor]:
    """The fixture's release state dict (weight rule), saved as a release
    checkpoint and converted by ``tools/convert_release_checkpoint.py``:
    our state dict of the fixture's model."""
    from tool_modules import load_tool
    src = osp.join(work_dir, 'release.pth')
    dst = osp.join(work_dir, 'converted.pth')
    torch.save(weights_from_manifest(manifest(fixture), int(fixture['seed'])),
               src)
    load_tool('convert_release_checkpoint').convert(src, dst)
    return torch.load(dst, weights_only=True)['state_dict']
