# A tiny CID for tests and CPU smoke runs: MMPose's CID HRNet-W32 COCO config
# with a narrow HRNet, 128x128 input and the 4 sample COCO images (train =
# val = test). Plain CID: no box supervision. Run from the repository root.
_base_ = [
    'mmpose::body_2d_keypoint/cid/coco/'
    'cid_hrnet-w32_8xb20-140e_coco-512x512.py'
]
custom_imports = dict(imports=['mmpose_boir'], allow_failed_imports=False)

codec = dict(
    type='DecoupledHeatmap', input_size=(128, 128), heatmap_size=(32, 32))
backbone_channels = (8, 16, 32, 64)

train_cfg = dict(max_epochs=1, val_interval=1)
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
    head=dict(in_channels=sum(backbone_channels), gfd_channels=16,
              decoder=codec))

data_root = '../shared/data/coco/'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=codec['input_size'],
         size_factor=32, resize_mode='expand'),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale',
                    'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]
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
