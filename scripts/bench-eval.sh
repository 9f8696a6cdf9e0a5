#!/usr/bin/env bash
# Evaluation speed on this machine: the digit CNN over MNIST's 10,000 test images through lowbit's own
# forward pass (.pth) and through tract (the ONNX export tests/cli/eval.rs writes to
# tests/artifacts/digit_cnn.onnx), against onnxruntime on the same ONNX file; then a whole sensitivity
# analysis and a mixed-precision search. Needs `cargo build --workspace --tests` and `scripts/test.sh` (or
# the eval tests) to have run once; installs onnxruntime and numpy into a throwaway venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/debug/lowbit
onnx=tests/artifacts/digit_cnn.onnx
[ -x "$bin" ] || { echo "build first: cargo build --workspace --tests"; exit 1; }
[ -f "$onnx" ] || { echo "run the eval tests first (they write $onnx)"; exit 1; }
bash scripts/fetch-data.sh digit-cnn mnist >/dev/null
venv=${TMPDIR:-/tmp}/lowbit-ort
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q onnxruntime==1.32.0 numpy==2.4.6

seconds() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f s, accuracy %.4f" % (d["seconds"], d["accuracy"]))'; }
echo "lowbit eval (reference + compressed + unquantized again for output SQNR: 3 passes of 10,000 images, int8 per channel):"
for model in data/digit_cnn.pth "$onnx"; do
    printf '  %-34s ' "$model"
    "$bin" eval "$model" --format int --bits 8 --granularity channel --json | seconds
done

echo "onnxruntime $("$venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)') on $onnx (one pass of 10,000 images, batch 100, best of 3):"
"$venv/bin/python" - "$onnx" <<'PY'
import sys, time, numpy as np, onnxruntime as ort
img = np.fromfile("data/mnist/t10k-images-idx3-ubyte", dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32)
lab = np.fromfile("data/mnist/t10k-labels-idx1-ubyte", dtype=np.uint8, offset=8)
for threads in (1, 2):
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        out = np.concatenate([s.run(None, {"x": img[i:i + 100]})[0] for i in range(0, 10000, 100)])
        best = min(best, time.perf_counter() - t)
    print(f"  {threads} thread(s): {best:.2f} s, accuracy {(out.argmax(1) == lab).mean():.4f}")
PY

echo "whole sensitivity analysis (int4 per channel, 11 evaluations of 10,000 images):"
/usr/bin/time -f "  %e s wall, %M KiB peak" "$bin" sensitivity data/digit_cnn.pth --format int --bits 4 --granularity channel --json >/dev/null
echo "mixed precision (budget 3, int2,int3,int4,int8,mxfp4,nvfp4: 30 + 1 + 8 + 6 evaluations):"
/usr/bin/time -f "  %e s wall, %M KiB peak" "$bin" mixed data/digit_cnn.pth --budget 3 --json >/dev/null
