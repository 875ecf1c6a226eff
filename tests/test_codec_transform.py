"""BoIRDecoupledHeatmap + BoxEmbeddingSampling: the release's target rules,
and boxes aligned with instances."""
import numpy as np
import pytest
from mmpose.datasets.transforms import GenerateTarget

from mmpose_boir.codecs import BoIRDecoupledHeatmap
from mmpose_boir.datasets.transforms import BoxEmbeddingSampling
from tool_modules import load_tool

INPUT, HEATMAP = (128, 128), (32, 32)


def _person(x, y, w, h, K=17):
    """Keypoints spread over an (x, y, w, h) box and its 4 corners."""
    t = np.linspace(0.1, 0.9, K)
    kpts = np.stack((x + t * w, y + t[::-1] * h), -1).astype(np.float32)
    corners = np.array([[x, y], [x, y + h], [x + w, y], [x + w, y + h]],
                       dtype=np.float32)
    return kpts, corners


def _results(boxes, visible=None):
    kpts, corners = zip(*[_person(*b) for b in boxes])
    kpts = np.stack(kpts)
    vis = np.ones(kpts.shape[:2], np.float32) if visible is None else visible
    return dict(keypoints=kpts, keypoints_visible=vis,
                bbox=np.stack(corners), img_path='synthetic.jpg')


def _encode(results, box_clip='release', **codec_kw):
    codec = dict(type='BoIRDecoupledHeatmap', input_size=INPUT,
                 heatmap_size=HEATMAP, jitter=False, **codec_kw)
    results = GenerateTarget(encoder=codec)(results)
    return BoxEmbeddingSampling(INPUT, HEATMAP, box_clip=box_clip)(results)


def test_boxes_follow_instances_smallest_area_first():
    boxes = [(10, 10, 80, 100), (60, 20, 40, 40), (20, 70, 60, 50)]
    out = _encode(_results(boxes), min_instance_area=0)
    assert list(out['instance_indices']) == [1, 2, 0]
    expected = np.array([boxes[i] for i in (1, 2, 0)], np.float32) / 4
    np.testing.assert_allclose(out['instance_boxes'], expected)
    assert out['instance_heatmaps'].shape == (3 * 17, 32, 32)
    assert out['keypoint_weights'].shape == (3, 17)
    # the codec's tables name what the later transforms add, for packing
    assert out['label_mapping_table']['instance_boxes'] == 'instance_boxes'
    assert out['field_mapping_table']['heatmap_mask'] == 'heatmap_mask'
    # each instance's center lies inside its own box
    for (x, y), (bx, by, bw, bh) in zip(out['instance_coords'],
                                        out['instance_boxes']):
        assert bx <= x <= bx + bw and by <= y <= by + bh


def test_small_people_get_no_center_and_no_box():
    boxes = [(10, 10, 80, 100), (100, 100, 20, 20)]  # 400 px^2 < 32^2
    out = _encode(_results(boxes))
    assert list(out['instance_indices']) == [0]
    assert out['instance_boxes'].shape == (1, 4)
    # but the small person's keypoints stay in the multi-person heatmaps
    assert out['heatmaps'].shape == (18, 32, 32)


def test_boxes_are_clipped_to_the_map():
    # 'extent' (opt-in): the visible part of the box
    out = _encode(_results([(-40, 60, 100, 80)]), min_instance_area=0,
                  box_clip='extent')
    x, y, w, h = out['instance_boxes'][0]
    assert x == 0 and y == pytest.approx(60 / 4)
    assert x + w == pytest.approx(60 / 4) and y + h == 31
    # 'release': each of x, y, w, h clipped on its own; the cut box keeps
    # its full width, and its height is clipped to H - 1
    out = _encode(_results([(-40, 60, 100, 80)]), min_instance_area=0)
    x, y, w, h = out['instance_boxes'][0]
    assert (x, y, w, h) == pytest.approx((0, 60 / 4, 100 / 4, 80 / 4))
    out = _encode(_results([(8, 8, 20, 140)]), min_instance_area=0)
    assert out['instance_boxes'][0] == pytest.approx((2, 2, 5, 31))


def _one_keypoint(x, y, **codec_kw):
    """Heatmap 0 of one person with only keypoint 0 labelled, at (x, y)
    input pixels, in a 16x16 px box (radius 0 on the map: a single cell)."""
    codec = BoIRDecoupledHeatmap(INPUT, HEATMAP, jitter=False,
                                 min_instance_area=0, **codec_kw)
    kpts = np.zeros((1, 17, 2), np.float32)
    kpts[0, 0] = (x, y)
    vis = np.zeros((1, 17), np.float32)
    vis[0, 0] = 1
    corners = np.array([[[x, y], [x, y + 4], [x + 4, y], [x + 4, y + 4]]],
                       np.float32)
    hm = codec.encode(kpts, vis, corners)['heatmaps'][0]
    return np.argwhere(hm == 1).tolist()


def test_peaks_are_at_the_truncated_cell():
    # x = 23 px is cell 5.75: the release draws at cell 5 (truncation), its
    # decoder's half-cell shift assumes it; rounding (opt-in) gives 6
    assert _one_keypoint(23, 41) == [[10, 5]]
    assert _one_keypoint(23, 41, peak_rounding=True) == [[10, 6]]
    # truncation toward zero: -0.5 cell (-2 px) still lands on cell 0, as
    # int() does in the release; -1.0 cell is off the map
    assert _one_keypoint(-2, 8) == [[2, 0]]
    assert _one_keypoint(-4, 8) == []


def test_gaussian_is_the_releases():
    from mmpose_boir.codecs.boir_heatmap import (gaussian_kernel,
                                                 gaussian_radius)
    k = gaussian_kernel(3)
    assert k.shape == (7, 7) and k[3, 3] == 1
    assert k[3, 0] == pytest.approx(np.exp(-9 / (2 * (7 / 6)**2)))
    # CornerNet's radius for a 20 x 10 box at overlap 0.7, as CornerNet and
    # the release write it (no division by 2a): the third case is smallest,
    # (-42 + sqrt(42^2 + 4 * 2.8 * 60)) / 2
    assert gaussian_radius(20, 10) == pytest.approx(
        (-42 + np.sqrt(42**2 + 4 * 2.8 * 60)) / 2)


def test_people_without_visible_keypoints_get_no_instance():
    vis = np.ones((2, 17), np.float32)
    vis[1] = 0
    out = _encode(_results([(10, 10, 80, 100), (60, 20, 40, 40)], vis),
                  min_instance_area=0)
    assert list(out['instance_indices']) == [0]
    assert out['instance_boxes'].shape == (1, 4)


def test_more_people_than_the_cap_keeps_boxes_aligned():
    rng = np.random.RandomState(0)
    boxes = [(rng.randint(0, 90), rng.randint(0, 90), 30 + i, 30 + i)
             for i in range(12)]
    out = _encode(_results(boxes), min_instance_area=0,
                  encode_max_instances=5)
    idx = out['instance_indices']
    assert len(idx) == 5 and len(out['instance_boxes']) == 5
    assert len(out['instance_coords']) == 5
    expected = np.array([boxes[i] for i in idx], np.float32) / 4
    np.testing.assert_allclose(out['instance_boxes'], np.clip(expected, 0,
                                                              31))


def test_no_people():
    results = dict(keypoints=np.zeros((0, 17, 2), np.float32),
                   keypoints_visible=np.zeros((0, 17), np.float32),
                   bbox=np.zeros((0, 4, 2), np.float32))
    out = _encode(results)
    assert out['instance_boxes'].shape == (0, 4)
    assert out['instance_coords'].shape == (0, 2)
    assert out['keypoint_weights'].shape == (0, 17)


def test_jitter_stays_on_the_map():
    np.random.seed(0)
    codec = BoIRDecoupledHeatmap(INPUT, HEATMAP, min_instance_area=0)
    kpts = np.full((1, 17, 2), 1.0, np.float32)  # center at cell (0, 0)
    corners = np.array([[[0, 0], [0, 8], [8, 0], [8, 8]]], np.float32)
    for _ in range(20):
        enc = codec.encode(kpts, np.ones((1, 17)), corners)
        assert (enc['instance_coords'] >= 0).all()


def test_errors_name_what_is_missing():
    with pytest.raises(ValueError, match='bbox'):
        BoIRDecoupledHeatmap(INPUT, HEATMAP).encode(
            np.zeros((1, 17, 2)), np.ones((1, 17)))
    with pytest.raises(KeyError, match='instance_indices'):
        BoxEmbeddingSampling(INPUT, HEATMAP)(dict(bbox=np.zeros((0, 4, 2))))


def test_decoding_matches_the_per_keypoint_loop():
    """The codec's batched keypoint decoding against the release's loop over
    instances and keypoints (tools/benchmark.py's ``reference_decode``:
    smoothing, argmax, quarter-cell refinement, scores, stride)."""
    import torch
    reference_decode = load_tool('benchmark').reference_decode
    g = torch.Generator().manual_seed(0)
    hm = torch.rand(6, 17, 16, 12, generator=g)
    hm[0, 0] = 0
    hm[0, 0, 0, 5] = 1  # maximum on the border: no refinement along y
    scores = torch.rand(6, generator=g)
    codec = BoIRDecoupledHeatmap(INPUT, HEATMAP)
    kpts, kpt_scores = codec.decode_keypoints(hm, 3)
    ref_kpts, ref_scores = reference_decode(hm, scores, 4.0)
    np.testing.assert_allclose(kpts.numpy() * 4.0, ref_kpts, atol=1e-5)
    np.testing.assert_allclose((kpt_scores * scores[:, None]).numpy(),
                               ref_scores, atol=1e-6)
    # MMPose's codec interface decodes with the same arithmetic
    mm_kpts, mm_scores = codec.decode(hm.numpy(), scores.numpy())
    np.testing.assert_allclose(mm_kpts, ref_kpts, atol=1e-5)
    np.testing.assert_allclose(mm_scores, ref_scores, atol=1e-6)


def test_center_decoding_padded_and_unpadded_agree():
    import torch
    g = torch.Generator().manual_seed(1)
    centers = torch.rand(2, 20, 24, generator=g) * 0.5
    codec = BoIRDecoupledHeatmap(INPUT, HEATMAP)
    scores, coords, ids = codec.decode_centers(centers, 5, 0.3, 3)
    p_scores, p_coords, p_ids, valid = codec.decode_centers(
        centers, 5, 0.3, 3, padded=True)
    assert len(p_scores) == 10 and valid.sum() == len(scores)
    torch.testing.assert_close(p_scores[valid], scores)
    torch.testing.assert_close(p_coords[valid], coords)
    torch.testing.assert_close(p_ids[valid], ids)
    assert (torch.diff(ids) >= 0).all()  # ordered by image


@pytest.mark.parametrize('switches', [
    dict(), dict(peak_rounding=True), dict(jitter=True),
    dict(jitter=True, peak_rounding=True), dict(heatmap_min_overlap=0.5),
    dict(encode_max_instances=1), dict(placeholder_instance=True),
    dict(min_instance_area=0)], ids=str)
def test_encoding_and_decoding_agree(switches):
    """Keypoints at every sub-cell position, encoded then decoded, come back
    within the codec's quantisation (half a cell): truncation's cell center,
    or rounding's cell itself. The instance's center cell is the center
    map's peak (jitter: within one cell of it). Kernel 1: no smoothing, so
    the Gaussians stay exactly symmetric (no quarter-cell move)."""
    import torch
    codec = BoIRDecoupledHeatmap(INPUT, HEATMAP,
                                 **dict(dict(jitter=False), **switches))
    K, stride = 17, codec.scale_factor[0]
    frac = np.linspace(-0.48, 0.98, K)
    # the center (their mean) at (16.25, 16.75): truncated and rounded differ
    cells = np.stack((8 + np.arange(K) + frac, 16.5 + frac[::-1]), -1)
    corners = np.array([[4, 4], [4, 124], [124, 4], [124, 124]], np.float32)
    np.random.seed(0)
    enc = codec.encode((cells * stride)[None].astype(np.float32),
                       np.ones((1, K), np.float32), corners[None])
    assert list(enc['instance_indices']) == [0]
    hm = torch.from_numpy(enc['instance_heatmaps'].reshape(1, K, 32, 32))
    kpts, _ = codec.decode_keypoints(hm, 1)
    err = np.abs(kpts[0].numpy() - cells)
    assert err.max() <= 0.5 + 1e-6, err.max(0)
    mm_kpts, _ = codec.decode(hm.numpy(), np.ones(1), 1)
    np.testing.assert_allclose(mm_kpts[0], kpts[0].numpy() * stride)
    _, center, _ = codec.decode_centers(
        torch.from_numpy(enc['heatmaps'][K:]), 1, 0.5, 1)
    offset = np.abs(center.numpy() - enc['instance_coords'])
    assert offset.max() <= (1 if codec.jitter else 0)


def test_smoothing_is_the_releases():
    """``smooth_heatmaps`` (shifted additions, in blocks of maps) against
    the release's ``(h + avg_pool2d(h)) / 2``, for any kernel, block and
    shape."""
    import torch
    import torch.nn.functional as F
    from mmpose_boir.models.utils import smooth_heatmaps
    g = torch.Generator().manual_seed(0)
    for shape in [(6, 5, 9, 11), (2, 4), (3, 17, 32, 48), (0, 17, 8, 8)]:
        for dtype in (torch.float32, torch.float64):
            h = torch.rand(shape, generator=g, dtype=dtype)
            x = h.reshape(-1, 1, *shape[-2:])
            for k in (1, 3, 5, 11):
                ref = ((x + F.avg_pool2d(x, k, 1, (k - 1) // 2)) / 2)
                for block in (1 << 20, 50):
                    out = smooth_heatmaps(h, k, block)
                    assert out.shape == h.shape and out.dtype == dtype
                    torch.testing.assert_close(out, ref.reshape(shape))
    with pytest.raises(ValueError, match='blur_kernel_size'):
        smooth_heatmaps(torch.rand(2, 8, 8), 2)


def test_the_head_decodes_with_its_codec():
    """``BoIRHead(decoder=...)``: the configured codec decodes (here its
    ``peak_rounding``: every keypoint half a cell lower); no decoder: the
    default codec; a codec without BoIR's decoding: a clear error."""
    import torch
    from mmpose.registry import MODELS

    import mmpose_boir  # noqa: F401
    codec = dict(type='BoIRDecoupledHeatmap', input_size=INPUT,
                 heatmap_size=HEATMAP)
    heads = []
    for decoder in (None, codec, dict(codec, peak_rounding=True)):
        torch.manual_seed(0)
        heads.append(MODELS.build(dict(
            type='BoIRHead', in_channels=8, num_keypoints=3,
            neck_channels=8, aspp_channels=4, head_channels=8,
            gfd_channels=4, with_aux_heads=False, decoder=decoder)).eval())
    assert isinstance(heads[0].decoder, BoIRDecoupledHeatmap)
    x = torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        out = [h.predict_tensors([x], 1, (64, 64), dict(
            max_instances=2, score_thr=-1.0)) for h in heads]
    torch.testing.assert_close(out[0]['keypoints'], out[1]['keypoints'])
    torch.testing.assert_close(out[2]['keypoints'],
                               out[1]['keypoints'] - 0.5 * 4)
    with pytest.raises(TypeError, match='BoIRDecoupledHeatmap'):
        MODELS.build(dict(type='BoIRHead', in_channels=8, decoder=dict(
            type='DecoupledHeatmap', input_size=INPUT,
            heatmap_size=HEATMAP)))
