"""BoIR inference with onnxruntime only: numpy, OpenCV, no torch, no mmpose.

    python tools/ort_inference.py boir_w32.onnx image.jpg --out result.json
    python tools/ort_inference.py boir_w32.onnx image.jpg --draw result.jpg

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
the export's ``--score-thr`` (the ``valid`` output) are dropped. Pose
NMS is not applied (the evaluator's job).

``--draw OUT.jpg`` (or :func:`draw`) draws the people with OpenCV: each
person's limbs (the COCO skeleton for 17 keypoints, CrowdPose's for 14, as
MMPose's dataset descriptions link them; points only for another count) and
keypoints scoring above ``--kpt-thr``.
"""
import argparse
import json
import os
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


#: limbs (keypoint index pairs) of MMPose's dataset descriptions, by K
SKELETONS = {
    17: [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
         (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
         (1, 3), (2, 4), (3, 5), (4, 6)],  # COCO, OCHuman
    14: [(10, 8), (8, 6), (11, 9), (9, 7), (6, 7), (0, 6), (1, 7), (0, 1),
         (0, 2), (1, 3), (2, 4), (3, 5), (12, 13), (1, 13),
         (0, 13)],  # CrowdPose
}
#: one BGR colour per person, in turn
COLOURS = [(0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 0, 255),
           (0, 255, 255), (255, 255, 0)]


def draw(image_bgr: np.ndarray, keypoints: np.ndarray,
         keypoint_scores: np.ndarray, kpt_thr: float = 0.3,
         radius: int = 4, thickness: int = 2) -> np.ndarray:
    """A copy of the image with each person's limbs and keypoints whose
    scores are above ``kpt_thr`` (``keypoints [n, K, 2]`` image pixels,
    ``keypoint_scores [n, K]``, as :func:`infer` returns them)."""
    out = image_bgr.copy()
    links = SKELETONS.get(keypoints.shape[1] if keypoints.ndim == 3 else 0,
                          [])
    for i, (kpts, scores) in enumerate(zip(keypoints, keypoint_scores)):
        colour = COLOURS[i % len(COLOURS)]
        shown = scores > kpt_thr
        points = [tuple(int(round(v)) for v in p) for p in kpts]
        for a, b in links:
            if shown[a] and shown[b]:
                cv2.line(out, points[a], points[b], colour, thickness,
                         cv2.LINE_AA)
        for point, keep in zip(points, shown):
            if keep:
                cv2.circle(out, point, radius, colour, -1, cv2.LINE_AA)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model', help='ONNX file from tools/export_onnx.py')
    p.add_argument('image')
    p.add_argument('--out', help='JSON file (default: print)')
    p.add_argument('--threads', type=int, default=0,
                   help="onnxruntime's intra-op threads (0: its default)")
    p.add_argument('--draw', help='also write the image with the poses '
                   'drawn (e.g. result.jpg)')
    p.add_argument('--kpt-thr', type=float, default=0.3,
                   help='draw keypoints whose score is above this')
    args = p.parse_args(argv)
    img = cv2.imread(args.image)
    if img is None:
        raise SystemExit(f'cannot read {args.image}')
    for out in (args.out, args.draw):  # never over an input
        if out and any(os.path.exists(out) and os.path.samefile(out, f)
                       for f in (args.model, args.image)):
            raise SystemExit(f'{out} is an input of this command; choose '
                             'another output')
    kpts, kpt_scores, scores = infer(session(args.model, args.threads), img)
    result = [dict(keypoints=k.tolist(), keypoint_scores=ks.tolist(),
                   score=float(s))
              for k, ks, s in zip(kpts, kpt_scores, scores)]
    if args.draw:
        if not cv2.imwrite(args.draw, draw(img, kpts, kpt_scores,
                                           args.kpt_thr)):
            raise SystemExit(f'cannot write {args.draw}')
    text = json.dumps(result)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    else:
        print(text)


if __name__ == '__main__':
    main()
