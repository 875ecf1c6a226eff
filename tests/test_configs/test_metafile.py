"""configs/boir/metafile.yml (MMPose's model-zoo format) and model-index.yml:
they parse, every Config exists, and every paper config of docs/model_zoo.md
is listed with its paper AP."""
import os.path as osp
import re

import yaml

from conftest import REPO_ROOT as ROOT


def _load(path):
    with open(osp.join(ROOT, path)) as f:
        return yaml.safe_load(f)


def _paper_configs():
    """{config name: result text} of docs/model_zoo.md's config table, the
    paper settings only (rows marked "extra" are not)."""
    rows = {}
    for line in open(osp.join(ROOT, 'docs', 'model_zoo.md')):
        match = re.match(r'\| `(boir_[^`]+)\.py`.*\| ([^|]+) \|$',
                         line.strip())
        if match and 'extra' not in match.group(2):
            rows[match.group(1)] = match.group(2)
    assert len(rows) == 10, rows
    return rows


def test_model_index_imports_the_metafile():
    index = _load('model-index.yml')
    assert index['Import'] == ['configs/boir/metafile.yml']
    for path in index['Import']:
        assert osp.isfile(osp.join(ROOT, path)), path


def test_metafile_parses_and_its_configs_exist():
    meta = _load('configs/boir/metafile.yml')
    collections = {c['Name'] for c in meta['Collections']}
    assert collections == {'BoIR'}
    names = set()
    for model in meta['Models']:
        assert model['In Collection'] in collections
        assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
        assert model['Name'] not in names, model['Name']
        names.add(model['Name'])
        assert osp.basename(model['Config']) == model['Name'] + '.py'
        md = model['Metadata']
        for key in ('Training Data', 'Training Resources', 'Epochs',
                    'Optimizer', 'Architecture'):
            assert md.get(key), (model['Name'], key)
        assert '4 GPUs x 20' in md['Training Resources']
        assert 'AdamW' in md['Optimizer']
        assert model['Results'], model['Name']
        for result in model['Results']:
            assert result['Task'] == 'Body 2D Keypoint'
            assert 0 < result['Metrics']['AP'] < 100


def test_every_paper_config_is_listed_with_its_paper_ap():
    meta = _load('configs/boir/metafile.yml')
    models = {m['Name']: m for m in meta['Models']}
    for name, result in _paper_configs().items():
        names = [name]
        if '{32,48}' in name:
            names = [name.replace('{32,48}', w) for w in ('32', '48')]
        for n in names:
            assert n in models, f'{n} (docs/model_zoo.md) not in metafile'
            for r in models[n]['Results']:
                ap = f"{r['Metrics']['AP']:.1f}"
                assert ap in result, (n, ap, result)
