#!/usr/bin/env bash
# Builds the dashboard into assets/: the Leptos app for wasm32 (with lowbit_core inside), its JS glue by
# wasm-bindgen, plotly.js from the npm registry (checksummed), and gzip copies the server sends to browsers
# that accept them. Needs what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-data.sh plotly >&2
cargo build -p lowbit-frontend --target wasm32-unknown-unknown --profile wasm-release --locked
rm -rf assets/pkg
wasm-bindgen --target web --no-typescript --out-dir assets/pkg target/wasm32-unknown-unknown/wasm-release/lowbit_frontend.wasm
for f in assets/pkg/*.js assets/pkg/*.wasm assets/vendor/*.js assets/*.css assets/index.html; do
  gzip -9 -n -k -f "$f"
done
echo "frontend: $(du -cb assets/pkg/*.gz assets/vendor/*.js.gz assets/*.css.gz assets/index.html.gz | tail -1 | cut -f1) bytes gzipped (wasm + js + css + html)" >&2
