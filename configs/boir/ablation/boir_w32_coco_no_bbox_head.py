# Ablation of BoIR W32 on COCO: without the auxiliary bbox head (and its CIoU
# loss). The keypoint and embedding (Bbox Mask Loss) heads stay. Not tied to a
# row of the paper's ablation table: docs/method.md does not reproduce the
# table, so no row is named (see docs/box_supervision.md, "In BoIR, and the
# ablations").
_base_ = ['../boir_w32_coco.py']

model = dict(head=dict(aux_heads=('multi_heatmap_head', 'embedding_head')))
