"""tools/vis_embedding.py, run in this process (its command line runs in
test_doc_pictures.py): on conftest's ``tiny_checkpoint`` the figure (one
panel per person and the image) and the saved similarity maps, each 1 at
its own center; weights without the embedding head (a deployment
checkpoint, as tools/strip_aux_heads.py and the converter's --strip-aux
write them, or one missing only that head) are refused in one message
naming it, exit status 1."""
import contextlib
import os.path as osp
import traceback

import numpy as np
import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import (COCO_SAMPLES, REPO_ROOT, TINY_CONFIG, build_model,
                      tiny_config)
from tool_modules import load_tool, run_tool_main

cv2 = pytest.importorskip('cv2')

SAMPLE = osp.join(REPO_ROOT, 'demo', '000000197388.jpg')
IMAGE = osp.join(REPO_ROOT, COCO_SAMPLES, '000000196141.jpg')


def test_vis_embedding_explains_deployment_only_weights(tmp_path, capsys):
    """A deployment checkpoint (tools/strip_aux_heads.py's, as the
    converter's --strip-aux writes them)."""
    vis = load_tool('vis_embedding')
    torch.manual_seed(0)
    state = load_tool('strip_aux_heads').strip_aux_heads(
        build_model(tiny_config()).state_dict())
    ckpt = tmp_path / 'deployed.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    with contextlib.chdir(REPO_ROOT):
        rc = vis.main([TINY_CONFIG, str(ckpt), SAMPLE, '--out',
                       str(tmp_path / 'e.png')])
    err = capsys.readouterr().err
    assert rc == 1
    assert 'head.embedding_head' in err
    assert "authors' published weights may be" in err
    assert 'converted without --strip-aux' in err


def _vis_embedding(capsys, *args):
    """``tools/vis_embedding.py ARGS`` in this process (from the repository
    root): its exit status and stderr, an exception that escapes ``main``
    counted as the interpreter would (status 1, its traceback on stderr).
    The torch thread count is restored."""
    escaped = ''
    try:
        rc = run_tool_main('vis_embedding', *args)
    except Exception:
        rc, escaped = 1, traceback.format_exc()
    return rc, capsys.readouterr().err + escaped


@pytest.mark.skipif(not osp.isfile(IMAGE),
                    reason='sample COCO image not found')
def test_vis_embedding(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / 'emb.png'
    rc, err = _vis_embedding(
        capsys, TINY_CONFIG, tiny_checkpoint, IMAGE, '--out', out,
        '--score-thr', '0', '--max-persons', '3', '--save-maps',
        tmp_path / 'm.npz')
    assert rc == 0, err
    fig = cv2.imread(str(out))
    assert fig is not None and fig.shape[1] == 4 * 480
    maps = np.load(tmp_path / 'm.npz')
    sim = maps['similarity']
    assert sim.shape[0] == 3 and sim.min() >= 0 and sim.max() <= 1 + 1e-6
    # each map is 1 at its own center
    for (x, y), s in zip(maps['centers'], sim):
        assert s[y, x] == pytest.approx(1.0, abs=1e-5)


def test_vis_embedding_needs_the_embedding_head(tiny_checkpoint, tmp_path,
                                                capsys):
    ckpt = tmp_path / 'deployed.pth'
    state = torch.load(tiny_checkpoint)
    state['state_dict'] = {
        k: v for k, v in state['state_dict'].items()
        if not k.startswith('head.embedding_head.')
    }
    torch.save(state, ckpt)
    rc, err = _vis_embedding(capsys, TINY_CONFIG, ckpt, IMAGE, '--out',
                             tmp_path / 'x.png')
    assert rc == 1
    assert 'Traceback' not in err  # one line, not a traceback
    assert 'head.embedding_head' in err
