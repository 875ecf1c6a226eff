"""BoIRCocoMetric (mmpose_boir/evaluation/coco_metric.py), the evaluator of
every config: each dataset's test config evaluates end to end and returns
its metric keys; ground truth as prediction scores AP 1.0 through the same
path; the results file is the release's (no person box: detection areas
from the keypoints' extent), MMPose's boxes the opt-in."""
import copy
import json

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from mmpose.registry import DATASETS, METRICS

import mmpose_boir  # noqa: F401
from conftest import (COCO_SAMPLE_ANN, COCO_SAMPLES, TINY_CONFIG,
                      TINY_CROWDPOSE_CONFIG)

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


# ------------------------------------------------------------------ results
def test_results_file_has_no_person_box_and_keypoint_extent_areas(tmp_path):
    """As the release's results file: no ``bbox``, so the COCO tools take
    each detection's area from the extent of all its keypoints;
    ``write_bbox=True`` writes our boxes (MMPose's)."""
    from mmpose.structures import PoseDataSample  # noqa: F401
    from xtcocotools.coco import COCO as XCOCO

    init_default_scope('mmpose')
    cfg = Config.fromfile('configs/boir/boir_w32_coco.py')
    ann_file = COCO_SAMPLE_ANN
    gt = json.load(open(ann_file))
    samples = []
    for img in gt['images']:
        anns = [a for a in gt['annotations'] if a['image_id'] == img['id']
                and a['num_keypoints'] > 0]
        kpts = np.array([a['keypoints'] for a in anns], np.float32).reshape(
            len(anns), 17, 3)
        samples.append(dict(
            id=img['id'], img_id=img['id'], ori_shape=(img['height'],
                                                       img['width']),
            raw_ann_info=[], gt_instances=dict(),
            pred_instances=dict(
                keypoints=kpts[..., :2], keypoint_scores=np.full(
                    kpts.shape[:2], 0.9, np.float32),
                bbox_scores=np.full(len(anns), 0.9, np.float32),
                # a box far from the keypoints' extent
                bboxes=np.tile(np.array([[0, 0, 5, 5]], np.float32),
                               (len(anns), 1)))))
    for write_bbox in (False, True):
        metric = METRICS.build(dict(
            cfg.val_evaluator, ann_file=ann_file, write_bbox=write_bbox,
            outfile_prefix=str(tmp_path / f'r{int(write_bbox)}')))
        metric.dataset_meta = DATASETS.build(dict(
            type='ValidatedCocoDataset', data_root='', ann_file=ann_file,
            data_mode='bottomup', test_mode=True, pipeline=[],
            data_prefix=dict(img=COCO_SAMPLES))).metainfo
        metric.process([], copy.deepcopy(samples))
        metric.evaluate(len(samples))
        path = str(tmp_path / f'r{int(write_bbox)}.keypoints.json')
        results = json.load(open(path))
        assert results and all(('bbox' in r) == write_bbox for r in results)
        loaded = XCOCO(ann_file).loadRes(path)
        for ann in loaded.dataset['annotations']:
            x, y = np.array(ann['keypoints'][0::3]), np.array(
                ann['keypoints'][1::3])
            extent = (x.max() - x.min()) * (y.max() - y.min())
            if write_bbox:
                assert ann['area'] == pytest.approx(25)
            else:
                assert ann['area'] == pytest.approx(extent)
