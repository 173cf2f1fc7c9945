#!/usr/bin/env python3
"""Peer benchmark: super-gradients' own ``model.predict`` against ``nasview bench``, same weights, same photos.

super-gradients runs the YOLO-NAS checkpoint with torch on CPU (the threads nasview uses, fuse off as in
parity), timing each ``predict(photo)`` call (its preprocessing, inference and post-processing). nasview
runs ``nasview bench`` on the same photos with the FP32 raw export of the same weights and its INT8 version,
measured interleaved. Printed: per-frame medians and the ratios against super-gradients, for nasview's
pre + inference + post (what ``predict`` does) and for its whole frame (plus overlay and H.264 encode).

Run from the project root with the super-gradients venv: ``make bench-peer`` or
``.venv-sg/bin/python models/bench_peer.py --int8 tests/data/yolo_nas_s_fixture_int8.onnx``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import parity  # noqa: E402  (loading the checkpoint and exporting it, shared with the parity check)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=parity.DEFAULT_WEIGHTS,
                    help="super-gradients YOLO-NAS checkpoint (.pth); default: the shared S fixture")
    ap.add_argument("--size", default="s", choices=["s", "m", "l"])
    ap.add_argument("--int8", default="tests/data/yolo_nas_s_fixture_int8.onnx", help="INT8 export of the same weights")
    ap.add_argument("--nasview", default="target/release/nasview")
    ap.add_argument("--photos", default="assets/photos")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the photos (after one warm-up pass)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if not args.weights or not os.path.isfile(args.weights):
        print(f"bench_peer: checkpoint {args.weights!r} not found; pass --weights PATH to a YOLO-NAS .pth", file=sys.stderr)
        return 2
    photos = sorted(p for p in glob.glob(os.path.join(args.photos, "*")) if p.lower().endswith((".jpg", ".jpeg", ".png")))

    import torch

    torch.set_num_threads(args.threads)
    model = parity.load_sg_model(args.weights, args.size)
    work = os.path.join(HERE, ".cache", "parity", parity.sha256(args.weights)[:12])
    fp32 = parity.ensure_exports(model, args.weights, args.size, work)["raw"]

    for p in photos:  # warm-up
        model.predict(p, conf=0.25, iou=0.7, fuse_model=False)
    sg_ms = []
    for _ in range(args.rounds):
        for p in photos:
            t0 = time.perf_counter()
            model.predict(p, conf=0.25, iou=0.7, fuse_model=False)
            sg_ms.append((time.perf_counter() - t0) * 1e3)
    sg = statistics.median(sg_ms)

    cmd = [args.nasview, "bench", "--source", args.photos, "--frames", str(len(photos) * args.rounds),
           "--threads", str(args.threads), "--json", "--model", fp32, "--model", args.int8]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)["models"]
    print(f"{len(sg_ms)} predictions on {len(photos)} photos, {args.threads} threads; medians in ms")
    print(f"{'':34} {'pre+infer+post':>15} {'whole frame':>12} {'vs predict':>11}")
    print(f"{'super-gradients predict (torch)':34} {sg:>15.1f} {'':>12} {'1.00x':>11}")
    for m in rows:
        core = sum(m["ms"][k]["median"] for k in ("preprocess", "inference", "postprocess"))
        whole = 1000.0 / m["fps"]
        label = f"nasview {m['model']} {m['precision'].upper()}"
        print(f"{label[:34]:34} {core:>15.1f} {whole:>12.1f} {sg / core:>10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
