"""Each paper config holds only what its model uses: one input size and one
heatmap size (no other width's variables or pipelines), written out, not
derived from another config's pipelines."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

PAPER_CONFIGS = sorted(glob.glob('configs/boir/boir_*.py'))
#: the release's sizes per backbone width
SIZES = {'w32': ((512, 512), (128, 128)), 'w48': ((640, 640), (160, 160))}


def _values(node, key, found):
    """Every value of ``key`` anywhere in a config (dicts and lists)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.add(tuple(v))
            _values(v, key, found)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _values(v, key, found)
    return found


@pytest.mark.parametrize('config', PAPER_CONFIGS)
def test_a_dumped_paper_config_has_one_input_and_one_heatmap_size(
        config, tmp_path):
    cfg = Config.fromfile(config)
    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    cfg = Config.fromfile(str(dumped)).to_dict()
    width = osp.basename(config).split('_')[1]
    input_size, heatmap_size = SIZES[width]
    assert _values(cfg, 'input_size', set()) == {input_size}
    assert _values(cfg, 'heatmap_size', set()) == {heatmap_size}
    assert not [k for k in cfg if k.startswith('w48_') or k.startswith('w32')]
    text = dumped.read_text()
    other = [w for w in SIZES if w != width]
    for w in other:
        for size in SIZES[w]:
            assert str(size) not in text, (config, size)


def test_no_config_derives_pipelines_from_another():
    """Pipelines are written out: no comprehension over a base's pipeline."""
    for path in glob.glob('configs/boir/**/*.py', recursive=True):
        text = open(path).read()
        assert 'for t in _base_' not in text, path
        assert '_base_.train_pipeline' not in text, path
        assert '_base_.val_pipeline' not in text, path
