"""Shared test helpers. Run the suite from the repository root.

Fixtures and helpers here are for tests that start training processes
(`tools/train.py`, `tools/dist_train.sh`) and read what they logged.
"""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = 'configs/boir/tiny/boir_tiny_coco.py'
LOSS_NAMES = ('loss_multi_heatmap', 'loss_instance_heatmap', 'loss_bbox_mask',
              'loss_bbox')


def repo_env(**extra):
    """``os.environ`` with the repository first on PYTHONPATH (works also
    when mmpose_boir is not installed) and OpenMP kept to one thread per
    process so that multi-process tests do not oversubscribe small CI
    machines."""
    env = dict(os.environ)
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    env['PYTHONPATH'] = os.pathsep.join([REPO_ROOT] + paths)
    env.setdefault('OMP_NUM_THREADS', '1')
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cmd(args, timeout=600, env=None, check=True):
    """Run ``args`` in the repository root; returns stdout + stderr."""
    proc = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env or repo_env())
    out = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, (f'{" ".join(map(str, args))} exited '
                                      f'{proc.returncode}:\n{out[-4000:]}')
    return out


def train_cmd(config, work_dir, *extra):
    return [sys.executable, 'tools/train.py', config, '--work-dir',
            str(work_dir), *extra]


def free_port():
    """A TCP port that was free a moment ago (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def read_scalars(work_dir):
    """The training records of MMEngine's LocalVisBackend, oldest run first.

    Returns a list of dicts (one per logged training iteration, full float
    precision) with ``step`` (the global iteration) and the loss values.
    """
    records = []
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isdir(osp.join(work_dir, d, 'vis_data')))
    for run in runs:
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if not osp.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec:
                    records.append(rec)
    return records


def save_checkpoint(model, path, center_bias=None):
    """Save ``model`` as an MMEngine-style checkpoint (``state_dict`` and
    ``meta``); returns the path. With ``center_bias`` (a BoIR model), its
    center head's bias is set first: 0 gives untrained models center scores
    near 0.5 instead of the prior 0.01, which sits on the 0.01 score
    threshold, so that people are decoded."""
    import torch
    if center_bias is not None:
        with torch.no_grad():
            model.head.center_head[-1].bias.fill_(center_bias)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)
