# BoIR, HRNet-W48, CrowdPose (paper: 71.2 AP on test). As the release's
# crowdpose_w48.yaml: 640x640 input, 160x160 heatmaps, 96-channel
# instance-wise keypoint head.
_base_ = ['./_base_boir_crowdpose.py']

model = _base_.w48_model
train_dataloader = dict(dataset=dict(pipeline=_base_.w48_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
