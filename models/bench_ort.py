#!/usr/bin/env python3
"""Inference time of ``nasview detect`` against bare ONNX Runtime (its default session options), interleaved.

The same ONNX file, the same photos, the same ONNX Runtime library (the one in .venv, which nasview also
loads). Bare ONNX Runtime is ``onnxruntime.InferenceSession(path)`` with nothing set: its default thread
count and spinning, as a Python user (or Ultralytics' ONNX backend) gets it; only ``session.run`` is timed,
on tensors letterboxed beforehand. nasview is the real ``nasview detect`` binary over the photos; its
inference stage (``session.run`` in Rust, from its debug log) is what is compared. The two alternate round
by round (which one goes first alternates too), so the drift of a shared machine hits both alike; the
first image of each nasview process and a warm-up run of the Python session are not counted.

When the real Ultralytics package can be imported (run with ``.venv-ul/bin/python``, made by ``make
setup-ultralytics``; ``make bench-ort`` does so when .venv-ul exists), a third contender joins the same rounds:
``YOLO(model.onnx, task="detect").predict(photo)`` one photo per call, as a user calls it, with its own
``Results.speed`` (preprocess, inference, postprocess) and the wall time of the whole call (which also reads the
file and builds the Results). Its ONNX Runtime session is Ultralytics' own (default session options, like bare
ORT). nasview's preprocess and postprocess come from the same debug log; its JPEG/PNG decoding is not in them.

Printed per model: medians, p90 and the ratios (below 1.0: nasview is faster): inference against bare ORT and
against Ultralytics, and preprocess + inference + postprocess against Ultralytics' sum of the three.

Run from the project root: ``make bench-ort`` or
``.venv-ul/bin/python models/bench_ort.py --model models/yolov12n.onnx --model models/yolov12n_int8.onnx``
(``.venv/bin/python`` works too, without the Ultralytics column).
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
STAGES = ("preprocess", "inference", "postprocess")
STAGE = {k: re.compile(k + r": ([0-9.]+)(ns|µs|us|ms|s)\b") for k in STAGES}
UNIT_MS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}


def nasview_round(binary: str, model: str, photos: list[str], extra: list[str]) -> dict[str, list[float]]:
    """One `nasview detect` process over the photos: ms per image and stage, the first (warm-up) left out."""
    env = dict(os.environ, NASVIEW_LOG="nasview=debug")
    cmd = [binary, "detect", "--json", "--model", model, *extra, *photos]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"bench_ort: `{' '.join(cmd[:6])} ...` exited with {proc.returncode}")
    out = {}
    for k in STAGES:
        times = [float(v) * UNIT_MS[u] for v, u in STAGE[k].findall(proc.stderr)]
        if len(times) != len(photos):
            raise SystemExit(f"bench_ort: expected {len(photos)} images with a {k} time in nasview's debug log, "
                             f"got {len(times)}")
        out[k] = times[1:]
    return out


def load_ultralytics():
    """The Ultralytics package when this Python has it (.venv-ul), told not to install or download anything."""
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(os.path.dirname(HERE), "models", ".cache",
                                                          "ultralytics-config"))
    try:
        import ultralytics
    except ImportError:
        return None
    return ultralytics


def ultralytics_round(yolo, photos: list[str]) -> dict[str, list[float]]:
    """Ultralytics' predict, one photo per call: its own Results.speed per stage and the call's wall time."""
    out: dict[str, list[float]] = {k: [] for k in (*STAGES, "wall")}
    for p in photos:
        t0 = time.perf_counter()
        (res,) = yolo.predict(p, device="cpu", verbose=False)
        out["wall"].append((time.perf_counter() - t0) * 1e3)
        for k in STAGES:
            out[k].append(float(res.speed[k]))
    return out


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

    ul = load_ultralytics()
    photos = detcore.list_images([args.photos])
    configs = args.nasview_args or ["--device cpu"]
    print(f"{len(photos)} photos x {args.rounds} rounds per model; onnxruntime {ort.__version__}"
          f"{f'; ultralytics {ul.__version__}' if ul else ' (no ultralytics here: run with .venv-ul/bin/python for it)'}; "
          "medians (p90) in ms; ratios = nasview / the other (below 1: nasview faster); "
          f"load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    w = max(36, *(len("nasview detect " + c) for c in configs))

    med = statistics.median

    def cell(v):
        return f"{med(v):.1f} ({statistics.quantiles(v, n=10)[-1]:.1f})"

    for model in args.model:
        sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])  # defaults, on purpose
        info = detcore.inspect_session(sess)
        tensors = [detcore.preprocess(detcore.load_rgb(p), info)[0] for p in photos]
        ort_round(sess, info, tensors[:1])  # warm-up
        yolo = None
        if ul:
            yolo = ul.YOLO(model, task="detect")
            ultralytics_round(yolo, photos[:1])  # warm-up (its predictor is set up on the first call)
        theirs: list[float] = []
        ultra: dict[str, list[float]] = {k: [] for k in (*STAGES, "wall")}
        ours: dict[str, dict[str, list[float]]] = {c: {k: [] for k in STAGES} for c in configs}
        contenders = ["ort", *(["ultralytics"] if yolo is not None else []), *configs]
        for r in range(args.rounds):
            # Who goes first alternates from round to round.
            for c in contenders if r % 2 == 0 else contenders[::-1]:
                if c == "ort":
                    theirs += ort_round(sess, info, tensors)
                elif c == "ultralytics":
                    for k, v in ultralytics_round(yolo, photos).items():
                        ultra[k] += v
                else:
                    for k, v in nasview_round(args.nasview, model, photos, c.split()).items():
                        ours[c][k] += v
        has_ul = yolo is not None
        del sess, yolo  # each model's sessions go before the next model's are made
        print(f"\n{os.path.basename(model)}")
        head = f"  {'':<{w}} {'preprocess':>16} {'inference':>16} {'postprocess':>16} {'wall/call':>16}"
        print(head + ("  inference vs ORT" + ("  vs Ultralytics  pre+inf+post vs Ultralytics" if has_ul else "")))
        print(f"  {'bare ORT (defaults)':<{w}} {'':>16} {cell(theirs):>16}")
        if has_ul:
            print(f"  {'Ultralytics predict':<{w}} {cell(ultra['preprocess']):>16} {cell(ultra['inference']):>16} "
                  f"{cell(ultra['postprocess']):>16} {cell(ultra['wall']):>16}")
        for c in configs:
            o = ours[c]
            line = (f"  {'nasview detect ' + c:<{w}} {cell(o['preprocess']):>16} {cell(o['inference']):>16} "
                    f"{cell(o['postprocess']):>16} {'':>16} {med(o['inference']) / med(theirs):>16.3f}x")
            if has_ul:
                ours_sum = sum(med(o[k]) for k in STAGES)
                ultra_sum = sum(med(ultra[k]) for k in STAGES)
                line += (f" {med(o['inference']) / med(ultra['inference']):>15.3f}x"
                         f" {ours_sum / ultra_sum:>28.3f}x")
            print(line)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
