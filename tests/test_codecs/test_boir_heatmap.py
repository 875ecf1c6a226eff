"""BoIRDecoupledHeatmap (mmpose_boir/codecs/boir_heatmap.py): the release's
target rules (truncated peaks, CornerNet's Gaussian, jitter, the
placeholder instance of an image left without instances and what it adds
to the losses), its decoding against the release's loops and smoothing,
encoding and decoding in agreement for every switch, and BoIRHead decoding
through the codec it is configured with."""
import copy
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS

from conftest import COCO_SAMPLE_ANN, COCO_SAMPLES, build_model, tiny_config
from mmpose_boir.codecs import BoIRDecoupledHeatmap
from tool_modules import load_tool

INPUT, HEATMAP = (128, 128), (32, 32)


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


def test_jitter_stays_on_the_map():
    np.random.seed(0)
    codec = BoIRDecoupledHeatmap(INPUT, HEATMAP, min_instance_area=0)
    kpts = np.full((1, 17, 2), 1.0, np.float32)  # center at cell (0, 0)
    corners = np.array([[[0, 0], [0, 8], [8, 0], [8, 8]]], np.float32)
    for _ in range(20):
        enc = codec.encode(kpts, np.ones((1, 17)), corners)
        assert (enc['instance_coords'] >= 0).all()


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


# -------------------------------------------------------------- placeholder
def _no_instance_json(tmp_path):
    """The sample json plus a copy of image 40083 whose only person is too
    small to get a center (area under the tiny config's 8^2 input px^2)."""
    data = json.load(open(COCO_SAMPLE_ANN))
    img = dict(next(i for i in data['images'] if i['id'] == 40083), id=1)
    person = dict(next(a for a in data['annotations']
                       if a['image_id'] == 40083 and not a['iscrowd']),
                  id=10**9, image_id=1, bbox=[100, 100, 12, 12], area=144,
                  num_keypoints=1, segmentation=[[100, 100, 112, 100,
                                                  112, 112]])
    kpts = [0] * 51
    kpts[:3] = [106, 106, 2]
    person['keypoints'] = kpts
    data['images'] = [i for i in data['images'] if i['id'] == 197388] + [img]
    data['annotations'] = [a for a in data['annotations']
                           if a['image_id'] == 197388] + [person]
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data))
    return str(path)


def _no_augmentation(pipeline, placeholder):
    steps = []
    for t in pipeline:
        t = copy.deepcopy(dict(t))
        if t['type'] == 'BoIRRandomAffine':
            t.update(rotate_factor=0, scale_factor=(1.0, 1.0),
                     shift_factor=0.)
        elif t['type'] == 'BoIRRandomFlip':
            t['prob'] = 0.
        elif t['type'] == 'GenerateTarget':
            t['encoder'] = dict(t['encoder'], jitter=False,
                                placeholder_instance=placeholder)
        steps.append(t)
    return steps


def _train_dataset(cfg, ann_file, pipeline):
    """The config's training set on ``ann_file`` with ``pipeline``."""
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.update(data_root='', ann_file=ann_file,
              data_prefix=dict(img=osp.abspath(COCO_SAMPLES)),
              pipeline=list(pipeline))
    return DATASETS.build(ds)


def test_placeholder_instance_of_an_image_without_instances(tmp_path):
    """An image whose people all lose their center gets the release's
    placeholder: one instance at cell (0, 0) with zero heatmaps, weights and
    box. It counts as one more Bbox Mask Loss instance (whose box adds no
    term) and adds its 2x2 cells at (0, 0) to the box loss; the keypoint
    losses are unchanged."""
    cfg = tiny_config()
    ann_file = _no_instance_json(tmp_path)
    torch.manual_seed(0)
    model = build_model(cfg).double()
    with torch.no_grad():  # a box head that is not all zeros
        for p in model.head.bbox_head.parameters():
            p.normal_(0, 0.1)
    losses, counts = {}, {}
    for placeholder in (True, False):
        ds = _train_dataset(cfg, ann_file, _no_augmentation(
            cfg.train_dataloader.dataset.pipeline, placeholder))
        batch = [ds[i] for i in range(len(ds))]
        empty = [b['data_samples'] for b in batch
                 if b['data_samples'].metainfo['img_id'] == 1][0]
        labels = empty.gt_instance_labels
        if placeholder:
            assert labels.instance_coords.tolist() == [[0, 0]]
            assert float(labels.keypoint_weights.abs().sum()) == 0
            assert labels.instance_boxes.tolist() == [[0, 0, 0, 0]]
            assert float(empty.gt_fields.instance_heatmaps.abs().sum()) == 0
        else:
            assert len(labels.instance_coords) == 0
        counts[placeholder] = sum(len(b['data_samples'].gt_instance_labels
                                      .instance_coords) for b in batch)
        data = model.data_preprocessor(pseudo_collate(batch), training=True)
        with torch.no_grad():
            losses[placeholder] = model(data['inputs'].double(),
                                        data['data_samples'], mode='loss')
    n = counts[False]
    assert counts[True] == n + 1
    with_p, without = losses[True], losses[False]
    for key in ('loss_multi_heatmap', 'loss_instance_heatmap'):
        assert torch.allclose(with_p[key], without[key], rtol=1e-12), key
    torch.testing.assert_close(with_p['loss_bbox_mask'] * (n + 1),
                               without['loss_bbox_mask'] * n, rtol=1e-10,
                               atol=0)
    # the box loss: the 3x3 cells of each instance inside the map, plus the
    # placeholder's 4; its cells' CIoU against the box (0, 0, 0, 0)
    assert not torch.allclose(with_p['loss_bbox'], without['loss_bbox'])
