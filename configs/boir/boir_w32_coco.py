# BoIR, HRNet-W32, COCO, 512x512 input, 128x128 heatmaps, 64-channel
# instance-wise keypoint head (paper: 70.6 AP on val2017), as the release's
# coco_w32.yaml.
_base_ = ['./_base_boir_coco.py']

