//! Which model family an ONNX file is, read from its input/output signature at load time.

use std::fmt;

use super::preprocess::LetterboxRule;

/// Element types nasview cares about; anything else is kept by name for the error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    U8,
    I64,
    Other(String),
}

/// One input or output of a graph: name, element type and shape (`-1` for a dynamic dimension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub elem: Elem,
    pub dims: Vec<i64>,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.dims.iter().map(|d| if *d < 0 { "?".into() } else { d.to_string() }).collect();
        let elem = match &self.elem {
            Elem::F32 => "float32",
            Elem::U8 => "uint8",
            Elem::I64 => "int64",
            Elem::Other(s) => s,
        };
        write!(f, "{} {elem}[{}]", self.name, dims.join(","))
    }
}

/// The model layouts nasview decodes. Indices point into the session's outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// super-gradients YOLO-NAS export without NMS: boxes `[1,N,4]` + scores `[1,N,C]`.
    YoloNasRaw { boxes: usize, scores: usize },
    /// YOLO-NAS with embedded NMS, flat: `[K,7]`.
    YoloNasFlat { rows: usize },
    /// YOLO-NAS with embedded NMS, batch: `num_predictions`, `pred_boxes`, `pred_scores`, `pred_classes`.
    YoloNasBatch { num: usize, boxes: usize, scores: usize, classes: usize },
    /// Ultralytics YOLOv8–v12: `output0 [1,4+C,N]`.
    Ultralytics { out: usize },
}

impl Family {
    pub fn name(&self) -> &'static str {
        match self {
            Family::YoloNasRaw { .. } => "YOLO-NAS (raw)",
            Family::YoloNasFlat { .. } => "YOLO-NAS (embedded NMS, flat)",
            Family::YoloNasBatch { .. } => "YOLO-NAS (embedded NMS, batch)",
            Family::Ultralytics { .. } => "Ultralytics YOLOv8-v12",
        }
    }

    pub fn letterbox_rule(&self) -> LetterboxRule {
        match self {
            Family::Ultralytics { .. } => LetterboxRule::Ultralytics,
            _ => LetterboxRule::YoloNas,
        }
    }

    /// Exports with NMS in the graph: their IoU threshold was fixed at export time.
    pub fn has_embedded_nms(&self) -> bool {
        matches!(self, Family::YoloNasFlat { .. } | Family::YoloNasBatch { .. })
    }
}

/// Layout of the image input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputSpec {
    pub width: u32,
    pub height: u32,
    /// uint8 input: the graph normalises itself (YOLO-NAS exported with `preprocessing=True`).
    pub uint8: bool,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unsupported model signature:\n  inputs:  {inputs}\n  outputs: {outputs}\n{reason}\nnasview runs:\n  \
     YOLO-NAS raw export      input [1,3,H,W] float32|uint8 -> boxes [1,N,4] + scores [1,N,C]\n  \
     YOLO-NAS flat NMS export input [1,3,H,W] -> [K,7] (batch, x1, y1, x2, y2, score, class)\n  \
     YOLO-NAS batch NMS export input [1,3,H,W] -> num_predictions [B,1], pred_boxes [B,K,4], pred_scores [B,K], pred_classes [B,K]\n  \
     Ultralytics YOLOv8-v12   input [1,3,H,W] float32 -> output0 [1,4+C,N]\n\
     Export YOLO-NAS with models/export_yolo_nas.py, or Ultralytics with `yolo export format=onnx`."
)]
pub struct SignatureError {
    inputs: String,
    outputs: String,
    reason: String,
}

fn join(ports: &[Port]) -> String {
    if ports.is_empty() {
        return "(none)".into();
    }
    ports.iter().map(Port::to_string).collect::<Vec<_>>().join(", ")
}

/// Classifies a graph by its ports; input size falls back to 640 where the model leaves it dynamic.
pub fn classify(inputs: &[Port], outputs: &[Port]) -> Result<(Family, InputSpec), SignatureError> {
    let fail =
        |reason: &str| SignatureError { inputs: join(inputs), outputs: join(outputs), reason: format!("({reason})") };
    let [input] = inputs else {
        return Err(fail("expected exactly one image input"));
    };
    let uint8 = match input.elem {
        Elem::F32 => false,
        Elem::U8 => true,
        _ => return Err(fail("the image input must be float32 or uint8")),
    };
    if input.dims.len() != 4 || !(input.dims[1] == 3 || input.dims[1] < 0) {
        return Err(fail("the image input must be [1,3,H,W] (NCHW, RGB)"));
    }
    let side = |d: i64| if d > 0 { d as u32 } else { 640 };
    let spec = InputSpec { width: side(input.dims[3]), height: side(input.dims[2]), uint8 };

    let float = |p: &Port| p.elem == Elem::F32;
    let family = match outputs {
        [o] if float(o) && o.dims.len() == 3 && o.dims[1] > 4 && (o.dims[2] < 0 || o.dims[2] > o.dims[1]) => {
            if uint8 {
                return Err(fail("Ultralytics models take float32 input"));
            }
            Family::Ultralytics { out: 0 }
        }
        [o] if float(o) && o.dims.len() == 2 && o.dims[1] == 7 => Family::YoloNasFlat { rows: 0 },
        [a, b] if float(a) && float(b) && a.dims.len() == 3 && b.dims.len() == 3 => match (a.dims[2], b.dims[2]) {
            (4, c) if c != 4 => Family::YoloNasRaw { boxes: 0, scores: 1 },
            (c, 4) if c != 4 => Family::YoloNasRaw { boxes: 1, scores: 0 },
            _ => return Err(fail("two outputs, but not boxes [1,N,4] and scores [1,N,C]")),
        },
        [_, _, _, _] => {
            let find = |want_elem: Elem, rank: usize, last: Option<i64>, name_hint: &str| {
                outputs.iter().position(|p| {
                    p.elem == want_elem
                        && p.dims.len() == rank
                        && last.is_none_or(|l| p.dims[rank - 1] == l || p.dims[rank - 1] < 0)
                        && p.name.contains(name_hint)
                })
            };
            match (
                find(Elem::I64, 2, None, "num_predictions"),
                find(Elem::F32, 3, Some(4), "pred_boxes"),
                find(Elem::F32, 2, None, "pred_scores"),
                find(Elem::I64, 2, None, "pred_classes"),
            ) {
                (Some(num), Some(boxes), Some(scores), Some(classes)) => {
                    Family::YoloNasBatch { num, boxes, scores, classes }
                }
                _ => return Err(fail("four outputs, but not num_predictions/pred_boxes/pred_scores/pred_classes")),
            }
        }
        _ => return Err(fail("no known output layout")),
    };
    Ok((family, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str, elem: Elem, dims: &[i64]) -> Port {
        Port { name: name.into(), elem, dims: dims.to_vec() }
    }

    #[test]
    fn recognises_each_family() {
        let f32_in = [port("images", Elem::F32, &[1, 3, 640, 640])];
        let u8_in = [port("input", Elem::U8, &[1, 3, 640, 640])];
        let (fam, spec) = classify(&f32_in, &[port("output0", Elem::F32, &[1, 84, 8400])]).unwrap();
        assert_eq!((fam, spec), (Family::Ultralytics { out: 0 }, InputSpec { width: 640, height: 640, uint8: false }));

        // The raw export's outputs are named by numbers; order is not promised.
        let raw = [port("1125", Elem::F32, &[1, 8400, 80]), port("1133", Elem::F32, &[1, 8400, 4])];
        assert_eq!(classify(&f32_in, &raw).unwrap().0, Family::YoloNasRaw { boxes: 1, scores: 0 });

        let flat = [port("graph2_flat_predictions", Elem::F32, &[-1, 7])];
        let (fam, spec) = classify(&u8_in, &flat).unwrap();
        assert_eq!(fam, Family::YoloNasFlat { rows: 0 });
        assert!(spec.uint8);

        // FP32 exports leave the box dimension dynamic.
        let batch = [
            port("graph2_num_predictions", Elem::I64, &[1, 1]),
            port("graph2_pred_boxes", Elem::F32, &[1, -1, -1]),
            port("graph2_pred_scores", Elem::F32, &[1, 1000]),
            port("graph2_pred_classes", Elem::I64, &[1, 1000]),
        ];
        assert_eq!(
            classify(&u8_in, &batch).unwrap().0,
            Family::YoloNasBatch { num: 0, boxes: 1, scores: 2, classes: 3 }
        );
    }

    #[test]
    fn input_size_comes_from_the_model() {
        let input = [port("images", Elem::F32, &[1, 3, 480, 320])];
        let (_, spec) = classify(&input, &[port("output0", Elem::F32, &[1, 84, 3150])]).unwrap();
        assert_eq!((spec.width, spec.height), (320, 480));
    }

    #[test]
    fn unknown_signature_lists_what_it_found_and_what_is_supported() {
        let err = classify(&[port("x", Elem::F32, &[1, 1000])], &[port("y", Elem::F32, &[1, 1000])]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x float32[1,1000]") && msg.contains("y float32[1,1000]"), "{msg}");
        assert!(msg.contains("YOLO-NAS raw export") && msg.contains("output0 [1,4+C,N]"), "{msg}");
    }
}
