# Ablation of BoIR W32 on COCO: the three auxiliary heads on their own
# bottleneck (a second ASPP, `aux_neck`, training only) instead of sharing the
# center head's, so that their gradient reaches the backbone but not the center
# head's neck. Not tied to a row of the paper's ablation table: docs/method.md
# does not reproduce the table, so no row is named (see
# docs/box_supervision.md, "In BoIR, and the ablations").
_base_ = ['../boir_w32_coco.py']

model = dict(head=dict(aux_neck=True))
