"""BoxEmbeddingSampling after the codec (BoIRDecoupledHeatmap through
GenerateTarget): the boxes of the codec's instances, in their order, clipped
to the map as the release clips them, and clear errors for what is missing
or not finite."""
import numpy as np
import pytest
from mmpose.datasets.transforms import GenerateTarget

from mmpose_boir.codecs import BoIRDecoupledHeatmap
from mmpose_boir.datasets.transforms import BoxEmbeddingSampling

K = 17
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


def test_errors_name_what_is_missing():
    with pytest.raises(ValueError, match='bbox'):
        BoIRDecoupledHeatmap(INPUT, HEATMAP).encode(
            np.zeros((1, 17, 2)), np.ones((1, 17)))
    with pytest.raises(KeyError, match='instance_indices'):
        BoxEmbeddingSampling(INPUT, HEATMAP)(dict(bbox=np.zeros((0, 4, 2))))


def _codec_inputs(n=2):
    rng = np.random.RandomState(0)
    kpts = (rng.rand(n, K, 2) * 40 + 10).astype(np.float32)
    lo, hi = kpts.min(1), kpts.max(1)
    corners = np.stack((lo, np.stack((lo[:, 0], hi[:, 1]), -1),
                        np.stack((hi[:, 0], lo[:, 1]), -1), hi), 1)
    return kpts, np.ones((n, K), np.float32), corners


def test_box_embedding_sampling_names_the_image_for_nonfinite_boxes():
    _, _, corners = _codec_inputs()
    corners[1, 0, 0] = np.nan
    results = dict(img_path='broken.jpg', bbox=corners, id=[11, 12],
                   instance_indices=np.array([0, 1]))
    with pytest.raises(ValueError, match=r'broken\.jpg.*\[12\]'):
        BoxEmbeddingSampling((64, 64), (16, 16))(results)
