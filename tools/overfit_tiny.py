"""Overfit the tiny BoIR on the 4 sample COCO images and report their AP.

The images and their annotations are in ``demo/`` (``demo/README.md``):
nothing outside this repository is needed. Run from the repository root.

A sanity check of the whole training path (targets, the four losses,
decoding, CocoMetric): a model that can learn must fit 4 images. Augmentation
is off and the input is larger than the tiny test config's.

    python tools/overfit_tiny.py      # default: 300 iterations at 256 px
    python tools/overfit_tiny.py --iters 60 --input-size 128 --min-ap 0

Prints the loss at start and end and the keypoint AP on the same images,
keeps the final checkpoint in ``--work-dir`` (``epoch_<iters>.pth``) and
writes next to it the config it was trained and tested with
(``boir_tiny_overfit.py``: the tiny config at ``--input-size``), printing
both paths; use them together with tools/demo.py, tools/test.py or MMPose's
inferencer. Exits non-zero if AP is below ``--min-ap``.

The written config's ``work_dir`` is ``<work-dir>/runs``, not its own
folder: MMEngine's runner (``tools/test.py``, ``mim test``) writes the
merged config into the work directory under the config's name, which would
otherwise rewrite this file with each run's ``--cfg-options``. Its
``default_hooks.visualization.kpt_thr`` is 0.05, this small model's keypoint
scores being about 0.1 (``tools/demo.py`` and ``--show-dir`` read it).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.runner import Runner

import mmpose_boir  # noqa: F401
from mmpose_boir.engine.config_check import check_config
from mmpose_boir.engine.tool_setup import setup_tool

TINY = 'configs/boir/tiny/boir_tiny_coco.py'
#: the 4 COCO val2017 images and their annotations, shipped in demo/
DATA_ROOT = 'demo/'
ANN_FILE = 'coco_sample.json'
#: the config of the trained model (the tiny config at ``--input-size``,
#: as trained and tested here), written next to the checkpoint
CONFIG_NAME = 'boir_tiny_overfit.py'
#: keypoints drawn above this score (the model's are about 0.1)
KPT_THR = 0.05


def overfit_config(iters: int, input_size: int, lr: float,
                   work_dir: str) -> Config:
    """The tiny config without augmentation, trained for ``iters`` steps of
    the full 4-image batch."""
    cfg = Config.fromfile(TINY)
    size = (input_size, input_size)
    heatmap = (input_size // 4, input_size // 4)
    codec = dict(cfg.codec, input_size=size, heatmap_size=heatmap,
                 jitter=False)
    cfg.model.head.decoder = codec
    cfg.train_dataloader.batch_size = 4
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.update(data_root=DATA_ROOT, ann_file=ANN_FILE,
                              data_prefix=dict(img=''))
    cfg.val_evaluator.ann_file = DATA_ROOT + ANN_FILE
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImage'),
        # the whole image, long side to the input size, as in the test view
        dict(type='BottomupRandomAffine', input_size=size, shift_prob=0,
             scale_prob=0, rotate_prob=0, scale_type='long',
             bbox_keep_corner=True),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='BoxEmbeddingSampling', input_size=size,
             heatmap_size=heatmap),
        dict(type='BottomupGetHeatmapMaskRLE'),
        dict(type='PackPoseInputs'),
    ]
    cfg.val_dataloader.dataset.pipeline[1] = dict(
        type='BottomupResize', input_size=size, size_factor=32,
        resize_mode='fit')
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg = dict(by_epoch=True, max_epochs=iters, val_interval=iters)
    cfg.optim_wrapper = dict(optimizer=dict(type='AdamW', lr=lr,
                                            weight_decay=0.0))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, begin=0, end=10,
             by_epoch=False)
    ]
    cfg.default_hooks.logger.interval = max(1, iters // 10)
    # only the last epoch's checkpoint, kept in work_dir
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=iters, max_keep_ckpts=1)
    cfg.work_dir = work_dir
    return cfg


def model_config(cfg: Config, work_dir: str) -> Config:
    """The config written next to the checkpoint: the trained model's, its
    runs logged in ``<work_dir>/runs`` (never its own folder), keypoints
    drawn above :data:`KPT_THR`."""
    cfg = cfg.copy()
    cfg.work_dir = osp.join(work_dir, 'runs')
    cfg.default_hooks.visualization.kpt_thr = KPT_THR
    return cfg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--input-size', type=int, default=256)
    parser.add_argument('--lr', type=float, default=5e-3)
    parser.add_argument('--min-ap', type=float, default=0.5)
    parser.add_argument('--work-dir', default='work_dirs/overfit_tiny',
                        help='logs and the final checkpoint go here')
    args = parser.parse_args()
    setup_tool()
    cfg = overfit_config(args.iters, args.input_size, args.lr, args.work_dir)
    check_config(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    ap = metrics['coco/AP']
    checkpoint = osp.join(args.work_dir, f'epoch_{args.iters}.pth')
    config = osp.join(args.work_dir, CONFIG_NAME)
    model_config(cfg, args.work_dir).dump(config)
    print(f'overfit: {args.iters} iterations at {args.input_size}px, '
          f'AP on the training images = {ap:.3f}')
    if osp.isfile(checkpoint):
        print(f'overfit: checkpoint {os.path.abspath(checkpoint)}, with '
              f'its config {os.path.abspath(config)} (the tiny config at '
              f'{args.input_size} px)')
    return 0 if ap >= args.min_ap else 1


if __name__ == '__main__':
    sys.exit(main())
