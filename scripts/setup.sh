#!/usr/bin/env bash
# Installs what building and testing lowbit needs beyond the Rust toolchain itself: the wasm32 target, the
# wasm-bindgen CLI at exactly the version Cargo.lock pins, cargo-nextest, and with --browser Debian's
# Chromium and chromedriver for the dashboard's end-to-end tests. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown >&2
fi
wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$wb" ]; then
  echo "setup: installing wasm-bindgen-cli $wb (the version Cargo.lock pins; a few minutes)" >&2
  # Not --locked: its own lockfile pins a crate version the registry no longer serves (TOOLCHAIN.md).
  cargo install wasm-bindgen-cli --version "=$wb" >&2
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: cargo-nextest not found; installing it (the test runner lowbit uses)" >&2
  cargo install --locked cargo-nextest >&2 || echo "setup: nextest install failed; tests will use cargo test" >&2
fi
if [ "${1:-}" = "--browser" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  echo "setup: installing Debian's chromium and chromium-driver (for the dashboard tests)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >&2
fi
