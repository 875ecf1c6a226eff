#!/usr/bin/env bash
# Testing on a Slurm cluster with MMEngine's `slurm` launcher, as MMPose's
# tools/slurm_test.sh:
#
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py arguments...]
#   e.g. tools/slurm_test.sh gpu boir_w32 configs/boir/boir_w32_coco.py \
#            work_dirs/boir_w32_coco/epoch_140.pth
#
# GPUS (default 4), GPUS_PER_NODE (default min(GPUS, 8)), CPUS_PER_TASK (5)
# and SRUN_ARGS as in tools/slurm_train.sh; SLURM_DRY_RUN=1 prints the srun
# command instead of running it.
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py arguments...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
read -r -a SRUN_EXTRA <<< "${SRUN_ARGS:-}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

CMD=(srun -p "$PARTITION"
     --job-name="$JOB_NAME"
     --gres=gpu:"$GPUS_PER_NODE"
     --ntasks="$GPUS"
     --ntasks-per-node="$GPUS_PER_NODE"
     --cpus-per-task="$CPUS_PER_TASK"
     --kill-on-bad-exit=1
     "${SRUN_EXTRA[@]}"
     python -u "${ROOT}/tools/test.py" "$CONFIG" "$CHECKPOINT"
     --launcher=slurm "${@:5}")

if [ -n "${SLURM_DRY_RUN:-}" ]; then
    printf '%q ' "${CMD[@]}"
    echo
    exit 0
fi
PYTHONPATH="${ROOT}${PYTHONPATH:+:${PYTHONPATH}}" "${CMD[@]}"
