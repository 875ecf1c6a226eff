# BoIR, HRNet-W48, CrowdPose (paper: 71.2 AP on test), as the release's
# crowdpose_w48.yaml: 640x640 input, 160x160 heatmaps, 96-channel
# instance-wise keypoint head.
_base_ = ['./_base_boir_crowdpose.py']

input_size = (640, 640)
heatmap_size = (160, 160)
codec = dict(
    type='BoIRDecoupledHeatmap',
    input_size=input_size,
    heatmap_size=heatmap_size,
    min_instance_area=0,  # no area rule on CrowdPose (the release)
    peak_rounding=False,
    # an image left without instances gets the release's placeholder (its
    # distributed training, which every release yaml uses: DDP True)
    placeholder_instance=True)

backbone_channels = (48, 96, 192, 384)
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmpose/'
            'pretrain_models/hrnet_w48-8ef0771d.pth'),
        extra=dict(
            stage2=dict(num_channels=backbone_channels[:2]),
            stage3=dict(num_channels=backbone_channels[:3]),
            stage4=dict(num_channels=backbone_channels))),
    head=dict(in_channels=sum(backbone_channels), gfd_channels=96,
              decoder=codec))

# augmentation: rotation +-30 (MAX_ROTATION), scale 0.75-1.5 of the short
# side (MIN_SCALE, MAX_SCALE, SCALE_TYPE), horizontal flip 0.5 (FLIP), and
# the release's translation: whole pixels up to 40 * scale / 200 of the
# short side = 0.2 * short side * scale draw, on both axes (MAX_TRANSLATE;
# shift_mode='mmpose' is MMPose's draw)
train_pipeline = [
    _base_.load_image,
    dict(type='BoIRRandomAffine', input_size=input_size, shift_mode='release',
         shift_factor=0.2, scale_factor=(0.75, 1.5), scale_type='short',
         rotate_factor=30, distribution='uniform', bbox_keep_corner=True),
    # the release flips keypoints and boxes on the heatmap grid (stride 4)
    dict(type='BoIRRandomFlip', direction='horizontal', prob=0.5,
         heatmap_stride=4),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BoxEmbeddingSampling', input_size=input_size,
         heatmap_size=heatmap_size, box_clip='release'),
    dict(type='BottomupGetHeatmapMaskRLE'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    _base_.load_image,
    dict(type='BoIRBottomupResize', input_size=input_size, size_factor=64,
         resize_mode='expand'),
    dict(type='PackMultiScalePoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale',
                    'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
