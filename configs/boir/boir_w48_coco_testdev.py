# BoIR, HRNet-W48, COCO test-dev (paper: 71.2 AP on the evaluation
# server), as the release's coco_w48_testdev.yaml (DATASET.TEST test; every
# other setting as boir_w48_coco.py). Test-dev has no public annotations:
# tools/test.py only writes the result file for the server,
#   python tools/test.py configs/boir/boir_w48_coco_testdev.py \
#       work_dirs/boir_w48_coco/epoch_140.pth
# -> work_dirs/boir_w48_coco_testdev/
#    person_keypoints_test-dev2017_boir-w48_results.keypoints.json
# (rename it to *_results.json, zip it and upload it to the COCO server).
_base_ = ['./boir_w32_coco_testdev.py']

model = _base_.w48_model
train_dataloader = dict(dataset=dict(pipeline=_base_.w48_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.w48_val_pipeline))
test_evaluator = dict(outfile_prefix='work_dirs/boir_w48_coco_testdev/'
                      'person_keypoints_test-dev2017_boir-w48_results')
