# The tiny config trained by iterations, deterministic, without validation:
# the exact-resume test (tests/test_tools/test_resume.py) trains N iterations in one go
# and N/2 + `--resume`, and compares the losses of every iteration.
#
#   python tools/train.py configs/boir/tiny/boir_tiny_coco_iter.py \
#       --work-dir work_dirs/r --cfg-options train_cfg.max_iters=3
#   python tools/train.py configs/boir/tiny/boir_tiny_coco_iter.py \
#       --work-dir work_dirs/r --resume
#
# Resuming is exact because the data come from an InfiniteSampler and the
# pipeline's random draws (affine, flip, center jitter) are made in the main
# process (num_workers=0): MMEngine's IterBasedTrainLoop replays the first
# `iter` batches after resuming, so the numpy/python RNG streams line up.
_base_ = ['./boir_tiny_coco.py']

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=6)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=4, by_epoch=False),
]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=3, save_best=None))
log_processor = dict(by_epoch=False, window_size=1)
# The training data take the pipeline of every config (tiny sizes).
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ValidatedCocoDataset'))
randomness = dict(seed=0, deterministic=True)
