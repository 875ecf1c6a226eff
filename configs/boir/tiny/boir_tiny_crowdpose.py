# Tiny BoIR on the 2 sample CrowdPose images (14 keypoints), for tests.
_base_ = ['./boir_tiny_coco.py']

num_keypoints = 14
codec = dict(_base_.codec, min_instance_area=0)  # no area rule on CrowdPose
model = dict(head=dict(num_keypoints=num_keypoints, decoder=codec))
default_hooks = dict(checkpoint=dict(save_best=None))

dataset_type = 'ValidatedCrowdPoseDataset'
data_root = '../shared/data/crowdpose/'
train_pipeline = [
    _base_.load_image,
    dict(type='BoIRRandomAffine', input_size=_base_.input_size,
         shift_mode='release', shift_factor=0.2, scale_factor=(0.75, 1.5),
         scale_type='short', rotate_factor=30, distribution='uniform',
         bbox_keep_corner=True),
    dict(type='BoIRRandomFlip', direction='horizontal', prob=0.5,
         heatmap_stride=4),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BoxEmbeddingSampling', input_size=_base_.input_size,
         heatmap_size=_base_.heatmap_size, box_clip='release'),
    dict(type='BottomupGetHeatmapMaskRLE'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='test_crowdpose.json', pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='test_crowdpose.json'))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='BoIRCocoMetric',
    ann_file=data_root + 'test_crowdpose.json',
    nms_thr=0.8,
    score_mode='keypoint',
    use_area=False,
    iou_type='keypoints_crowd',
    prefix='crowdpose')
test_evaluator = val_evaluator
