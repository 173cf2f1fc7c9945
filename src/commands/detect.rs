//! `nasview detect`: images in, detections out as text or JSON lines, annotated copies (main thread).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::config::{DetectConfig, ModelConfig, OutDir};
use crate::detector::{labels, Spin};
use crate::messages;
use crate::outputs::{save_new, to_json, JsonDetection};
use crate::overlay::{self, Mapping, Scene};
use crate::pipeline::load_detector;
use crate::progress::Progress;
use crate::record::naming::numbered_from_one;

#[derive(Serialize)]
struct ImageLine<'a> {
    image: String,
    width: u32,
    height: u32,
    model: &'a str,
    detections: Vec<JsonDetection>,
    /// Where the annotated copy was written (`--out`).
    #[serde(skip_serializing_if = "Option::is_none")]
    annotated: Option<String>,
}

/// ONNX Runtime spinning for `detect`, chosen as the model loads ([`crate::detector::spin::Probe`]): on when
/// the cores are free, off when other processes' threads want them. Measured, YOLOv12n, `nasview detect` /
/// bare ONNX Runtime (whose default is to spin), interleaved (`models/bench_ort.py`): on a quiet machine spinning makes inference 8-13 % faster
/// (issue 13's figures: FP32 55.4 -> 52.9 ms, INT8 47.4 -> 42.9 ms); on this shared 2-core machine under
/// a load average of 12, spinning on / off was FP32 744.6 / 252.1 ms (1.18x / 0.40x of bare ORT's 633.8)
/// and INT8 514.7 / 94.0 ms (0.94x / 0.17x of 550.1): a spinning thread burns the time slices it needs.
const SPIN_IDLE: Spin = Spin::On;
const SPIN_BUSY: Spin = Spin::Off;

/// Runs every image; one that cannot be read or written is said and skipped. Exit code 1 if any was. When
/// whoever reads stdout goes away (`| head -1`), the lines stop but the annotated copies asked for go on.
pub fn run(cfg: &DetectConfig) -> anyhow::Result<u8> {
    let model = ModelConfig { load: cfg.model.load.spinning_or(SPIN_IDLE, SPIN_BUSY), ..cfg.model.clone() };
    let mut detector = load_detector(&model)?;
    messages::note(&detector.info.summary());
    let t = &cfg.model.thresholds;
    let class_conf = cfg.model.class_conf.resolve(&detector.info.labels)?;
    if let Some(out) = &cfg.out {
        std::fs::create_dir_all(&out.dir)
            .with_context(|| format!("cannot create output folder {}; pass a writable --out DIR", out.dir.display()))?;
    }
    let (mut skipped, mut written) = (0usize, 0usize);
    let mut stdout_open = true;
    let progress = Progress::new(cfg.files.len() as u64, "images");
    for (i, path) in cfg.files.iter().enumerate() {
        progress.working_on(&path.display().to_string());
        let img = match crate::source::image_file::open(path) {
            Ok(i) => i,
            Err(e) => {
                progress.say(|| messages::warn(&format!("{e:#}; skipped")));
                skipped += 1;
                progress.inc();
                continue;
            }
        };
        let (cands, times) = detector.detect_tiled(&img, &cfg.model.passes, class_conf.floor(t.conf))?;
        let scene = Scene::new(class_conf.select(&cands, t));
        tracing::debug!(?times, "{}", path.display());
        let (width, height) = img.dimensions();
        // The copy first, so its line can say where it went.
        let copy = match &cfg.out {
            Some(out) => {
                let mut annotated = img;
                overlay::draw_scene(&mut annotated, &scene, &detector.info.labels, Mapping::IDENTITY);
                match write_copy(&annotated, out, &out.targets[i], &cfg.files) {
                    Ok(p) => {
                        written += 1;
                        Some(p)
                    }
                    Err(e) => {
                        let why = format!("{}: annotated copy not written: {e:#}", path.display());
                        progress.say(|| messages::warn(&why));
                        skipped += 1;
                        None
                    }
                }
            }
            None => None,
        };
        progress.inc();
        if !stdout_open {
            continue;
        }
        let line =
            Line { path, width, height, detector: &detector, cands: &cands, times: &times, copy: copy.as_deref() };
        let printed = progress_print(&progress, || line.print(cfg.json, &scene));
        match printed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                stdout_open = false;
                // Nothing else was asked for than these lines: the run is done.
                if cfg.out.is_none() {
                    break;
                }
            }
            Err(e) => return Err(anyhow::Error::new(e).context("cannot write to stdout")),
        }
    }
    drop(progress);
    if let Some(out) = &cfg.out {
        messages::note(&format!("wrote {written} annotated image(s) under {}", out.dir.display()));
    }
    if skipped > 0 {
        messages::warn(&format!("{skipped} of {} images were skipped", cfg.files.len()));
        return Ok(1);
    }
    Ok(0)
}

/// Prints on stdout with the bar lifted (a terminal shows both on one screen).
fn progress_print(progress: &Progress, print: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<()> {
    let mut result = Ok(());
    progress.say(|| result = print());
    result
}

/// What is said of one image.
struct Line<'a> {
    path: &'a Path,
    width: u32,
    height: u32,
    detector: &'a crate::detector::Detector,
    cands: &'a crate::detector::Candidates,
    times: &'a crate::detector::StageTimes,
    /// Where its annotated copy went (`--out`).
    copy: Option<&'a Path>,
}

impl Line<'_> {
    fn print(&self, json: bool, scene: &Scene) -> std::io::Result<()> {
        let (info, dets) = (&self.detector.info, &scene.detections);
        let mut out = std::io::stdout().lock();
        if json {
            let line = ImageLine {
                image: self.path.display().to_string(),
                width: self.width,
                height: self.height,
                model: &info.file_name,
                detections: to_json(dets, &info.labels),
                annotated: self.copy.map(|p| p.display().to_string()),
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        } else {
            let found: Vec<String> =
                dets.iter().map(|d| format!("{} {:.2}", labels::name(&info.labels, d.class_id), d.score)).collect();
            let passes = if self.cands.passes > 1 { format!(" ({} passes)", self.cands.passes) } else { String::new() };
            let copy = self.copy.map(|p| format!(" -> {}", p.display())).unwrap_or_default();
            let t = self.times;
            writeln!(
                out,
                "{}: {}x{}, {} in {:.1} ms{passes}: {}{copy}",
                self.path.display(),
                self.width,
                self.height,
                dets.len(),
                (t.preprocess + t.inference + t.postprocess).as_secs_f64() * 1e3,
                if found.is_empty() { "nothing".to_string() } else { found.join(", ") }
            )?;
        }
        out.flush()
    }
}

/// Writes one annotated copy at `target` (its folder is made): never over an input; over an earlier copy only
/// with --overwrite, else under the next free numbered name. Returns where it wrote.
fn write_copy(img: &image::RgbImage, out: &OutDir, target: &Path, inputs: &[PathBuf]) -> anyhow::Result<PathBuf> {
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let is_input = |p: &Path| {
        std::fs::canonicalize(p).is_ok_and(|c| inputs.iter().any(|i| std::fs::canonicalize(i).is_ok_and(|i| i == c)))
    };
    let mut path = target.to_path_buf();
    if path.symlink_metadata().is_ok() {
        if out.overwrite && path.is_file() && !is_input(&path) {
            std::fs::remove_file(&path).with_context(|| format!("cannot replace {}", path.display()))?;
        } else {
            path = numbered_from_one(target);
        }
    }
    save_new(img, &path).with_context(|| format!("cannot write {}; pass a writable --out DIR", path.display()))?;
    Ok(path)
}
