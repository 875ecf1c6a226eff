# RTMO-s on CrowdPose (MMPose's own config, unchanged) trained with BoIR's
# box supervision, as rtmo-s_box_coco.py.
_base_ = [
    'mmpose::body_2d_keypoint/rtmo/crowdpose/'
    'rtmo-s_8xb32-700e_crowdpose-640x640.py'
]
custom_imports = dict(imports=['mmpose_boir'], allow_failed_imports=False)

model = dict(
    type='AuxBottomupPoseEstimator',
    aux_head=dict(
        type='BoxSupervisionHead',
        in_channels=256,  # RTMO-s neck output (HybridEncoder + projector)
        in_index=0,  # stride 16
        atrous_rates=(3, 6, 9)))  # BoIR's reach in pixels, at stride 16
