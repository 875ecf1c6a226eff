#!/usr/bin/env bash
# Remake the pictures in docs/images (one command, from the repository root):
#
#   bash tools/doc_pictures.sh [WORK_DIR [OUT_DIR]]
#
# Trains the tiny model on the 4 sample COCO images (tools/overfit_tiny.py,
# 300 iterations at 256 px; it fails when the AP on those images is below
# 0.5), then draws one of them with tools/demo.py and tools/vis_embedding.py
# using the checkpoint and the config that the training wrote. About 5 minutes
# on one CPU thread. Defaults: WORK_DIR work_dirs/doc_pictures, OUT_DIR
# docs/images.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${1:-work_dirs/doc_pictures}
OUT=${2:-docs/images}
ITERS=${DOC_PICTURES_ITERS:-300}
MIN_AP=${DOC_PICTURES_MIN_AP:-0.5}
IMAGE=demo/000000197388.jpg

python tools/overfit_tiny.py --iters "$ITERS" --input-size 256 --lr 5e-3 \
    --min-ap "$MIN_AP" --work-dir "$WORK"
CONFIG=$WORK/boir_tiny_overfit.py
CKPT=$WORK/epoch_$ITERS.pth

mkdir -p "$OUT"
python tools/demo.py "$CONFIG" "$CKPT" "$IMAGE" --out-dir "$WORK/demo" \
    --kpt-thr 0.05
cp "$WORK/demo/$(basename "$IMAGE")" "$OUT/demo_boir_tiny_overfit.jpg"
python tools/vis_embedding.py "$CONFIG" "$CKPT" "$IMAGE" \
    --out "$OUT/embedding_boir_tiny_overfit.png"
echo "doc_pictures: $OUT/demo_boir_tiny_overfit.jpg" \
    "$OUT/embedding_boir_tiny_overfit.png"
