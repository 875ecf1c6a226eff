# CID HRNet-W32 on CrowdPose with BoIR's box supervision. MMPose ships no
# CID CrowdPose config: this is its COCO one (through cid_w32_box_coco.py)
# on CrowdPose as MMPose's DEKR CrowdPose config sets it (data, evaluation,
# 300 epochs, steps at 200 and 260), with 14 keypoints. For deployment, load
# the checkpoint into this config with `model.aux_head=None` (MMPose's
# BottomupPoseEstimator then).
_base_ = ['./cid_w32_box_coco.py']

train_cfg = dict(max_epochs=300, val_interval=20)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001,
         by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=300, milestones=[200, 260],
         gamma=0.1, by_epoch=True),
]
default_hooks = dict(checkpoint=dict(save_best='crowdpose/AP'))

model = dict(
    head=dict(num_keypoints=14),
    aux_head=dict(heatmap_head=dict(out_channels=15)))  # 14 + the root

dataset_type = 'CrowdPoseDataset'
data_root = 'data/crowdpose/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_test.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/mmpose_crowdpose_test.json',
    nms_thr=0.8,
    score_mode='keypoint',
    use_area=False,
    iou_type='keypoints_crowd',
    prefix='crowdpose')
test_evaluator = val_evaluator
