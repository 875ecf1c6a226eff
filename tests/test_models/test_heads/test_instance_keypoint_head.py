"""InstanceKeypointHead: its shapes and BoIR's LayerNorms; its one training
form computes the release's direct form (``direct_form`` of
tools/benchmark.py: the per-instance arithmetic), gradients included; its
deploy form (``switch_to_deploy``, MMPose's convention) computes the
training form's function; nothing else selects a form."""
import pytest
import torch
from conftest import build_model, tiny_config
from mmpose_boir.models.heads.instance_keypoint_head import \
    InstanceKeypointHead
from tool_modules import load_tool

direct_form = load_tool('benchmark').direct_form

COORDS = [[0, 0], [10, 8], [3, 4], [5, 5], [3, 4], [7, 1]]
#: float64: the forms agree to rounding; float32: loose enough for any CPU
TOL = {torch.float64: dict(rtol=1e-9, atol=1e-9),
       torch.float32: dict(rtol=1e-4, atol=1e-4)}


def _head(dtype=torch.float32, deploy=False, channels=8):
    torch.manual_seed(0)
    head = InstanceKeypointHead(20, 5, channels)
    for p in head.parameters():  # away from the tiny default init
        torch.nn.init.normal_(p, std=0.3)
    head = head.to(dtype).eval()
    if deploy:
        head.switch_to_deploy()
    return head


def _inputs(img_ids, dtype=torch.float32, channels_last=False, size=(9, 11)):
    torch.manual_seed(1)
    feats = torch.randn(3, 20, *size, dtype=dtype)
    if channels_last:
        feats = feats.contiguous(memory_format=torch.channels_last)
    img_ids = torch.tensor(img_ids)
    coords = torch.tensor(COORDS[:len(img_ids)])
    return feats, feats[img_ids, :, coords[:, 1], coords[:, 0]], coords, \
        img_ids


def test_instance_head_shapes():
    head = InstanceKeypointHead(in_channels=24, num_keypoints=5, channels=8)
    feats = torch.randn(2, 24, 10, 12)
    params = torch.randn(3, 24)
    coords = torch.tensor([[1, 2], [11, 9], [0, 0]])
    out = head(feats, params, coords, torch.tensor([0, 1, 1]))
    assert out.shape == (3, 5, 10, 12)
    # LayerNorm after each attention's Linear (BoIR, not CID)
    assert isinstance(head.channel_attention.atn[1], torch.nn.LayerNorm)
    assert isinstance(head.spatial_attention.atn[1], torch.nn.LayerNorm)


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('channels', [8, 12])
def test_training_form_equals_direct_form_with_gradients(dtype, channels):
    head = _head(dtype, channels=channels).train()
    feats, params, coords, img_ids = _inputs([2, 0, 0, 1, 2, 2], dtype)
    feats.requires_grad_(True)
    params = feats[img_ids, :, coords[:, 1], coords[:, 0]]
    ours = head(feats, params, coords, img_ids)
    ref = direct_form(head, feats, params, coords, img_ids)
    assert ours.shape == (6, 5, 9, 11) and ours.dtype == dtype
    torch.testing.assert_close(ours, ref, **TOL[dtype])

    weights = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * weights).sum(),
                                [feats] + list(head.parameters()),
                                retain_graph=True)
    ref_grads = torch.autograd.grad((ref * weights).sum(),
                                    [feats] + list(head.parameters()))
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, **{k: v * 10
                                            for k, v in TOL[dtype].items()})


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('img_ids', [[0, 0, 0, 1, 2, 2], [0, 0, 2, 2, 2, 2],
                                     [1]])
def test_deploy_form_equals_training_form(dtype, channels_last, img_ids):
    """Image blocks of any size (an image without instances, one
    instance), either memory format of the features."""
    plain, deploy = _head(dtype), _head(dtype, deploy=True)
    inputs = _inputs(img_ids, dtype, channels_last)
    with torch.no_grad():
        ref = plain(*inputs)
        out = deploy(*inputs)
    assert out.shape == ref.shape == (len(img_ids), 5, 9, 11)
    torch.testing.assert_close(out, ref, **TOL[dtype])


def test_deploy_form_in_chunks():
    """More instances than one buffer holds: the same logits."""
    plain, deploy = _head(torch.float64), _head(torch.float64, deploy=True)
    deploy.chunk_bytes = 2 * 8 * 9 * 11 * 8  # two instances at a time
    inputs = _inputs([0, 0, 0, 1, 2, 2], torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(deploy(*inputs), plain(*inputs),
                                   **TOL[torch.float64])


def test_deploy_form_needs_rows_grouped_by_image():
    head = _head(deploy=True)
    feats, params, coords, _ = _inputs([0, 0, 0, 1, 2, 2])
    for ids in ([2, 0, 0, 1, 2, 2], [0, 0, 0, 1, 2, 3]):
        with pytest.raises(ValueError, match='grouped by image'):
            head(feats, params, coords, torch.tensor(ids))
    with pytest.raises(RuntimeError, match='switched to deploy'):
        head.train()(*_inputs([0]))


@pytest.mark.parametrize('deploy', [False, True])
def test_no_instances(deploy):
    head = _head(deploy=deploy)
    out = head(torch.randn(2, 20, 6, 6), torch.zeros(0, 20),
               torch.zeros(0, 2, dtype=torch.long),
               torch.zeros(0, dtype=torch.long))
    assert out.shape == (0, 5, 6, 6)


def test_only_switch_to_deploy_selects_the_deploy_form(monkeypatch):
    """Grad mode, inference mode, dtype and autocast leave the training
    form in place; MMPose's estimator-wide ``switch_to_deploy()`` reaches
    the head."""
    calls = []
    monkeypatch.setattr(InstanceKeypointHead, 'forward_deploy',
                        lambda self, *a: calls.append(a) or 0)
    head = _head()
    inputs = _inputs([0, 0, 1])
    with torch.no_grad():
        head(*inputs)
    with torch.inference_mode():
        head(*inputs)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        head(*inputs)
    head.double()(*_inputs([0, 0, 1], torch.float64))
    assert calls == []

    model = build_model(tiny_config())
    assert not model.head.instance_head.deploy
    model.switch_to_deploy()
    assert model.head.instance_head.deploy
    model.eval().head.instance_head(*_inputs([0]))
    assert len(calls) == 1
