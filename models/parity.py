#!/usr/bin/env python3
"""Parity check: nasview's YOLO-NAS detections against super-gradients' own.

1. Raw export: super-gradients 3.7.1 ``model.predict(photo, conf, iou, fuse_model=False)`` with the
   checkpoint's weights and ``default_yolo_nas_coco_processing_params`` is the reference; nasview runs
   ``nasview detect --json --model RAW.onnx --conf C --iou I PHOTOS...`` on the raw (FP32) export of
   the same weights.
   A 640x384 raw export (for 16:9 frames) is checked the same way, against ``predict`` with
   super-gradients' processing sized for it (``export_yolo_nas.processing_params``: fit inside 636x380,
   centre pad to 640x384), unless --skip-rect.
2. Embedded-NMS exports (flat and batch): the reference is super-gradients' ONNX file itself, run with
   onnxruntime on the image as super-gradients' processing prepares it (uint8, padded), its rows
   mapped back to the photo with super-gradients' own padding/scale metadata; nasview runs the same
   file.
3. INT8 exports (the committed fixtures ``tests/data/yolo_nas_s_fixture{,_flat,_batch}_int8.onnx``):
   super-gradients' side runs the same INT8 file with onnxruntime on the photo as ``predict`` decodes
   (PIL, so libjpeg-turbo for JPEG) and prepares it; the raw file's outputs go through the model's own
   post-prediction callback (multi-label, top-k, torchvision NMS) as ``predict`` does. INT8 graphs
   amplify any pixel difference, so this is the check that nasview sees the same JPEG pixels.

Rule, per photo: every reference detection is matched by one of ours with the same class, all four
box corners within --tol-px (default 1 px; the reference boxes are clipped to the image first, as
``predict`` does not clip) and the score within --tol-score (5e-3); none of ours is left unmatched
with a score above conf + tol-score. A reference detection scoring at most conf + tol-score may go
unmatched (it sits on the threshold, where a 1e-4 difference decides).

Exit status: 0 all photos agree, 1 a mismatch, 2 the check could not run (checkpoint absent,
nasview not built, super-gradients not installed). Run it from the project root with the
super-gradients venv, e.g. ``make parity`` or
``.venv-sg/bin/python models/parity.py --nasview target/release/nasview``.
``--backend python`` uses this folder's numpy pipeline (detcore.py) instead of nasview, to test the
script and the pipeline description without the Rust binary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import detcore  # noqa: E402

DEFAULT_WEIGHTS = os.path.normpath(os.path.join(ROOT, "..", "shared", "fixtures", "yolo_nas", "yolo_nas_s_fixture.pth"))
FALLBACK_WEIGHTS = "/work/shared/fixtures/yolo_nas/yolo_nas_s_fixture.pth"


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Compare nasview's YOLO-NAS detections with super-gradients' predict() and ONNX outputs.",
        epilog="Exit status: 0 agree, 1 mismatch, 2 could not run.",
    )
    p.add_argument("--weights", help="YOLO-NAS state dict (.pth); default: the shared YOLO-NAS S fixture "
                                     f"({DEFAULT_WEIGHTS})")
    p.add_argument("--size", choices=["s", "m", "l"], default="s", help="YOLO-NAS size of --weights (s)")
    p.add_argument("--photos", nargs="+", default=[os.path.join("assets", "photos")],
                   help="photos and/or folders (default assets/photos)")
    p.add_argument("--nasview", default=os.path.join("target", "release", "nasview"),
                   help="nasview binary (default target/release/nasview)")
    p.add_argument("--backend", choices=["nasview", "python"], default="nasview",
                   help="whose detections to check: nasview (default) or this folder's numpy pipeline")
    p.add_argument("--conf", type=float, default=0.25, help="confidence threshold (0.25)")
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (0.7)")
    p.add_argument("--tol-px", type=float, default=1.0, help="max box corner difference in pixels (1.0)")
    p.add_argument("--tol-score", type=float, default=5e-3, help="max score difference (5e-3)")
    p.add_argument("--work", help="folder for the exports (default models/.cache/parity/<weights digest>)")
    p.add_argument("--skip-nms", action="store_true", help="check only the raw export against predict()")
    p.add_argument("--skip-int8", action="store_true", help="skip the INT8 fixtures (tests/data/*_int8.onnx)")
    p.add_argument("--skip-rect", action="store_true", help="skip the non-square (640x384) raw export check")
    p.add_argument("--json-out", metavar="PATH", help="also write every comparison as JSON here")
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------
# Reference side (super-gradients)
# --------------------------------------------------------------------------------------------


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_sg_model(weights: str, size: str):
    import export_yolo_nas

    export_yolo_nas.import_super_gradients()
    args = export_yolo_nas.parse_args(["--size", size, "--weights", weights, "--out", os.devnull])
    model, _ = export_yolo_nas.build_model(args)
    return model


# The non-square export checked: 16:9 frames fit it with little padding.
RECT_SIZE = (640, 384)
RECT = f"raw_{RECT_SIZE[0]}x{RECT_SIZE[1]}"


def ensure_exports(model, weights: str, size: str, work: str) -> Dict[str, str]:
    """Raw, flat, batch and raw 640x384 exports of ``model`` in ``work`` (made once per weights file)."""
    import export_yolo_nas

    os.makedirs(work, exist_ok=True)
    paths = {}
    for kind in ("raw", "flat", "batch", RECT):
        path = os.path.join(work, f"yolo_nas_{size}_{kind}.onnx")
        paths[kind] = path
        if os.path.isfile(path):
            continue
        argv = ["--size", size, "--weights", weights, "--out", path]
        if kind == RECT:
            argv += ["--input-size", "%dx%d" % RECT_SIZE]
        elif kind != "raw":
            argv += ["--nms", kind]
        args = export_yolo_nas.parse_args(argv)
        print(f"exporting {kind} -> {path}", flush=True)
        tmp = path + ".part"
        export_yolo_nas.export(model, args, tmp)
        export_yolo_nas.write_metadata(tmp, detcore.COCO80_NAMES, {"source": f"parity export of {os.path.basename(weights)}"})
        os.replace(tmp, path)
    return paths


def clip_boxes(boxes: np.ndarray, w: int, h: int) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
    return b


def sg_predict(model, photo: str, conf: float, iou: float) -> Tuple[detcore.Detections, Tuple[int, int]]:
    res = model.predict(photo, conf=conf, iou=iou, fuse_model=False)
    pred = res.prediction
    h, w = res.image.shape[:2]
    det = detcore.Detections(
        clip_boxes(pred.bboxes_xyxy, w, h),
        np.asarray(pred.confidence, dtype=np.float64).reshape(-1),
        np.asarray(pred.labels, dtype=np.int64).reshape(-1),
    )
    return det, (w, h)


def sg_prepare(model, photo: str, uint8: bool):
    """The photo as ``predict`` loads (PIL: libjpeg-turbo for JPEG) and prepares it: the NCHW input tensor (uint8
    padded image, or float / 255), the padding and (scale_h, scale_w) to map boxes back, and the photo's size."""
    from super_gradients.training.processing.processing import (
        DetectionCenterPadding,
        DetectionLongestMaxSizeRescale,
        ImagePermute,
        StandardizeImage,
    )
    from super_gradients.training.utils.media.image import load_image

    image = load_image(photo)
    h, w = image.shape[:2]
    x = image.copy()
    pad = scale = None
    for proc in model._image_processor.processings:
        if uint8 and isinstance(proc, StandardizeImage):
            continue  # the graph divides by 255 itself (uint8 input)
        x, meta = proc.preprocess_image(x)
        if isinstance(proc, DetectionCenterPadding):
            pad = meta.padding_coordinates
        elif isinstance(proc, DetectionLongestMaxSizeRescale):
            scale = (meta.scale_factor_h, meta.scale_factor_w)
        elif not isinstance(proc, (ImagePermute, StandardizeImage)):
            raise SystemExit(f"error: unexpected processing step {type(proc).__name__}")
    tensor = np.ascontiguousarray(x[None]).astype(np.uint8 if uint8 else np.float32)
    return tensor, pad, scale, (w, h)


def to_photo(boxes, scores, classes, pad, scale, size) -> detcore.Detections:
    """super-gradients' own post-processing order: undo padding, then undo the rescale (x * 1/s); clip."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    boxes[:, [0, 2]] -= pad.left
    boxes[:, [1, 3]] -= pad.top
    sy, sx = scale
    boxes *= np.array([[1 / sx, 1 / sy, 1 / sx, 1 / sy]], dtype=np.float32)
    return detcore.Detections(clip_boxes(boxes, *size), np.asarray(scores, np.float64), np.asarray(classes, np.int64))


def nms_rows(outs: Dict[str, np.ndarray], conf: float):
    """Boxes, scores and classes of image 0 from an embedded-NMS export's outputs (flat or batch)."""
    if len(outs) == 1:
        rows = next(iter(outs.values())).reshape(-1, 7)
        rows = rows[rows[:, 0] == 0]
        boxes, scores, classes = rows[:, 1:5], rows[:, 5], rows[:, 6]
    else:
        def pick(suffix):
            return next(v for k, v in outs.items() if k.endswith(suffix))

        n = int(pick("num_predictions").reshape(-1)[0])
        boxes, scores, classes = pick("pred_boxes")[0][:n], pick("pred_scores")[0][:n], pick("pred_classes")[0][:n]
    keep = scores >= conf
    return boxes[keep], scores[keep], classes[keep]


def sg_onnx_reference(model, onnx_path: str, photo: str, conf: float) -> detcore.Detections:
    """Run an embedded-NMS export the way super-gradients prepares images, and map rows back."""
    import onnxruntime as ort

    tensor, pad, scale, size = sg_prepare(model, photo, uint8=True)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: tensor})))
    return to_photo(*nms_rows(outs, conf), pad, scale, size)


INT8_FIXTURES = {kind: os.path.join(ROOT, "tests", "data", f"yolo_nas_s_fixture{suffix}_int8.onnx")
                 for kind, suffix in (("raw", ""), ("flat", "_flat"), ("batch", "_batch"))}

_RUN_ONNX = """
import sys, numpy as np, onnxruntime as ort
sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
names = [o.name for o in sess.get_outputs()]
with np.load(sys.argv[2]) as inputs:
    outs = {f"{i}/{n}": v for i in inputs.files for n, v in zip(names, sess.run(None, {sess.get_inputs()[0].name: inputs[i]}))}
np.savez(sys.argv[3], **outs)
"""


def run_with_project_ort(onnx_path: str, tensors: List[np.ndarray]) -> List[Dict[str, np.ndarray]]:
    """Runs each tensor through ``onnx_path`` with the ONNX Runtime nasview loads (the project's .venv): INT8
    kernels differ between versions, and super-gradients' venv has an older one that refuses the INT8 files."""
    import tempfile

    python = os.path.join(ROOT, ".venv", "bin", "python")
    with tempfile.TemporaryDirectory() as d:
        np.savez(os.path.join(d, "in.npz"), **{str(i): t for i, t in enumerate(tensors)})
        subprocess.run([python, "-c", _RUN_ONNX, onnx_path, os.path.join(d, "in.npz"), os.path.join(d, "out.npz")],
                       check=True)
        with np.load(os.path.join(d, "out.npz")) as z:
            out: List[Dict[str, np.ndarray]] = [{} for _ in tensors]
            for key in z.files:
                i, name = key.split("/", 1)
                out[int(i)][name] = z[key]
    return out


def sg_int8_references(model, kind: str, onnx_path: str, photos: List[str], conf: float,
                       iou: float) -> List[detcore.Detections]:
    """super-gradients' side for an INT8 file: ``predict``'s image loading and preparation, the file run by
    ONNX Runtime, then (raw file) the model's own post-prediction callback with ``predict``'s defaults
    (multi-label, top-k, torchvision NMS), or (embedded NMS) its rows; boxes mapped back as ``predict`` does."""
    import torch

    prepared = [sg_prepare(model, p, uint8=kind != "raw") for p in photos]
    outputs = run_with_project_ort(onnx_path, [t for t, *_ in prepared])
    refs = []
    for (_, pad, scale, size), outs in zip(prepared, outputs):
        if kind != "raw":
            refs.append(to_photo(*nms_rows(outs, conf), pad, scale, size))
            continue
        boxes, scores = sorted(outs.values(), key=lambda o: o.shape[-1] != 4)  # boxes [1,N,4], scores [1,N,C]
        callback = model.get_post_prediction_callback(
            conf=conf, iou=iou, nms_top_k=model._default_nms_top_k, max_predictions=model._default_max_predictions,
            multi_label_per_box=model._default_multi_label_per_box,
            class_agnostic_nms=model._default_class_agnostic_nms)
        rows = callback((torch.from_numpy(boxes), torch.from_numpy(scores)))[0].numpy()  # x1 y1 x2 y2 score class
        refs.append(to_photo(rows[:, :4], rows[:, 4], rows[:, 5], pad, scale, size))
    return refs


def summarize(checks: Dict[str, dict]) -> None:
    """One line per check and image type (JPEG, PNG): detections matched, largest box and score differences."""
    print(f"\n  {'check':<20} {'photos':<6} {'ref':>4} {'match':>6} {'max|dbox|px':>12} {'max|dscore|':>12}  result")
    for name, rows in checks.items():
        for label, exts in (("JPEG", (".jpg", ".jpeg")), ("PNG", (".png",))):
            rs = [r for p, r in rows.items() if p.lower().endswith(exts)]
            if not rs:
                continue
            ok = all(r["ok"] for r in rs)
            print(f"  {name:<20} {label:<6} {sum(r['reference'] for r in rs):>4} {sum(r['matched'] for r in rs):>6} "
                  f"{max(r['max_box_px'] for r in rs):>12.4f} {max(r['max_score_diff'] for r in rs):>12.2e}  "
                  f"{'ok' if ok else 'MISMATCH'}")


# --------------------------------------------------------------------------------------------
# Our side
# --------------------------------------------------------------------------------------------


def run_nasview(binary: str, model_path: str, photos: List[str], conf: float, iou: float) -> Dict[str, detcore.Detections]:
    cmd = [binary, "detect", "--json", "--model", model_path, "--conf", str(conf), "--iou", str(iou), *photos]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except OSError as exc:
        print(f"error: cannot run {binary}: {exc}", file=sys.stderr)
        sys.exit(2)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        print(f"error: `{' '.join(cmd[:6])} ...` exited with {proc.returncode}", file=sys.stderr)
        sys.exit(2)
    out: Dict[str, detcore.Detections] = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        dets = rec.get("detections", [])
        out[rec["image"]] = detcore.Detections(
            np.array([d["box"] for d in dets], dtype=np.float64).reshape(-1, 4),
            np.array([d["score"] for d in dets], dtype=np.float64),
            np.array([d["class_id"] for d in dets], dtype=np.int64),
        )
    missing = [p for p in photos if p not in out]
    if missing:
        print(f"error: nasview printed no JSON line for {', '.join(missing)}", file=sys.stderr)
        sys.exit(2)
    return out


def run_python(model_path: str, photos: List[str], conf: float, iou: float) -> Dict[str, detcore.Detections]:
    sess = detcore.make_session(model_path)
    info = detcore.inspect_session(sess)
    out = {}
    for p in photos:
        t, lb = detcore.preprocess(detcore.load_rgb(p), info)
        out[p] = detcore.decode(detcore.run_model(sess, info, t), info, lb, conf, iou)
    return out


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def compare(ref: detcore.Detections, ours: detcore.Detections, conf: float, tol_px: float, tol_score: float) -> dict:
    """Match reference detections to ours one-to-one under the tolerances."""
    used = np.zeros(len(ours), dtype=bool)
    matched = 0
    borderline = 0
    missing = []
    max_px = 0.0
    max_ds = 0.0
    for i in np.argsort(-ref.scores, kind="stable"):
        best, best_err = None, None
        for j in range(len(ours)):
            if used[j] or ours.classes[j] != ref.classes[i]:
                continue
            px = float(np.abs(ours.boxes[j] - ref.boxes[i]).max())
            ds = abs(float(ours.scores[j]) - float(ref.scores[i]))
            if px <= tol_px and ds <= tol_score and (best_err is None or px < best_err[0]):
                best, best_err = j, (px, ds)
        if best is None:
            if ref.scores[i] <= conf + tol_score:
                borderline += 1
            else:
                missing.append({"class_id": int(ref.classes[i]), "score": round(float(ref.scores[i]), 4),
                                "box": [round(float(v), 2) for v in ref.boxes[i]]})
            continue
        used[best] = True
        matched += 1
        max_px = max(max_px, best_err[0])
        max_ds = max(max_ds, best_err[1])
    extra = [
        {"class_id": int(ours.classes[j]), "score": round(float(ours.scores[j]), 4),
         "box": [round(float(v), 2) for v in ours.boxes[j]]}
        for j in range(len(ours)) if not used[j] and ours.scores[j] > conf + tol_score
    ]
    return {
        "reference": len(ref), "ours": len(ours), "matched": matched, "borderline": borderline,
        "max_box_px": round(max_px, 4), "max_score_diff": float(f"{max_ds:.2e}"),
        "missing": missing, "extra": extra, "ok": not missing and not extra,
    }


def print_table(title: str, rows: List[Tuple[str, dict]]) -> None:
    print(f"\n{title}")
    print(f"  {'photo':<16} {'ref':>4} {'ours':>5} {'match':>6} {'edge':>5} {'max|dbox|px':>12} {'max|dscore|':>12}  result")
    for name, r in rows:
        status = "ok" if r["ok"] else f"MISMATCH ({len(r['missing'])} missing, {len(r['extra'])} extra)"
        print(f"  {name:<16} {r['reference']:>4} {r['ours']:>5} {r['matched']:>6} {r['borderline']:>5} "
              f"{r['max_box_px']:>12.4f} {r['max_score_diff']:>12.2e}  {status}")
        for m in r["missing"]:
            print(f"      missing: class {m['class_id']} score {m['score']} box {m['box']}")
        for e in r["extra"]:
            print(f"      extra:   class {e['class_id']} score {e['score']} box {e['box']}")


def main(argv=None) -> int:
    args = parse_args(argv)
    weights = args.weights
    if weights is None:
        weights = DEFAULT_WEIGHTS if os.path.isfile(DEFAULT_WEIGHTS) else FALLBACK_WEIGHTS
    if not os.path.isfile(weights):
        print(f"parity: checkpoint {weights} is absent. Pass --weights PATH to a YOLO-NAS state dict "
              f"(the shared fixture lives in shared/fixtures/yolo_nas/).", file=sys.stderr)
        return 2
    if args.backend == "nasview" and not os.access(args.nasview, os.X_OK):
        print(f"parity: {args.nasview} is missing or not executable: build it with `cargo build --release` "
              "(or `make build`), or pass --nasview PATH.", file=sys.stderr)
        return 2
    photos = detcore.list_images(args.photos)
    work = args.work or os.path.join(ROOT, "models", ".cache", "parity", sha256(weights)[:12])

    try:
        model = load_sg_model(weights, args.size)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    exports = ensure_exports(model, weights, args.size, work)

    def ours_for(path: str) -> Dict[str, detcore.Detections]:
        if args.backend == "nasview":
            return run_nasview(args.nasview, path, photos, args.conf, args.iou)
        return run_python(path, photos, args.conf, args.iou)

    report = {"weights": weights, "backend": args.backend, "conf": args.conf, "iou": args.iou,
              "tol_px": args.tol_px, "tol_score": args.tol_score, "checks": {}}
    all_ok = True

    print(f"super-gradients predict() vs {args.backend} on {os.path.basename(exports['raw'])} "
          f"({len(photos)} photos, conf {args.conf}, IoU {args.iou})", flush=True)
    ours = ours_for(exports["raw"])
    rows = []
    for p in photos:
        ref, _ = sg_predict(model, p, args.conf, args.iou)
        rows.append((os.path.basename(p), compare(ref, ours[p], args.conf, args.tol_px, args.tol_score)))
    print_table(f"raw export vs predict(): {args.backend} on {exports['raw']}", rows)
    report["checks"]["raw_vs_predict"] = dict(rows)
    all_ok &= all(r["ok"] for _, r in rows)

    if not args.skip_rect:
        import export_yolo_nas

        # predict() with the processing sized for the export; the 640x640 processing is put back after.
        model.set_dataset_processing_params(**export_yolo_nas.processing_params(*RECT_SIZE))
        try:
            ours = ours_for(exports[RECT])
            rows = []
            for p in photos:
                ref, _ = sg_predict(model, p, args.conf, args.iou)
                rows.append((os.path.basename(p), compare(ref, ours[p], args.conf, args.tol_px, args.tol_score)))
        finally:
            model.set_dataset_processing_params(**export_yolo_nas.processing_params(640, 640))
        print_table(f"{RECT} export vs predict() with {RECT_SIZE[0]}x{RECT_SIZE[1]} processing: {args.backend} "
                    f"on {exports[RECT]}", rows)
        report["checks"][f"{RECT}_vs_predict"] = dict(rows)
        all_ok &= all(r["ok"] for _, r in rows)

    if not args.skip_nms:
        for kind in ("flat", "batch"):
            ours = ours_for(exports[kind])
            rows = []
            for p in photos:
                ref = sg_onnx_reference(model, exports[kind], p, args.conf)
                rows.append((os.path.basename(p), compare(ref, ours[p], args.conf, args.tol_px, args.tol_score)))
            print_table(f"{kind} export: {args.backend} vs the ONNX outputs read directly ({exports[kind]})", rows)
            report["checks"][f"{kind}_vs_onnx"] = dict(rows)
            all_ok &= all(r["ok"] for _, r in rows)

    if not args.skip_int8:
        for kind in ("raw", "flat", "batch"):
            path = INT8_FIXTURES[kind]
            if not os.path.isfile(path):
                print(f"parity: INT8 fixture {path} is missing (see tests/data/fixtures.md)", file=sys.stderr)
                return 2
            ours = ours_for(path)
            refs = sg_int8_references(model, kind, path, photos, args.conf, args.iou)
            rows = [(os.path.basename(p), compare(ref, ours[p], args.conf, args.tol_px, args.tol_score))
                    for p, ref in zip(photos, refs)]
            print_table(f"INT8 {kind}: {args.backend} vs super-gradients' pipeline on the same file ({path})", rows)
            report["checks"][f"int8_{kind}"] = dict(rows)
            all_ok &= all(r["ok"] for _, r in rows)

    summarize(report["checks"])
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2)
    print("\nparity: " + ("all photos agree" if all_ok else "MISMATCH (see the tables above)"))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
