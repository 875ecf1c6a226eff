"""tools/strip_aux_heads.py: a training checkpoint without the auxiliary
heads and the optimizer state (one command-line run), which loads strictly
into the deployed model."""
import sys

import torch

from conftest import build_model, run_cmd, tiny_config
from mmpose_boir.models.heads.boir_head import AUX_HEADS


def test_strip_aux_heads_tool(tmp_path):
    cfg = tiny_config()
    model = build_model(cfg)
    src, dst = tmp_path / 'train.pth', tmp_path / 'deploy.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1),
                    optimizer=dict(state={})), src)
    run_cmd([sys.executable, 'tools/strip_aux_heads.py', str(src), str(dst)])
    out = torch.load(dst, weights_only=True)
    assert set(out) == {'state_dict', 'meta'}
    assert not any(k.split('.')[1] in AUX_HEADS for k in out['state_dict'])
    cfg.model.head.with_aux_heads = False
    deployed = build_model(cfg)
    deployed.load_state_dict(out['state_dict'], strict=True)
