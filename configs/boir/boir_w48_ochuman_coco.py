# BoIR, HRNet-W48, trained on COCO, evaluated on OCHuman (paper: 49.4 val /
# 48.5 test AP), at the W48 sizes (640x640 input, 160x160 heatmaps, 96-channel
# instance-wise keypoint head). Test a COCO checkpoint:
#   python tools/test.py configs/boir/boir_w48_ochuman_coco.py \
#       work_dirs/boir_w48_coco/epoch_140.pth
_base_ = ['./_base_boir_ochuman.py']

model = _base_.w48_model
train_dataloader = dict(dataset=dict(pipeline=_base_.w48_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
