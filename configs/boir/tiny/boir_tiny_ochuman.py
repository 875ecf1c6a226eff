# Tiny BoIR on the 3 sample OCHuman images, for tests.
_base_ = ['./boir_tiny_coco.py']

dataset_type = 'ValidatedOCHumanDataset'
data_root = '../shared/data/ochuman/'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='test_ochuman.json'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='test_ochuman.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'test_ochuman.json', nms_thr=0.7)
test_evaluator = val_evaluator
