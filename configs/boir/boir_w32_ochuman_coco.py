# BoIR, HRNet-W32, trained on COCO, evaluated on OCHuman (paper: 47.4 val /
# 47.0 test AP). Test a COCO checkpoint:
#   python tools/test.py configs/boir/boir_w32_ochuman_coco.py \
#       work_dirs/boir_w32_coco/epoch_140.pth
# (OCHuman test; validation during training runs on OCHuman val.)
_base_ = ['./_base_boir_ochuman.py']

