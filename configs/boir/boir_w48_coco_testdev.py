# BoIR, HRNet-W48, COCO test-dev (paper: 71.2 AP on the evaluation
# server), as the release's coco_w48_testdev.yaml (DATASET.TEST test; every
# other setting as boir_w48_coco.py). Test-dev has no public annotations:
# tools/test.py only writes the result file for the server,
#   python tools/test.py configs/boir/boir_w48_coco_testdev.py \
#       work_dirs/boir_w48_coco/epoch_140.pth
# -> work_dirs/boir_w48_coco_testdev/
#    person_keypoints_test-dev2017_boir-w48_results.keypoints.json
# (rename it to *_results.json, zip it and upload it to the COCO server).
_base_ = ['./boir_w48_coco.py']

test_dataloader = dict(
    dataset=dict(
        ann_file='annotations/image_info_test-dev2017.json',
        data_prefix=dict(img='test2017/')))
test_evaluator = dict(
    type='BoIRCocoMetric',
    ann_file=_base_.data_root + 'annotations/image_info_test-dev2017.json',
    nms_thr=0.8,  # TEST.OKS_SCORE
    score_mode='keypoint',
    format_only=True,
    outfile_prefix='work_dirs/boir_w48_coco_testdev/'
    'person_keypoints_test-dev2017_boir-w48_results')
