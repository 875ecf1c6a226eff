# BoIR, HRNet-W48, CrowdPose (paper: 71.2 AP on test).
_base_ = ['./_base_boir_crowdpose.py']

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
