"""tools/train_step_cost.py: training cost of configs side by side (one
command-line run on the tiny CID with and without box supervision)."""
import json
import sys

from conftest import run_cmd
from tiny_training import TINY_CID

DOC_CONFIG = '''_base_ = [{base!r}]
custom_imports = dict(imports=['mmpose_boir'])
codec = _base_.codec
model = dict(type='AuxBottomupPoseEstimator',
             aux_head=dict(type='BoxSupervisionHead', neck_channels=32,
                           aspp_channels=16, head_channels=16,
                           in_channels=_base_.model.head.in_channels))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='GenerateInstanceBoxes', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
'''


def test_train_step_cost_measures_configs_side_by_side(tmp_path):
    """tools/train_step_cost.py on the tiny CID with and without box
    supervision (the measurement of docs/box_supervision.md, small)."""
    box = tmp_path / 'cid_tiny_box.py'
    box.write_text(DOC_CONFIG.format(base=TINY_CID))
    out = tmp_path / 'cost.json'
    log = run_cmd([sys.executable, 'tools/train_step_cost.py', TINY_CID,
                   str(box), '--iters', '1', '--warmup', '0', '--rounds',
                   '1', '--out', str(out)])
    results = json.loads(out.read_text())
    assert list(results) == [TINY_CID, str(box)]
    plain, composed = results[TINY_CID][0], results[str(box)][0]
    for r in (plain, composed):
        assert r['step_s'] > 0 and r['data_s'] > 0 and r['peak_rss_mib'] > 0
        assert r['batch_size'] == 2 and r['flush_denormal']
    assert not any(k.startswith('aux.') for k in plain['losses'])
    assert {'aux.loss_bbox_mask', 'aux.loss_bbox'} <= set(composed['losses'])
    assert '| step (s) |' in log and str(box) in log
