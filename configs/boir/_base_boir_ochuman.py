# BoIR on OCHuman, following CID: train on OCHuman val, evaluate on OCHuman
# val and test with COCO keypoint AP (OKS-NMS at 0.7 as released).
_base_ = ['./_base_boir_coco.py']

default_hooks = dict(checkpoint=dict(save_best='coco/AP'))
dataset_type = 'ValidatedOCHumanDataset'
data_root = 'data/ochuman/'
val_ann = 'annotations/ochuman_coco_format_val_range_0.00_1.00.json'
test_ann = 'annotations/ochuman_coco_format_test_range_0.00_1.00.json'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=val_ann,
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=val_ann,
        data_prefix=dict(img='images/')))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=test_ann,
        data_prefix=dict(img='images/')))
val_evaluator = dict(ann_file=data_root + val_ann, nms_thr=0.7)
test_evaluator = dict(ann_file=data_root + test_ann, nms_thr=0.7)
