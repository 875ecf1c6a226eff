# BoIR on CrowdPose (trainval -> test, 14 keypoints, CrowdPose's AP easy /
# medium / hard), as the release's crowdpose_w32.yaml: 310 epochs from
# ImageNet HRNet, 10 warm-up epochs, the final epoch is the reported one (no
# best-on-test checkpoint selection). Everything else as _base_boir_coco.py.
_base_ = ['./_base_boir_coco.py']

train_cfg = dict(max_epochs=310, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, begin=0, end=10, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=300, eta_min=1e-6, begin=10,
         end=310, by_epoch=True, convert_to_iter_based=True),
]

# 14 keypoints; the leaf configs (boir_w32_crowdpose.py, boir_w48_crowdpose.py)
# add the width, the sizes and the pipelines (no 32^2 area rule: the release
# applies it on COCO and OCHuman, not CrowdPose)
model = dict(head=dict(num_keypoints=14))

dataset_type = 'ValidatedCrowdPoseDataset'
data_root = 'data/crowdpose/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/'),
        # the release keeps every CrowdPose image with an annotation
        # (MMPose's bottom-up default); no labelled-keypoint filter
        filter_cfg=None))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_test.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='BoIRCocoMetric',
    ann_file=data_root + 'annotations/mmpose_crowdpose_test.json',
    nms_thr=0.8,  # TEST.OKS_SCORE (CrowdPose sigmas for the OKS)
    score_mode='keypoint',
    use_area=False,
    iou_type='keypoints_crowd',
    prefix='crowdpose')
test_evaluator = val_evaluator
