# BoIR, HRNet-W32, COCO, 512x512 (paper: 70.6 AP on val2017).
_base_ = ['./_base_boir_coco.py']

model = dict(
    backbone=dict(init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmpose/'
        'pretrain_models/hrnet_w32-36af842e.pth')))
