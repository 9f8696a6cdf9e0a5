#!/usr/bin/env bash
# Issue 11's BENCHMARKS.md tables: data-parallel SGD of the MLP on MNIST from scratch (seed 0, batch 128,
# 5 epochs = 2,340 steps, all 10,000 test images every half epoch) over N = 4 and 16 simulated workers,
# every compressor at its defaults (top-k, DGC, random-k at 99.9 % sparsity; DGC warmed up over the first
# epoch), then DGC's ablation (from the official defaults — no clipping — each technique off, and clipping at
# 2.0 added). One JSON object per run in OUT (default target/bench-dgc/).
# Usage: scripts/bench-dgc.sh [STEPS] [OUT] [BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-2340}"
out="${2:-target/bench-dgc}"
bin="${3:-target/debug/lowbit}"
mkdir -p "$out"
[ -x "$bin" ] || cargo build --bin lowbit
run() {
  local name="$1"; shift
  [ -s "$out/$name.json" ] && return 0
  echo "== $name" >&2
  "$bin" train --model mlp --method dgc --seed 0 --batch 128 --steps "$steps" --eval-every $((steps / 10)) \
    --eval-images 10000 --warmup-epochs 1 --target 0.95 --threads 1 --json "$@" > "$out/$name.json.part"
  mv "$out/$name.json.part" "$out/$name.json"
}
for n in 4 16; do
  for c in dense topk dgc randk qsgd terngrad signsgd-ef powersgd; do
    run "n$n-$c" --workers "$n" --compressor "$c"
  done
  # DGC's ablation from the official defaults (n$n-dgc): each technique off, and local clipping added.
  run "n$n-dgc-no-mc" --workers "$n" --compressor dgc --no-momentum-correction
  run "n$n-dgc-no-mask" --workers "$n" --compressor dgc --no-factor-masking
  run "n$n-dgc-no-warmup" --workers "$n" --compressor dgc --no-warmup
  run "n$n-dgc-clip" --workers "$n" --compressor dgc --clip-norm 2
done
