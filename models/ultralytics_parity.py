#!/usr/bin/env python3
"""nasview's detections against the real Ultralytics package's ``YOLO(model.onnx).predict()``, side by side.

Both tools run the same ONNX file (FP32 and INT8 YOLOv12n by default) with the same ONNX Runtime (1.32, from
``.venv-ul``, the version nasview loads) on the same photos, with Ultralytics' defaults: conf 0.25, IoU 0.7,
imgsz 640, max_det 300. The pixels are the same too: Ultralytics reads a file with ``cv2.imread`` and nasview
decodes JPEG with libjpeg-turbo, byte-identical to it; this script checks that its OpenCV decodes every photo
exactly as the project's ``.venv`` OpenCV does (the one nasview's decoding is tested against).

Detections are matched one-to-one per photo (same class, IoU >= 0.5, best IoU first). The check fails
(exit 1) when a matched box differs by more than ``--tol-px`` (0.05 px) at any corner, a score by more than
``--tol-score``, or a detection exists in one tool only; a detection only one tool has whose score lies within
``--borderline`` (1e-4) of the threshold is reported as borderline and not failed (the two tools may round a
score sitting on the threshold to either side). nasview's JSON rounds boxes to 0.01 px and scores to 1e-4, so
up to 0.005 px and 5e-5 of every difference is that rounding. Exit 2: could not run.

Run from the project root: ``make parity-ultralytics`` or
``.venv-ul/bin/python models/ultralytics_parity.py [--model M.onnx ...] [--photos DIR] [--json-out PATH]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def quiet_ultralytics(config_dir: str) -> None:
    """Keep Ultralytics from installing packages, going online or writing to ~/.config while it runs.

    YOLO_AUTOINSTALL=False makes its check_requirements() report instead of calling pip; YOLO_OFFLINE=1 makes
    is_online() False (no DNS probes, no analytics events, no downloads); YOLO_CONFIG_DIR holds its
    settings.json in the project's cache instead of the user's home. Set before `import ultralytics`, which
    reads them at import time.
    """
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", config_dir)


def load_yolo(model_path: str):
    from ultralytics import YOLO

    return YOLO(model_path, task="detect")


def ultralytics_predict(model, photo: str, conf: float, iou: float, imgsz: int, max_det: int):
    """One photo through Ultralytics' own predict: (boxes [K,4], scores [K], classes [K]) and its Results."""
    (res,) = model.predict(photo, conf=conf, iou=iou, imgsz=imgsz, max_det=max_det, device="cpu", verbose=False)
    b = res.boxes
    return (b.xyxy.cpu().numpy().astype("float64"), b.conf.cpu().numpy().astype("float64"),
            b.cls.cpu().numpy().astype("int64")), res


def run_nasview(binary: str, model_path: str, photos: List[str], conf: float, iou: float):
    """`nasview detect --json` over the photos: {photo: (boxes, scores, classes)}."""
    import numpy as np

    cmd = [binary, "detect", "--json", "--device", "cpu", "--model", model_path,
           "--conf", str(conf), "--iou", str(iou), *photos]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemExit(f"ultralytics_parity: cannot run {binary}: {exc}") from exc
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"ultralytics_parity: `{' '.join(cmd[:7])} ...` exited with {proc.returncode}")
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            dets = rec["detections"]
            out[rec["image"]] = (np.array([d["box"] for d in dets], dtype="float64").reshape(-1, 4),
                                 np.array([d["score"] for d in dets], dtype="float64"),
                                 np.array([d["class_id"] for d in dets], dtype="int64"))
    missing = [p for p in photos if p not in out]
    if missing:
        raise SystemExit(f"ultralytics_parity: nasview printed no JSON line for {', '.join(missing)}")
    return out


def iou_matrix(a, b):
    import numpy as np

    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def compare(theirs, ours, conf: float, tol_px: float, tol_score: float, borderline: float) -> dict:
    """Match one-to-one (same class, IoU >= 0.5, best IoU first) and measure the matched pairs."""
    import numpy as np

    tb, ts, tc = theirs
    ob, os_, oc = ours
    iou = iou_matrix(tb, ob)
    iou[tc[:, None] != oc[None, :]] = 0.0
    pairs: List[Tuple[int, int]] = []
    used_t, used_o = set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < 0.5:
            break
        if i in used_t or j in used_o:
            continue
        used_t.add(i)
        used_o.add(j)
        pairs.append((i, j))
    max_px = max((float(np.abs(tb[i] - ob[j]).max()) for i, j in pairs), default=0.0)
    max_ds = max((abs(float(ts[i]) - float(os_[j])) for i, j in pairs), default=0.0)
    bad_pairs = [(i, j) for i, j in pairs
                 if np.abs(tb[i] - ob[j]).max() > tol_px or abs(ts[i] - os_[j]) > tol_score]

    def det(b, s, c, k):
        return {"class_id": int(c[k]), "score": round(float(s[k]), 5), "box": [round(float(v), 3) for v in b[k]]}

    only_theirs = [det(tb, ts, tc, i) for i in range(len(ts)) if i not in used_t]
    only_ours = [det(ob, os_, oc, j) for j in range(len(os_)) if j not in used_o]
    near = lambda d: abs(d["score"] - conf) <= borderline  # noqa: E731
    return {
        "ultralytics": len(ts), "nasview": len(os_), "matched": len(pairs),
        "max_box_px": max_px, "max_score_diff": max_ds,
        "over_tolerance": [{"ultralytics": det(tb, ts, tc, i), "nasview": det(ob, os_, oc, j)} for i, j in bad_pairs],
        "only_ultralytics": only_theirs, "only_nasview": only_ours,
        "borderline": [d for d in only_theirs + only_ours if near(d)],
        "ok": not bad_pairs and all(near(d) for d in only_theirs + only_ours),
    }


def one_gain_shift(boxes, orig_hw: Tuple[int, int], imgsz: int) -> float:
    """How far these boxes would move if mapped back with one gain r for x and y instead of scale_boxes' two.

    The boxes (Ultralytics' own, in image pixels) are taken back into the letterboxed input with scale_boxes'
    gains of the rounded resize, then mapped out again with the single r = min(imgsz/h, imgsz/w) (what nasview
    did before issue 13). The answer shows the 0.05 px check can see that difference on these photos.
    """
    import numpy as np

    if len(boxes) == 0:
        return 0.0
    h, w = orig_hw
    r = min(imgsz / h, imgsz / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    # Into the input: box * gain + pad; out with one gain: (that - pad) / r. The pads cancel.
    one = boxes * np.array([new_w / w, new_h / h] * 2) / r
    one = np.clip(one, 0, np.array([w, h, w, h]))
    return float(np.abs(one - boxes).max())


def pixel_digests(photos: List[str]) -> Dict[str, str]:
    import cv2

    out = {}
    for p in photos:
        img = cv2.imread(p, cv2.IMREAD_COLOR)
        out[p] = "unreadable" if img is None else hashlib.sha256(img.tobytes()).hexdigest()
    return out


def check_pixels(photos: List[str], project_python: str) -> Optional[str]:
    """Compare this venv's cv2.imread with the project venv's; None when equal, else what differs."""
    import cv2

    if not os.access(project_python, os.X_OK):
        return f"skipped: {project_python} is absent (run `make setup`)"
    code = ("import sys, json, hashlib, cv2\n"
            "print(json.dumps({p: hashlib.sha256(cv2.imread(p, cv2.IMREAD_COLOR).tobytes()).hexdigest() "
            "for p in sys.argv[1:]}))")
    proc = subprocess.run([project_python, "-c", code, *photos], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"could not run {project_python}: {proc.stderr.strip()[-300:]}"
    theirs = json.loads(proc.stdout)
    ours = pixel_digests(photos)
    differ = [os.path.basename(p) for p in photos if theirs.get(p) != ours[p]]
    if differ:
        return f"OpenCV {cv2.__version__} here decodes {', '.join(differ)} differently from {project_python}"
    return None


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append",
                   help="Ultralytics-exported ONNX model; repeat for several "
                        "(default: models/yolov12n.onnx and models/yolov12n_int8.onnx)")
    p.add_argument("--photos", default=os.path.join("assets", "photos"))
    p.add_argument("--nasview", default=os.path.join("target", "release", "nasview"))
    p.add_argument("--conf", type=float, default=0.25, help="Ultralytics' default (0.25)")
    p.add_argument("--iou", type=float, default=0.7, help="Ultralytics' default (0.7)")
    p.add_argument("--imgsz", type=int, default=640, help="Ultralytics' default (640)")
    p.add_argument("--max-det", type=int, default=300, help="Ultralytics' default (300)")
    p.add_argument("--tol-px", type=float, default=0.05, help="max box corner difference in px (0.05)")
    p.add_argument("--tol-score", type=float, default=1e-3, help="max score difference (1e-3)")
    p.add_argument("--borderline", type=float, default=1e-4,
                   help="a one-sided detection this close to --conf is reported, not failed (1e-4)")
    p.add_argument("--project-python", default=os.path.join(".venv", "bin", "python"),
                   help="the project venv whose OpenCV decodes as nasview does (pixel check)")
    p.add_argument("--json-out", metavar="PATH", help="also write every comparison as JSON here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    models = args.model or [os.path.join("models", "yolov12n.onnx"), os.path.join("models", "yolov12n_int8.onnx")]
    for m in models:
        if not os.path.isfile(m):
            print(f"ultralytics_parity: {m} is missing: run `make setup` (it fetches and quantizes YOLOv12n)",
                  file=sys.stderr)
            return 2
    if not os.access(args.nasview, os.X_OK):
        print(f"ultralytics_parity: {args.nasview} is missing: run `cargo build --release`", file=sys.stderr)
        return 2
    quiet_ultralytics(os.path.join(ROOT, "models", ".cache", "ultralytics-config"))
    sys.path.insert(0, HERE)
    try:
        import onnxruntime
        import ultralytics

        import detcore
    except ImportError as exc:
        print(f"ultralytics_parity: {exc}; run it with .venv-ul/bin/python (`make setup-ultralytics`)",
              file=sys.stderr)
        return 2
    photos = detcore.list_images([args.photos])

    print(f"ultralytics {ultralytics.__version__}, onnxruntime {onnxruntime.__version__}; {len(photos)} photos; "
          f"conf {args.conf}, iou {args.iou}, imgsz {args.imgsz}, max_det {args.max_det}; "
          f"fail: a box off by > {args.tol_px} px, a score by > {args.tol_score}, or a detection in one tool only "
          f"(unless its score is within {args.borderline:g} of conf: borderline, reported only)")
    pixels = check_pixels(photos, args.project_python)
    print(f"pixels: {'identical to ' + args.project_python + ' OpenCV (the decoding nasview is tested against)' if pixels is None else pixels}")
    report = {"ultralytics": ultralytics.__version__, "onnxruntime": onnxruntime.__version__,
              "pixels": pixels or "identical", "models": {}}
    all_ok = pixels is None or pixels.startswith("skipped")

    for model_path in models:
        yolo = load_yolo(model_path)
        theirs, shift = {}, 0.0
        for p in photos:
            theirs[p], res = ultralytics_predict(yolo, p, args.conf, args.iou, args.imgsz, args.max_det)
            shift = max(shift, one_gain_shift(theirs[p][0], res.orig_shape[:2], args.imgsz))
        ours = run_nasview(args.nasview, model_path, photos, args.conf, args.iou)
        rows = {p: compare(theirs[p], ours[p], args.conf, args.tol_px, args.tol_score, args.borderline)
                for p in photos}
        print(f"\n{os.path.basename(model_path)}")
        print(f"  {'photo':<16} {'ultra':>5} {'nasv':>5} {'match':>5} {'max|dbox| px':>13} {'max|dscore|':>12}  result")
        for p, r in rows.items():
            status = "ok" if r["ok"] else "MISMATCH"
            if r["borderline"]:
                status += f" ({len(r['borderline'])} borderline)"
            print(f"  {os.path.basename(p):<16} {r['ultralytics']:>5} {r['nasview']:>5} {r['matched']:>5} "
                  f"{r['max_box_px']:>13.4f} {r['max_score_diff']:>12.2e}  {status}")
            for d in r["only_ultralytics"]:
                print(f"      only Ultralytics: {d}")
            for d in r["only_nasview"]:
                print(f"      only nasview:     {d}")
            for d in r["over_tolerance"]:
                print(f"      over tolerance:   {d}")
        tot = {k: sum(r[k] for r in rows.values()) for k in ("ultralytics", "nasview", "matched")}
        mpx = max(r["max_box_px"] for r in rows.values())
        mds = max(r["max_score_diff"] for r in rows.values())
        ok = all(r["ok"] for r in rows.values())
        nb = sum(len(r["borderline"]) for r in rows.values())
        print(f"  {'all':<16} {tot['ultralytics']:>5} {tot['nasview']:>5} {tot['matched']:>5} {mpx:>13.4f} "
              f"{mds:>12.2e}  {'ok' if ok else 'MISMATCH'}{f' ({nb} borderline)' if nb else ''}")
        print(f"  (mapped back with one gain for x and y instead of scale_boxes' two, Ultralytics' boxes would move "
              f"by up to {shift:.3f} px)")
        report["models"][model_path] = {"photos": rows, "one_gain_shift_px": shift}
        all_ok &= ok

    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=1)
    print(f"\nultralytics_parity: {'nasview agrees with Ultralytics' if all_ok else 'MISMATCH (see above)'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
