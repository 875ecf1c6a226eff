# BoIR on CrowdPose (trainval -> test, 14 keypoints, CrowdPose's AP easy /
# medium / hard). Released: 310 epochs from ImageNet HRNet, 10 warm-up.
_base_ = ['./_base_boir_coco.py']

train_cfg = dict(max_epochs=310, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, begin=0, end=10, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=300, eta_min=1e-6, begin=10,
         end=310, by_epoch=True, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(save_best='crowdpose/AP'))

num_keypoints = 14
codec = dict(
    type='BoIRDecoupledHeatmap',
    input_size=(512, 512),
    heatmap_size=(128, 128),
    min_instance_area=0,  # the release applies the 32^2 rule on COCO only
    encode_max_instances=200)
model = dict(head=dict(num_keypoints=num_keypoints, decoder=codec))

dataset_type = 'ValidatedCrowdPoseDataset'
data_root = 'data/crowdpose/'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ValidatePoseAnnotations'),
    dict(type='BottomupRandomAffine', input_size=(512, 512),
         shift_factor=0.2, scale_factor=(0.75, 1.5), scale_type='short',
         rotate_factor=30, distribution='uniform', bbox_keep_corner=True),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BoxEmbeddingSampling', input_size=(512, 512),
         heatmap_size=(128, 128)),
    dict(type='BottomupGetHeatmapMaskRLE'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
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
