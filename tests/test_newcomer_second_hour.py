"""A newcomer's second hour: no command rewrites a user's file, first
results look right, mistakes fail early, and the paths MMPose's users have
(webcam, batches, ONNX Runtime pictures, slurm) work.

Each test feeds a real file: the config that tools/overfit_tiny.py writes
(before and after tools/test.py, ``mim test`` and the demo), a truncated
JPEG in a dataset, ``nms_thr=0.5x``, a transform typo, a camera replaced by
a video file, an ONNX model.
"""
import contextlib
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import repo_env, save_checkpoint
from mmpose_boir.engine.mmpose_tools import run_mmpose_tool
from tool_modules import load_tool

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = 'configs/boir/tiny/boir_tiny_coco.py'
SAMPLES = osp.join(REPO, 'demo')  # the 4 COCO images shipped in the repo
SAMPLE = osp.join(SAMPLES, '000000197388.jpg')


def _tiny_model(config=TINY, **cfg_options):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(REPO, config)) if isinstance(
        config, str) else config
    cfg.merge_from_dict(cfg_options)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    for m in model.head.modules():  # distinct center scores, around 0.5
        if isinstance(m, torch.nn.Conv2d):
            m.reset_parameters()
    return model


@pytest.fixture(scope='module')
def overfit_files(tmp_path_factory):
    """The config that tools/overfit_tiny.py writes (its own functions,
    1 iteration at 128 px) and a checkpoint of that model."""
    overfit = load_tool('overfit_tiny')
    work = tmp_path_factory.mktemp('overfit')
    with contextlib.chdir(REPO):
        cfg = overfit.overfit_config(1, 128, 5e-3, str(work))
        config = str(work / overfit.CONFIG_NAME)
        overfit.model_config(cfg, str(work)).dump(config)
        ckpt = save_checkpoint(_tiny_model(config), work / 'epoch_1.pth',
                               center_bias=0.0)
    return config, ckpt


def _run(*args, timeout=300):
    return subprocess.run([*map(str, args)], cwd=REPO, env=repo_env(),
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------- no command rewrites its input
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


def test_check_output_names_the_input(tmp_path):
    from mmpose_boir.engine.tool_setup import check_output
    src = tmp_path / 'model.pth'
    src.write_bytes(b'x')
    os.symlink(src, tmp_path / 'link.pth')
    with pytest.raises(ValueError, match='is an input of this command'):
        check_output(str(tmp_path / 'link.pth'), str(src))
    check_output(str(tmp_path / 'other.pth'), str(src))  # a new file: fine


# ------------------------------------------------- first results look right
def test_show_dir_hook_draws_the_people_inference_returns():
    from mmengine.structures import InstanceData
    from mmengine.visualization import Visualizer
    from mmpose.structures import PoseDataSample

    from mmpose_boir.engine import BoIRVisualizationHook
    Visualizer.get_instance('kept_people')  # the hook's visualizer
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 400, (4, 17, 2)).astype(np.float32)
    keypoints[3] = keypoints[0] + 1  # a duplicate of person 0
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=keypoints, keypoint_scores=np.full((4, 17), 0.5),
        bbox_scores=np.array([0.9, 0.5, 0.05, 0.8]),
        bboxes=np.zeros((4, 4)))
    hook = BoIRVisualizationHook(enable=True)
    assert hook.bbox_thr == 0.1  # tools/demo.py's --bbox-thr default
    kept, = hook.kept_people([sample], score_thr=hook.bbox_thr)
    np.testing.assert_array_equal(kept.pred_instances.bbox_scores,
                                  [0.9, 0.5])
    assert len(sample.pred_instances) == 4  # the evaluator's copy as it was
    kept, = BoIRVisualizationHook(pose_nms=False).kept_people([sample], None)
    assert len(kept.pred_instances) == 4


def test_the_sample_images_are_shipped_with_their_licences():
    """tools/overfit_tiny.py and the docs' commands need nothing outside
    the repository: the images, their annotations and licences are in
    demo/."""
    import json
    data = json.load(open(osp.join(SAMPLES, 'coco_sample.json')))
    notes = open(osp.join(SAMPLES, 'README.md')).read()
    for image in data['images']:
        assert cv2.imread(osp.join(SAMPLES, image['file_name'])) is not None
        assert image['file_name'] in notes and image['flickr_url'] in notes
    overfit = load_tool('overfit_tiny')
    with contextlib.chdir(REPO):
        cfg = overfit.overfit_config(1, 128, 5e-3, 'unused')
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert loader.dataset.data_root == 'demo/'
    assert cfg.test_evaluator.ann_file == 'demo/coco_sample.json'


# ----------------------------------------------------------- CPU threads
@pytest.mark.parametrize('busy,device,env,expected', [
    (1.0, 'cpu', {}, 1),      # another job on a 2-core machine
    (0.2, 'cpu', {}, 2),      # quiet: PyTorch's default
    (5.0, 'cpu', {}, 1),      # oversubscribed: at least one
    (1.0, 'cpu', {'OMP_NUM_THREADS': '2'}, None),  # the user's setting
    (1.0, 'cuda:0', {}, None),
])
def test_cpu_threads_follow_the_load(monkeypatch, busy, device, env,
                                     expected):
    from mmpose_boir.engine import tool_setup
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(tool_setup, '_busy_cores', lambda: busy)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1},
                        raising=False)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    assert tool_setup.cpu_threads(device)[0] == expected
    set_to = []
    monkeypatch.setattr(torch, 'set_num_threads', set_to.append)
    tool_setup.set_cpu_threads(device)
    assert set_to == ([expected] if expected == 1 else [])


def test_importing_the_package_changes_no_thread_count_or_filter():
    """(Other libraries that MMPose imports add warning filters of their
    own: only the tools' ones are looked for.)"""
    code = ('import warnings, torch; n = torch.get_num_threads(); '
            'import mmpose_boir; '
            'from mmpose_boir.engine.tool_setup import QUIET_WARNINGS; '
            'assert torch.get_num_threads() == n; '
            'patterns = [f[1].pattern for f in warnings.filters if f[1]]; '
            'assert not [p for p in patterns for q in QUIET_WARNINGS '
            'if q in p], patterns; '
            'from mmengine.logging import MMLogger; '
            'assert not MMLogger.get_current_instance().filters')
    env = repo_env()
    env.pop('OMP_NUM_THREADS')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------ early failures
def test_truncated_jpeg_in_a_training_set_is_named(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    from mmpose_boir.datasets import ImageFileError
    for name in os.listdir(SAMPLES):
        if name.endswith(('.jpg', '.json')):
            shutil.copy(osp.join(SAMPLES, name), tmp_path)
    bad = tmp_path / '000000040083.jpg'
    bad.write_bytes(bad.read_bytes()[:20000])  # truncated
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(REPO, TINY))
    cfg.train_dataloader.dataset.update(data_root=str(tmp_path) + '/',
                                        ann_file='coco_sample.json')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    with pytest.raises(ImageFileError) as err:
        for i in range(len(dataset)):
            dataset[i]
    msg = str(err.value)
    assert str(bad) in msg and 'cannot be decoded' in msg
    assert 'coco_sample.json' in msg and 'image id 40083' in msg


def test_config_check_names_the_entry_and_the_closest_name():
    from mmengine.config import Config

    from mmpose_boir.engine.config_check import (ConfigCheckError,
                                                 check_config)
    cfg = Config.fromfile(osp.join(REPO, TINY))
    cases = {
        'test_evaluator.nms_thr': ('0.5x', "nms_thr='0.5x' is a str, "
                                   'expected float'),
        'test_dataloader.dataset.pipeline.1.input_sise': (
            256, "test_dataloader.dataset.pipeline[1]: transform "
            "BoIRBottomupResize has no argument 'input_sise' (did you mean "
            'input_size?)'),
        'train_dataloader.dataset.pipeline.3.encoder.heatmap_sise': (
            3, 'pipeline[3].encoder: codec BoIRDecoupledHeatmap has no '
            "argument 'heatmap_sise' (did you mean heatmap_size?)"),
        'train_dataloader.dataset.pipeline.0.type': (
            'LoadImagee', "unknown transform type 'LoadImagee' (did you "
            'mean LoadImage?)'),
    }
    for key, (value, message) in cases.items():
        bad = cfg.copy()
        bad.merge_from_dict({key: value})
        with pytest.raises(ConfigCheckError) as err:
            check_config(bad)
        assert message in str(err.value), (key, str(err.value))
    check_config(cfg)


def test_every_shipped_config_passes_the_check():
    import glob

    from mmengine.config import Config

    from mmpose_boir.engine.config_check import check_config
    configs = [c for c in glob.glob(osp.join(REPO, 'configs', 'boir', '**',
                                             '*.py'), recursive=True)
               if not osp.basename(c).startswith('_base_')]
    assert len(configs) > 10
    for config in configs:
        check_config(Config.fromfile(config))


def _mmpose_tool(name, argv, monkeypatch, capsys):
    """tools/{name}.py's run (``run_mmpose_tool``) in this process: the
    exit status and stderr."""
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py', *argv])
    with contextlib.chdir(REPO), pytest.raises(SystemExit) as exit_:
        run_mmpose_tool(name)
    return exit_.value.code, capsys.readouterr().err


def test_test_py_refuses_nms_thr_text_before_inference(
        overfit_files, monkeypatch, capsys):
    config, ckpt = overfit_files
    built = []
    from mmengine.runner import Runner
    monkeypatch.setattr(Runner, 'from_cfg', built.append)
    code, err = _mmpose_tool('test', [config, ckpt, '--cfg-options',
                                      'test_evaluator.nms_thr=0.5x'],
                             monkeypatch, capsys)
    assert code == 1 and not built  # stopped before a runner exists
    assert f'error: config {config}: test_evaluator: metric' in err
    assert "nms_thr='0.5x' is a str, expected float" in err


def test_train_py_names_a_transform_typo(monkeypatch, capsys):
    code, err = _mmpose_tool('train', [
        TINY, '--cfg-options',
        'train_dataloader.dataset.pipeline.1.input_sise=64'
    ], monkeypatch, capsys)
    assert code == 1
    assert re.search(r"train_dataloader\.dataset\.pipeline\[1\]: transform "
                     r"\w*RandomAffine has no argument 'input_sise' \(did "
                     r'you mean input_size\?\)', err), err


# ------------------------------------------------ webcam, batches, ONNX
class _FileCamera:
    """``cv2.VideoCapture(camera_id)`` reading a video file instead."""

    opened = []

    def __init__(self, path):
        self.path = path

    def __call__(self, source):
        type(self).opened.append(source)
        return _REAL_CAPTURE(self.path)


_REAL_CAPTURE = cv2.VideoCapture


def _video(path, frames=3):
    img = cv2.resize(cv2.imread(SAMPLE), (320, 196))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             (320, 196))
    for dx in range(frames):
        writer.write(np.roll(img, 8 * dx, axis=1))
    writer.release()
    return str(path)


def test_demo_webcam_input(overfit_files, tmp_path, monkeypatch):
    """``webcam:1`` goes through MMPose's camera reader (camera 1 opened;
    here a video file stands in for it) and is drawn as a video."""
    from mmpose.visualization import PoseLocalVisualizer
    demo = load_tool('demo')
    config, ckpt = overfit_files
    _FileCamera.opened = []
    monkeypatch.setattr(cv2, 'VideoCapture',
                        _FileCamera(_video(tmp_path / 'camera.mp4')))
    monkeypatch.setattr(cv2, 'waitKey', lambda *a: -1)
    shown = []
    monkeypatch.setattr(PoseLocalVisualizer, 'show',  # no window here
                        lambda self, img, *a, **k: shown.append(img.shape))
    args = demo.parse_args([config, ckpt, 'webcam:1', '--out-dir',
                            str(tmp_path / 'out'), '--no-flip'])
    results = demo.run(args)
    assert _FileCamera.opened == [1]
    assert len(results) == 3 and len(shown) == 3
    assert (tmp_path / 'out' / 'webcam.mp4').is_file()
    with pytest.raises(demo.ToolInputError, match='webcam:ID'):
        demo.collect_inputs('webcam:first')


def test_batched_inference_gives_the_same_people(overfit_files, tmp_path):
    from mmpose.apis import MMPoseInferencer
    config, ckpt = overfit_files
    for name in ('a.jpg', 'b.jpg'):
        shutil.copy(SAMPLE, tmp_path / name)
    inferencer = MMPoseInferencer(pose2d=config, pose2d_weights=ckpt,
                                  device='cpu', show_progress=False)
    inputs = [str(tmp_path / 'a.jpg'), str(tmp_path / 'b.jpg')]
    one = list(inferencer(inputs, batch_size=1))
    two = list(inferencer(inputs, batch_size=2))
    assert len(one) == len(two) == 2
    for a, b in zip(one, two):
        scores_a = sorted(p['bbox_score'] for p in a['predictions'][0])
        scores_b = sorted(p['bbox_score'] for p in b['predictions'][0])
        assert scores_a and len(scores_a) == len(scores_b)
        np.testing.assert_allclose(scores_a, scores_b, atol=1e-4)


def _constant_onnx(path, keypoints, keypoint_scores, scores, valid,
                   shape=(128, 192)):
    """An ONNX model with the exported model's inputs and outputs, its
    outputs constants (a stand-in for tools/export_onnx.py's)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    outputs = dict(keypoints=keypoints.astype(np.float32),
                   keypoint_scores=keypoint_scores.astype(np.float32),
                   scores=scores.astype(np.float32), valid=valid)
    nodes, infos = [], []
    for name, value in outputs.items():
        nodes.append(helper.make_node(
            'Constant', [], [name],
            value=numpy_helper.from_array(value, name)))
        infos.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(value.dtype),
            value.shape))
    graph = helper.make_graph(nodes, 'constant', [
        helper.make_tensor_value_info('image', TensorProto.FLOAT,
                                      [1, 3, *shape])], infos)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def test_ort_inference_draws_the_people(tmp_path):
    ort_inference = load_tool('ort_inference')
    # two people in input pixels of a 128 x 192 input; the second invalid
    kpts = np.zeros((2, 17, 2))
    kpts[0, :, 0] = np.linspace(40, 150, 17)
    kpts[0, :, 1] = 64
    kpts[1] = kpts[0] + 20
    kpt_scores = np.full((2, 17), 0.9)
    kpt_scores[0, :8] = 0.1  # below --kpt-thr: not drawn
    model = _constant_onnx(tmp_path / 'm.onnx', kpts, kpt_scores,
                           np.array([0.8, 0.05]), np.array([True, False]))
    image = tmp_path / 'grey.png'
    cv2.imwrite(str(image), np.full((256, 384, 3), 128, np.uint8))
    out = tmp_path / 'drawn.png'
    ort_inference.main([model, str(image), '--out', str(tmp_path / 'r.json'),
                        '--draw', str(out)])
    drawn = cv2.imread(str(out)).astype(int)
    changed = np.abs(drawn - 128).max(-1) > 30
    # the input is the image halved: keypoints at twice the input pixels
    ys, xs = np.nonzero(changed)
    assert len(xs) > 100
    assert abs(ys.mean() - 128) < 4  # along the one drawn person's line
    assert xs.min() >= 2 * kpts[0, 8, 0] - 8  # from the first shown point
    assert xs.max() <= 2 * kpts[0, 16, 0] + 8
    with pytest.raises(SystemExit, match='is an input of this command'):
        ort_inference.main([model, str(image), '--draw', str(image)])


def test_draw_uses_each_dataset_skeleton():
    ort_inference = load_tool('ort_inference')
    img = np.zeros((100, 100, 3), np.uint8)
    for k in (17, 14):
        kpts = np.zeros((1, k, 2))
        kpts[0, :, 0] = 10
        kpts[0, :, 1] = 10
        a, b = ort_inference.SKELETONS[k][0]
        kpts[0, a] = (90, 90)  # one limb's two ends far apart
        kpts[0, b] = (10, 90)
        scores = np.zeros((1, k))
        scores[0, [a, b]] = 1
        out = ort_inference.draw(img, kpts, scores, radius=1, thickness=1)
        assert out[90, 50].any(), k  # the limb between them
        assert not out[10, 10].any()  # low-score keypoints not drawn


# --------------------------------------------------------------- slurm
def test_slurm_scripts_parse_and_build_the_srun_command(tmp_path):
    for script, tool in (('tools/slurm_train.sh', 'tools/train.py'),
                         ('tools/slurm_test.sh', 'tools/test.py')):
        assert _run('bash', '-n', script).returncode == 0
        env = dict(repo_env(), SLURM_DRY_RUN='1', GPUS='16',
                   SRUN_ARGS='--time=10 --mem=8G')
        proc = subprocess.run(['bash', script, 'gpu', 'boir', TINY, 'X',
                               '--cfg-options', 'a=1'], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        cmd = proc.stdout.split()
        assert cmd[:3] == ['srun', '-p', 'gpu']
        for part in ('--ntasks=16', '--ntasks-per-node=8', '--gres=gpu:8',
                     '--time=10', '--mem=8G', '--launcher=slurm', TINY,
                     '--cfg-options', 'a=1'):
            assert part in cmd, (script, part, cmd)
        assert cmd[cmd.index('-u') + 1].endswith(tool)
        usage = _run('bash', script, 'gpu')
        assert usage.returncode == 2 and 'usage:' in usage.stderr


# ------------------------------------------------------ embedding figure
def test_vis_embedding_explains_deployment_only_weights(tmp_path, capsys):
    """A deployment checkpoint (tools/strip_aux_heads.py's, as the
    converter's --strip-aux writes them)."""
    vis = load_tool('vis_embedding')
    state = load_tool('strip_aux_heads').strip_aux_heads(
        _tiny_model().state_dict())
    ckpt = tmp_path / 'deployed.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    with contextlib.chdir(REPO):
        rc = vis.main([TINY, str(ckpt), SAMPLE, '--out',
                       str(tmp_path / 'e.png')])
    err = capsys.readouterr().err
    assert rc == 1
    assert 'head.embedding_head' in err
    assert "authors' published weights may be" in err
    assert 'converted without --strip-aux' in err
