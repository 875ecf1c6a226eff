"""BoIR inference with onnxruntime only: numpy, OpenCV, no torch, no mmpose.

    python tools/ort_inference.py boir_w32.onnx image.jpg --out result.json

or from Python (``tools`` on the path, or copy this file)::

    import cv2
    from ort_inference import infer
    keypoints, keypoint_scores, scores = infer('boir_w32.onnx',
                                               cv2.imread('image.jpg'))

The model is one exported by ``tools/export_onnx.py``: its graph holds the
normalisation, the network, flip test and the decoding. This file does what
stays outside the graph, exactly as ``mmpose_boir.deploy.preprocess`` and
``keypoints_to_image`` do: the image is fitted into the model's fixed input
size about the release's whole-pixel image center with MMPose's affine
(``get_warp_matrix`` / ``BottomupResize(resize_mode='fit')``), and the
keypoints are mapped back to the image. Rows whose center score is not above
the export's ``--score-threshold`` (the ``valid`` output) are dropped. Pose
NMS is not applied (the evaluator's job).
"""
import argparse
import json
from typing import Dict, Tuple, Union

import cv2
import numpy as np
import onnxruntime as ort


def warp_matrix(img_w: int, img_h: int, input_w: int,
                input_h: int) -> Tuple[np.ndarray, Dict]:
    """The 2x3 affine that fits an ``img_w x img_h`` image into the input,
    and the ``input_size``, ``input_center``, ``input_scale`` that map back.

    As ``BoIRBottomupResize(resize_mode='fit')``: center
    ``(int(w / 2 + 0.5), int(h / 2 + 0.5))``; the image keeps its aspect
    ratio and is padded (value 0) to the input; MMPose's ``get_warp_matrix``
    (no rotation) on the same float32 points.
    """
    ratio = img_w / img_h
    rsz_w, rsz_h = min(input_w, input_h * ratio), min(input_h, input_w / ratio)
    center = np.array([int(img_w / 2 + 0.5), int(img_h / 2 + 0.5)],
                      np.float32)
    scale = np.array([img_w * input_w / rsz_w, img_h * input_h / rsz_h],
                     np.float32)

    def third(a, b):  # MMPose's _get_3rd_point: a - b turned 90 degrees
        d = a - b
        return b + np.r_[-d[1], d[0]]

    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + np.array([scale[0] * -0.5, 0.])
    src[2] = third(src[0], src[1])
    dst[0] = [input_w * 0.5, input_h * 0.5]
    dst[1] = dst[0] + np.array([input_w * -0.5, 0.])
    dst[2] = third(dst[0], dst[1])
    meta = dict(input_size=np.array([input_w, input_h], np.float32),
                input_center=center, input_scale=scale)
    return cv2.getAffineTransform(src, dst), meta


def preprocess(img: np.ndarray, input_w: int,
               input_h: int) -> Tuple[np.ndarray, Dict]:
    """The model input ``[1, 3, H, W]`` float32 (BGR 0-255, normalised in
    the graph) and the mapping back (see :func:`warp_matrix`)."""
    mat, meta = warp_matrix(img.shape[1], img.shape[0], input_w, input_h)
    warped = cv2.warpAffine(img, mat, (input_w, input_h),
                            flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    x = np.ascontiguousarray(warped.transpose(2, 0, 1)[None], np.float32)
    return x, meta


def to_image(keypoints: np.ndarray, meta: Dict) -> np.ndarray:
    """Input pixels -> original image pixels."""
    scale = meta['input_scale']
    return (keypoints / meta['input_size'] * scale + meta['input_center'] -
            0.5 * scale)


def session(path: str, threads: int = 0) -> ort.InferenceSession:
    """A CPU onnxruntime session (``threads`` 0: onnxruntime's default)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])


def infer(session_or_path: Union[str, ort.InferenceSession],
          image_bgr: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poses of one image (``H x W x 3`` uint8, BGR as ``cv2.imread``).

    Returns ``keypoints [n, K, 2]`` (x, y) in image pixels,
    ``keypoint_scores [n, K]`` and ``scores [n]`` (center scores, highest
    first) of the ``n`` valid rows.
    """
    sess = (session(session_or_path)
            if isinstance(session_or_path, str) else session_or_path)
    inp = sess.get_inputs()[0]
    input_h, input_w = inp.shape[-2:]
    x, meta = preprocess(image_bgr, int(input_w), int(input_h))
    keypoints, keypoint_scores, scores, valid = sess.run(
        ['keypoints', 'keypoint_scores', 'scores', 'valid'], {inp.name: x})
    valid = valid.astype(bool)
    return (to_image(keypoints[valid], meta), keypoint_scores[valid],
            scores[valid])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model', help='ONNX file from tools/export_onnx.py')
    p.add_argument('image')
    p.add_argument('--out', help='JSON file (default: print)')
    p.add_argument('--threads', type=int, default=0)
    args = p.parse_args(argv)
    img = cv2.imread(args.image)
    if img is None:
        raise SystemExit(f'cannot read {args.image}')
    kpts, kpt_scores, scores = infer(session(args.model, args.threads), img)
    result = [dict(keypoints=k.tolist(), keypoint_scores=ks.tolist(),
                   score=float(s))
              for k, ks, s in zip(kpts, kpt_scores, scores)]
    text = json.dumps(result)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    else:
        print(text)


if __name__ == '__main__':
    main()
