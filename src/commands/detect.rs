//! `nasview detect`: images in, detections out as text or JSON lines, annotated copies (main thread).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::config::{expand_paths, DetectArgs};
use crate::detector::{labels, Detection, Detector, Thresholds};
use crate::overlay;

/// One detection as printed by `--json` (and by headless mode).
#[derive(Serialize, Debug, PartialEq)]
pub struct JsonDetection {
    pub class_id: usize,
    pub label: String,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

/// Rounds for printing: scores to 4 decimals, boxes to 0.01 px.
pub fn to_json(dets: &[Detection], names: &[String]) -> Vec<JsonDetection> {
    let round = |v: f32, k: f32| (v * k).round() / k;
    dets.iter()
        .map(|d| JsonDetection {
            class_id: d.class_id,
            label: labels::name(names, d.class_id),
            score: round(d.score, 1e4),
            bbox: d.bbox.map(|v| round(v, 100.0)),
        })
        .collect()
}

#[derive(Serialize)]
struct ImageLine<'a> {
    image: String,
    width: u32,
    height: u32,
    model: &'a str,
    detections: Vec<JsonDetection>,
}

/// Runs every image; one that cannot be read is reported and skipped. Exit code 1 if any failed.
pub fn run(args: &DetectArgs, detector: &mut Detector, t: &Thresholds) -> anyhow::Result<u8> {
    let files = expand_paths(&args.paths)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}; pass a writable --out DIR", dir.display()))?;
    }
    let stdout = std::io::stdout();
    let mut failed = 0usize;
    for path in &files {
        let img = match image::open(path) {
            Ok(i) => i.to_rgb8(),
            Err(e) => {
                eprintln!("nasview: {}: not a readable image ({e}); skipped", path.display());
                failed += 1;
                continue;
            }
        };
        let (cands, times) = detector.detect(&img, t.conf)?;
        let dets = cands.select(t);
        tracing::debug!(?times, "{}", path.display());
        let mut out = stdout.lock();
        if args.json {
            let line = ImageLine {
                image: path.display().to_string(),
                width: img.width(),
                height: img.height(),
                model: &detector.info.file_name,
                detections: to_json(&dets, &detector.info.labels),
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        } else {
            let found: Vec<String> = dets
                .iter()
                .map(|d| format!("{} {:.2}", labels::name(&detector.info.labels, d.class_id), d.score))
                .collect();
            writeln!(
                out,
                "{}: {}x{}, {} in {:.1} ms: {}",
                path.display(),
                img.width(),
                img.height(),
                dets.len(),
                (times.preprocess + times.inference + times.postprocess).as_secs_f64() * 1e3,
                if found.is_empty() { "nothing".to_string() } else { found.join(", ") }
            )?;
        }
        if let Some(dir) = &args.out {
            let mut annotated = img;
            overlay::draw_detections(&mut annotated, &dets, &detector.info.labels);
            let target = dir.join(annotated_name(path));
            annotated
                .save(&target)
                .with_context(|| format!("cannot write {}; pass a writable --out DIR", target.display()))?;
        }
    }
    if failed > 0 {
        eprintln!("nasview: {failed} of {} files could not be read", files.len());
        return Ok(1);
    }
    Ok(0)
}

/// `photo.jpg` -> `photo.jpg` (same name, so the out folder mirrors the input), PNG for other formats.
fn annotated_name(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("jpg" | "jpeg" | "png") => name,
        _ => format!("{name}.png"),
    }
}
