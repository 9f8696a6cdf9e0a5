#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of core's readers with libFuzzer, on the stable toolchain: libfuzzer-sys
# links libFuzzer, and rustc's stable sanitizer-coverage passes instrument the code (no nightly, no
# cargo-fuzz). Each target runs for SECONDS (default 30) from the committed corpus in fuzz/corpus/<target>
# plus the real files of DATA.md as read-only seeds (mutated inputs are at most 8 KiB; the hostile seeds stay whole);
# afterwards the new inputs that add coverage are merged into fuzz/corpus/<target> — commit them. An input that panics, takes over 10 s or makes the process exceed 2 GiB of RSS fails the run and is
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
# An explicit --target keeps the instrumentation out of build scripts (they would not link).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --manifest-path fuzz/Cargo.toml --release --locked --bins --target "$host"
bin="$CARGO_TARGET_DIR/$host/release"
seeds="$CARGO_TARGET_DIR/seeds"
mkdir -p "$seeds/read" "$seeds/pickle" "$CARGO_TARGET_DIR/artifacts"
for f in data/digit_cnn.pth data/ppocr_cls.onnx; do
  [ -f "$f" ] && cp "$f" "$seeds/read/"
done
for t in read pickle; do
  mkdir -p "fuzz/corpus/$t"
  echo "fuzz: $t for $secs s ($(ls "fuzz/corpus/$t" | wc -l) inputs in the corpus)"
  log="$CARGO_TARGET_DIR/$t.log"
  scratch="$CARGO_TARGET_DIR/new/$t"
  rm -rf "$scratch" && mkdir -p "$scratch"
  status=0
  "$bin/$t" "$scratch" "fuzz/corpus/$t" "$seeds/$t" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -artifact_prefix="$CARGO_TARGET_DIR/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz: $t found a failing input (saved under $CARGO_TARGET_DIR/artifacts/)"
    exit 1
  fi
  # Keep only the new inputs that add coverage: the committed corpus grows slowly and stays small.
  before=$(ls "fuzz/corpus/$t" | wc -l)
  "$bin/$t" -merge=1 "fuzz/corpus/$t" "$scratch" >"$log.merge" 2>&1 || { tail -20 "$log.merge"; exit 1; }
  echo "fuzz: $t corpus $before -> $(ls "fuzz/corpus/$t" | wc -l) inputs"
done
