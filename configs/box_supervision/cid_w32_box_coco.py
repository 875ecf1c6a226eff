# CID HRNet-W32 on COCO (MMPose's own config, unchanged) trained with BoIR's
# box supervision: training-only heads on a bottleneck ASPP neck over the
# backbone features that CID's head uses, each with its own loss (weights
# relative to CID's heatmap loss, as BoIR's). Inference is CID's: same
# outputs, same FLOPs; the checkpoint loads into MMPose's CID config for
# deployment. See docs/box_supervision.md.
_base_ = [
    'mmpose::body_2d_keypoint/cid/coco/'
    'cid_hrnet-w32_8xb20-140e_coco-512x512.py'
]
custom_imports = dict(imports=['mmpose_boir'], allow_failed_imports=False)

codec = _base_.codec
model = dict(
    # MMPose's BottomupPoseEstimator plus aux_head (used by loss only)
    type='AuxBottomupPoseEstimator',
    aux_head=dict(
        type='BoxSupervisionHead',
        in_channels=_base_.model.head.in_channels,  # 480: HRNet-W32 concat
        neck_channels=256,
        aspp_channels=128,
        atrous_rates=(12, 24, 36),
        head_channels=128,
        # the multi-person heatmaps: 17 keypoints and CID's root channel
        heatmap_head=dict(
            type='MultiPersonHeatmapHead',
            out_channels=18,
            loss=dict(type='FocalHeatmapLoss', loss_weight=1.0)),
        embedding_head=dict(
            type='PixelEmbeddingHead',
            embedding_channels=128,
            loss=dict(type='BboxMaskLoss', beta=10.0, background='image',
                      center='box', loss_weight=0.25)),
        bbox_head=dict(
            type='BoxRegressionHead',
            anchor_order='xy',
            init='normal',
            loss=dict(type='CIoULoss', loss_weight=0.25))))

# MMPose's CID pipeline and, after the codec, each encoded person's box
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='GenerateInstanceBoxes', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
