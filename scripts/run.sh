#!/usr/bin/env bash
# Builds everything and starts the lowbit dashboard; prints its URL. Extra arguments go to `lowbit serve`
# (e.g. --addr 127.0.0.1:9000 --data-dir /srv/lowbit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch-data.sh minilm digit-cnn onnx-cls >&2
bash scripts/build-frontend.sh
cargo build --release -p lowbit-server
exec target/release/lowbit serve "$@"
