#!/usr/bin/env python3
"""Static INT8 post-training quantization of a detector ONNX file for nasview.

Uses onnxruntime.quantization.quantize_static (QDQ format, int8 weights, uint8 activations),
calibrated on a folder of photos that are preprocessed exactly as nasview does it:

* YOLO-NAS models (raw export, or exports with embedded NMS in flat or batch format): the
  super-gradients ``predict`` letterbox (longest side to size-4, centre pad 114, RGB / 255);
* Ultralytics YOLOv8-12 models (``output0`` [1,4+C,N]): Ultralytics' LetterBox (pad 114, RGB / 255).

The family is recognised from the model's inputs and outputs. Each family has a default recipe
(see ``--list-recipes``); the one for models with embedded NMS keeps the post-processing in float,
because quantizing it puts boxes (0-640) and scores (0-1) through one uint8 scale and zeroes every
score.

With ``--report`` it measures and prints (and writes OUT.report.json): file sizes, median ORT
latency of FP32 vs INT8 on this CPU (interleaved runs), and how many FP32 detections the INT8 model
keeps on the calibration photos (same class, IoU >= 0.5, conf >= 0.25).

Needs only onnxruntime, onnx, numpy, opencv-python-headless and sympy (the project's .venv).

Example:
    .venv/bin/python models/quantize.py models/yolo_nas_s.onnx --out models/yolo_nas_s_int8.onnx \\
        --calib assets/photos --report
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import detcore  # noqa: E402

try:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
except ImportError as exc:
    raise SystemExit(
        f"error: {exc}. Run this with the project's venv (.venv/bin/python), or "
        "`pip install onnxruntime onnx numpy opencv-python-headless sympy`."
    ) from exc


# --------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """One way to quantize. ``exclude`` names groups of nodes left in float:

    * ``tail``: everything between the last convolutions that carry a bias and the outputs
      (box decoding, DFL, score sigmoid, the final concat, embedded NMS);
    * ``attention``: MatMul / Softmax nodes of attention blocks (YOLOv12's area attention);
    * ``head``: the whole detection head of an Ultralytics model (the last module), convs included.
    """

    name: str
    description: str
    exclude: Sequence[str] = ()
    op_types: Optional[Sequence[str]] = None  # None: every op type ORT can quantize
    per_channel: bool = True
    calibrate_method: str = "MinMax"
    pre_process: bool = True
    extra_options: Dict[str, object] = field(default_factory=dict)


RECIPES: Dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("full", "every quantizable node, per-channel weights, MinMax", exclude=()),
        Recipe("tail-fp32", "all but the post-processing tail (decode, DFL, concat, NMS), MinMax",
               exclude=("tail",)),
        Recipe("tail-fp32-percentile", "like tail-fp32, Percentile calibration (99.999)",
               exclude=("tail",), calibrate_method="Percentile"),
        Recipe("tail-fp32-entropy", "like tail-fp32, Entropy calibration",
               exclude=("tail",), calibrate_method="Entropy"),
        Recipe("tail-fp32-per-tensor", "like tail-fp32, per-tensor weights",
               exclude=("tail",), per_channel=False),
        Recipe("tail-fp32-no-preprocess", "like tail-fp32, without quant_pre_process",
               exclude=("tail",), pre_process=False),
        Recipe("tail-attn-fp32", "like tail-fp32, attention MatMul/Softmax in float too",
               exclude=("tail", "attention")),
        Recipe("tail-attn-fp32-percentile", "like tail-attn-fp32, Percentile calibration (99.999)",
               exclude=("tail", "attention"), calibrate_method="Percentile"),
        Recipe("head-fp32", "all but the whole detection head (convs included)", exclude=("head",)),
        Recipe("conv-only", "only Conv nodes", op_types=("Conv",)),
        Recipe("conv-only-tail-fp32", "only Conv nodes, the post-processing tail in float",
               op_types=("Conv",), exclude=("tail",)),
        Recipe("conv-silu-tail-fp32", "Conv, Sigmoid, Mul, Add, Concat (SiLU blocks), tail in float",
               op_types=("Conv", "Sigmoid", "Mul", "Add", "Concat", "MaxPool", "Resize", "Split"),
               exclude=("tail",)),
        Recipe("tail-fp32-symmetric", "like tail-fp32, symmetric activation ranges",
               exclude=("tail",), extra_options={"ActivationSymmetric": True}),
        Recipe("tail-fp32-keep-act", "like tail-fp32, keep removable activations' QDQ",
               exclude=("tail",), extra_options={"QDQKeepRemovableActivations": True}),
    ]
}

# Chosen after measuring on this project's photos (see models/README.md for the figures).
DEFAULT_RECIPE = {
    detcore.YOLO_NAS_RAW: "tail-fp32",
    detcore.YOLO_NAS_FLAT: "tail-fp32",
    detcore.YOLO_NAS_BATCH: "tail-fp32",
    detcore.ULTRALYTICS: "tail-attn-fp32",
}
# Families whose outputs are unusable without the tail in float (scores share a scale with boxes).
TAIL_REQUIRED = {detcore.YOLO_NAS_FLAT, detcore.YOLO_NAS_BATCH}


# --------------------------------------------------------------------------------------------
# Picking nodes to keep in float
# --------------------------------------------------------------------------------------------


def _producers(graph) -> Dict[str, object]:
    return {o: n for n in graph.node for o in n.output if o}


def tail_nodes(model: "onnx.ModelProto") -> Set[str]:
    """Nodes on the way from the last biased convolutions to the graph outputs.

    Walks backwards from every output through producers and stops at a Conv / ConvTranspose with
    a bias (the last learned layer of each branch). Shape-only inputs (of Shape nodes) are not
    followed, so anchors computed from feature-map sizes do not drag the backbone in. The DFL
    projection conv (no bias) is part of the tail.
    """
    g = model.graph
    prod = _producers(g)
    initializers = {i.name for i in g.initializer}
    seen: Set[str] = set()
    stack = [o.name for o in g.output]
    while stack:
        t = stack.pop()
        n = prod.get(t)
        if n is None or n.name in seen:
            continue
        if n.op_type in ("Conv", "ConvTranspose") and len(n.input) >= 3 and n.input[2]:
            continue
        seen.add(n.name)
        if n.op_type == "Shape":
            continue
        for i in n.input:
            if i and i not in initializers:
                stack.append(i)
    return seen


def attention_nodes(model: "onnx.ModelProto") -> Set[str]:
    """MatMul and Softmax nodes outside the tail whose two inputs are both activations."""
    g = model.graph
    initializers = {i.name for i in g.initializer}
    const_outputs = {o for n in g.node if n.op_type == "Constant" for o in n.output}
    out = set()
    for n in g.node:
        if n.op_type == "Softmax" or (
            n.op_type == "MatMul" and not any(i in initializers or i in const_outputs for i in n.input)
        ):
            out.add(n.name)
    return out


def head_nodes(model: "onnx.ModelProto") -> Set[str]:
    """The whole last module of an Ultralytics model (names start with the output node's module)."""
    g = model.graph
    prod = _producers(g)
    last = prod.get(g.output[0].name)
    if last is None or not last.name.startswith("/model."):
        return tail_nodes(model)
    prefix = "/".join(last.name.split("/")[:2]) + "/"
    return {n.name for n in g.node if n.name.startswith(prefix)}


def ensure_node_names(model: "onnx.ModelProto") -> None:
    used = {n.name for n in model.graph.node if n.name}
    for k, n in enumerate(model.graph.node):
        if not n.name:
            name = f"{n.op_type}_nasview_{k}"
            while name in used:
                name += "_"
            n.name = name
            used.add(name)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


class PhotoReader(CalibrationDataReader):
    def __init__(self, input_name: str, tensors: List[np.ndarray]):
        self.input_name = input_name
        self.tensors = tensors
        self.pos = 0

    def get_next(self):
        if self.pos >= len(self.tensors):
            return None
        t = self.tensors[self.pos]
        self.pos += 1
        return {self.input_name: t}

    def rewind(self):
        self.pos = 0


def quantize(model_path: str, out_path: str, info: detcore.ModelInfo, tensors: List[np.ndarray],
             recipe: Recipe, work_dir: str, names: Optional[List[str]] = None, log=print) -> dict:
    """Quantize ``model_path`` into ``out_path`` with ``recipe``; returns a summary dict."""
    src = model_path
    pre_ok = False
    if recipe.pre_process:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        pre_path = os.path.join(work_dir, "pre.onnx")
        try:
            quant_pre_process(model_path, pre_path, skip_symbolic_shape=False)
            src, pre_ok = pre_path, True
        except Exception as exc:  # symbolic shape inference can fail on NMS graphs
            try:
                quant_pre_process(model_path, pre_path, skip_symbolic_shape=True)
                src, pre_ok = pre_path, True
                log(f"  quant_pre_process: symbolic shape inference failed ({exc}); ran without it")
            except Exception as exc2:
                log(f"  quant_pre_process failed ({exc2}); quantizing the model as it is")
    model = onnx.load(src)
    ensure_node_names(model)
    named_path = os.path.join(work_dir, "named.onnx")
    onnx.save(model, named_path)

    excluded: Set[str] = set()
    for group in recipe.exclude:
        if group == "tail":
            excluded |= tail_nodes(model)
        elif group == "attention":
            excluded |= attention_nodes(model)
        elif group == "head":
            excluded |= head_nodes(model)
        else:
            raise SystemExit(f"error: unknown exclusion group {group!r}")

    method = getattr(CalibrationMethod, recipe.calibrate_method)
    extra = dict(recipe.extra_options)
    if method == CalibrationMethod.Percentile:
        extra.setdefault("CalibPercentile", 99.999)
    t0 = time.perf_counter()
    quantize_static(
        named_path,
        out_path,
        PhotoReader(info.input_name, tensors),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(recipe.op_types) if recipe.op_types else None,
        per_channel=recipe.per_channel,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=sorted(excluded) or None,
        calibrate_method=method,
        extra_options=extra,
    )
    seconds = time.perf_counter() - t0
    # Carry the source's metadata (class names, licence, ...) over and note how it was made.
    src_meta = {p.key: p.value for p in onnx.load(model_path, load_external_data=False).metadata_props}
    q = onnx.load(out_path)
    meta = {p.key: p.value for p in q.metadata_props}
    meta.update(src_meta)
    if names is not None:
        meta["names"] = detcore.names_to_metadata(names)
    meta["quantization"] = (
        f"nasview models/quantize.py recipe {recipe.name}: static QDQ, "
        f"{'per-channel' if recipe.per_channel else 'per-tensor'} int8 weights, uint8 activations, "
        f"{recipe.calibrate_method} calibration on {len(tensors)} photos"
    )
    del q.metadata_props[:]
    for k, v in meta.items():
        q.metadata_props.add(key=k, value=v)
    onnx.save(q, out_path)
    return {"recipe": recipe.name, "pre_process": pre_ok, "excluded_nodes": len(excluded),
            "quantize_seconds": round(seconds, 1)}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def compare(fp32_path: str, int8_path: str, images: List[str], runs: int, threads: int,
            warmup: int = 3, conf: float = 0.25, iou: float = 0.7, log=print) -> dict:
    """Latency (interleaved) and detections kept, FP32 vs INT8, on ``images``."""
    s32 = detcore.make_session(fp32_path, threads)
    s8 = detcore.make_session(int8_path, threads)
    info32 = detcore.inspect_session(s32)
    info8 = detcore.inspect_session(s8)
    prepared = []
    for p in images:
        rgb = detcore.load_rgb(p)
        t, lb = detcore.preprocess(rgb, info32)
        prepared.append((p, t, lb))

    per_image = []
    total_ref = total_kept = total_int8 = 0
    for p, t, lb in prepared:
        d32 = detcore.decode(detcore.run_model(s32, info32, t), info32, lb, conf, iou)
        d8 = detcore.decode(detcore.run_model(s8, info8, t), info8, lb, conf, iou)
        kept = detcore.match_detections(d32, d8, 0.5)
        per_image.append({"image": os.path.basename(p), "fp32": len(d32), "int8": len(d8), "kept": kept})
        total_ref += len(d32)
        total_kept += kept
        total_int8 += len(d8)

    for _ in range(warmup):
        for _, t, _ in prepared:
            s32.run(None, {info32.input_name: t})
            s8.run(None, {info8.input_name: t})
    times: Dict[str, List[float]] = {"fp32": [], "int8": []}
    for r in range(runs):
        for _, t, _ in prepared:
            order = [("fp32", s32, info32), ("int8", s8, info8)]
            if r % 2:
                order.reverse()
            for key, s, inf in order:
                t0 = time.perf_counter()
                s.run(None, {inf.input_name: t})
                times[key].append((time.perf_counter() - t0) * 1000.0)
    med32 = statistics.median(times["fp32"])
    med8 = statistics.median(times["int8"])
    size32 = os.path.getsize(fp32_path)
    size8 = os.path.getsize(int8_path)
    return {
        "fp32_model": fp32_path,
        "int8_model": int8_path,
        "family": info32.family,
        "fp32_bytes": size32,
        "int8_bytes": size8,
        "size_ratio": round(size32 / size8, 2),
        "threads": threads,
        "timed_runs_per_model": len(times["fp32"]),
        "fp32_median_ms": round(med32, 2),
        "int8_median_ms": round(med8, 2),
        "speedup": round(med32 / med8, 2),
        "conf": conf,
        "iou_match": 0.5,
        "fp32_detections": total_ref,
        "int8_detections": total_int8,
        "kept": total_kept,
        "kept_fraction": round(total_kept / total_ref, 3) if total_ref else None,
        "per_image": per_image,
    }


def print_report(rep: dict, out=sys.stdout) -> None:
    mb = 1024 * 1024
    print(f"family            {rep['family']}", file=out)
    print(f"size              FP32 {rep['fp32_bytes'] / mb:.1f} MiB, INT8 {rep['int8_bytes'] / mb:.1f} MiB "
          f"({rep['size_ratio']}x smaller)", file=out)
    print(f"latency (median)  FP32 {rep['fp32_median_ms']} ms, INT8 {rep['int8_median_ms']} ms "
          f"-> {rep['speedup']}x ({rep['threads']} threads, {rep['timed_runs_per_model']} runs each, "
          f"interleaved)", file=out)
    frac = rep["kept_fraction"]
    print(f"detections kept   {rep['kept']} of {rep['fp32_detections']} FP32 detections"
          + (f" ({frac * 100:.1f} %)" if frac is not None else "")
          + f"; INT8 found {rep['int8_detections']} (conf >= {rep['conf']}, IoU >= 0.5, same class)",
          file=out)
    for row in rep["per_image"]:
        print(f"  {row['image']:<16} FP32 {row['fp32']:>3}  INT8 {row['int8']:>3}  kept {row['kept']:>3}", file=out)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Static INT8 (QDQ) quantization of a YOLO-NAS or Ultralytics YOLO ONNX file, "
                    "calibrated on photos preprocessed exactly as nasview does.",
        epilog="Recipes: run with --list-recipes. Default recipe per family: "
               + ", ".join(f"{k} -> {v}" for k, v in DEFAULT_RECIPE.items()),
    )
    p.add_argument("model", nargs="?", help="FP32 ONNX model to quantize")
    p.add_argument("--out", help="where to write the INT8 model (.onnx)")
    p.add_argument("--calib", nargs="+", default=["assets/photos"],
                   help="calibration images: folders and/or files (default: assets/photos)")
    p.add_argument("--report", action="store_true",
                   help="measure size, latency and detections kept; print and write OUT.report.json")
    p.add_argument("--report-json", metavar="PATH",
                   help="where --report writes its JSON (default: OUT with .report.json)")
    p.add_argument("--force", action="store_true", help="overwrite OUT (and its report) if it exists")
    p.add_argument("--recipe", help="quantization recipe (default: the family's, see --list-recipes)")
    p.add_argument("--names", metavar="coco|FILE",
                   help="write class names into the metadata key 'names' (COCO-80, or a file with one name "
                        "a line); by default the source model's metadata is copied as it is")
    p.add_argument("--list-recipes", action="store_true", help="list the recipes and exit")
    p.add_argument("--runs", type=int, default=10,
                   help="timed passes over the photo set per model for --report (default 10)")
    p.add_argument("--threads", type=int, default=2, help="ORT intra-op threads for --report (default 2)")
    p.add_argument("--report-only", action="store_true",
                   help="do not quantize: compare MODEL with an existing OUT")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_recipes:
        for r in RECIPES.values():
            defaults = [f for f, name in DEFAULT_RECIPE.items() if name == r.name]
            tag = f"  [default for {', '.join(defaults)}]" if defaults else ""
            print(f"{r.name:<26} {r.description}{tag}")
        return 0
    if not args.model or not args.out:
        build_parser().error("MODEL and --out are required (or use --list-recipes)")
    if not os.path.isfile(args.model):
        raise SystemExit(f"error: model {args.model} not found. For YOLO-NAS, export one with "
                         "models/export_yolo_nas.py; for YOLOv12n run `make setup`.")
    if os.path.abspath(args.model) == os.path.abspath(args.out):
        raise SystemExit("error: --out must differ from the input model")
    report_path = args.report_json or os.path.splitext(args.out)[0] + ".report.json"
    if not args.report_only and os.path.exists(args.out) and not args.force:
        raise SystemExit(f"error: {args.out} exists; pass --force to overwrite it")
    if args.report_only and not os.path.isfile(args.out):
        raise SystemExit(f"error: --report-only needs an existing {args.out}")

    images = detcore.list_images(args.calib)
    sess = detcore.make_session(args.model, args.threads)
    info = detcore.inspect_session(sess)
    del sess
    print(f"{args.model}: {detcore.FAMILY_DESCRIPTIONS[info.family]}, input {info.input_name} "
          f"{info.input_dtype} {info.input_hw[0]}x{info.input_hw[1]}")

    summary = {}
    if not args.report_only:
        name = args.recipe or DEFAULT_RECIPE[info.family]
        if name not in RECIPES:
            raise SystemExit(f"error: unknown recipe {name!r}; see --list-recipes")
        recipe = RECIPES[name]
        if info.family in TAIL_REQUIRED and "tail" not in recipe.exclude and "head" not in recipe.exclude:
            print(f"warning: recipe {name} quantizes the embedded NMS too; scores will likely be "
                  "destroyed (use tail-fp32)", file=sys.stderr)
        names = None
        if args.names == "coco":
            names = list(detcore.COCO80_NAMES)
        elif args.names:
            with open(args.names, encoding="utf-8") as f:
                names = [line.strip() for line in f if line.strip()]
        if names is not None and info.num_classes is not None and len(names) != info.num_classes:
            raise SystemExit(f"error: {len(names)} names given but the model has {info.num_classes} classes")
        tensors = []
        for pth in images:
            t, _ = detcore.preprocess(detcore.load_rgb(pth), info)
            tensors.append(t)
        print(f"quantizing with recipe {recipe.name} ({recipe.description}); "
              f"calibration: {len(tensors)} images from {', '.join(args.calib)}")
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="nasview-quant-") as work:
            tmp_out = os.path.join(work, "out.onnx")
            summary = quantize(args.model, tmp_out, info, tensors, recipe, work, names)
            shutil.move(tmp_out, args.out)
        print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB; "
              f"{summary['excluded_nodes']} nodes kept in float)")

    if args.report or args.report_only:
        if os.path.exists(report_path) and not args.force and not args.report_only:
            raise SystemExit(f"error: {report_path} exists; pass --force to overwrite it")
        rep = compare(args.model, args.out, images, args.runs, args.threads)
        rep.update({"quantization": summary, "calibration_images": [os.path.basename(i) for i in images],
                    "cpu": _cpu_name(), "onnxruntime": ort.__version__})
        print_report(rep)
        with open(report_path, "w") as f:
            json.dump(rep, f, indent=2)
            f.write("\n")
        print(f"wrote {report_path}")
    return 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
