#!/usr/bin/env bash
# The training lab's BENCHMARKS.md tables: runs of `lowbit train` on the real digit CNN (fine-tuned from
# data/digit_cnn.pth) with seed 0, one JSON object per run in OUT (default target/bench-training/).
# Usage: scripts/bench-training.sh [STEPS] [OUT]   (the tables in BENCHMARKS.md used STEPS = 200).
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-200}"
out="${2:-target/bench-training}"
mkdir -p "$out"
bin=target/debug/lowbit
[ -x "$bin" ] || cargo build --bin lowbit
run() {
  local name="$1"; shift
  echo "== $name" >&2
  "$bin" train --model digit-cnn --seed 0 --batch 64 --lr 0.01 --steps "$steps" --eval-every "$steps" \
    --eval-images 10000 --json "$@" > "$out/$name.json"
}
for bits in 2 3 4; do
  for grad in ste pwl mad; do
    run "qat-int$bits-octav-$grad" --format int --bits "$bits" --granularity channel --clip octav --grad "$grad"
  done
  run "qat-int$bits-max-mad" --format int --bits "$bits" --granularity channel --clip max --grad mad
  run "qat-int$bits-lsq-pwl" --format int --bits "$bits" --granularity channel --lsq --grad pwl
done
run ttq --method ttq
run twn --method twn
for s in 50 80 90; do
  for p in fine vector kernel filter channel; do
    run "prune-$p-$s" --method prune --pattern "$p" --sparsity "0.$s"
  done
done
run prune-nm24 --method prune --pattern nm:2:4
