#!/usr/bin/env bash
# The whole test suite: formatting, lints, every test of the workspace (unit, integration, end-to-end on
# the real checkpoints of DATA.md, the dashboard in headless Chromium, whose build also compiles core for
# wasm32), and a bounded fuzzing run of the readers. CI runs exactly this (.ci/run).
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
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
# Clippy runs inside the test build (clippy-driver wraps rustc for the workspace's own crates), so the
# dependencies are compiled once, not also checked a second time by `cargo clippy`; any warning fails.
step "build (clippy -D warnings on the workspace's crates)"
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
log=$(mktemp)
nextest=false
cargo nextest --version >/dev/null 2>&1 && nextest=true
if $nextest; then
  cargo nextest run --workspace --locked --no-run 2>&1 | tee "$log"
else
  cargo test --workspace --locked --no-run 2>&1 | tee "$log"
fi
if grep -qE '^(warning|error)(\[[a-z0-9_:]+\])?: ' "$log"; then
  echo "test.sh: the build has warnings (clippy -D warnings)" >&2
  exit 1
fi
# The benches are the only targets the test build does not compile: lint them on their own (check mode).
cargo clippy -p lowbit-core --benches --locked -- -D warnings

step "tests"
if $nextest; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

# core's wasm32 build is checked by the dashboard build above (the frontend compiles core for wasm32).

step "fuzzing the readers (bounded)"
bash scripts/fuzz.sh 30

step "done"
