"""Draw BoIR's poses on images, a folder of images or a video.

    python tools/demo.py configs/boir/boir_w32_coco.py CKPT \
        demo/000000197388.jpg
    python tools/demo.py configs/boir/boir_w32_coco.py CKPT images/ \
        --out-dir vis/ --save-predictions --batch-size 4
    python tools/demo.py configs/boir/boir_w32_coco.py CKPT clip.mp4 \
        --device cuda:0
    python tools/demo.py configs/boir/boir_w32_coco.py CKPT webcam

A thin wrapper of MMPose's ``MMPoseInferencer`` (the config's
``custom_imports`` registers BoIR; the same two lines work in your own
code): the skeletons are drawn by MMPose's ``PoseLocalVisualizer`` and the
result is written to ``--out-dir`` with the input's file name (a video is
written as a video; ``webcam`` or ``webcam:ID`` reads a camera through
MMPose, shown in a window, Esc stops). Runs on CPU by default, with fewer
threads on a busy machine unless OMP_NUM_THREADS is set.

People whose center score is above ``--bbox-thr`` (0.1; given to the
inferencer as its ``bbox_thr``, which sets the model's ``test_cfg.score_thr``)
are drawn; poses of the same person found from two neighbouring centers are
merged by MMPose's pose NMS (``--no-nms`` to keep them all); keypoints below
``--kpt-thr`` are not drawn (default: the config's
``default_hooks.visualization.kpt_thr``, MMPose's 0.3; the config that
``tools/overfit_tiny.py`` writes sets 0.05). ``--save-predictions`` writes
per person ``keypoints``, ``keypoint_scores``, ``bbox`` (x1, y1, x2, y2 image pixels: the extent of
its confident keypoints) and ``bbox_score`` (its center score).

Checked before anything runs, each with its own message: a missing config
or checkpoint, a checkpoint that is not a readable PyTorch file (corrupt,
truncated) and, in MMPose's loading, one that does not fit the config;
the config as merged with ``--cfg-options`` (``mmpose_boir.engine.
config_check``: transform arguments, their kinds); an ``--out-dir`` where a
drawn picture would replace its input. An image that cannot be decoded is
an error on its own and a warning (it is skipped) in a folder.
"""
import argparse
import mimetypes
import os
import os.path as osp
import sys
import warnings
from typing import List, Optional, Union

from mmengine.config import DictAction

import mmpose_boir  # noqa: F401  (compat shims + registration)
from mmpose_boir.engine.tool_setup import (ToolInputError,
                                           check_checkpoint_file,
                                           check_config_file, is_url)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='a BoIR config, e.g. '
                   'configs/boir/boir_w32_coco.py')
    p.add_argument('checkpoint', help='model weights')
    p.add_argument('input', help='an image, a folder of images, a video, '
                   'or webcam (webcam:ID for another camera)')
    p.add_argument('--out-dir', default='demo_out',
                   help='where the drawn images / video go')
    p.add_argument('--device', default='cpu')
    p.add_argument('--bbox-thr', type=float, default=0.1,
                   help='keep people whose center score is above this '
                   "(the inferencer's bbox_thr; default 0.1)")
    p.add_argument('--kpt-thr', type=float, default=None,
                   help='draw keypoints whose score is above this (default: '
                   "the config's default_hooks.visualization.kpt_thr, 0.3)")
    p.add_argument('--batch-size', type=int, default=1,
                   help='images per forward pass (MMPose\'s inferencer '
                   'batch_size; a video or a webcam: 1)')
    p.add_argument('--no-nms', action='store_true',
                   help='no pose NMS between the decoded people')
    p.add_argument('--no-flip', action='store_true',
                   help='no flip test (about twice as fast)')
    p.add_argument('--radius', type=int, default=4)
    p.add_argument('--thickness', type=int, default=2)
    p.add_argument('--skeleton-style', default='mmpose',
                   choices=['mmpose', 'openpose'])
    p.add_argument('--save-predictions', action='store_true',
                   help='also write the keypoints as JSON to '
                   'OUT_DIR/predictions')
    p.add_argument('--show', action='store_true', help='show in a window')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, as in MMPose\'s tools: '
                   'key=value, e.g. model.test_cfg.flip_test=False')
    return p.parse_args(argv)


def build_inferencer(config: str, checkpoint: Optional[str],
                     device: str = 'cpu', cfg_options: Optional[dict] = None):
    """``MMPoseInferencer`` for a BoIR config.

    Equivalent to ``MMPoseInferencer(pose2d=config,
    pose2d_weights=checkpoint, device=device)``, with ``cfg_options``
    (``{'model.test_cfg.flip_test': False, ...}``) merged into the config
    first. ``config`` may also be a loaded ``mmengine.Config``.
    """
    from mmengine.config import Config
    from mmpose.apis import MMPoseInferencer
    if cfg_options:
        if not isinstance(config, Config):
            config = Config.fromfile(config)
        config.merge_from_dict(cfg_options)
    return MMPoseInferencer(pose2d=config, pose2d_weights=checkpoint,
                            device=device, show_progress=False)


def is_webcam(path: str) -> bool:
    """``webcam`` or ``webcam:ID``, MMPose's inferencer's camera input."""
    name = path.lower()
    return name == 'webcam' or (name.startswith('webcam:')
                                and name[len('webcam:'):].isdigit())


def _decodes(path: str) -> bool:
    import cv2
    import numpy as np
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return False
    return (data.size > 0
            and cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is not None)


def _mime(path: str) -> str:
    return (mimetypes.guess_type(path)[0] or '').split('/')[0]


def collect_inputs(path: str) -> Union[str, List[str]]:
    """What the inferencer gets: a video or an image as it is, a folder as
    the list of its images that decode (the others are warned about and
    skipped; files that are not images are skipped silently); ``webcam``
    as it is."""
    if is_url(path) or is_webcam(path):
        return path
    if path.lower().startswith('webcam'):
        raise ToolInputError(f'camera input {path!r}: use webcam or webcam:ID '
                        '(ID a number, e.g. webcam:1)')
    if osp.isdir(path):
        images = []
        for name in sorted(os.listdir(path)):
            file = osp.join(path, name)
            if not osp.isfile(file) or _mime(file) != 'image':
                continue
            if _decodes(file):
                images.append(file)
            else:
                warnings.warn(f'cannot decode image {file}: not a valid '
                              'image; skipped', stacklevel=2)
        if not images:
            raise ToolInputError(f'no image that can be decoded in {path}')
        return images
    if not osp.exists(path):
        raise ToolInputError(f'input not found: {path}')
    if _mime(path) == 'video':
        return path
    if not _decodes(path):
        raise ToolInputError(f'cannot decode image {path}: not a valid image')
    return path


def check_out_dir(out_dir: str, inputs: Union[str, List[str]]) -> None:
    """A drawn picture or video is written to ``out_dir`` under its
    input's name: refuse an ``out_dir`` where that is the input itself."""
    if isinstance(inputs, str) and (is_url(inputs) or is_webcam(inputs)):
        return
    for path in [inputs] if isinstance(inputs, str) else inputs:
        out = osp.join(out_dir, osp.basename(path))
        if osp.exists(out) and osp.samefile(out, path):
            raise ToolInputError(
                f'--out-dir {out_dir}: the drawn result would replace the '
                f'input {path}; choose another folder')


def kpt_thr_of(cfg, kpt_thr: Optional[float]) -> float:
    """``kpt_thr``, or the config's ``default_hooks.visualization.kpt_thr``
    (MMPose's 0.3 when it has none)."""
    if kpt_thr is not None:
        return kpt_thr
    vis = (cfg.get('default_hooks') or {}).get('visualization') or {}
    return float(vis.get('kpt_thr', 0.3))


def run(args) -> List[dict]:
    from mmpose_boir.engine.config_check import (ConfigCheckError,
                                                 load_checked_config)
    check_config_file(args.config)
    options = dict(args.cfg_options or {})
    if args.no_flip:
        options['model.test_cfg.flip_test'] = False
    try:
        cfg = load_checked_config(args.config, options)
    except ConfigCheckError as exc:
        raise ToolInputError(str(exc)) from None
    check_checkpoint_file(args.checkpoint)
    inputs = collect_inputs(args.input)
    check_out_dir(args.out_dir, inputs)
    try:
        inferencer = build_inferencer(cfg, args.checkpoint, args.device)
    except ValueError as exc:  # e.g. a test_cfg key that BoIR does not read
        raise ToolInputError(f'config {args.config}: {exc}') from None
    os.makedirs(args.out_dir, exist_ok=True)
    kwargs = dict(
        vis_out_dir=args.out_dir,
        batch_size=args.batch_size,
        kpt_thr=kpt_thr_of(cfg, args.kpt_thr),
        bbox_thr=args.bbox_thr,
        pose_based_nms=not args.no_nms,
        radius=args.radius,
        thickness=args.thickness,
        skeleton_style=args.skeleton_style,
        draw_bbox=False,
        show=args.show)
    if args.save_predictions:
        kwargs['pred_out_dir'] = osp.join(args.out_dir, 'predictions')
    results = []
    for result in inferencer(inputs, **kwargs):
        results.append(result)
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmpose_boir.engine.tool_setup import setup_tool
    setup_tool(args.device)
    from mmpose_boir.models.pose_estimators.boir import \
        CheckpointMismatchError
    try:
        results = run(args)
    except ToolInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    except CheckpointMismatchError as exc:  # the model's: names no file
        print(f'error: checkpoint {args.checkpoint} with config '
              f'{args.config}: {exc}', file=sys.stderr)
        return 1
    people = [len(r['predictions'][0]) for r in results]
    print(f'{len(results)} frame(s)/image(s), '
          f'{sum(people)} people drawn; results in {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
