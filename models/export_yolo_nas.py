#!/usr/bin/env python3
"""Export a YOLO-NAS detector (super-gradients 3.7.1) to ONNX for nasview.

Weights come from one of:
  --weights PATH       a super-gradients state dict (.pth) or training checkpoint (its "ema_net" or
                       "net" entry) for yolo_nas_{s,m,l};
  --pretrained coco    Deci's COCO weights from the super-gradients model hub (needs internet;
                       the weights are under Deci's non-commercial licence, see below);
  --random-init SEED   random weights: for checking shapes and speed only, detections are meaningless.

Output formats:
  raw (default)        preprocessing=False, postprocessing=False: float32 input [1,3,H,W] (RGB / 255),
                       outputs boxes [1,N,4] (xyxy, input pixels) and scores [1,N,C]; nasview decodes
                       and runs NMS itself (thresholds chosen at run time). Quantize this one.
  --nms flat|batch     preprocessing=True (uint8 RGB input [1,3,H,W]) and NMS inside the graph with the
                       --conf/--iou/--max-dets baked in; flat: [K,7] rows (batch, x1, y1, x2, y2, score,
                       class); batch: num_predictions, pred_boxes, pred_scores, pred_classes.

The class names are written into the ONNX metadata key ``names`` as a Python dict literal
(``{0: 'person', 1: 'bicycle', ...}``), the format Ultralytics uses, so nasview reads one format.

Runs in the super-gradients venv (.venv-sg, `make setup-models`).

Input size: --input-size 640 (square, as super-gradients trains) or WxH with multiples of 32, e.g.
640x384 for 16:9 frames: the same content at the same scale as 640x640 for about 40 % less work.

Example:
    .venv-sg/bin/python models/export_yolo_nas.py --size s --weights my_yolo_nas_s.pth \\
        --out models/yolo_nas_s.onnx
    .venv-sg/bin/python models/export_yolo_nas.py --size s --weights my_yolo_nas_s.pth \\
        --input-size 640x384 --out models/yolo_nas_s_640x384.onnx
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LICENCE_NOTICE = """\
NOTE: Deci's pretrained YOLO-NAS weights are published under their own licence
(https://github.com/Deci-AI/super-gradients/blob/master/LICENSE.YOLONAS.md), which allows
non-commercial use only. By downloading them you agree to its terms. The exported ONNX file
carries that licence: do not ship it in a commercial product."""

HUB_HELP = """\
Could not download the pretrained YOLO-NAS weights ({reason}).
Deci's model hub (sghub.deci.ai) is not reachable from here, or no longer serves the file.
What to do instead:
  * export from a checkpoint you already have:
        {py} models/export_yolo_nas.py --size {size} --weights PATH/TO/yolo_nas_{size}_coco.pth --out {out}
    (a .pth state dict, or a super-gradients training checkpoint with "ema_net"/"net");
  * or, only to check shapes and speed, use --random-init 0 (detections are meaningless)."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Export YOLO-NAS (super-gradients 3.7.1) to ONNX with class names in the metadata.",
        epilog="Quantize the raw export afterwards with models/quantize.py.",
    )
    p.add_argument("--size", choices=["s", "m", "l"], default="s", help="model size (default s)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", metavar="PATH", help="state dict / checkpoint (.pth) to load")
    src.add_argument("--pretrained", choices=["coco"],
                     help="download Deci's COCO weights from the super-gradients hub (internet; non-commercial licence)")
    src.add_argument("--random-init", type=int, metavar="SEED",
                     help="random weights with this seed: shapes and speed only, detections are meaningless")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--nms", choices=["flat", "batch"],
                   help="embed NMS (and uint8 input preprocessing) in the graph, in this output format")
    p.add_argument("--conf", type=float, default=0.25, help="confidence threshold baked into --nms exports (0.25)")
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold baked into --nms exports (0.7)")
    p.add_argument("--max-dets", type=int, default=300, help="max detections per image in --nms exports (300)")
    p.add_argument("--pre-nms", type=int, default=1000,
                   help="anchors kept (by best class score) before the embedded NMS (super-gradients' default 1000)")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="raw format only: a dynamic batch dimension, so nasview runs tiles as one batch "
                        "(outputs named boxes and scores)")
    p.add_argument("--input-size", default="640", metavar="N|WxH",
                   help="input size: N (square) or WxH, e.g. 640x384 for 16:9 frames; multiples of 32 (640)")
    p.add_argument("--num-classes", type=int, default=80, help="number of classes of the weights (80 = COCO)")
    p.add_argument("--names", metavar="FILE",
                   help="class names, one per line (default: COCO-80; required when --num-classes is not 80)")
    args = p.parse_args(argv)
    try:
        args.input_wh = parse_input_size(args.input_size)
    except ValueError as exc:
        p.error(str(exc))
    if args.num_classes != 80 and not args.names:
        p.error("--names FILE is required when --num-classes is not 80")
    if args.dynamic_batch and args.nms:
        p.error("--dynamic-batch is for the raw format (the embedded NMS is exported for one image)")
    if args.pretrained and args.num_classes != 80:
        p.error("--pretrained coco has 80 classes")
    return args


def parse_input_size(text: str):
    """``"640"`` -> (640, 640); ``"640x384"`` -> (640, 384) as (width, height); multiples of 32 only."""
    parts = str(text).lower().split("x")
    try:
        w, h = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise ValueError(f"--input-size {text!r}: use N or WxH, e.g. 640 or 640x384") from None
    if len(parts) > 2 or w <= 0 or h <= 0 or w % 32 or h % 32:
        raise ValueError(f"--input-size {text!r}: width and height must be positive multiples of 32")
    return w, h


def processing_params(width: int, height: int) -> dict:
    """super-gradients' COCO processing for YOLO-NAS, sized for a ``width`` x ``height`` input.

    At 640x640 this is exactly ``default_yolo_nas_coco_processing_params()`` (longest side to 636, centre
    pad to 640). super-gradients has no rule for other sizes (its ``predict`` always uses those 640x640
    steps); the same two steps sized ``(H-4, W-4)`` inside ``(H, W)`` are what nasview applies, so
    ``predict`` with these parameters is the reference for a non-square export."""
    from super_gradients.training.processing.processing import (
        ComposeProcessing,
        DetectionCenterPadding,
        DetectionLongestMaxSizeRescale,
        ImagePermute,
        StandardizeImage,
        default_yolo_nas_coco_processing_params,
    )

    params = default_yolo_nas_coco_processing_params()
    if (width, height) != (640, 640):
        params["image_processor"] = ComposeProcessing([
            DetectionLongestMaxSizeRescale(output_shape=(height - 4, width - 4)),
            DetectionCenterPadding(output_shape=(height, width), pad_value=114),
            StandardizeImage(max_value=255.0),
            ImagePermute(permutation=(2, 0, 1)),
        ])
    return params


def import_super_gradients():
    import detcore

    detcore.quiet_super_gradients()
    try:
        import torch  # noqa: F401
        import super_gradients  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            f"error: {exc}.\nThis script needs super-gradients 3.7.1 and torch: run `make setup-models` "
            "(creates .venv-sg) and use .venv-sg/bin/python."
        ) from exc


def load_state_dict(path: str):
    import torch

    if not os.path.isfile(path):
        raise SystemExit(f"error: weights file {path} not found")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as exc:
        raise SystemExit(f"error: cannot read {path} as a torch checkpoint: {exc}") from exc
    if isinstance(obj, dict):
        for key in ("ema_net", "net", "state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise SystemExit(f"error: {path} holds a {type(obj).__name__}, not a state dict")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in obj.items()}


def build_model(args):
    """Create the super-gradients model with weights and COCO processing params."""
    import torch
    from super_gradients.training import models

    arch = f"yolo_nas_{args.size}"
    if args.pretrained:
        print(LICENCE_NOTICE)
        try:
            model = models.get(arch, pretrained_weights="coco")
        except Exception as exc:  # HTTP 403/404, DNS, connection refused, hub gone...
            reason = f"{type(exc).__name__}: {exc}".strip()
            raise SystemExit(HUB_HELP.format(reason=reason[:300], py=sys.executable, size=args.size, out=args.out)) from exc
        source = f"super-gradients hub {arch}_coco (Deci, non-commercial licence LICENSE.YOLONAS.md)"
    elif args.weights:
        model = models.get(arch, num_classes=args.num_classes)
        sd = load_state_dict(args.weights)
        try:
            model.load_state_dict(sd)
        except RuntimeError as exc:
            raise SystemExit(
                f"error: {args.weights} does not fit {arch} with {args.num_classes} classes "
                f"(wrong --size or --num-classes?):\n{str(exc)[:800]}"
            ) from exc
        source = f"{arch} weights from {os.path.basename(args.weights)}"
    else:
        print(f"WARNING: random initialisation (seed {args.random_init}): the export is good for shapes and "
              "speed only; its detections mean nothing.")
        torch.manual_seed(args.random_init)
        model = models.get(arch, num_classes=args.num_classes)
        source = f"{arch} random initialisation, seed {args.random_init} (shapes/speed only)"
    model.set_dataset_processing_params(**processing_params(*args.input_wh))
    model.eval()
    return model, source


def class_names(args):
    import detcore

    if args.names:
        with open(args.names, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) != args.num_classes:
            raise SystemExit(f"error: {args.names} has {len(names)} names, expected {args.num_classes}")
        return names
    return list(detcore.COCO80_NAMES)


def export(model, args, path: str) -> None:
    from super_gradients.conversion import DetectionOutputFormatMode, ExportTargetBackend

    size = (args.input_wh[1], args.input_wh[0])  # super-gradients takes (rows, cols)
    if args.nms is None:
        kwargs = {}
        if args.dynamic_batch:
            # torch traces the batch size into every reshape unless it is declared dynamic.
            names = ["boxes", "scores"]
            axes = {name: {0: "batch"} for name in ["input", *names]}
            kwargs["onnx_export_kwargs"] = {"output_names": names, "dynamic_axes": axes}
        model.export(path, preprocessing=False, postprocessing=False, input_image_shape=size,
                     engine=ExportTargetBackend.ONNXRUNTIME, **kwargs)
    else:
        fmt = DetectionOutputFormatMode.FLAT_FORMAT if args.nms == "flat" else DetectionOutputFormatMode.BATCH_FORMAT
        model.export(
            path,
            preprocessing=True,
            postprocessing=True,
            input_image_shape=size,
            engine=ExportTargetBackend.ONNXRUNTIME,
            confidence_threshold=args.conf,
            nms_threshold=args.iou,
            max_predictions_per_image=args.max_dets,
            num_pre_nms_predictions=args.pre_nms,
            output_predictions_format=fmt,
        )


def write_metadata(path: str, names, extra: dict) -> None:
    import onnx

    import detcore

    m = onnx.load(path)
    meta = {p.key: p.value for p in m.metadata_props}
    meta.update(extra)
    meta["names"] = detcore.names_to_metadata(names)
    del m.metadata_props[:]
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.path.exists(args.out) and not args.force:
        raise SystemExit(f"error: {args.out} exists; pass --force to overwrite it")
    import_super_gradients()
    import super_gradients

    names = class_names(args)
    model, source = build_model(args)
    fmt = "raw" if args.nms is None else f"{args.nms} NMS (conf {args.conf}, IoU {args.iou}, max {args.max_dets})"
    w, h = args.input_wh
    print(f"exporting yolo_nas_{args.size} ({source}), {w}x{h}, {fmt} ...")
    with tempfile.TemporaryDirectory(prefix="nasview-export-") as work:
        tmp = os.path.join(work, "model.onnx")
        export(model, args, tmp)
        extra = {
            "description": f"YOLO-NAS {args.size.upper()} exported by nasview models/export_yolo_nas.py",
            "source": source,
            "exporter": f"super-gradients {super_gradients.__version__}",
            "format": "yolo_nas_raw" if args.nms is None else f"yolo_nas_{args.nms}_nms",
            "imgsz": f"[{h}, {w}]",
            "preprocessing": (
                f"fit inside {w - 4}x{h - 4} (cv2 INTER_LINEAR, Python round), centre pad 114 to {w}x{h}, RGB"
                + (", uint8 NCHW input (the graph divides by 255)" if args.nms else ", /255 float NCHW")
            ),
        }
        if args.nms:
            extra.update({"conf": str(args.conf), "iou": str(args.iou), "max_dets": str(args.max_dets)})
        if args.pretrained:
            extra["license"] = "Deci YOLO-NAS weights licence, non-commercial (LICENSE.YOLONAS.md)"
        write_metadata(tmp, names, extra)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        shutil.move(tmp, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
