# BoIR W32 on COCO with a multi-scale test: the image is also fed at 0.5x
# and 2x the 512 px input, and the center and keypoint heatmaps of the three
# scales are averaged at the main (512 px) resolution. The paper reports
# single-scale results only; this is the test-time switch. Any config turns
# it on the same way: `model.type='BoIR'`, `model.test_cfg.multiscale_test=
# True` and `aug_scales` on the test pipeline's BottomupResize (the BoIR
# bases already pack and batch pyramids with PackMultiScalePoseInputs and
# BoIRDataPreprocessor).
_base_ = ['./boir_w32_coco.py']

# BoIR's estimator: MMPose 1.3's BottomupPoseEstimator cannot take a pyramid
model = dict(type='BoIR', test_cfg=dict(multiscale_test=True))

val_pipeline = [
    {{_base_.load_image}},
    dict(type='BoIRBottomupResize', input_size={{_base_.input_size}},
         size_factor=64, resize_mode='expand', aug_scales=[0.5, 2.0]),
    dict(type='PackMultiScalePoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale',
                    'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
