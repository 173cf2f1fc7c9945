//! The detector: one ONNX model, its family's preprocessing, ONNX Runtime, and decoding (inference thread).

pub mod decode;
pub mod labels;
pub mod nms;
pub mod passes;
pub mod preprocess;
pub mod provider;
pub mod signature;
pub mod spin;
pub mod tiles;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use image::RgbImage;
use ort::session::builder::SessionBuilder;
use ort::session::{Session, SessionOutputs};
use ort::value::{TensorElementType, TensorRef, ValueType};

use self::preprocess::{Letterbox, Preprocessor};
use self::provider::{Device, Placement};
use self::signature::{classify, Elem, Family, InputSpec, Port};
pub use self::spin::{Spin, SpinChoice, SpinSetting};

/// One detected object: class, score, and a box `[x1, y1, x2, y2]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    pub class_id: usize,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// Weight precision, read from the graph's operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Int8,
    Fp32,
}

impl Precision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Precision::Int8 => "INT8",
            Precision::Fp32 => "FP32",
        }
    }
}

/// Quantized graphs carry these operator names as strings in the protobuf.
fn precision_of(model_bytes: &[u8]) -> Precision {
    let quantized = ["QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger"];
    if quantized.iter().any(|op| memchr::memmem::find(model_bytes, op.as_bytes()).is_some()) {
        Precision::Int8
    } else {
        Precision::Fp32
    }
}

/// How a frame's detections are chosen from the model's candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    pub conf: f32,
    pub iou: f32,
}

/// Post-processing constants of each family's reference `predict`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Candidates that enter NMS, best first (super-gradients: 1024; Ultralytics: 30000).
    pub pre_nms_top_k: usize,
    /// Detections kept after NMS.
    pub max_det: usize,
}

/// A frame's candidates above a confidence floor, best first, in frame pixels (not yet clipped), so
/// the confidence and IoU thresholds can change later without running the model again.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Candidates {
    pub dets: Vec<Detection>,
    pub frame_w: u32,
    pub frame_h: u32,
    /// False for exports with NMS inside the graph.
    pub needs_nms: bool,
    pub limits: Option<Limits>,
    /// Passes the candidates come from (full frame, tiles, zoom region); more than one: merged by select.
    pub passes: usize,
    /// With several passes: whether `dets[i]` was cut at a crop's inner edge ([`tiles::is_cut`]).
    pub cut: Vec<bool>,
}

impl Candidates {
    /// Detections for thresholds at or above the floor the candidates were made with: filter by score,
    /// keep the top-k, class-aware NMS, clip to the frame.
    pub fn select(&self, t: &Thresholds) -> Vec<Detection> {
        if self.passes > 1 {
            return self.select_merged(t);
        }
        let limits = self.limits.unwrap_or(Limits { pre_nms_top_k: usize::MAX, max_det: usize::MAX });
        let above: Vec<Detection> =
            self.dets.iter().filter(|d| d.score > t.conf).take(limits.pre_nms_top_k).copied().collect();
        let mut kept = Vec::with_capacity(above.len().min(limits.max_det));
        if self.needs_nms {
            nms::nms_sorted(&above, t.iou, limits.max_det, &mut kept);
        } else {
            kept.extend(above.into_iter().take(limits.max_det));
        }
        for d in &mut kept {
            d.bbox = preprocess::clip_box(d.bbox, self.frame_w, self.frame_h);
        }
        kept
    }

    /// Candidates from several passes: filter by score, then the tile merge ([`tiles::merge`]) with the IoU
    /// threshold, clip to the frame.
    fn select_merged(&self, t: &Thresholds) -> Vec<Detection> {
        let max_det = self.limits.map_or(usize::MAX, |l| l.max_det);
        let (above, cut): (Vec<Detection>, Vec<bool>) =
            self.dets.iter().zip(&self.cut).filter(|(d, _)| d.score > t.conf).map(|(d, c)| (*d, *c)).unzip();
        let mut kept = Vec::new();
        tiles::merge(&above, &cut, t.iou, max_det, &mut kept);
        for d in &mut kept {
            d.bbox = preprocess::clip_box(d.bbox, self.frame_w, self.frame_h);
        }
        kept
    }
}

/// Time spent in each stage of one `detect` call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    pub preprocess: Duration,
    pub inference: Duration,
    pub postprocess: Duration,
}

/// What was loaded, for the start-up line, the HUD and JSON output.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub file_name: String,
    pub family: Family,
    pub input: InputSpec,
    pub precision: Precision,
    pub placement: Placement,
    pub labels: Vec<String>,
    pub threads: usize,
    pub spin: SpinChoice,
}

impl ModelInfo {
    pub fn summary(&self) -> String {
        format!(
            "model {} ({}, {}, input {}x{}{}) on {}, {} threads, spinning {}",
            self.file_name,
            self.family.name(),
            self.precision.as_str(),
            self.input.width,
            self.input.height,
            if self.input.uint8 { " uint8" } else { "" },
            self.placement.label(),
            self.threads,
            self.spin.label()
        )
    }
}

/// Options for loading a model.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub device: Device,
    pub strict_device: bool,
    pub threads: usize,
    pub labels_file: Option<PathBuf>,
    /// ONNX Runtime's intra-op spinning; `auto` becomes the command's measured choice ([`LoadOptions::spinning_or`]).
    pub spin: SpinSetting,
}

impl LoadOptions {
    /// These options with the command's measured spinning (`idle` on free cores, `busy` otherwise) unless the
    /// user chose (`--spin on|off|run`).
    pub fn spinning_or(&self, idle: Spin, busy: Spin) -> LoadOptions {
        LoadOptions { spin: self.spin.or_auto(idle, busy), ..self.clone() }
    }
}

/// A loaded model plus the buffers it reuses from frame to frame.
pub struct Detector {
    session: Session,
    pub info: ModelInfo,
    /// Candidates only: one class filter applied before top-k, as Ultralytics does.
    pub class_filter: Option<Vec<usize>>,
    /// The letterbox scratch and the input tensor, reused from frame to frame.
    pre: Preprocessor,
    input_name: String,
    /// Decoded candidates in model pixels, reused.
    raw: Vec<Detection>,
    /// Implausible boxes the decoder dropped this run (warned about once, naming the model).
    pub dropped_boxes: u64,
    /// Buffers of tiled runs ([`passes`]).
    tiled: passes::PassScratch,
}

fn port(name: &str, ty: &ValueType) -> Port {
    let elem = match ty.tensor_type() {
        Some(TensorElementType::Float32) => Elem::F32,
        Some(TensorElementType::Uint8) => Elem::U8,
        Some(TensorElementType::Int64) => Elem::I64,
        Some(other) => Elem::Other(format!("{other:?}").to_lowercase()),
        None => Elem::Other("non-tensor".into()),
    };
    let dims = ty.tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
    Port { name: name.to_string(), elem, dims }
}

impl Detector {
    /// Loads and checks a model: a wrong file fails here, with what was expected, not on the first frame.
    pub fn load(path: &Path, opts: &LoadOptions) -> anyhow::Result<Detector> {
        // Counts other processes' runnable threads while the runtime and the model file load.
        let probe = spin::Probe::start(opts.spin);
        let env = crate::runtime::init(None)?;
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read model {}: run `make setup` to fetch the default model, or pass --model PATH",
                path.display()
            )
        })?;
        let precision = precision_of(&bytes);
        let spin_choice = probe.choose(opts.spin);
        let spin = spin_choice.spin;
        let cache = path.with_extension("trt-cache");
        let ort_err = |e: ort::Error<SessionBuilder>| anyhow::anyhow!("{e}");
        // Without spinning an idle pool thread sleeps and is woken for each parallel section; with it the
        // thread busy-waits. Which one wins depends on what else runs: each command measured its own
        // choice (see `spinning_or` at its call site).
        let builder = || -> anyhow::Result<SessionBuilder> {
            // Graph optimisation stays at ONNX Runtime's default (all levels), as for a bare session.
            let b = Session::builder(env)?
                .with_intra_threads(opts.threads.max(1))
                .map_err(ort_err)?
                .with_intra_op_spinning(spin != Spin::Off)
                .map_err(ort_err)?;
            if spin == Spin::Run {
                return b.with_config_entry("session.force_spinning_stop", "1").map_err(ort_err);
            }
            Ok(b)
        };
        // Each GPU provider is registered on its own and must load (error_on_failure), so that its failure
        // is told apart from a bad model, and `auto` knows why it passed one over.
        let mut outcomes = Vec::new();
        let mut session = None;
        for device in opts.device.attempts() {
            let eps = provider::providers(&device, precision == Precision::Int8, cache.clone());
            let loaded = builder()?
                .with_execution_providers(eps)
                .map_err(|e| e.message().to_string())
                .and_then(|mut b| b.commit_from_memory(&bytes).map_err(|e| e.to_string()));
            match loaded {
                Ok(s) => {
                    outcomes.push((device, Ok(())));
                    session = Some(s);
                    break;
                }
                Err(reason) => outcomes.push((device, Err(reason))),
            }
        }
        let placement = provider::place(opts.device.clone(), outcomes, opts.strict_device)?;
        if let Some(reason) = &placement.fallback_reason {
            crate::messages::warn(&format!(
                "{} requested but unavailable ({reason}); running on CPU",
                placement.requested
            ));
        }
        if let Some(why) = placement.why_passed_over() {
            crate::messages::note(&format!("device auto: {} ({why})", placement.in_use));
        }
        let session = match session {
            Some(s) => s,
            None => builder()?.commit_from_memory(&bytes).map_err(|e| model_error(path, e.into()))?,
        };

        let inputs: Vec<Port> = session.inputs().iter().map(|o| port(o.name(), o.dtype())).collect();
        let outputs: Vec<Port> = session.outputs().iter().map(|o| port(o.name(), o.dtype())).collect();
        let (family, input) = classify(&inputs, &outputs).with_context(|| format!("model {}", path.display()))?;

        // Classes the outputs declare (raw: scores [1,N,C]; Ultralytics: [1,4+C,N]); embedded NMS does not say.
        let model_classes = match family {
            Family::YoloNasRaw { scores, .. } => outputs[scores].dims.get(2).copied(),
            Family::Ultralytics { out } => outputs[out].dims.get(1).map(|c| c - 4),
            _ => None,
        };
        let model_classes = model_classes.and_then(|c| usize::try_from(c).ok());
        let labels = match &opts.labels_file {
            Some(f) => {
                let labels = labels::from_file(f)?;
                labels::check_count(&labels, model_classes, &format!("labels file {}", f.display()))?;
                labels
            }
            None => {
                let names = session.metadata().ok().and_then(|m| m.custom("names"));
                let parsed = names.as_deref().map(labels::parse_names_metadata).transpose().and_then(|n| {
                    let n = n.flatten();
                    n.iter().try_for_each(|n| labels::check_count(n, model_classes, "its names metadata"))?;
                    Ok(n)
                });
                let refused = |e: anyhow::Error| {
                    anyhow::anyhow!(
                        "model {} is refused: its names metadata is not usable ({e:#}); fix the export or pass \
                         --labels FILE with one class name per line",
                        path.display()
                    )
                };
                parsed.map_err(refused)?.unwrap_or_else(|| labels::COCO80.iter().map(|s| s.to_string()).collect())
            }
        };
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let input_name = inputs[0].name.clone();
        let threads = opts.threads.max(1);
        let info = ModelInfo {
            path: path.to_path_buf(),
            file_name,
            family,
            input,
            precision,
            placement,
            labels,
            threads,
            spin: spin_choice,
        };
        // Spinning is chosen when the cores are free for inference; then the letterbox may use both too.
        let pre = Preprocessor::new(spin != Spin::Off);
        Ok(Detector {
            session,
            info,
            class_filter: None,
            pre,
            input_name,
            raw: Vec::new(),
            dropped_boxes: 0,
            tiled: Default::default(),
        })
    }

    /// The family's reference post-processing limits; `None` for embedded-NMS graphs.
    pub fn limits(&self) -> Limits {
        match self.info.family {
            Family::Ultralytics { .. } => Limits { pre_nms_top_k: 30000, max_det: 300 },
            _ => Limits { pre_nms_top_k: 1024, max_det: 300 },
        }
    }

    /// Runs one frame: candidates scoring above `floor`, best first, in frame pixels.
    pub fn detect(&mut self, frame: &RgbImage, floor: f32) -> anyhow::Result<(Candidates, StageTimes)> {
        let t0 = Instant::now();
        let (iw, ih) = (self.info.input.width, self.info.input.height);
        let lb = Letterbox::new(self.info.family.letterbox_rule(), frame.width(), frame.height(), iw, ih);
        let shape = [1i64, 3, ih as i64, iw as i64];
        let name = self.input_name.as_str();
        // The frame is letterboxed straight into the reused input tensor.
        let (outputs, t1) = if self.info.input.uint8 {
            let input = TensorRef::from_array_view((shape, self.pre.letterbox_u8(frame.as_raw(), &lb)))?;
            let t1 = Instant::now();
            (self.session.run(ort::inputs![name => input])?, t1)
        } else {
            let input = TensorRef::from_array_view((shape, self.pre.letterbox_f32(frame.as_raw(), &lb)))?;
            let t1 = Instant::now();
            (self.session.run(ort::inputs![name => input])?, t1)
        };
        let t2 = Instant::now();
        self.raw.clear();
        let dropped = decode_outputs(self.info.family, &outputs, self.info.labels.len(), floor, &mut self.raw)?;
        drop(outputs);
        let cands = self.frame_candidates(&lb, dropped);
        let t3 = Instant::now();
        Ok((cands, StageTimes { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 }))
    }

    /// Class filter, frame coordinates, score order, top-k. Counts implausible boxes (`dropped` by the decoder,
    /// plus those that overflow when mapped to the frame) and warns about the first ones once per run.
    fn frame_candidates(&mut self, lb: &Letterbox, dropped: usize) -> Candidates {
        let mut dets: Vec<Detection> = self
            .raw
            .iter()
            .filter(|d| self.class_filter.as_ref().is_none_or(|c| c.contains(&d.class_id)))
            .map(|d| Detection { bbox: lb.box_from_model(d.bbox), ..*d })
            .collect();
        let before = dets.len();
        dets.retain(|d| d.bbox.iter().all(|v| v.is_finite()));
        let dropped = (dropped + before - dets.len()) as u64;
        if dropped > 0 && self.dropped_boxes == 0 {
            crate::messages::warn(&format!(
                "model {} gave {dropped} implausible boxes (non-finite, inverted or empty, score outside [0, 1], or \
                 class out of range): dropped; later ones are dropped without a warning",
                self.info.file_name
            ));
        }
        self.dropped_boxes += dropped;
        nms::sort_by_score(&mut dets);
        let limits = self.limits();
        dets.truncate(limits.pre_nms_top_k);
        Candidates {
            dets,
            frame_w: lb.frame_w,
            frame_h: lb.frame_h,
            needs_nms: !self.info.family.has_embedded_nms(),
            limits: Some(limits),
            passes: 1,
            cut: Vec::new(),
        }
    }
}

fn model_error(path: &Path, e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "ONNX Runtime cannot load model {} ({e:#}); is it a complete ONNX file? Re-run `make setup` to fetch the \
         default model again, or pass --model PATH to a YOLO-NAS or YOLOv8-v12 ONNX export",
        path.display()
    )
}

fn f32_output<'a>(outputs: &'a SessionOutputs, i: usize) -> anyhow::Result<(Vec<i64>, &'a [f32])> {
    let (shape, data) = outputs[i].try_extract_tensor::<f32>()?;
    Ok((shape.to_vec(), data))
}

/// Reads the session's outputs with the family's decoder into model-pixel candidates.
fn decode_outputs(
    family: Family,
    outputs: &SessionOutputs,
    classes: usize,
    conf: f32,
    out: &mut Vec<Detection>,
) -> anyhow::Result<usize> {
    Ok(match family {
        Family::YoloNasRaw { boxes, scores } => {
            let (_, b) = f32_output(outputs, boxes)?;
            let (s_shape, s) = f32_output(outputs, scores)?;
            let c = *s_shape.last().unwrap_or(&0) as usize;
            decode::yolo_nas_raw(b, s, c, conf, out)
        }
        Family::Ultralytics { out: o } => {
            let (shape, data) = f32_output(outputs, o)?;
            if shape.len() != 3 {
                bail!("output0 has shape {shape:?}, expected [1,4+C,N]");
            }
            decode::ultralytics(data, shape[1] as usize, shape[2] as usize, conf, out)
        }
        Family::YoloNasFlat { rows } => {
            let (_, data) = f32_output(outputs, rows)?;
            decode::yolo_nas_flat(data, classes, conf, out)
        }
        Family::YoloNasBatch { num, boxes, scores, classes: cls } => {
            let (_, n) = outputs[num].try_extract_tensor::<i64>()?;
            let (_, b) = f32_output(outputs, boxes)?;
            let (_, s) = f32_output(outputs, scores)?;
            let (_, c) = outputs[cls].try_extract_tensor::<i64>()?;
            decode::yolo_nas_batch(n.first().copied().unwrap_or(0), b, s, c, classes, conf, out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class_id: usize, score: f32, bbox: [f32; 4]) -> Detection {
        Detection { class_id, score, bbox }
    }

    #[test]
    fn select_filters_nms_and_clips() {
        let cands = Candidates {
            dets: vec![
                det(0, 0.9, [-10.0, 0.0, 50.0, 50.0]),
                det(0, 0.8, [-9.0, 1.0, 51.0, 51.0]), // overlaps the first: suppressed
                det(1, 0.5, [60.0, 60.0, 120.0, 80.0]),
                det(2, 0.2, [0.0, 0.0, 5.0, 5.0]),
            ],
            frame_w: 100,
            frame_h: 100,
            needs_nms: true,
            limits: Some(Limits { pre_nms_top_k: 1024, max_det: 300 }),
            passes: 1,
            cut: Vec::new(),
        };
        let got = cands.select(&Thresholds { conf: 0.25, iou: 0.7 });
        assert_eq!(got, vec![det(0, 0.9, [0.0, 0.0, 50.0, 50.0]), det(1, 0.5, [60.0, 60.0, 100.0, 80.0])]);
        // A higher threshold drops the second object; no model run needed.
        assert_eq!(cands.select(&Thresholds { conf: 0.6, iou: 0.7 }).len(), 1);
        // Embedded-NMS candidates are only filtered.
        let embedded = Candidates { needs_nms: false, ..cands.clone() };
        assert_eq!(embedded.select(&Thresholds { conf: 0.25, iou: 0.7 }).len(), 3);
    }

    #[test]
    fn precision_from_operators() {
        assert_eq!(precision_of(b"..Conv..Relu.."), Precision::Fp32);
        assert_eq!(precision_of(b"..DequantizeLinear..Conv.."), Precision::Int8);
    }
}
