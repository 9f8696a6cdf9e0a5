#!/usr/bin/env bash
# The whole test suite: formatting, lints, every test of the workspace (unit, integration, end-to-end on
# the real checkpoints of DATA.md, the dashboard in headless Chromium), and the wasm32 build of core. CI
# runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - start )) s)"; }

step setup
bash scripts/setup.sh --browser
step "fetch data (checksummed)"
bash scripts/fetch-data.sh all
step "dashboard (wasm)"
bash scripts/build-frontend.sh

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

step "core for wasm32-unknown-unknown"
cargo build -p lowbit-core --target wasm32-unknown-unknown --release --locked

step "done"
