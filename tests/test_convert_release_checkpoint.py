"""tools/convert_release_checkpoint.py: every release layout, and clear
rejections."""
import importlib.util
import re
import subprocess
import sys

import pytest
import torch

from mmpose_boir.converters import (ReleaseCheckpointError,
                                    convert_state_dict, release_key_to_ours)
from release_fixture import load_fixture, manifest

TOOL = 'tools/convert_release_checkpoint.py'


def _tool():
    spec = importlib.util.spec_from_file_location('convert', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ours_to_release(key: str) -> str:
    """Inverse of the converter's mapping, written independently."""
    key = re.sub(r'\.downsample\.0\.', '.downsample.conv.', key)
    key = re.sub(r'\.downsample\.1\.', '.downsample.norm_layer.', key)
    for ours, release in [
        ('head.neck.', 'multihead.neck.0.'),
        ('head.center_head.', 'multihead.center_head.head.'),
        ('head.keypoint_head.', 'multihead.buk_head.head.'),
        ('head.embedding_head.', 'multihead.emb_head.head.'),
        ('head.bbox_head.', 'multihead.bbox_head.head.'),
        ('head.instance_head.channel_attention.', 'kpt_head.c_attn.'),
        ('head.instance_head.spatial_attention.', 'kpt_head.s_attn.'),
        ('head.instance_head.fuse_attention.', 'kpt_head.fuse_attn.'),
        ('head.instance_head.', 'kpt_head.'),
    ]:
        if key.startswith(ours):
            return release + key[len(ours):]
    return key


def _release_state(width: int, num_keypoints: int, aux: bool) -> dict:
    expected = _tool().expected_layout(width, num_keypoints)
    state = {}
    for key, shape in expected.items():
        if not aux and key.split('.')[1] in ('keypoint_head',
                                              'embedding_head', 'bbox_head'):
            continue
        state[_ours_to_release(key)] = torch.zeros(shape)
    return state, expected


def test_fixture_manifest_maps_onto_the_w32_model():
    fixture = load_fixture()
    expected = _tool().expected_layout(32, 17)
    entries = manifest(fixture)
    mapped = {release_key_to_ours(k): tuple(s) for k, s in entries}
    assert None not in mapped
    deployed = {k: v for k, v in expected.items()
                if k.split('.')[1] not in ('keypoint_head', 'embedding_head',
                                           'bbox_head')}
    assert mapped == deployed


@pytest.mark.parametrize('width,num_keypoints,aux', [(48, 17, True),
                                                      (32, 14, False),
                                                      (48, 14, True)])
def test_w48_and_crowdpose_layouts_convert_and_load(width, num_keypoints,
                                                     aux):
    state, expected = _release_state(width, num_keypoints, aux)
    converted = convert_state_dict(state, expected)
    assert len(converted) == len(state)
    stripped = convert_state_dict(state, expected, strip_aux=True)
    assert not any(k.startswith('head.bbox_head.') for k in stripped)
    if aux:
        assert set(converted) == set(expected)


def _run_tool(state, tmp_path):
    src = tmp_path / 'src.pth'
    torch.save(state, src)
    return subprocess.run([sys.executable, TOOL, str(src),
                           str(tmp_path / 'dst.pth')], capture_output=True,
                          text=True, timeout=300)


def test_rejects_missing_extra_and_misshaped_keys(tmp_path):
    state, _ = _release_state(32, 17, aux=False)
    missing = dict(state)
    missing.pop('kpt_head.s_attn.conv.weight')
    proc = _run_tool(missing, tmp_path)
    assert proc.returncode == 1
    assert 'missing keys: head.instance_head.spatial_attention.conv.weight' \
        in proc.stderr

    extra = dict(state, **{'multihead.extra_head.weight': torch.zeros(1)})
    proc = _run_tool(extra, tmp_path)
    assert proc.returncode == 1
    assert 'unknown keys: multihead.extra_head.weight' in proc.stderr

    wrong = dict(state)
    wrong['multihead.neck.0.project.0.weight'] = torch.zeros(3, 3, 1, 1)
    proc = _run_tool(wrong, tmp_path)
    assert proc.returncode == 1
    assert 'wrong shapes: multihead.neck.0.project.0.weight' in proc.stderr

    partial_aux = dict(state, **{
        'multihead.buk_head.head.1.bias': torch.zeros(17)})
    with pytest.raises(ReleaseCheckpointError, match='missing keys'):
        convert_state_dict(partial_aux, _tool().expected_layout(32, 17))


def test_writes_an_mmengine_checkpoint_with_meta(tmp_path):
    state, expected = _release_state(32, 17, aux=True)
    proc = _run_tool(state, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = torch.load(tmp_path / 'dst.pth', weights_only=True)
    assert out['meta']['source'].endswith('src.pth')
    assert out['meta']['width'] == 32 and out['meta']['with_aux_heads']
    assert set(out['state_dict']) == set(expected)
