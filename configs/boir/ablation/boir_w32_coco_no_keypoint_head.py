# Ablation of BoIR W32 on COCO: without the auxiliary keypoint head (the
# multi-person keypoint heatmaps on the shared neck). The center head keeps its
# loss: the same focal loss on the center channel alone. The embedding (Bbox
# Mask Loss) and bbox heads stay. Not tied to a row of the paper's ablation
# table: docs/method.md does not reproduce the table, so no row is named (see
# docs/box_supervision.md, "In BoIR, and the ablations").
_base_ = ['../boir_w32_coco.py']

model = dict(head=dict(aux_heads=('embedding_head', 'bbox_head')))
