# BoIR on COCO: the runtime, the network but its width, the data and the
# evaluation. The leaf configs (boir_w32_coco.py, boir_w48_coco.py) add the
# backbone width, the input and heatmap sizes and the pipelines. Every setting
# is the authors' release's (experiments/boir/coco_w32.yaml); the table in
# docs/method.md maps each release key to its config key and names the opt-in
# switches.
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['mmpose_boir'], allow_failed_imports=False)

# runtime: 140 epochs (END_EPOCH), AdamW lr 1e-3 / weight decay 0.025 (LR,
# WD), gradient-norm clipping at 10 (TRAIN.CLIP_GRAD, default 10.0), 10
# warm-up epochs from 1e-12 (WARMUP_START_VALUE) then cosine to 1e-6
# (MIN_LR), both per iteration.
# The release trains with AMP (TRAIN.AMP): add `--amp` to tools/train.py.
train_cfg = dict(max_epochs=140, val_interval=10)
# With `--amp` the constructor starts the dynamic loss scale at the
# release's 2^14 (GradScaler(init_scale=16384)) instead of MMEngine's 2^16;
# MMEngine's start: optim_wrapper.constructor=DefaultOptimWrapperConstructor.
optim_wrapper = dict(
    constructor='BoIROptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.025),
    clip_grad=dict(max_norm=10.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, begin=0, end=10, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=130, eta_min=1e-6, begin=10,
         end=140, by_epoch=True, convert_to_iter_based=True),
]
# released: 4 GPUs x 20 images (IMAGES_PER_GPU 20, the release's README)
auto_scale_lr = dict(base_batch_size=80)
# The release reports the final epoch's model: no best-on-val checkpoint
# selection (keep MMEngine's checkpoint every 10 epochs and at the end).
# The release keeps each GPU's BatchNorm running statistics and saves rank
# 0's: no buffer averaging across GPUs (MMPose's default SyncBuffersHook is
# an opt-in: add dict(type='SyncBuffersHook') to custom_hooks).
# BatchSizeCheckHook warns once when a run trains another batch than 4 GPUs
# x 20 images without --auto-scale-lr.
custom_hooks = [dict(type='BatchSizeCheckHook', gpus=4)]
env_cfg = dict(cudnn_benchmark=True)  # CUDNN.BENCHMARK
# --show-dir / --show of tools/test.py and `mim test` draw the people that
# inference returns whose center score is above the hook's bbox_thr (0.1),
# after pose NMS, not every candidate that the evaluation scores
default_hooks = dict(visualization=dict(type='BoIRVisualizationHook'))

# MMPose's bottom-up estimator, as CID's and RTMO's configs: everything
# BoIR-specific is in BoIRHead, and MMPose's inferencer hands its bbox_thr
# only to models of this type (type='BoIR' adds the multi-scale test)
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='BoIRDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='HRNet',
        in_channels=3,
        # the branch widths (num_channels of stages 2-4) and the ImageNet
        # weights (init_cfg) are the leaf config's
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(4, ), num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(4, 4)),
            stage3=dict(num_modules=4, num_branches=3, block='BASIC',
                        num_blocks=(4, 4, 4)),
            stage4=dict(num_modules=3, num_branches=4, block='BASIC',
                        num_blocks=(4, 4, 4, 4), multiscale_output=True))),
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(
        type='BoIRHead',
        # in_channels, gfd_channels (InstKptHead.CHANNELS) and the decoder
        # (the codec) are the leaf config's
        num_keypoints=17,
        neck_channels=256,
        aspp_channels=128,
        atrous_rates=(12, 24, 36),
        head_channels=128,
        embedding_channels=128,
        with_aux_heads=True,
        multi_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=1.0),
        instance_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=4.0),
        # BBOX_MASK_LOSS_BG_SAMPLE_LEVEL 1 (per image), AE_BETA 10, the
        # release's box "center" ((x + w) / 2, (y + h) / 2)
        bbox_mask_loss=dict(type='BboxMaskLoss', beta=10.0,
                            background='image', center='release',
                            loss_weight=0.25),
        bbox_loss=dict(type='CIoULoss', loss_weight=0.25),
        # each loss divided by the number of images, as the release's trainer
        loss_per_image=True,
        # the release decodes the box head with the anchor as (y, x)
        bbox_anchor_order='yx',
        # the release zeroes every conv weight of the bbox head (biases 1)
        bbox_head_init='release'),
    train_cfg=dict(max_train_instances=200),  # DATASET.MAX_INSTANCES
    test_cfg=dict(
        multiscale_test=False,
        flip_test=True,
        max_instances=30,  # TEST.MAX_PROPOSALS
        blur_kernel_size=3,  # TEST.CENTER_POOL_KERNEL
        # the people returned: center score above it (TEST.KEYPOINT_THRESHOLD):
        # every candidate that the evaluation scores, as the release's.
        # MMPose's inferencer sets it to its bbox_thr (default 0.3), as for
        # RTMO, and tools/demo.py to its --bbox-thr
        score_thr=0.01))

dataset_type = 'ValidatedCocoDataset'
data_mode = 'bottomup'
data_root = 'data/coco/'

# images are read as stored, ignoring any EXIF orientation tag, as the
# release reads them (cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION): the
# annotations are made on the stored pixels
load_image = dict(type='LoadImage', color_type='color_ignore_orientation')

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
        # the release trains only on images with a non-crowd person with a
        # labelled keypoint
        filter_cfg=dict(min_labelled_people=1),
        # the annotated boxes as they are (the release); MMPose clips them
        # to the image
        clip_bbox=False))  # the pipeline is the leaf config's
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
        test_mode=True))  # the pipeline is the leaf config's
test_dataloader = val_dataloader

# results without a person box: detection areas from all keypoints, as the
# release's results file (write_bbox=True writes our boxes)
val_evaluator = dict(
    type='BoIRCocoMetric',
    ann_file=data_root + 'annotations/person_keypoints_val2017.json',
    nms_thr=0.8,  # TEST.OKS_SCORE
    score_mode='keypoint')
test_evaluator = val_evaluator
