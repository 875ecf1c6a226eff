# BoIR, HRNet-W32, CrowdPose fine-tuned from a COCO model (paper: 75.8 AP).
# Released: 100 epochs, 1 warm-up epoch. Set load_from to the COCO checkpoint
# (e.g. --cfg-options load_from=work_dirs/boir_w32_coco/best.pth); the
# 17-keypoint layers (keypoint head output, instance heatmap conv) are dropped
# with a log line and start fresh, everything else loads.
_base_ = ['./boir_w32_crowdpose.py']

load_from = 'work_dirs/boir_w32_coco/best_coco_AP_epoch_140.pth'
train_cfg = dict(max_epochs=100, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, begin=0, end=1, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=99, eta_min=1e-6, begin=1, end=100,
         by_epoch=True, convert_to_iter_based=True),
]
model = dict(backbone=dict(init_cfg=None))
