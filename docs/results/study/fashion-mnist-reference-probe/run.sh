#!/bin/bash
# The convergence probe at 600 images: seed 1 of baseline and symmetric with twice the study's epochs.
set -u
mkdir -p "${OUT:-runs/probe}"
for m in baseline symmetric; do
  OMP_NUM_THREADS=1 NO_COLOR=1 deno run -A scripts/train.ts --model $m --dataset fashion-mnist --preset reference \
    --epochs 120 --batch-size 64 --optimizer adam --lr 0.002 --schedule onecycle --weight-decay 0.0005 \
    --augment shift --seed 1 --train-size 600 --val-fraction 0.1 --eval-limit 1000 --curve-every 10 \
    --out ${OUT:-runs/probe}/ckpt > ${OUT:-runs/probe}/$m.log 2>&1
done
