#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of core's readers with libFuzzer, on the stable toolchain: libfuzzer-sys
# links libFuzzer, and rustc's stable sanitizer-coverage passes instrument the code (no nightly, no
# cargo-fuzz). Each target runs for SECONDS (default 30) from the committed corpus in fuzz/corpus/<target>
# (which grows: new inputs are written there — commit them) plus the real files of DATA.md as read-only
# seeds. An input that panics, takes over 10 s or makes the process exceed 2 GiB of RSS fails the run and is
# saved under target/fuzz/artifacts/ (add it to the corpus and to core/tests/hostile_files.rs).
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
# Its own target folder: the instrumented build must not invalidate the main one.
export CARGO_TARGET_DIR="$PWD/target/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
cargo build --manifest-path fuzz/Cargo.toml --release --locked --bins
seeds="$CARGO_TARGET_DIR/seeds"
mkdir -p "$seeds/read" "$seeds/pickle" "$CARGO_TARGET_DIR/artifacts"
for f in data/digit_cnn.pth data/ppocr_cls.onnx data/mnist/t10k-labels-idx1-ubyte; do
  [ -f "$f" ] && cp "$f" "$seeds/read/"
done
for t in read pickle; do
  mkdir -p "fuzz/corpus/$t"
  echo "fuzz: $t for $secs s ($(ls "fuzz/corpus/$t" | wc -l) inputs in the corpus)"
  log="$CARGO_TARGET_DIR/$t.log"
  status=0
  "$CARGO_TARGET_DIR/release/$t" "fuzz/corpus/$t" "$seeds/$t" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=2000000 \
    -artifact_prefix="$CARGO_TARGET_DIR/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz: $t found a failing input (saved under $CARGO_TARGET_DIR/artifacts/)"
    exit 1
  fi
done
