#!/usr/bin/env bash
# Installs what building and testing lowbit needs beyond the Rust toolchain itself. Idempotent and quiet
# when everything is there. Sourced by run.sh and test.sh.
set -euo pipefail
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown >&2
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: cargo-nextest not found; installing it (the test runner lowbit uses)" >&2
  cargo install --locked cargo-nextest >&2 || echo "setup: nextest install failed; tests will use cargo test" >&2
fi
