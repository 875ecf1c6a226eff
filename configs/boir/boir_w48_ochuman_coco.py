# BoIR, HRNet-W48, trained on COCO, evaluated on OCHuman (paper: 49.4 val /
# 48.5 test AP), at the W48 sizes (640x640 input, 160x160 heatmaps, 96-channel
# instance-wise keypoint head). Test a COCO checkpoint:
#   python tools/test.py configs/boir/boir_w48_ochuman_coco.py \
#       work_dirs/boir_w48_coco/epoch_140.pth
# As the paper's OCHuman numbers: the COCO-trained model (the release's
# README: "trained on coco train set") tested on OCHuman val (val_dataloader)
# and OCHuman test (test_dataloader) with COCO keypoint AP, with the release's
# ochuman yaml test settings: CENTER_POOL_KERNEL 11 (center and keypoint
# heatmap smoothing) and OKS_SCORE 0.7 (OKS-NMS); everything else as on COCO.
# Training with this config trains on COCO train2017 and validates on OCHuman
# val; boir_w*_ochuman_trained_on_val.py train on OCHuman val.
_base_ = ['./boir_w48_coco.py']

model = dict(test_cfg=dict(blur_kernel_size=11))  # TEST.CENTER_POOL_KERNEL

ochuman_type = 'ValidatedOCHumanDataset'
ochuman_root = 'data/ochuman/'
ochuman_val_ann = 'annotations/ochuman_coco_format_val_range_0.00_1.00.json'
ochuman_test_ann = 'annotations/ochuman_coco_format_test_range_0.00_1.00.json'
val_dataloader = dict(
    dataset=dict(
        type=ochuman_type,
        data_root=ochuman_root,
        ann_file=ochuman_val_ann,
        data_prefix=dict(img='images/')))
# (merged into the COCO base's test loader: same pipeline and sampler)
test_dataloader = dict(
    dataset=dict(
        type=ochuman_type,
        data_root=ochuman_root,
        ann_file=ochuman_test_ann,
        data_prefix=dict(img='images/')))
val_evaluator = dict(ann_file=ochuman_root + ochuman_val_ann,
                     nms_thr=0.7)  # TEST.OKS_SCORE
test_evaluator = dict(ann_file=ochuman_root + ochuman_test_ann, nms_thr=0.7)
