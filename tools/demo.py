"""Draw BoIR's poses on images, a folder of images or a video.

    python tools/demo.py configs/boir/boir_w32_coco.py CKPT demo.jpg
    python tools/demo.py configs/boir/boir_w32_coco.py CKPT images/ \
        --out-dir vis/ --save-predictions
    python tools/demo.py configs/boir/boir_w32_coco.py CKPT clip.mp4 \
        --device cuda:0

A thin wrapper of MMPose's ``MMPoseInferencer`` (the config's
``custom_imports`` registers BoIR; the same two lines work in your own
code): the skeletons are drawn by MMPose's ``PoseLocalVisualizer`` and the
result is written to ``--out-dir`` with the input's file name (a video is
written as a video). Runs on CPU by default.

People are kept when their center score is above ``--bbox-thr``; poses of
the same person found from two neighbouring centers are merged by MMPose's
pose NMS (``--no-nms`` to keep them all); keypoints below ``--kpt-thr``
are not drawn.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import mmpose_boir  # noqa: F401  (compat shims + registration)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='a BoIR config, e.g. '
                   'configs/boir/boir_w32_coco.py')
    p.add_argument('checkpoint', help='model weights')
    p.add_argument('input', help='an image, a folder of images or a video')
    p.add_argument('--out-dir', default='demo_out',
                   help='where the drawn images / video go')
    p.add_argument('--device', default='cpu')
    p.add_argument('--bbox-thr', type=float, default=0.3,
                   help='keep people whose center score is above this')
    p.add_argument('--kpt-thr', type=float, default=0.3,
                   help='draw keypoints whose score is above this')
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
    return p.parse_args(argv)


def build_inferencer(config: str, checkpoint: Optional[str],
                     device: str = 'cpu', flip_test: Optional[bool] = None):
    """``MMPoseInferencer`` for a BoIR config.

    Equivalent to ``MMPoseInferencer(pose2d=config,
    pose2d_weights=checkpoint, device=device)``; ``flip_test`` overrides the
    config's test-time flip.
    """
    from mmpose.apis import MMPoseInferencer
    inferencer = MMPoseInferencer(pose2d=config, pose2d_weights=checkpoint,
                                  device=device, show_progress=False)
    if flip_test is not None:
        model = inferencer.inferencer.model
        model.test_cfg = dict(model.test_cfg, flip_test=flip_test)
    return inferencer


def run(args) -> List[dict]:
    inferencer = build_inferencer(args.config, args.checkpoint, args.device,
                                  False if args.no_flip else None)
    os.makedirs(args.out_dir, exist_ok=True)
    kwargs = dict(
        vis_out_dir=args.out_dir,
        bbox_thr=args.bbox_thr,
        kpt_thr=args.kpt_thr,
        pose_based_nms=not args.no_nms,
        radius=args.radius,
        thickness=args.thickness,
        skeleton_style=args.skeleton_style,
        draw_bbox=False,
        show=args.show)
    if args.save_predictions:
        kwargs['pred_out_dir'] = osp.join(args.out_dir, 'predictions')
    results = []
    for result in inferencer(args.input, **kwargs):
        results.append(result)
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run(args)
    people = [len(r['predictions'][0]) for r in results]
    print(f'{len(results)} frame(s)/image(s), '
          f'{sum(people)} people drawn; results in {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
