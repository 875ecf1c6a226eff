# BoIR, HRNet-W48, OCHuman (paper: 49.4 val / 48.5 test AP).
_base_ = ['./_base_boir_ochuman.py']

backbone_channels = (48, 96, 192, 384)
model = dict(
    backbone=dict(
        extra=dict(
            stage2=dict(num_channels=backbone_channels[:2]),
            stage3=dict(num_channels=backbone_channels[:3]),
            stage4=dict(num_channels=backbone_channels)),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmpose/'
            'pretrain_models/hrnet_w48-8ef0771d.pth')),
    head=dict(in_channels=sum(backbone_channels)))
