# BoIR, HRNet-W48, CrowdPose fine-tuned from a COCO model (paper: 77.2 AP).
# As the release's crowdpose_w48_finetune.yaml: 100 epochs (END_EPOCH), lr
# 1e-3, 10 warm-up epochs (WARMUP_EPOCHS unchanged from the W48 configs), no
# SyncBN, BBOX_LOSS_WEIGHT 1.0, Bbox Mask Loss background per instance
# (BBOX_MASK_LOSS_BG_SAMPLE_LEVEL unset: default 0), COCO weights
# (TRAIN.TRANSFER_DATASET). Set load_from to the COCO checkpoint (e.g.
# --cfg-options load_from=work_dirs/boir_w48_coco/epoch_140.pth); the
# 17-keypoint layers (keypoint head output, instance heatmap conv) are
# dropped with a log line and start fresh, everything else loads.
_base_ = ['./boir_w48_crowdpose.py']

load_from = 'work_dirs/boir_w48_coco/epoch_140.pth'
train_cfg = dict(max_epochs=100, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, begin=0, end=10, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, eta_min=1e-6, begin=10,
         end=100, by_epoch=True, convert_to_iter_based=True),
]
model = dict(
    backbone=dict(init_cfg=None),
    head=dict(
        bbox_mask_loss=dict(background='instance'),
        bbox_loss=dict(loss_weight=1.0)))
