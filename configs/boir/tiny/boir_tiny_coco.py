# A tiny BoIR for tests and CPU smoke runs: narrow HRNet, 128x128 input,
# the 4 sample COCO images (train = val = test).
# Run from the repository root.
_base_ = ['../_base_boir_coco.py']

input_size = (128, 128)
heatmap_size = (32, 32)
codec = dict(
    type='BoIRDecoupledHeatmap',
    input_size=input_size,
    heatmap_size=heatmap_size,
    min_instance_area=8**2,
    encode_max_instances=200,
    placeholder_instance=True)
backbone_channels = (8, 16, 32, 64)

train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=1, by_epoch=True,
         convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
log_processor = dict(window_size=1)
# CPU runs only: without it, denormal gradients make CPU steps ~50x slower
custom_hooks = [dict(type='FlushDenormalHook')]
randomness = dict(seed=0)

model = dict(
    backbone=dict(
        extra=dict(
            stage1=dict(num_blocks=(1, ), num_channels=(16, )),
            stage2=dict(num_blocks=(1, 1), num_channels=backbone_channels[:2]),
            stage3=dict(num_modules=1, num_blocks=(1, 1, 1),
                        num_channels=backbone_channels[:3]),
            stage4=dict(num_modules=1, num_blocks=(1, 1, 1, 1),
                        num_channels=backbone_channels)),
        init_cfg=None),
    head=dict(
        in_channels=sum(backbone_channels),
        neck_channels=32,
        aspp_channels=16,
        atrous_rates=(2, 4, 6),
        head_channels=16,
        embedding_channels=16,
        gfd_channels=16,
        decoder=codec))

data_root = '../shared/data/coco/'
train_pipeline = [
    _base_.load_image,
    dict(type='BoIRRandomAffine', input_size=input_size, shift_mode='release',
         shift_factor=0.2, scale_factor=(0.75, 1.5), scale_type='short',
         rotate_factor=30, distribution='uniform', bbox_keep_corner=True),
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
    dict(type='BoIRBottomupResize', input_size=input_size, size_factor=32,
         resize_mode='expand'),
    dict(type='PackMultiScalePoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale',
                    'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]
# the 4 sample images, train = val = test, in the main process
tiny_data = dict(data_root=data_root, ann_file='test_coco.json',
                 data_prefix=dict(img=''))
tiny_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(tiny_loader, batch_size=2,
                        dataset=dict(tiny_data, pipeline=train_pipeline))
val_dataloader = dict(tiny_loader, batch_size=1,
                      dataset=dict(tiny_data, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator
