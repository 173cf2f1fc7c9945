#!/usr/bin/env bash
# `make gpu-check`: on a Linux machine with an NVIDIA GPU, installs ONNX Runtime's GPU build with its CUDA
# libraries (pip), then benchmarks YOLO-NAS S (INT8 fixture) and YOLOv12n (INT8) on CPU, CUDA and TensorRT
# (INT8, engine cache) and auto (TensorRT, then CUDA: the first that loads) and prints one table.
# --strict-device: a provider that fails to load is an error, not a silent CPU run; with auto it means
# "a GPU provider must load".
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvidia-smi >/dev/null && nvidia-smi -L || { echo "gpu-check: no NVIDIA GPU (nvidia-smi not found)"; exit 2; }

VENV=.venv-gpu
if [ ! -f $VENV/.stamp ]; then
  python3 -m venv $VENV
  $VENV/bin/pip install -q "onnxruntime-gpu[cuda,cudnn]==1.31.*" tensorrt-cu13 || \
    $VENV/bin/pip install -q "onnxruntime-gpu[cuda,cudnn]==1.31.*"
  touch $VENV/.stamp
fi
site=$($VENV/bin/python -c 'import site; print(site.getsitepackages()[0])')
lib=$(ls "$site"/onnxruntime/capi/libonnxruntime.so.1.* | head -1)
# The CUDA, cuDNN and TensorRT libraries come as pip packages; the provider libraries find them here.
export LD_LIBRARY_PATH="$(ls -d "$site"/nvidia/*/lib "$site"/tensorrt_libs 2>/dev/null | paste -sd:):$(dirname "$lib"):${LD_LIBRARY_PATH:-}"

cargo build --release
models=(--model tests/data/yolo_nas_s_fixture_int8.onnx --model models/yolov12n_int8.onnx)
printf '%-10s %-32s %10s %10s %8s\n' device model "infer ms" "p95 ms" fps
# auto must pick a GPU provider here (TensorRT if its libraries load, else CUDA), and say which.
auto_err=$(target/release/nasview detect --ort-lib "$lib" --device auto --strict-device \
  --model tests/data/yolo_nas_s_fixture_int8.onnx assets/photos/chelsea.png 2>&1 >/dev/null) || {
  echo "$auto_err"; echo "gpu-check: --device auto found no GPU provider"; exit 1; }
echo "$auto_err" | grep -E "^nasview: (device auto|model)"
for dev in cpu cuda tensorrt auto; do
  if out=$(target/release/nasview bench --ort-lib "$lib" --device $dev --strict-device "${models[@]}" --frames 100 --json); then
    OUT="$out" DEV=$dev python3 - <<'PY'
import json, os
for m in json.loads(os.environ["OUT"])["models"]:
    i = m["ms"]["inference"]
    print(f'{os.environ["DEV"]:<10} {m["model"]:<32} {i["median"]:>10.2f} {i["p95"]:>10.2f} {m["fps"]:>8.1f}')
PY
  else
    printf '%-10s (provider unavailable: see the error above)\n' "$dev"
  fi
done
