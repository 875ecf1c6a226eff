"""No tool writes over its inputs: the config that tools/overfit_tiny.py
writes keeps its runs' logs elsewhere, and stays unchanged through
tools/test.py (``--work-dir`` its own folder, ``--show-dir`` drawing only
the people above the hook's threshold), ``mim test`` (MMPose's own
``merge_args``) and tools/demo.py, which also refuses an ``--out-dir``
where a drawn picture would replace its input.

tools/test.py and tools/demo.py run on the command line here (what a user
sees on stderr is checked: none of the known noise); the rest runs in this
process. The fixture (the tool's config and a checkpoint of its model) is
cheap: the tests are spread.
"""
import contextlib
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import (REPO_ROOT, build_model, repo_env, save_checkpoint,
                      tiny_config)
from tool_modules import load_tool

pytestmark = pytest.mark.spread

SAMPLES = osp.join(REPO_ROOT, 'demo')  # the 4 COCO images shipped in the repo
SAMPLE = osp.join(SAMPLES, '000000197388.jpg')


@pytest.fixture(scope='module')
def overfit_files(tmp_path_factory):
    """The config that tools/overfit_tiny.py writes (its own functions,
    1 iteration at 128 px) and a checkpoint of that model (seed 0, head
    convolutions with PyTorch's default init, center scores near 0.5)."""
    overfit = load_tool('overfit_tiny')
    work = tmp_path_factory.mktemp('overfit')
    with contextlib.chdir(REPO_ROOT):
        cfg = overfit.overfit_config(1, 128, 5e-3, str(work))
        config = str(work / overfit.CONFIG_NAME)
        overfit.model_config(cfg, str(work)).dump(config)
        torch.manual_seed(0)
        model = build_model(tiny_config(config))
        for m in model.head.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.reset_parameters()
        ckpt = save_checkpoint(model, work / 'epoch_1.pth', center_bias=0.0)
    return config, ckpt


def _run(*args, timeout=300):
    return subprocess.run([*map(str, args)], cwd=REPO_ROOT, env=repo_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_overfit_config_does_not_log_into_its_own_folder(overfit_files):
    from mmengine.config import Config
    config, _ = overfit_files
    cfg = Config.fromfile(config)
    assert osp.realpath(cfg.work_dir) != osp.realpath(osp.dirname(config))
    assert cfg.default_hooks.visualization.kpt_thr == 0.05


def test_test_py_keeps_the_config_and_draws_the_kept_people(
        overfit_files):
    """``--work-dir`` = the config's own folder (where MMEngine would write
    the merged config over it) with ``--cfg-options``: the file is
    unchanged; ``--show-dir`` draws only people above the hook's
    ``bbox_thr`` (none at 0.99, so the pictures are the images as they are)
    while the model keeps every candidate for the evaluation."""
    config, ckpt = overfit_files
    before = open(config, 'rb').read()
    work = osp.dirname(config)
    proc = _run(sys.executable, 'tools/test.py', config, ckpt, '--work-dir',
                work, '--show-dir', 'shown', '--cfg-options',
                'model.test_cfg.flip_test=False',
                'default_hooks.visualization.bbox_thr=0.99')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert open(config, 'rb').read() == before
    assert 'not over' in out and 'an input of this command' in out
    for noise in ('pkg_resources', 'metainfo config file'):
        assert noise not in out, noise
    shown = [osp.join(r, f) for r, _, fs in os.walk(work) for f in fs
             if osp.basename(r) == 'shown']
    assert len(shown) == 4
    for path in shown:
        name = osp.basename(path).rsplit('_', 1)[0] + '.jpg'
        image = cv2.imread(osp.join(SAMPLES, name))
        image = cv2.imdecode(cv2.imencode('.jpg', image)[1], cv2.IMREAD_COLOR)
        # nobody drawn: the image as it is, JPEG-encoded once more (MMPose's
        # hook draws the boxes of all 30 candidates here)
        diff = np.abs(cv2.imread(path).astype(int) - image).max(-1)
        assert (diff > 40).sum() == 0, path


def test_demo_keeps_the_config_and_prints_no_known_noise(overfit_files,
                                                         tmp_path):
    config, ckpt = overfit_files
    before = open(config, 'rb').read()
    proc = _run(sys.executable, 'tools/demo.py', config, ckpt, SAMPLE,
                '--out-dir', tmp_path, '--no-flip', '--cfg-options',
                'model.test_cfg.max_instances=5')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert open(config, 'rb').read() == before
    for noise in ('pkg_resources', 'Failed to search registry'):
        assert noise not in proc.stderr, noise
    assert (tmp_path / osp.basename(SAMPLE)).is_file()


def test_mim_test_writes_its_merged_config_elsewhere(overfit_files):
    """MMPose's own test.py (``mim test``): its work directory for this
    config, by its own ``merge_args``, is not the config's folder, so the
    merged config it writes there never replaces the file."""
    import argparse
    import runpy

    import mmpose
    from mmengine.config import Config
    config, ckpt = overfit_files
    script = runpy.run_path(osp.join(osp.dirname(mmpose.__file__), '.mim',
                                     'tools', 'test.py'))
    args = argparse.Namespace(
        config=config, checkpoint=ckpt, work_dir=None, launcher='none',
        show=False, show_dir=None, badcase=False, dump=None,
        cfg_options={'model.test_cfg.flip_test': False})
    cfg = script['merge_args'](Config.fromfile(config), args)
    written = osp.join(cfg.work_dir, osp.basename(config))
    assert osp.realpath(written) != osp.realpath(config)


def test_demo_refuses_to_draw_over_its_input(overfit_files, tmp_path):
    demo = load_tool('demo')
    config, ckpt = overfit_files
    image = tmp_path / 'photo.jpg'
    shutil.copy(SAMPLE, image)
    args = demo.parse_args([config, ckpt, str(image), '--out-dir',
                            str(tmp_path)])
    with pytest.raises(demo.ToolInputError, match='would replace the input'):
        demo.run(args)
    assert image.read_bytes() == open(SAMPLE, 'rb').read()
