#!/usr/bin/env bash
# Multi-process evaluation with MMEngine's `pytorch` launcher (torchrun):
#
#   tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py arguments...]
#
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT as in MMPose's script.
# On a machine without a GPU the processes evaluate on CPU with the gloo
# backend (tools/test.py applies mmpose_boir.engine.cpu_distributed).
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NPROC [tools/test.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
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
    "${ROOT}/tools/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
