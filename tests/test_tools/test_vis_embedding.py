"""tools/vis_embedding.py: a deployment checkpoint (without the embedding
head, as tools/strip_aux_heads.py and the converter's --strip-aux write
them) is explained in one message, exit status 1. Run in this process."""
import contextlib
import os.path as osp

import torch

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG, build_model, tiny_config
from tool_modules import load_tool

SAMPLE = osp.join(REPO_ROOT, 'demo', '000000197388.jpg')


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
