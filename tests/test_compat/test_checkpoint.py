"""Checkpoints and torch's weights-only unpickler
(mmpose_boir/compat/checkpoint.py): MMEngine's loader keeps it on for a
file that is not a Runner checkpoint, and no code of ours turns it off.
A Runner's own checkpoints, message hub included: test_tools/
test_resume.py (they come from its training runs)."""
import glob
import os.path as osp
import pickle
import re

import pytest
import torch

from conftest import REPO_ROOT


class _Payload:
    """Unpickling this would create a file: code execution from a .pth."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_untrusted_checkpoint_is_not_unpickled(tmp_path):
    """MMEngine's loader (resume, load_from, tools/test.py) keeps torch's
    weights-only unpickler even with mmpose_boir's allow-list installed."""
    from mmengine.runner import CheckpointLoader

    import mmpose_boir  # noqa: F401
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Payload(str(marker))}, path)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu')
    assert not marker.exists()


def test_repository_code_never_disables_weights_only():
    """No tool or module of ours unpickles checkpoints blindly."""
    offenders = []
    paths = [path for folder in ('tools', 'mmpose_boir')
             for path in glob.glob(osp.join(REPO_ROOT, folder, '**', '*.py'),
                                   recursive=True)]
    assert len(paths) > 20
    for path in paths:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if re.search(r'weights_only\s*=\s*False', line):
                    offenders.append(f'{osp.relpath(path, REPO_ROOT)}:{lineno}: {line.strip()}')
    assert not offenders, '\n'.join(offenders)
