# Tiny BoIR on the 2 sample CrowdPose images (14 keypoints), for tests.
_base_ = ['./boir_tiny_coco.py']

num_keypoints = 14
codec = dict(_base_.codec, min_instance_area=0)
model = dict(head=dict(num_keypoints=num_keypoints, decoder=codec))
default_hooks = dict(checkpoint=dict(save_best=None))

dataset_type = 'ValidatedCrowdPoseDataset'
data_root = '../shared/data/crowdpose/'
train_pipeline = [
    dict(t, encoder=codec) if t.type == 'GenerateTarget' else t
    for t in _base_.train_pipeline
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
