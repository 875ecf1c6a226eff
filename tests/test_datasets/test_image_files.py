"""Image files: a truncated JPEG in a training set is named (file,
annotation file, image id) when the dataset reads it; the sample images
that tools/overfit_tiny.py and the docs' commands use are shipped in
demo/ with their annotations and licences, and they decode."""
import contextlib
import json
import os
import os.path as osp
import shutil

import cv2
import pytest

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, tiny_config
from tool_modules import load_tool

SAMPLES = osp.join(REPO_ROOT, 'demo')  # the 4 COCO images shipped in the repo


def test_truncated_jpeg_in_a_training_set_is_named(tmp_path):
    from mmpose.registry import DATASETS

    from mmpose_boir.datasets import ImageFileError
    for name in os.listdir(SAMPLES):
        if name.endswith(('.jpg', '.json')):
            shutil.copy(osp.join(SAMPLES, name), tmp_path)
    bad = tmp_path / '000000040083.jpg'
    bad.write_bytes(bad.read_bytes()[:20000])  # truncated
    cfg = tiny_config()
    cfg.train_dataloader.dataset.update(data_root=str(tmp_path) + '/',
                                        ann_file='coco_sample.json')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    with pytest.raises(ImageFileError) as err:
        for i in range(len(dataset)):
            dataset[i]
    msg = str(err.value)
    assert str(bad) in msg and 'cannot be decoded' in msg
    assert 'coco_sample.json' in msg and 'image id 40083' in msg


def test_the_sample_images_are_shipped_with_their_licences():
    """tools/overfit_tiny.py and the docs' commands need nothing outside
    the repository: the images, their annotations and licences are in
    demo/."""
    data = json.load(open(osp.join(SAMPLES, 'coco_sample.json')))
    notes = open(osp.join(SAMPLES, 'README.md')).read()
    for image in data['images']:
        assert cv2.imread(osp.join(SAMPLES, image['file_name'])) is not None
        assert image['file_name'] in notes and image['flickr_url'] in notes
    overfit = load_tool('overfit_tiny')
    with contextlib.chdir(REPO_ROOT):
        cfg = overfit.overfit_config(1, 128, 5e-3, 'unused')
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert loader.dataset.data_root == 'demo/'
    assert cfg.test_evaluator.ann_file == 'demo/coco_sample.json'
