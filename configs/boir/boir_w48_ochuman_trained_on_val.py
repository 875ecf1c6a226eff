# BoIR, HRNet-W48, trained on OCHuman val (an extra, NOT the paper's OCHuman
# setting, which evaluates the COCO-trained model: boir_w48_ochuman_coco.py).
# See boir_w32_ochuman_trained_on_val.py.
_base_ = ['./boir_w32_ochuman_trained_on_val.py']

model = _base_.w48_model
train_dataloader = dict(dataset=dict(pipeline=_base_.w48_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
