# BoIR, HRNet-W48, trained on OCHuman val (an extra, NOT the paper's OCHuman
# setting, which evaluates the COCO-trained model: boir_w48_ochuman_coco.py).
# See boir_w32_ochuman_trained_on_val.py.
_base_ = ['./boir_w48_ochuman_coco.py']

train_dataloader = dict(
    dataset=dict(
        type=_base_.ochuman_type,
        data_root=_base_.ochuman_root,
        ann_file=_base_.ochuman_val_ann,
        data_prefix=dict(img='images/'),
        filter_cfg=None))
