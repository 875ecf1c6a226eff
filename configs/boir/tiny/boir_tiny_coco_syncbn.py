# The tiny config with synchronised BatchNorm across processes.
#
# SyncBN is one switch, `sync_bn = 'torch'`: in distributed training
# MMEngine's Runner converts every BatchNorm of the model (HRNet backbone and
# the BoIR head alike) to torch.nn.SyncBatchNorm before wrapping it in DDP;
# without a launcher it leaves plain BatchNorm. Any config can take it on the
# command line:
#
#   tools/dist_train.sh configs/boir/boir_w32_coco.py 8 \
#       --cfg-options sync_bn=torch
#
# torch.nn.SyncBatchNorm runs on GPUs only (gloo/CPU runs keep plain BN).
_base_ = ['./boir_tiny_coco.py']

sync_bn = 'torch'
