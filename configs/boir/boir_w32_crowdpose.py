# BoIR, HRNet-W32, CrowdPose (paper: 70.6 AP on test), as the release's
# crowdpose_w32.yaml.
_base_ = ['./_base_boir_crowdpose.py']

