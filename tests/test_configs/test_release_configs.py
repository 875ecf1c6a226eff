"""Every paper config carries the release's settings (docs/method.md table).

Config-level checks only (no model is built), so that a setting silently
changed in a base config is caught here with its name: among them the
batch guard and the AMP loss scale of the release's recipe, and images read
as stored, ignoring EXIF orientation, in every train and test pipeline.
"""
import glob

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import TRANSFORMS
from PIL import Image

import mmpose_boir  # noqa: F401

PAPER = sorted(p for p in glob.glob('configs/boir/boir_*.py'))
W48 = [p for p in PAPER if 'w48' in p]


def _load(path):
    return Config.fromfile(path)


def _sizes(cfg):
    """Every (input_size, heatmap_size) the config's pipelines and codecs
    mention."""
    seen = set()

    def visit(node):
        if isinstance(node, dict):
            for key in ('input_size', 'heatmap_size'):
                if key in node:
                    seen.add((key, tuple(node[key])))
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'model'):
        visit(cfg.get(key))
    return seen


def test_there_are_paper_configs():
    assert len(PAPER) >= 12 and len(W48) >= 5


@pytest.mark.parametrize('path', PAPER)
def test_pretrained_backbone_matches_the_width(path):
    cfg = _load(path)
    init = cfg.model.backbone.init_cfg
    if 'finetune' in path:
        assert init is None  # load_from the COCO model
    else:
        assert f"hrnet_w{'48' if 'w48' in path else '32'}" in init.checkpoint


@pytest.mark.parametrize('path', W48)
def test_w48_is_640_160_with_a_96_channel_instance_head(path):
    cfg = _load(path)
    assert _sizes(cfg) == {('input_size', (640, 640)),
                           ('heatmap_size', (160, 160))}, path
    assert cfg.model.head.gfd_channels == 96
    assert cfg.model.head.in_channels == 720


@pytest.mark.parametrize('path', [p for p in PAPER if 'w32' in p])
def test_w32_is_512_128_with_a_64_channel_instance_head(path):
    cfg = _load(path)
    assert _sizes(cfg) == {('input_size', (512, 512)),
                           ('heatmap_size', (128, 128))}, path
    assert cfg.model.head.gfd_channels == 64


@pytest.mark.parametrize('path', PAPER)
def test_release_optimisation_and_targets(path):
    cfg = _load(path)
    head = cfg.model.head
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=10.)
    assert cfg.auto_scale_lr.base_batch_size == 80
    assert head.loss_per_image is True
    assert head.bbox_anchor_order == 'yx'
    assert head.bbox_mask_loss.center == 'release'
    assert not head.decoder.get('peak_rounding', False)
    assert head.decoder.get('encode_max_instances') is None
    pipeline = cfg.train_dataloader.dataset.pipeline
    steps = {t['type']: t for t in pipeline}
    assert steps['GenerateTarget']['encoder'] == head.decoder
    assert steps['BoxEmbeddingSampling']['box_clip'] == 'release'
    assert steps['BoIRRandomFlip']['prob'] == 0.5
    assert steps['BoIRRandomFlip']['heatmap_stride'] == 4
    assert 'save_best' not in cfg.default_hooks.checkpoint
    assert not any(h['type'] == 'FlushDenormalHook'
                   for h in cfg.get('custom_hooks', []))
    resize = [t for t in cfg.test_dataloader.dataset.pipeline
              if 'Resize' in t['type']]
    assert resize[0]['type'] == 'BoIRBottomupResize'


@pytest.mark.parametrize('path', PAPER)
def test_per_dataset_rules(path):
    cfg = _load(path)
    codec = cfg.model.head.decoder
    filter_cfg = cfg.train_dataloader.dataset.get('filter_cfg')
    if 'crowdpose' in path:
        assert codec.min_instance_area == 0
        assert not filter_cfg
    else:
        assert codec.min_instance_area == 32**2
    if path.endswith(('_coco.py', '_coco_testdev.py', 'multiscale.py')):
        assert filter_cfg == dict(min_labelled_people=1)


@pytest.mark.parametrize('width', [32, 48])
def test_finetunes(width):
    cfg = _load(f'configs/boir/boir_w{width}_crowdpose_finetune.py')
    head = cfg.model.head
    assert head.bbox_loss.loss_weight == 1.0
    assert head.bbox_mask_loss.background == 'instance'
    assert cfg.train_cfg.max_epochs == 100
    warmup = cfg.param_scheduler[0]
    assert warmup.type == 'LinearLR'
    assert warmup.end == (1 if width == 32 else 10)
    assert cfg.get('sync_bn') == ('torch' if width == 32 else None)


@pytest.mark.parametrize('width', [32, 48])
def test_ochuman_evaluates_the_coco_model(width):
    cfg = _load(f'configs/boir/boir_w{width}_ochuman_coco.py')
    assert cfg.model.test_cfg.blur_kernel_size == 11
    assert cfg.val_evaluator.nms_thr == cfg.test_evaluator.nms_thr == 0.7
    assert 'person_keypoints_train2017' in \
        cfg.train_dataloader.dataset.ann_file
    assert 'val' in cfg.val_dataloader.dataset.ann_file
    assert 'test' in cfg.test_dataloader.dataset.ann_file
    assert 'test' in cfg.test_evaluator.ann_file


@pytest.mark.parametrize('width', [32, 48])
def test_testdev_writes_the_result_file(width):
    cfg = _load(f'configs/boir/boir_w{width}_coco_testdev.py')
    assert cfg.test_evaluator.format_only is True
    assert cfg.test_evaluator.outfile_prefix
    assert 'test-dev' in cfg.test_dataloader.dataset.ann_file


@pytest.mark.parametrize('path', PAPER)
def test_every_paper_config_checks_the_batch_and_the_loss_scale(path):
    cfg = Config.fromfile(path)
    assert dict(type='BatchSizeCheckHook', gpus=4) in cfg.custom_hooks
    assert cfg.optim_wrapper.constructor == 'BoIROptimWrapperConstructor'
    assert cfg.auto_scale_lr.base_batch_size == 80
    assert cfg.train_dataloader.batch_size == 20


# ---------------------------------------------------------------------- EXIF
@pytest.fixture(scope='module')
def exif_jpeg(tmp_path_factory):
    """A JPEG of 40 x 60 stored pixels (w x h) tagged Orientation=6."""
    path = tmp_path_factory.mktemp('exif') / 'rotated.jpg'
    pixels = np.zeros((60, 40, 3), np.uint8)
    pixels[:10] = 255  # a white band at the top of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, exif=exif.tobytes())
    return str(path)


def _load_steps(pipeline):
    return [t for t in pipeline if t['type'] == 'LoadImage']


@pytest.mark.parametrize('config', PAPER)
def test_exif_orientation_is_ignored_in_train_and_test(config, exif_jpeg):
    init_default_scope('mmpose')
    cfg = Config.fromfile(config)
    pipelines = dict(train=cfg.train_dataloader.dataset.pipeline,
                     test=cfg.test_dataloader.dataset.pipeline)
    for name, pipeline in pipelines.items():
        (step, ) = _load_steps(pipeline)
        out = TRANSFORMS.build(step)(dict(img_path=exif_jpeg))
        assert out['img'].shape == (60, 40, 3), (config, name)
        assert out['img'][:10].mean() > 200  # stored rows, not rotated
    # MMPose's default applies the tag (what the configs must not do)
    out = TRANSFORMS.build(dict(type='LoadImage'))(dict(img_path=exif_jpeg))
    assert out['img'].shape == (40, 60, 3)
