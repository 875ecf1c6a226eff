# BoIR, HRNet-W32, OCHuman (paper: 47.4 val / 47.0 test AP).
_base_ = ['./_base_boir_ochuman.py']

model = dict(
    backbone=dict(init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmpose/'
        'pretrain_models/hrnet_w32-36af842e.pth')))
