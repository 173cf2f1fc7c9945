"""Shared helpers for nasview's Python model tools (quantize.py, export_yolo_nas.py, parity.py).

What lives here, so that every script agrees with the Rust application on the details:

* COCO-80 class names and the ``names`` metadata format (a Python dict literal, as Ultralytics writes);
* recognising a detector ONNX file's family from its signature (YOLO-NAS raw / flat NMS / batch NMS,
  Ultralytics ``output0``);
* the two letterbox preprocessings, written step by step like the originals:
  super-gradients' YOLO-NAS ``predict`` pipeline and Ultralytics' ``LetterBox``;
* decoding each output layout into detections in source-image pixels, with a class-aware NMS in numpy;
* matching two detection lists (same class, IoU threshold) for "how many did we keep" reports.

Only numpy and OpenCV are needed (no torch), so this runs in the light ``.venv``.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

try:
    import cv2
except ImportError as exc:  # pragma: no cover - only hit in a broken venv
    raise SystemExit(
        "OpenCV is missing: install it with `pip install opencv-python-headless` "
        "(it is in the project's .venv)."
    ) from exc

COCO80_NAMES: List[str] = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

# Families
YOLO_NAS_RAW = "yolo_nas_raw"
YOLO_NAS_FLAT = "yolo_nas_flat"
YOLO_NAS_BATCH = "yolo_nas_batch"
ULTRALYTICS = "ultralytics"

FAMILY_DESCRIPTIONS = {
    YOLO_NAS_RAW: "YOLO-NAS raw export (boxes [1,N,4] + scores [1,N,C], no NMS)",
    YOLO_NAS_FLAT: "YOLO-NAS export with embedded NMS, flat format ([K,7])",
    YOLO_NAS_BATCH: "YOLO-NAS export with embedded NMS, batch format (num_predictions, pred_boxes, ...)",
    ULTRALYTICS: "Ultralytics YOLOv8-12 export (output0 [1,4+C,N])",
}


def names_to_metadata(names: Sequence[str]) -> str:
    """Format class names the way Ultralytics stores them: ``{0: 'person', 1: 'bicycle', ...}``."""
    return "{" + ", ".join(f"{i}: {name!r}" for i, name in enumerate(names)) + "}"


def names_from_metadata(text: str) -> Dict[int, str]:
    value = ast.literal_eval(text)
    if not isinstance(value, dict):
        raise ValueError("names metadata is not a dict literal")
    return {int(k): str(v) for k, v in value.items()}


def list_images(folder_or_files: Sequence[str]) -> List[str]:
    """Expand folders into their image files (sorted); keep files as given."""
    out: List[str] = []
    for item in folder_or_files:
        if os.path.isdir(item):
            found = sorted(
                os.path.join(item, f)
                for f in os.listdir(item)
                if f.lower().endswith(IMAGE_EXTENSIONS)
            )
            if not found:
                raise SystemExit(f"error: no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {item}")
            out.extend(found)
        elif os.path.isfile(item):
            out.append(item)
        else:
            raise SystemExit(f"error: {item} is neither an image file nor a folder")
    return out


def load_rgb(path: str) -> np.ndarray:
    """Read an image file as an RGB uint8 HxWx3 array (alpha dropped, greyscale expanded)."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"error: cannot read image {path} (missing or not an image OpenCV can decode)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------------------------
# Model signature
# --------------------------------------------------------------------------------------------


@dataclass
class ModelInfo:
    family: str
    input_name: str
    input_dtype: str  # "float32" or "uint8"
    input_hw: Tuple[int, int]
    num_classes: Optional[int]
    # for raw YOLO-NAS: which output is which
    boxes_output: Optional[str] = None
    scores_output: Optional[str] = None
    output_names: List[str] = field(default_factory=list)

    @property
    def is_yolo_nas(self) -> bool:
        return self.family in (YOLO_NAS_RAW, YOLO_NAS_FLAT, YOLO_NAS_BATCH)


_ORT_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8"}


def _dim(d) -> Optional[int]:
    return d if isinstance(d, int) and d > 0 else None


def inspect_session(sess) -> ModelInfo:
    """Work out the model family from an onnxruntime session's inputs and outputs."""
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise SystemExit(f"error: expected a model with one image input, found {len(inputs)} inputs")
    inp = inputs[0]
    if inp.type not in _ORT_TYPES:
        raise SystemExit(f"error: input {inp.name} has type {inp.type}; expected float32 or uint8")
    shape = list(inp.shape)
    if len(shape) != 4 or _dim(shape[1]) != 3 or _dim(shape[2]) is None or _dim(shape[3]) is None:
        raise SystemExit(
            f"error: input {inp.name} has shape {shape}; expected [1,3,H,W] with fixed H and W "
            "(re-export with a fixed input size)"
        )
    hw = (int(shape[2]), int(shape[3]))
    outs = sess.get_outputs()
    names = [o.name for o in outs]
    by_name = {o.name: o for o in outs}
    dtype = _ORT_TYPES[inp.type]

    batch_keys = ("num_predictions", "pred_boxes", "pred_scores", "pred_classes")
    if len(outs) == 4 and all(any(n.endswith(k) for n in names) for k in batch_keys):
        return ModelInfo(YOLO_NAS_BATCH, inp.name, dtype, hw, None, output_names=names)

    if len(outs) == 1:
        s = list(outs[0].shape)
        if len(s) == 2 and _dim(s[1]) == 7:
            return ModelInfo(YOLO_NAS_FLAT, inp.name, dtype, hw, None, output_names=names)
        if len(s) == 3 and _dim(s[1]) is not None and _dim(s[2]) is not None and s[1] < s[2] and s[1] > 4:
            return ModelInfo(ULTRALYTICS, inp.name, dtype, hw, int(s[1]) - 4, output_names=names)

    if len(outs) == 2:
        s0, s1 = (list(by_name[n].shape) for n in names)
        if len(s0) == 3 and len(s1) == 3:
            if _dim(s0[2]) == 4 and _dim(s1[2]) != 4:
                boxes, scores = names
            elif _dim(s1[2]) == 4 and _dim(s0[2]) != 4:
                scores, boxes = names
            else:
                boxes = scores = None
            if boxes is not None:
                c = _dim(list(by_name[scores].shape)[2])
                return ModelInfo(YOLO_NAS_RAW, inp.name, dtype, hw, c, boxes, scores, names)

    desc = ", ".join(f"{o.name} {list(o.shape)}" for o in outs)
    raise SystemExit(
        "error: unrecognised detector outputs: " + desc + ". Supported: YOLO-NAS raw "
        "(boxes [1,N,4] + scores [1,N,C]), YOLO-NAS flat NMS ([K,7]), YOLO-NAS batch NMS "
        "(num_predictions, pred_boxes, pred_scores, pred_classes), Ultralytics output0 [1,4+C,N]."
    )


# --------------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------------


@dataclass
class Letterbox:
    """How a source image was placed into the network input: input = source * scale + pad."""

    src_w: int
    src_h: int
    scale_x: float
    scale_y: float
    pad_left: int
    pad_top: int

    def to_source(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map input-pixel xyxy boxes back to source pixels and clip them to the image."""
        b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4).copy()
        b[:, [0, 2]] = (b[:, [0, 2]] - self.pad_left) / self.scale_x
        b[:, [1, 3]] = (b[:, [1, 3]] - self.pad_top) / self.scale_y
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, self.src_w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, self.src_h)
        return b


PAD_VALUE = 114


def letterbox_yolo_nas(rgb: np.ndarray, input_hw: Tuple[int, int]) -> Tuple[np.ndarray, Letterbox]:
    """super-gradients 3.7.1 ``default_yolo_nas_coco_processing_params`` as ``predict`` applies it
    (sized for the model's H x W input, square or not: ``export_yolo_nas.processing_params``).

    1. DetectionLongestMaxSizeRescale(output_shape=(H-4, W-4)):
       s = min((H-4)/h, (W-4)/w); new size = (round(h*s), round(w*s)) with Python's round
       (round-half-to-even); cv2.resize INTER_LINEAR, skipped when s == 1.
    2. DetectionCenterPadding(output_shape=(H, W), pad_value=114):
       pad_top = (H-new_h)//2, pad_left = (W-new_w)//2, the rest at the bottom/right.
    3. StandardizeImage(255) and ImagePermute(2,0,1): float32 RGB / 255, NCHW.

    Returns the padded uint8 HxWx3 RGB image (not yet scaled) and the placement.
    """
    H, W = input_hw
    h, w = rgb.shape[:2]
    s = min((H - 4) / h, (W - 4) / w)
    new_h, new_w = round(h * s), round(w * s)
    if s != 1:
        img = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    else:
        img = rgb
    pad_top = (H - new_h) // 2
    pad_left = (W - new_w) // 2
    out = cv2.copyMakeBorder(
        img, pad_top, H - new_h - pad_top, pad_left, W - new_w - pad_left,
        cv2.BORDER_CONSTANT, value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
    )
    # super-gradients maps boxes back with the single factor s (not new_w/w, new_h/h)
    return out, Letterbox(w, h, s, s, pad_left, pad_top)


def letterbox_ultralytics(rgb: np.ndarray, input_hw: Tuple[int, int]) -> Tuple[np.ndarray, Letterbox]:
    """Ultralytics ``LetterBox(auto=False, scaleup=True, center=True)`` as ``predict`` applies it.

    r = min(H/h, W/w); new_w, new_h = int(round(w*r)), int(round(h*r)); cv2.resize INTER_LINEAR
    when the size changes; dw, dh = (W-new_w)/2, (H-new_h)/2; top = int(round(dh-0.1)),
    left = int(round(dw-0.1)), bottom = int(round(dh+0.1)), right = int(round(dw+0.1)); pad 114.
    """
    H, W = input_hw
    h, w = rgb.shape[:2]
    r = min(H / h, W / w)
    new_w, new_h = int(round(w * r)), int(round(h * r))
    img = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_w, new_h) != (w, h) else rgb
    dw, dh = (W - new_w) / 2, (H - new_h) / 2
    top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
    bottom, right = H - new_h - top, W - new_w - left
    out = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT,
                             value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    # Ultralytics' scale_boxes (8.4) maps back with the gains of the rounded resize, new_w / w and
    # new_h / h, and the same rounded pads
    return out, Letterbox(w, h, new_w / w, new_h / h, left, top)


def preprocess(rgb: np.ndarray, info: ModelInfo) -> Tuple[np.ndarray, Letterbox]:
    """Letterbox for the model's family and make the NCHW input tensor (float /255 or uint8)."""
    fn = letterbox_yolo_nas if info.is_yolo_nas else letterbox_ultralytics
    padded, lb = fn(rgb, info.input_hw)
    chw = np.ascontiguousarray(padded.transpose(2, 0, 1))[None]
    if info.input_dtype == "uint8":
        return chw, lb
    return chw.astype(np.float32) / np.float32(255.0), lb


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


@dataclass
class Detections:
    boxes: np.ndarray  # [K,4] xyxy, source pixels (clipped)
    scores: np.ndarray  # [K]
    classes: np.ndarray  # [K] int

    def __len__(self) -> int:
        return len(self.scores)

    def as_list(self, names: Optional[Dict[int, str]] = None) -> List[dict]:
        out = []
        for b, s, c in zip(self.boxes, self.scores, self.classes):
            d = {"class_id": int(c), "score": float(s), "box": [float(v) for v in b]}
            if names is not None:
                d["label"] = names.get(int(c), str(int(c)))
            out.append(d)
        return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes a [N,4] and b [M,4] (no +1, like torchvision)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clip(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms_class_aware(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS per class (a box suppresses lower-scored boxes of its class with IoU > iou).

    Returns kept indices, highest score first (stable order on ties, like a stable sort)."""
    order = np.argsort(-scores, kind="stable")
    keep: List[int] = []
    suppressed = np.zeros(len(scores), dtype=bool)
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(int(i))
        rest = order[pos + 1:]
        rest = rest[(~suppressed[rest]) & (classes[rest] == classes[i])]
        if len(rest):
            ious = box_iou(boxes[i:i + 1], boxes[rest])[0]
            suppressed[rest[ious > iou]] = True
    return np.asarray(keep, dtype=np.int64)


def decode(outputs: Dict[str, np.ndarray], info: ModelInfo, lb: Letterbox, conf: float = 0.25,
           iou: float = 0.7, top_k: int = 1024, max_dets: int = 300) -> Detections:
    """Turn one image's raw model outputs into detections in source pixels.

    * YOLO-NAS raw: super-gradients' PPYoloEPostPredictionCallback: every (box, class) pair with
      score > conf (multi-label), top-``top_k`` by score, class-aware NMS, first ``max_dets``.
    * Ultralytics: best class per anchor, score > conf, class-aware NMS, first ``max_dets``.
    * flat / batch: NMS is in the graph; only the conf filter (>= conf) and mapping back remain.
    """
    if info.family == YOLO_NAS_RAW:
        boxes = outputs[info.boxes_output][0]
        scores = outputs[info.scores_output][0]
        ii, jj = np.nonzero(scores > conf)
        cand_scores = scores[ii, jj]
        if len(cand_scores) > top_k:
            sel = np.argsort(-cand_scores, kind="stable")[:top_k]
            ii, jj, cand_scores = ii[sel], jj[sel], cand_scores[sel]
        cand_boxes = boxes[ii]
        keep = nms_class_aware(cand_boxes, cand_scores, jj, iou)[:max_dets]
        b, s, c = cand_boxes[keep], cand_scores[keep], jj[keep]
    elif info.family == ULTRALYTICS:
        out = outputs[info.output_names[0]][0].T  # [N, 4+C]
        cls_scores = out[:, 4:]
        c_all = cls_scores.argmax(1)
        s_all = cls_scores[np.arange(len(c_all)), c_all]
        m = s_all > conf
        cxcywh, s, c = out[m, :4], s_all[m], c_all[m]
        xyxy = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)
        keep = nms_class_aware(xyxy, s, c, iou)[:max_dets]
        b, s, c = xyxy[keep], s[keep], c[keep]
    elif info.family == YOLO_NAS_FLAT:
        flat = outputs[info.output_names[0]].reshape(-1, 7)
        flat = flat[flat[:, 0] == 0]
        b, s, c = flat[:, 1:5], flat[:, 5], flat[:, 6].astype(np.int64)
        m = s >= conf
        b, s, c = b[m], s[m], c[m]
    elif info.family == YOLO_NAS_BATCH:
        get = {k: v for k, v in outputs.items()}

        def pick(suffix):
            return next(v for k, v in get.items() if k.endswith(suffix))

        n = int(np.asarray(pick("num_predictions")).reshape(-1)[0])
        b = pick("pred_boxes")[0][:n]
        s = pick("pred_scores")[0][:n]
        c = pick("pred_classes")[0][:n].astype(np.int64)
        m = s >= conf
        b, s, c = b[m], s[m], c[m]
    else:  # pragma: no cover
        raise ValueError(info.family)
    return Detections(lb.to_source(b), np.asarray(s, dtype=np.float64), np.asarray(c, dtype=np.int64))


def run_model(sess, info: ModelInfo, tensor: np.ndarray) -> Dict[str, np.ndarray]:
    outs = sess.run(None, {info.input_name: tensor})
    return dict(zip([o.name for o in sess.get_outputs()], outs))


def match_detections(ref: Detections, other: Detections, iou_thr: float = 0.5) -> int:
    """How many of ``ref``'s detections have a partner in ``other`` (same class, IoU >= iou_thr).

    Greedy one-to-one, highest reference score first; each partner is used once."""
    if len(ref) == 0 or len(other) == 0:
        return 0
    ious = box_iou(ref.boxes, other.boxes)
    used = np.zeros(len(other), dtype=bool)
    kept = 0
    for i in np.argsort(-ref.scores, kind="stable"):
        cand = np.where((~used) & (other.classes == ref.classes[i]) & (ious[i] >= iou_thr))[0]
        if len(cand):
            j = cand[np.argmax(ious[i, cand])]
            used[j] = True
            kept += 1
    return kept


def make_session(path: str, threads: int = 2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise SystemExit(f"error: onnxruntime cannot load {path}: {exc}") from exc


def quiet_super_gradients() -> None:
    """Set super-gradients' environment switches before it is imported: no crash-tip hook, no log
    upload, console logging at ERROR, its log files under the temp folder instead of ~/sg_logs."""
    import tempfile

    os.environ.setdefault("CRASH_HANDLER", "FALSE")
    os.environ.setdefault("UPLOAD_LOGS", "FALSE")
    os.environ.setdefault("CONSOLE_LOG_LEVEL", "ERROR")
    os.environ.setdefault("SUPER_GRADIENTS_LOG_DIR", os.path.join(tempfile.gettempdir(), "nasview-sg-logs"))
