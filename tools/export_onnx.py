"""Export the deployed BoIR network to ONNX and check it with onnxruntime.

    python tools/export_onnx.py configs/boir/boir_w32_coco.py CKPT \
        --out boir_w32.onnx --check-image demo/000000197388.jpg

The graph (``mmpose_boir.deploy.BoIRDeployModel``) holds the normalisation,
HRNet, the ASPP neck, the center head, the top-k centers (a fixed maximum of
``--max-instances`` rows, padded, with a ``valid`` output), the instance
keypoint head and the heatmap decoding, with flip test unless ``--no-flip``.

Input ``image``: ``[1, 3, H, W]`` float32, the image warped to the input
size as OpenCV reads it (BGR, 0-255): ``mmpose_boir.deploy.preprocess``.
Outputs: ``keypoints [M, K, 2]`` (input pixels), ``keypoint_scores [M, K]``,
``scores [M]``, ``valid [M]``. ``mmpose_boir.deploy.keypoints_to_image``
maps keypoints to the original image.

The input shape is fixed (``--shape``, default the config's input size):
``preprocess(img, (W, H), resize_mode='fit')`` fits any image into it. (The
graph bakes the heatmap size into its reshapes and peak kernel, so H and W
are not exported as dynamic axes; export one model per input shape.)

With ``--check-image`` (or ``--check`` on a random input) the exported model
runs in onnxruntime and its outputs are compared with PyTorch's; the
maximum absolute differences are printed and the command fails above
``--atol``. Check with trained weights: an untrained model's heatmaps are
flat (its sigmoid sits at the 1e-4 clamp), so the top-k and argmax are
ties that onnxruntime and PyTorch may break differently; that shows up as
keypoint differences of many pixels with scores still equal to 1e-6.
"""
import argparse
import os.path as osp
import sys
import time
from typing import Optional

import numpy as np
import torch
from mmengine.config import DictAction

import mmpose_boir  # noqa: F401  (compat shims + registration)
from mmpose_boir.deploy import (OUTPUT_NAMES, build_deploy_model,
                                compare_onnxruntime, export_onnx, preprocess)


def load_input(model_shape, check_image: Optional[str]):
    """The network input: a warped sample image, or a seeded random one."""
    if check_image is None:
        rng = np.random.default_rng(0)
        return rng.uniform(0, 255, (1, 3, *model_shape)).astype(np.float32)
    import cv2
    img = cv2.imread(check_image)
    if img is None:
        raise FileNotFoundError(check_image)
    h, w = model_shape
    x, _ = preprocess(img, (w, h), size_factor=32, resize_mode='fit')
    return x


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='weights (random initialisation if omitted)')
    parser.add_argument('--out', default='boir.onnx')
    parser.add_argument('--shape', type=int, nargs=2, default=None,
                        metavar=('H', 'W'),
                        help='input shape (default: the codec input size)')
    parser.add_argument('--max-instances', type=int, default=None,
                        help='rows M of the outputs (default: test_cfg, 30)')
    parser.add_argument('--score-thr', type=float, default=None,
                        help='rows whose center score is above it are valid '
                        "(default: 0.1, or the config's test_cfg.score_thr "
                        'when higher)')
    parser.add_argument('--no-flip', action='store_true',
                        help='export without flip test')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--check', action='store_true',
                        help='compare onnxruntime with PyTorch')
    parser.add_argument('--check-image', default=None,
                        help='compare on this image (implies --check)')
    parser.add_argument('--atol', type=float, default=1e-3)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides of the config')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from mmpose_boir.engine.config_check import (ConfigCheckError,
                                                 load_checked_config)
    from mmpose_boir.engine.tool_setup import check_output, setup_tool
    args = parse_args(argv)
    setup_tool('cpu')
    try:
        check_output(args.out, args.config, args.checkpoint,
                     args.check_image)
        cfg = load_checked_config(args.config, args.cfg_options)
    except (ConfigCheckError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    shape = tuple(args.shape) if args.shape else tuple(
        cfg.model.head.decoder.input_size)[::-1]
    torch.manual_seed(0)
    model = build_deploy_model(
        cfg, args.checkpoint,
        max_instances=args.max_instances,
        score_thr=args.score_thr,
        flip_test=False if args.no_flip else None)
    t0 = time.perf_counter()
    export_onnx(model, args.out, shape, args.opset)
    print(f'exported {args.out} ({osp.getsize(args.out) / 2**20:.1f} MiB, '
          f'input [1, 3, {shape[0]}, {shape[1]}], '
          f'M = {model.max_instances}, flip test {model.flip_test}) '
          f'in {time.perf_counter() - t0:.1f} s')
    if args.check or args.check_image:
        x = load_input(shape, args.check_image)
        diffs = compare_onnxruntime(model, args.out, x)
        print(f'onnxruntime vs PyTorch on input {list(x.shape)} '
              f'({diffs["num_valid"]} valid rows): ' + ', '.join(
                  f'{k} {diffs[k]:.3g}' for k in OUTPUT_NAMES) +
              f'; PyTorch {diffs["pytorch_s"]:.3f} s, onnxruntime '
              f'{diffs["onnxruntime_s"]:.3f} s')
        worst = max(diffs[k] for k in OUTPUT_NAMES)
        if worst > args.atol:
            print(f'max difference {worst:.3g} > atol {args.atol}')
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
