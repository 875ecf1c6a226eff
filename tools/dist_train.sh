#!/usr/bin/env bash
# Multi-process training with MMEngine's `pytorch` launcher (torchrun):
#
#   tools/dist_train.sh CONFIG NPROC [train.py arguments...]
#   e.g. tools/dist_train.sh configs/boir/boir_w32_coco.py 8 --amp
#
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT as in MMPose's script.
# On a machine without a GPU the processes train on CPU with the gloo backend
# (tools/train.py applies mmpose_boir.engine.cpu_distributed); SyncBN needs GPUs.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [tools/train.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="${ROOT}${PYTHONPATH:+:${PYTHONPATH}}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$NPROC" \
    "${ROOT}/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
