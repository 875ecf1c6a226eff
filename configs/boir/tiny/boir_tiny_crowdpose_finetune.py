# Tiny CrowdPose fine-tuning from a tiny COCO checkpoint (set load_from).
_base_ = ['./boir_tiny_crowdpose.py']

load_from = None  # e.g. --cfg-options load_from=work_dir/epoch_2.pth
train_cfg = dict(max_epochs=1, val_interval=1)
