# BoIR, HRNet-W32, CrowdPose (paper: 70.6 AP on test), as the release's
# crowdpose_w32.yaml.
_base_ = ['./_base_boir_crowdpose.py']

model = dict(
    backbone=dict(init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmpose/'
        'pretrain_models/hrnet_w32-36af842e.pth')))
