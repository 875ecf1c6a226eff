# BoIR, HRNet-W32, trained on OCHuman val (an extra, NOT the paper's OCHuman
# setting, which evaluates the COCO-trained model: boir_w32_ochuman_coco.py).
# The release's ochuman_w32.yaml allows it (DATASET.TRAIN val): every OCHuman
# val image with an annotation is used (no labelled-keypoint filter), the
# 32^2 area rule applies; evaluated on OCHuman val and test as
# boir_w32_ochuman_coco.py. Validation on the training images is no
# held-out measure.
_base_ = ['./boir_w32_ochuman_coco.py']

train_dataloader = dict(
    dataset=dict(
        type=_base_.ochuman_type,
        data_root=_base_.ochuman_root,
        ann_file=_base_.ochuman_val_ann,
        data_prefix=dict(img='images/'),
        filter_cfg=None))
