# Ablation of BoIR W32 on COCO: without the Bbox Mask Loss. The embedding head
# exists only for that loss, so this is also "without the embedding head"; the
# keypoint (multi-person heatmap) and bbox heads stay. Not tied to a row of the
# paper's ablation table: docs/method.md does not reproduce the table, so no
# row is named (see docs/box_supervision.md, "In BoIR, and the ablations").
_base_ = ['../boir_w32_coco.py']

model = dict(head=dict(aux_heads=('multi_heatmap_head', 'bbox_head')))
