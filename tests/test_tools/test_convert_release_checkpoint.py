"""tools/convert_release_checkpoint.py: every release layout, and clear
rejections. The tool's ``main`` runs in this process; one run through the
command line checks its exit status and files."""
import contextlib
import io
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from conftest import repo_env
from release_fixture import TRAIN_FIXTURE, load_fixture, manifest
from tool_modules import load_tool

converter = load_tool('convert_release_checkpoint')
REQUIRED_RELEASE_KEYS = converter.REQUIRED_RELEASE_KEYS
ReleaseCheckpointError = converter.ReleaseCheckpointError
convert_state_dict = converter.convert_state_dict
extract_state_dict = converter.extract_state_dict
load_release_checkpoint = converter.load_release_checkpoint
release_key_to_ours = converter.release_key_to_ours

TOOL = 'tools/convert_release_checkpoint.py'
W48_FIXTURE = osp.join(osp.dirname(TRAIN_FIXTURE),
                       'release_coco_w48_seed2024.npz')


def _ours_to_release(key: str) -> str:
    """Inverse of the converter's mapping, written independently."""
    key = re.sub(r'\.downsample\.0\.', '.downsample.conv.', key)
    key = re.sub(r'\.downsample\.1\.', '.downsample.norm_layer.', key)
    for ours, release in [
        ('head.neck.', 'multihead.neck.0.'),
        ('head.center_head.', 'multihead.center_head.head.'),
        ('head.multi_heatmap_head.', 'multihead.buk_head.head.'),
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
    expected = converter.expected_layout(width, num_keypoints)
    state = {}
    for key, shape in expected.items():
        if not aux and key.split('.')[1] in ('multi_heatmap_head',
                                              'embedding_head', 'bbox_head'):
            continue
        state[_ours_to_release(key)] = torch.zeros(shape)
    return state, expected


def test_fixture_manifest_maps_onto_the_w32_model():
    fixture = load_fixture()
    expected = converter.expected_layout(32, 17)
    entries = manifest(fixture)
    mapped = {release_key_to_ours(k): tuple(s) for k, s in entries}
    assert None not in mapped
    deployed = {k: v for k, v in expected.items()
                if k.split('.')[1] not in ('multi_heatmap_head',
                                           'embedding_head',
                                           'bbox_head')}
    assert mapped == deployed


def test_training_fixture_manifest_maps_onto_the_w32_model():
    """The release's train-mode W32 state dict: every key, aux heads
    included."""
    entries = manifest(load_fixture(TRAIN_FIXTURE))
    mapped = {release_key_to_ours(k): tuple(s) for k, s in entries}
    assert None not in mapped and len(mapped) == len(entries)
    assert mapped == converter.expected_layout(32, 17)


def test_w48_fixture_manifest_maps_onto_the_w48_model():
    """The release's deployed W48 state dict (its instance keypoint head
    has 96 channels) matches configs/boir/boir_w48_coco.py."""
    entries = manifest(load_fixture(W48_FIXTURE))
    mapped = {release_key_to_ours(k): tuple(s) for k, s in entries}
    assert None not in mapped
    assert mapped['head.instance_head.conv_down.weight'] == (96, 720, 1, 1)
    expected = converter.expected_layout(48, 17)
    deployed = {k: v for k, v in expected.items()
                if k.split('.')[1] not in ('multi_heatmap_head',
                                           'embedding_head',
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


def _main(*args):
    """The tool's ``main`` on ``args``: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = [TOOL, *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = converter.main()
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(args, rc, out.getvalue(),
                                       err.getvalue())


def _run_tool(state, tmp_path, cli=False):
    """Convert ``state`` saved as a file: through ``main``, or with
    ``cli`` through ``python tools/convert_release_checkpoint.py``."""
    src = tmp_path / 'src.pth'
    torch.save(state, src)
    if not cli:
        return _main(src, tmp_path / 'dst.pth')
    return subprocess.run([sys.executable, TOOL, str(src),
                           str(tmp_path / 'dst.pth')], capture_output=True,
                          text=True, timeout=300, env=repo_env())


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
        convert_state_dict(partial_aux, converter.expected_layout(32, 17))


def test_writes_an_mmengine_checkpoint_with_meta(tmp_path):
    state, expected = _release_state(32, 17, aux=True)
    proc = _run_tool(state, tmp_path, cli=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = torch.load(tmp_path / 'dst.pth', weights_only=True)
    assert out['meta']['source'].endswith('src.pth')
    assert out['meta']['width'] == 32 and out['meta']['with_aux_heads']
    assert set(out['state_dict']) == set(expected)


# --------------------------------------------------- checkpoint file formats
def _tiny_release_state(prefix: str = '') -> dict:
    """A stand-in for a release state dict: its marker keys, tiny values."""
    return {prefix + k: torch.full((2, ), float(i))
            for i, k in enumerate(REQUIRED_RELEASE_KEYS)}


def _training_checkpoint(best: bool = True) -> dict:
    """The dict the release's tools/train.py saves as checkpoint.pth.tar."""
    layer = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    layer(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    ckpt = dict(epoch=12, model='boir',
                state_dict=_tiny_release_state('module.'),
                perf=-1, optimizer=optimizer.state_dict(),
                scaler=dict(scale=65536.0, growth_factor=2.0,
                            backoff_factor=0.5, growth_interval=2000,
                            _growth_tracker=0))
    if best:
        ckpt['best_state_dict'] = {k: v + 100
                                   for k, v in _tiny_release_state().items()}
    return ckpt


def test_reads_a_plain_state_dict(tmp_path):
    src = tmp_path / 'final_state0.pth.tar'
    torch.save(_tiny_release_state(), src)
    state, used = extract_state_dict(load_release_checkpoint(str(src)))
    assert used == 'plain state dict'
    assert set(state) == set(REQUIRED_RELEASE_KEYS)


@pytest.mark.parametrize('best', [True, False])
def test_reads_a_training_checkpoint(tmp_path, best):
    src = tmp_path / 'checkpoint.pth.tar'
    torch.save(_training_checkpoint(best), src)
    # optimizer and scaler state load under weights_only=True
    state, used = extract_state_dict(load_release_checkpoint(str(src)))
    assert set(state) == set(REQUIRED_RELEASE_KEYS)
    key = 'kpt_head.heatmap_conv.weight'
    i = float(REQUIRED_RELEASE_KEYS.index(key))
    if best:
        assert used == 'training checkpoint (epoch 12): best_state_dict'
        assert state[key].tolist() == [i + 100] * 2
    else:
        assert used == ('training checkpoint (epoch 12): state_dict '
                        '(module. prefix stripped)')
        assert state[key].tolist() == [i] * 2


def test_tool_says_which_state_dict_it_used(tmp_path):
    """checkpoint.pth.tar of a full release training state dict: converted
    from its best_state_dict, and the tool says so."""
    state, expected = _release_state(32, 17, aux=True)
    ckpt = dict(_training_checkpoint(), best_state_dict=state,
                state_dict={'module.' + k: v + 1 for k, v in state.items()})
    src, dst = tmp_path / 'checkpoint.pth.tar', tmp_path / 'dst.pth'
    torch.save(ckpt, src)
    proc = _main(src, dst)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'using the training checkpoint (epoch 12): best_state_dict' \
        in proc.stdout
    out = torch.load(dst, weights_only=True)
    assert out['meta']['source_state_dict'] == \
        'training checkpoint (epoch 12): best_state_dict'
    assert set(out['state_dict']) == set(expected)
    assert all(float(v.abs().sum()) == 0 for v in out['state_dict'].values()
               if v.is_floating_point())  # best_state_dict's zeros


def _cid_state_dict() -> dict:
    """Key names of the CID release (backbone + iia + gfd)."""
    return {
        'backbone.conv1.weight': torch.zeros(64, 3, 3, 3),
        'backbone.stage2.0.branches.0.0.conv1.weight':
        torch.zeros(32, 32, 3, 3),
        'iia.keypoint_center_conv.weight': torch.zeros(18, 480, 1, 1),
        'iia.keypoint_center_conv.bias': torch.zeros(18),
        'gfd.conv_down.weight': torch.zeros(32, 480, 1, 1),
        'gfd.c_attn.atn.0.weight': torch.zeros(32, 480),
        'gfd.s_attn.conv.weight': torch.zeros(1, 3, 5, 5),
        'gfd.fuse_attn.weight': torch.zeros(32, 96, 1, 1),
        'gfd.heatmap_conv.weight': torch.zeros(17, 32, 1, 1),
    }


def test_rejects_a_cid_checkpoint():
    with pytest.raises(ReleaseCheckpointError) as info:
        extract_state_dict(_cid_state_dict())
    msg = str(info.value)
    assert 'CID checkpoint' in msg
    assert 'missing release keys' in msg and \
        'kpt_head.heatmap_conv.weight' in msg
    assert 'iia.* (2)' in msg and 'gfd.* (5)' in msg
    # the same inside a training checkpoint, with DDP prefixes
    wrapped = dict(epoch=3, state_dict={
        'module.' + k: v for k, v in _cid_state_dict().items()})
    with pytest.raises(ReleaseCheckpointError, match='CID checkpoint'):
        extract_state_dict(wrapped)


def test_rejects_other_state_dicts():
    with pytest.raises(ReleaseCheckpointError) as info:
        extract_state_dict({'conv.weight': torch.zeros(1),
                            'fc.bias': torch.zeros(1)})
    msg = str(info.value)
    assert 'missing release keys' in msg
    for key in REQUIRED_RELEASE_KEYS:
        assert key in msg
    assert 'conv.* (1), fc.* (1)' in msg
    # this project's own layout: already converted
    with pytest.raises(ReleaseCheckpointError, match='already in this'):
        extract_state_dict({'head.instance_head.conv_down.weight':
                            torch.zeros(1)})
    # one release key short
    partial = _tiny_release_state()
    partial.pop('kpt_head.heatmap_conv.weight')
    with pytest.raises(ReleaseCheckpointError,
                       match=r'missing release keys kpt_head\.heatmap_conv'):
        extract_state_dict(partial)


@pytest.mark.parametrize('obj,found', [
    ([1, 2, 3], 'found a list'),
    ('weights', 'found a str'),
    (torch.zeros(3), 'found a Tensor'),
    ({}, 'found an empty dict'),
    ({'epoch': 3, 'note': 'x'}, "non-tensor entries: 'epoch', 'note'"),
    ({'state_dict': {'a': 1}}, "its 'state_dict' is not a state dict"),
])
def test_rejects_junk(obj, found):
    with pytest.raises(ReleaseCheckpointError, match=re.escape(found)):
        extract_state_dict(obj)


@pytest.mark.parametrize('content', [
    b'\x00\x17not a checkpoint at all' * 50,  # random bytes
    'truncated',  # the first half of a real checkpoint
])
def test_unreadable_files_are_named(tmp_path, content):
    src = tmp_path / 'broken.pth.tar'
    if content == 'truncated':
        torch.save(_tiny_release_state(), src)
        data = src.read_bytes()
        src.write_bytes(data[:len(data) // 2])
    else:
        src.write_bytes(content)
    with pytest.raises(ReleaseCheckpointError) as info:
        load_release_checkpoint(str(src))
    msg = str(info.value)
    assert str(src) in msg and 'not a readable PyTorch checkpoint' in msg
    assert 'weights_only' not in msg
    with pytest.raises(ReleaseCheckpointError, match='cannot read the file'):
        load_release_checkpoint(str(tmp_path / 'missing.pth'))
