#!/usr/bin/env python3
"""Inference time of ``nasview detect`` against bare ONNX Runtime (its default session options), interleaved.

The same ONNX file, the same photos, the same ONNX Runtime library (the one in .venv, which nasview also
loads). Bare ONNX Runtime is ``onnxruntime.InferenceSession(path)`` with nothing set: its default thread
count and spinning, as a Python user (or Ultralytics' ONNX backend) gets it; only ``session.run`` is timed,
on tensors letterboxed beforehand. nasview is the real ``nasview detect`` binary over the photos; its
inference stage (``session.run`` in Rust, from its debug log) is what is compared. The two alternate round
by round (which one goes first alternates too), so the drift of a shared machine hits both alike; the
first image of each nasview process and a warm-up run of the Python session are not counted.

Printed per model: medians, p90 and the ratio nasview / ORT (below 1.0: nasview is faster).

Run from the project root with the light venv: ``make bench-ort`` or
``.venv/bin/python models/bench_ort.py --model models/yolov12n.onnx --model models/yolov12n_int8.onnx``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import detcore  # noqa: E402

# `tracing` prints the StageTimes struct with Debug durations: "inference: 51.234ms", "812.5µs", "1.02s".
INFERENCE = re.compile(r"inference: ([0-9.]+)(ns|µs|us|ms|s)\b")
UNIT_MS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}


def nasview_round(binary: str, model: str, photos: list[str], extra: list[str]) -> list[float]:
    """One `nasview detect` process over the photos: inference ms per image, the first (warm-up) left out."""
    env = dict(os.environ, NASVIEW_LOG="nasview=debug")
    cmd = [binary, "detect", "--json", "--model", model, *extra, *photos]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"bench_ort: `{' '.join(cmd[:6])} ...` exited with {proc.returncode}")
    times = [float(v) * UNIT_MS[u] for v, u in INFERENCE.findall(proc.stderr)]
    if len(times) != len(photos):
        raise SystemExit(f"bench_ort: expected {len(photos)} timed images in nasview's debug log, got {len(times)}")
    return times[1:]


def ort_round(sess, info, tensors: list) -> list[float]:
    out = []
    for t in tensors:
        t0 = time.perf_counter()
        sess.run(None, {info.input_name: t})
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="ONNX model (repeat for several)")
    ap.add_argument("--photos", default="assets/photos")
    ap.add_argument("--nasview", default="target/release/nasview")
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds over the photos (6)")
    ap.add_argument("--nasview-args", action="append",
                    help="extra nasview arguments, e.g. '--device cpu --spin off'; repeat to compare several "
                         "settings in the same interleaved run (default: one, '--device cpu')")
    args = ap.parse_args()
    if not os.access(args.nasview, os.X_OK):
        print(f"bench_ort: {args.nasview} is missing: run `cargo build --release` first", file=sys.stderr)
        return 2
    import onnxruntime as ort

    photos = detcore.list_images([args.photos])
    configs = args.nasview_args or ["--device cpu"]
    print(f"{len(photos)} photos x {args.rounds} rounds per model; onnxruntime {ort.__version__}; "
          "medians (p90) of inference in ms; ratio = nasview / bare ORT (below 1: nasview faster)")

    def cell(v):
        return f"{statistics.median(v):.1f} ({statistics.quantiles(v, n=10)[-1]:.1f})"

    for model in args.model:
        sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])  # defaults, on purpose
        info = detcore.inspect_session(sess)
        tensors = [detcore.preprocess(detcore.load_rgb(p), info)[0] for p in photos]
        ort_round(sess, info, tensors[:1])  # warm-up
        theirs: list[float] = []
        ours: dict[str, list[float]] = {c: [] for c in configs}
        for r in range(args.rounds):
            # Who goes first alternates from round to round.
            order = [None, *configs] if r % 2 == 0 else [*configs[::-1], None]
            for c in order:
                if c is None:
                    theirs += ort_round(sess, info, tensors)
                else:
                    ours[c] += nasview_round(args.nasview, model, photos, c.split())
        del sess
        print(f"\n{os.path.basename(model)}")
        print(f"  {'bare ORT (defaults)':<36} {cell(theirs):>16}")
        for c in configs:
            ratio = statistics.median(ours[c]) / statistics.median(theirs)
            print(f"  {'nasview detect ' + c:<36} {cell(ours[c]):>16} {ratio:>8.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
