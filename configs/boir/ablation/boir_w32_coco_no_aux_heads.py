# Ablation of BoIR W32 on COCO: no auxiliary head at all (no box supervision):
# the neck, the center head (its focal loss on the center channel) and the
# instance keypoint head, as deployed. Not tied to a row of the paper's
# ablation table: docs/method.md does not reproduce the table, so no row is
# named (see docs/box_supervision.md, "In BoIR, and the ablations").
_base_ = ['../boir_w32_coco.py']

model = dict(head=dict(aux_heads=()))
