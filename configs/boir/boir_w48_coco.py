# BoIR, HRNet-W48, COCO (paper: 72.5 AP on val2017). As the release's
# coco_w48.yaml: 640x640 input, 160x160 heatmaps, 96-channel instance-wise
# keypoint head (InstKptHead.CHANNELS).
_base_ = ['./_base_boir_coco.py']

backbone_channels = (48, 96, 192, 384)
input_size = (640, 640)
heatmap_size = (160, 160)
codec = dict(_base_.codec, input_size=input_size, heatmap_size=heatmap_size)
# every size-dependent transform of the base pipelines, resized
_w48_sizes = dict(input_size=input_size, heatmap_size=heatmap_size,
                  encoder=codec)
train_pipeline = [
    dict(t, **{k: v for k, v in _w48_sizes.items() if k in t})
    for t in _base_.train_pipeline
]
val_pipeline = [
    dict(t, **{k: v for k, v in _w48_sizes.items() if k in t})
    for t in _base_.val_pipeline
]
model = dict(
    backbone=dict(
        extra=dict(
            stage2=dict(num_channels=backbone_channels[:2]),
            stage3=dict(num_channels=backbone_channels[:3]),
            stage4=dict(num_channels=backbone_channels)),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmpose/'
            'pretrain_models/hrnet_w48-8ef0771d.pth')),
    head=dict(in_channels=sum(backbone_channels), gfd_channels=96,
              decoder=codec))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
