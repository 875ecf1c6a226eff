"""Each dataset's test config evaluates end to end and returns its metric
keys; ground truth as prediction scores AP 1.0 through the same path; an
annotation file without what the evaluator reads fails when the test
dataset loads, not after the inference pass."""
import copy
import json

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from mmpose.registry import DATASETS

import mmpose_boir  # noqa: F401
from conftest import TINY_CONFIG, TINY_CROWDPOSE_CONFIG
from mmpose_boir.datasets import EVAL_FIELDS, AnnotationError

CASES = {
    'coco': (TINY_CONFIG, 'coco',
             ['AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5',
              'AR .75', 'AR (M)', 'AR (L)']),
    'crowdpose': (TINY_CROWDPOSE_CONFIG, 'crowdpose',
                  ['AP', 'AP .5', 'AP .75', 'AR', 'AR .5', 'AR .75',
                   'AP(E)', 'AP(M)', 'AP(H)']),
    'ochuman': ('configs/boir/tiny/boir_tiny_ochuman.py', 'coco',
                ['AP', 'AP .5', 'AP .75', 'AR', 'AR .5', 'AR .75']),
}


@pytest.mark.parametrize('name', list(CASES))
def test_config_evaluates_end_to_end(name, tmp_path):
    path, prefix, keys = CASES[name]
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    for key in keys:
        assert f'{prefix}/{key}' in metrics, (key, sorted(metrics))


@pytest.mark.parametrize('name', list(CASES))
def test_ground_truth_as_prediction_scores_ap_1(name):
    path, prefix, _ = CASES[name]
    init_default_scope('mmpose')
    cfg = Config.fromfile(path)
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    evaluator = Evaluator(copy.deepcopy(cfg.test_evaluator))
    evaluator.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        sample = dataset[i]['data_samples']
        keep = np.array([not a.get('iscrowd', 0) and a['num_keypoints'] > 0
                         for a in info['raw_ann_info']], dtype=bool)
        kpts = np.stack([np.array(a['keypoints'], np.float32).reshape(
            -1, 3) for a in info['raw_ann_info']])[keep] if keep.any() \
            else np.zeros((0, dataset.metainfo['num_keypoints'], 3))
        sample.pred_instances = InstanceData(
            keypoints=kpts[..., :2], keypoint_scores=np.ones(kpts.shape[:2]),
            bbox_scores=np.ones(len(kpts)))
        evaluator.process([sample], None)
    metrics = evaluator.evaluate(len(dataset))
    assert metrics[f'{prefix}/AP'] == pytest.approx(1.0)


@pytest.mark.parametrize('name', list(CASES))
def test_eval_fields_are_checked_when_the_test_dataset_loads(name, tmp_path):
    path, _, _ = CASES[name]
    init_default_scope('mmpose')
    cfg = Config.fromfile(path)
    ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    assert ds_cfg.test_mode and ds_cfg.type.startswith('Validated')
    src = ds_cfg.data_root + ds_cfg.ann_file
    with open(src) as f:
        data = json.load(f)
    field = EVAL_FIELDS[name]['annotation'][0]
    ann = data['annotations'][-1]
    del ann[field]
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(data))
    ds_cfg.ann_file = str(ann_file.resolve())
    with pytest.raises(AnnotationError) as info:
        DATASETS.build(ds_cfg)
    message = str(info.value)
    assert str(ann_file.resolve()) in message
    assert f'annotation id {ann["id"]} ' in message
    assert f"missing field '{field}'" in message
