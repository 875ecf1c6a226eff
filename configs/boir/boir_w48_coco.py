# BoIR, HRNet-W48, COCO (paper: 72.5 AP on val2017). As the release's
# coco_w48.yaml: 640x640 input, 160x160 heatmaps, 96-channel instance-wise
# keypoint head (InstKptHead.CHANNELS).
_base_ = ['./_base_boir_coco.py']

model = _base_.w48_model
train_dataloader = dict(dataset=dict(pipeline=_base_.w48_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
