//! Command line (clap) -> one validated configuration per command (main thread, at start-up).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::detector::provider::Device;
use crate::detector::LoadOptions;

#[derive(Parser, Debug)]
#[command(
    name = "nasview",
    version,
    about = "Live object detection with quantized YOLO-NAS (and YOLOv8-v12) on a webcam, video or images",
    after_help = "Without a command, nasview opens the live window on --source (camera 0 by default).\n\
                  Keys: Up/Down conf, Left/Right IoU, Space pause, R record, S snapshot, H help, Q/Esc quit."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Detect objects in image files or folders (like super-gradients' `model.predict(img)`)
    Detect(DetectArgs),
    /// List cameras and their modes
    Cameras,
    /// Measure every pipeline stage on N frames, per model (give --model twice to compare, e.g. FP32 vs INT8)
    Bench(BenchArgs),
}

/// Model and threshold options, shared by every command.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// ONNX model [default: $NASVIEW_MODEL, else the first of models/yolo_nas_{s,m,l}_int8.onnx,
    /// models/yolo_nas_{s,m,l}.onnx, models/yolov12n_int8.onnx, models/yolov12n.onnx]; `bench` takes several
    #[arg(long, global = true, value_name = "FILE")]
    pub model: Vec<PathBuf>,
    /// Confidence threshold. For exports with embedded NMS this only filters what the graph returns
    #[arg(long, global = true, default_value_t = 0.25, value_name = "0..1")]
    pub conf: f32,
    /// IoU threshold of NMS. Exports with embedded NMS keep the IoU baked in at export time
    #[arg(long, global = true, default_value_t = 0.7, value_name = "0..1")]
    pub iou: f32,
    /// Only these classes, by name or id: `person,cup` or `0,41`
    #[arg(long, global = true, value_name = "LIST")]
    pub classes: Option<String>,
    /// Class names, one per line (default: the model's metadata, else COCO-80)
    #[arg(long, global = true, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Execution provider: cpu, cuda[:N] or tensorrt[:N]; falls back to CPU loudly when unavailable
    #[arg(long, global = true, default_value = "cpu", value_name = "DEVICE")]
    pub device: Device,
    /// Exit (code 2) instead of falling back to CPU when --device is unavailable
    #[arg(long, global = true)]
    pub strict_device: bool,
    /// Inference threads [default: the machine's cores]
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// ONNX Runtime library (default: $ORT_DYLIB_PATH, else the one `make setup` installs in .venv)
    #[arg(long, global = true, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Image files or folders of images
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write annotated copies into this folder
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object per image per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Frames to measure: demo, an image, a folder of images or an MP4 file
    #[arg(long, default_value = "demo")]
    pub source: String,
    /// Frames measured per model (after a 5-frame warm-up)
    #[arg(long, default_value_t = 100)]
    pub frames: usize,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

/// Options of the live viewer (the default command).
#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    /// Camera index or name substring, `demo`, an image file or folder, or an MP4 file.
    /// `demo?fail-after=N`, `demo?stall-after=N` and `demo?camera` inject faults (try the failure handling)
    #[arg(long, default_value = "0", value_name = "SOURCE")]
    pub source: String,
    /// Camera resolution, e.g. 1280x720
    #[arg(long, value_name = "WxH")]
    pub resolution: Option<String>,
    /// Camera frame rate
    #[arg(long, value_name = "N")]
    pub fps: Option<u32>,
    /// Camera pixel format: mjpeg or yuyv
    #[arg(long, value_name = "FORMAT")]
    pub pixel_format: Option<String>,
    /// Record annotated video (H.264 MP4) from the start
    #[arg(long, value_name = "FILE.mp4")]
    pub record: Option<PathBuf>,
    /// Replace an existing recording instead of numbering a new one
    #[arg(long)]
    pub overwrite: bool,
    /// Draw the HUD into the recording too
    #[arg(long)]
    pub record_hud: bool,
    /// Write each annotated frame as a PNG into this folder
    #[arg(long, value_name = "DIR")]
    pub save_frames: Option<PathBuf>,
    /// No window: print one JSON object per processed frame
    #[arg(long)]
    pub headless: bool,
    /// Stop after this many processed frames
    #[arg(long, value_name = "N")]
    pub max_frames: Option<u64>,
}

/// Project folders searched for the default model, in order.
const DEFAULT_MODELS: [&str; 8] = [
    "yolo_nas_s_int8.onnx",
    "yolo_nas_m_int8.onnx",
    "yolo_nas_l_int8.onnx",
    "yolo_nas_s.onnx",
    "yolo_nas_m.onnx",
    "yolo_nas_l.onnx",
    "yolov12n_int8.onnx",
    "yolov12n.onnx",
];

fn models_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("models"), Path::new(env!("CARGO_MANIFEST_DIR")).join("models")];
    dirs.dedup();
    dirs
}

/// `--model`, then `$NASVIEW_MODEL`, then the first default found under models/.
pub fn resolve_model(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("NASVIEW_MODEL").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    for name in DEFAULT_MODELS {
        for dir in models_dirs() {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "no model found in models/ (looked for {}); run `make setup` to fetch the default model, or pass --model FILE",
        DEFAULT_MODELS.join(", ")
    )
}

impl ModelArgs {
    /// The one model of commands other than `bench`.
    pub fn single_model(&self) -> anyhow::Result<PathBuf> {
        match &self.model[..] {
            [] => resolve_model(None),
            [one] => Ok(one.clone()),
            _ => bail!("--model is given {} times; only `nasview bench` compares several models", self.model.len()),
        }
    }

    /// Checks thresholds and builds the detector options.
    pub fn validate(&self) -> anyhow::Result<LoadOptions> {
        for (name, v) in [("--conf", self.conf), ("--iou", self.iou)] {
            if !(0.0..=1.0).contains(&v) {
                bail!("{name} {v} is outside 0..1");
            }
        }
        if let Some(f) = &self.labels {
            if !f.is_file() {
                bail!("labels file {} not found: pass a text file with one class name per line", f.display());
            }
        }
        let threads = match self.threads {
            Some(0) => bail!("--threads must be at least 1"),
            Some(n) => n,
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        };
        Ok(LoadOptions {
            device: self.device.clone(),
            strict_device: self.strict_device,
            threads,
            labels_file: self.labels.clone(),
        })
    }
}

/// Collects image files from files and folders (folders: supported extensions, sorted, not recursive).
pub fn expand_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot list folder {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_image_name(f))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("folder {} has no images (.jpg, .jpeg, .png, .bmp, .webp, .gif, .tif)", p.display());
            }
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn is_image_name(p: &Path) -> bool {
    let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png" | "bmp" | "webp" | "gif" | "tif" | "tiff"))
}
