# RTMO-s on COCO (MMPose's own config, unchanged) trained with BoIR's box
# supervision: a pixel embedding (Bbox Mask Loss, weight 0.25) and per-cell
# box regression (CIoU, 0.25), BoxSupervisionHead's defaults, on a
# bottleneck ASPP over RTMO's stride-16 neck output. RTMO's codec packs each
# person's box (gt_instance_labels.bboxes, kept right through its random
# batch resizing): the boxes come from there, the pipeline is unchanged. No
# multi-person heatmap head: RTMO's codec encodes no heatmaps. The weights
# are BoIR's, not tuned for RTMO. Inference is RTMO's.
_base_ = [
    'mmpose::body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py'
]
custom_imports = dict(imports=['mmpose_boir'], allow_failed_imports=False)

model = dict(
    type='AuxBottomupPoseEstimator',
    aux_head=dict(
        type='BoxSupervisionHead',
        in_channels=256,  # RTMO-s neck output (HybridEncoder + projector)
        in_index=0,  # stride 16
        # BoIR's rates 12, 24, 36 at stride 4 reach 48-144 input pixels;
        # the same reach at stride 16
        atrous_rates=(3, 6, 9)))
