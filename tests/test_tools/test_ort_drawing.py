"""tools/ort_inference.py's drawing: the valid people of an ONNX model's
outputs (here a stand-in model with the exported model's inputs and
outputs, its outputs constants) are drawn at image pixels, keypoints below
``--kpt-thr`` left out, with each dataset's skeleton; ``--draw`` never
replaces its input. Run in this process."""
import cv2
import numpy as np
import pytest

from tool_modules import load_tool


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
