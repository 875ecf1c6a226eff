# BoIR on COCO: everything but the backbone width (see boir_w32_coco.py and
# boir_w48_coco.py). Hyper-parameters are the released ones (spec section 4).
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['mmpose_boir'], allow_failed_imports=False)

# runtime: 140 epochs, AdamW, 10 warm-up epochs then cosine to 1e-6.
# The release trains with AMP: add `--amp` to tools/train.py.
train_cfg = dict(max_epochs=140, val_interval=10)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.025))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, begin=0, end=10, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=130, eta_min=1e-6, begin=10,
         end=140, by_epoch=True, convert_to_iter_based=True),
]
# released: 8 GPUs x 20 images
auto_scale_lr = dict(base_batch_size=160)
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater'))
# CPU runs only: without it, denormal gradients make CPU steps ~50x slower
custom_hooks = [dict(type='FlushDenormalHook')]

input_size = (512, 512)
heatmap_size = (128, 128)
num_keypoints = 17
codec = dict(
    type='BoIRDecoupledHeatmap',
    input_size=input_size,
    heatmap_size=heatmap_size,
    min_instance_area=32**2,
    encode_max_instances=200)

backbone_channels = (32, 64, 128, 256)
model = dict(
    type='BoIR',
    data_preprocessor=dict(
        type='BoIRDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(4, ), num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(4, 4), num_channels=backbone_channels[:2]),
            stage3=dict(num_modules=4, num_branches=3, block='BASIC',
                        num_blocks=(4, 4, 4),
                        num_channels=backbone_channels[:3]),
            stage4=dict(num_modules=3, num_branches=4, block='BASIC',
                        num_blocks=(4, 4, 4, 4),
                        num_channels=backbone_channels,
                        multiscale_output=True))),
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(
        type='BoIRHead',
        in_channels=sum(backbone_channels),
        num_keypoints=num_keypoints,
        neck_channels=256,
        aspp_channels=128,
        atrous_rates=(12, 24, 36),
        head_channels=128,
        embedding_channels=128,
        gfd_channels=64,
        with_aux_heads=True,
        multi_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=1.0),
        instance_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=4.0),
        bbox_mask_loss=dict(type='BboxMaskLoss', beta=10.0,
                            background='image', center='box',
                            loss_weight=0.25),
        bbox_loss=dict(type='CIoULoss', loss_weight=0.25),
        decoder=codec),
    train_cfg=dict(max_train_instances=200),
    test_cfg=dict(
        multiscale_test=False,
        flip_test=True,
        max_instances=30,
        score_threshold=0.01,
        blur_kernel_size=3))

dataset_type = 'ValidatedCocoDataset'
data_mode = 'bottomup'
data_root = 'data/coco/'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ValidatePoseAnnotations'),
    dict(type='BottomupRandomAffine', input_size=input_size,
         shift_factor=0.2, scale_factor=(0.75, 1.5), scale_type='short',
         rotate_factor=30, distribution='uniform', bbox_keep_corner=True),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BoxEmbeddingSampling', input_size=input_size,
         heatmap_size=heatmap_size),
    dict(type='BottomupGetHeatmapMaskRLE'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=input_size, size_factor=64,
         resize_mode='expand'),
    dict(type='PackMultiScalePoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale',
                    'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]

train_dataloader = dict(
    batch_size=20,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/person_keypoints_val2017.json',
    nms_thr=0.8,
    score_mode='keypoint')
test_evaluator = val_evaluator
