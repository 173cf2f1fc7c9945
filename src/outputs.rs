//! Where each new processed frame goes (main thread): the MP4 recording (toggled by R), PNG frames, JSON lines
//! and snapshots. Each output is a small type fed by `Outputs::on_shown` and `on_result`; a failure is said once, as it
//! happens, and counted so the run ends with exit code 1.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::Serialize;

use crate::detector::{labels, Detection};
use crate::messages;
use crate::overlay::{self, Mapping};
use crate::record::naming::{numbered_path, RecordTarget};
use crate::record::Recorder;
use crate::track::draw::LineView;
use crate::track::draw_zones::ZoneView;
use crate::view::FrameView;

/// One detection as printed by `detect --json` and headless mode.
#[derive(Serialize, Debug, PartialEq)]
pub struct JsonDetection {
    pub class_id: usize,
    pub label: String,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Live mode with tracking: the ID of the confirmed track this detection belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
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
            track_id: None,
        })
        .collect()
}

/// As `to_json`, with the track ID of each detection (`ids[i]` belongs to `dets[i]`).
pub fn to_json_with_ids(dets: &[Detection], ids: &[Option<u64>], names: &[String]) -> Vec<JsonDetection> {
    let mut out = to_json(dets, names);
    for (d, id) in out.iter_mut().zip(ids) {
        d.track_id = *id;
    }
    out
}

/// `counts` in headless JSON: `{"line": [x1, y1, x2, y2], "in": {"dog": 1}, "out": {"cat": 1}}`.
#[derive(Serialize, Debug, PartialEq)]
pub struct JsonCounts {
    pub line: [f32; 4],
    #[serde(rename = "in")]
    pub counts_in: BTreeMap<String, u64>,
    #[serde(rename = "out")]
    pub counts_out: BTreeMap<String, u64>,
}

impl JsonCounts {
    pub fn of(v: &LineView, names: &[String]) -> JsonCounts {
        let by_name = |m: &BTreeMap<usize, u64>| m.iter().map(|(k, n)| (labels::name(names, *k), *n)).collect();
        let round = |c: f32| (c * 100.0).round() / 100.0;
        JsonCounts {
            line: [v.line.a[0], v.line.a[1], v.line.b[0], v.line.b[1]].map(round),
            counts_in: by_name(&v.counts_in),
            counts_out: by_name(&v.counts_out),
        }
    }
}

/// One zone in headless JSON and MQTT: `{"now": {"person": 2}, "entered": {"person": 5}, "left": {"person": 3}}`.
#[derive(Serialize, Debug, PartialEq)]
pub struct JsonZone {
    pub now: BTreeMap<String, u64>,
    pub entered: BTreeMap<String, u64>,
    pub left: BTreeMap<String, u64>,
}

/// `zones` in headless JSON, by zone name.
pub fn json_zones(zones: &[ZoneView], names: &[String]) -> BTreeMap<String, JsonZone> {
    let by_name = |m: &BTreeMap<usize, u64>| m.iter().map(|(k, n)| (labels::name(names, *k), *n)).collect();
    zones
        .iter()
        .map(|z| {
            (z.name.clone(), JsonZone { now: by_name(&z.now), entered: by_name(&z.entries), left: by_name(&z.exits) })
        })
        .collect()
}

/// Milliseconds rounded to 0.1.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// A headless line: the frame's source time from the first frame, and capture -> result latency.
#[derive(Serialize)]
struct FrameLine {
    frame: u64,
    time_ms: f64,
    latency_ms: f64,
    width: u32,
    height: u32,
    detections: Vec<JsonDetection>,
    /// With a counting line: its counts so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<JsonCounts>,
    /// With zones: what is in each now, and entries and exits so far.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    zones: BTreeMap<String, JsonZone>,
}

/// What the outputs are asked to do, from the validated configuration.
#[derive(Clone, Debug, Default)]
pub struct OutputConfig {
    /// `--record`: the first frame starts a take.
    pub record: Option<RecordTarget>,
    pub overwrite: bool,
    pub record_hud: bool,
    pub save_frames: Option<PathBuf>,
    /// One JSON line per frame on stdout (headless).
    pub json: bool,
    pub fps_hint: f32,
}

/// A take in progress.
struct Take {
    recorder: Recorder,
    started: Instant,
}

pub struct Outputs {
    cfg: OutputConfig,
    labels: Vec<String>,
    /// `--record` was given: the first frame starts a take.
    record_at_start: bool,
    take: Option<Take>,
    takes: u32,
    /// False once writing frames failed (said once).
    save_frames: bool,
    /// The last trouble, for the HUD.
    message: Option<String>,
    /// Things the user asked for that failed: the exit code is 1 when any did.
    failures: u32,
}

impl Outputs {
    pub fn new(cfg: OutputConfig, labels: Vec<String>) -> Outputs {
        Outputs {
            record_at_start: cfg.record.is_some(),
            save_frames: cfg.save_frames.is_some(),
            cfg,
            labels,
            take: None,
            takes: 0,
            message: None,
            failures: 0,
        }
    }

    /// Said once, shown on the HUD, counted for the exit code.
    fn fail(&mut self, msg: String) {
        messages::warn(&msg);
        self.message = Some(msg);
        self.failures += 1;
    }

    /// The frame as recorded: full resolution, its scene (HUD only with --record-hud).
    fn annotate(&self, v: &FrameView, hud: bool) -> RgbImage {
        let mut img = (*v.frame.image).clone();
        overlay::draw_scene(&mut img, &v.scene, &self.labels, Mapping::IDENTITY);
        if hud {
            let (_, scale) = overlay::style_for(img.width(), img.height());
            let line = format!(
                "{} objects   infer {:.1} ms",
                v.scene.detections.len(),
                v.processed.times.inference.as_secs_f64() * 1e3
            );
            overlay::text_box(&mut img, &overlay::font(), scale, 8, 8, &[(line, overlay::TEXT)]);
        }
        img
    }

    /// Each frame shown, in order (every captured frame, or the processed ones): recording and PNG frame,
    /// at the frame's own time, annotated as shown.
    pub fn on_shown(&mut self, v: &FrameView) {
        // `--record` starts with the first frame, whose size the recording takes.
        if std::mem::take(&mut self.record_at_start) {
            self.toggle_recording(v);
        }
        if self.take.is_some() || self.save_frames {
            let img = Arc::new(self.annotate(v, self.cfg.record_hud));
            self.record(&img, v.frame.time);
            self.save_frame(&img, v.frame.seq, v.frame.time);
        }
    }

    /// Each new processed frame, in order: its JSON line (headless). An error only when stdout is gone.
    pub fn on_result(&mut self, v: &FrameView) -> std::io::Result<()> {
        if self.cfg.json {
            self.json_line(v)?;
        }
        Ok(())
    }

    fn record(&mut self, img: &Arc<RgbImage>, time: Duration) {
        let Some(take) = &self.take else {
            return;
        };
        if !take.recorder.push(Arc::clone(img), time) {
            let why = take.recorder.failure().unwrap_or_else(|| "the encoder stopped".into());
            // The recorder's own error is this one: finishing only finalises what was written.
            if let Some(take) = self.take.take() {
                let _ = take.recorder.finish();
            }
            self.fail(format!("recording stopped: {why}; the app keeps running"));
        }
    }

    /// `frame_<seq>_<source time>ms.png`: the name says where the frame sits in the source.
    fn save_frame(&mut self, img: &RgbImage, seq: u64, time: Duration) {
        let Some(dir) = self.cfg.save_frames.as_ref().filter(|_| self.save_frames) else {
            return;
        };
        let target = dir.join(format!("frame_{seq:06}_{:07}ms.png", time.as_millis()));
        if let Err(e) = save_new(img, &target) {
            self.save_frames = false;
            self.fail(format!("stopped saving frames: cannot write {} ({e})", target.display()));
        }
    }

    fn json_line(&self, v: &FrameView) -> std::io::Result<()> {
        let line = FrameLine {
            frame: v.frame.seq,
            time_ms: ms(v.frame.time),
            latency_ms: ms(v.latency),
            width: v.frame.image.width(),
            height: v.frame.image.height(),
            detections: to_json_with_ids(&v.scene.detections, &v.scene.ids, &self.labels),
            counts: v.scene.line.as_ref().map(|l| JsonCounts::of(l, &self.labels)),
            zones: json_zones(&v.scene.zones, &self.labels),
        };
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)
    }

    /// Starts a new take on the frame `v` (its size is the recording's), or stops and finalises the current one.
    pub fn toggle_recording(&mut self, v: &FrameView) {
        if self.take.is_some() {
            self.stop_recording();
            return;
        }
        let path = RecordTarget::take_path(self.cfg.record.as_ref(), self.takes, self.cfg.overwrite);
        let (w, h) = v.frame.image.dimensions();
        match Recorder::start(&path, w, h, self.cfg.fps_hint) {
            Ok(recorder) => {
                messages::note(&format!("recording to {}", path.display()));
                self.takes += 1;
                self.take = Some(Take { recorder, started: Instant::now() });
                self.message = None;
            }
            Err(e) => self.fail(format!("recording not started: {e:#}")),
        }
    }

    /// Finalises the take in progress, if any (R, the end of a file, quitting).
    pub fn stop_recording(&mut self) {
        let Some(take) = self.take.take() else {
            return;
        };
        match take.recorder.finish() {
            Ok(s) => messages::note(&format!(
                "saved {} ({} frames, {:.1} s, {} dropped by the encoder)",
                s.path.display(),
                s.frames,
                s.duration.as_secs_f64(),
                s.dropped
            )),
            Err(e) => self.fail(format!("recording failed: {e:#}")),
        }
    }

    /// Writes the annotated frame `v` as a new numbered PNG in the working folder.
    pub fn snapshot(&mut self, v: &FrameView) {
        let path = numbered_path(Path::new("nasview-snapshot.png"));
        match save_new(&self.annotate(v, false), &path) {
            Ok(()) => messages::note(&format!("snapshot {}", path.display())),
            Err(e) => self.fail(format!("snapshot failed: cannot write {} ({e})", path.display())),
        }
    }

    /// Seconds into the take in progress (the REC badge).
    pub fn recording_seconds(&self) -> Option<u64> {
        self.take.as_ref().map(|t| t.started.elapsed().as_secs())
    }

    /// The last trouble, for the HUD.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Finalises everything; returns how many things the user asked for failed.
    pub fn finish(&mut self) -> u32 {
        self.stop_recording();
        self.failures
    }
}

/// Saves an image to a file that must not exist yet: nothing the user owns is overwritten, and nothing half
/// written is left behind. The image is written to a hidden file beside the target, then linked to its name
/// (which fails if the name was taken meanwhile); a write that fails (a full disk) leaves no file at all.
pub fn save_new(img: &RgbImage, path: &Path) -> anyhow::Result<()> {
    let format = image::ImageFormat::from_path(path).unwrap_or(image::ImageFormat::Png);
    if path.symlink_metadata().is_ok() {
        anyhow::bail!("{} already exists", path.display());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let part = path.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let written = write_new(img, &part, format).and_then(|()| match std::fs::hard_link(&part, path) {
        Ok(()) => Ok(()),
        // No hard links on this file system (FAT, some network shares): a rename, the name checked just before.
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists && path.symlink_metadata().is_err() => {
            Ok(std::fs::rename(&part, path)?)
        }
        Err(e) => Err(e.into()),
    });
    let _ = std::fs::remove_file(&part);
    written
}

fn write_new(img: &RgbImage, path: &Path, format: image::ImageFormat) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    let mut w = std::io::BufWriter::new(file);
    img.write_to(&mut w, format)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rounds_scores_and_boxes() {
        let names = vec!["person".to_string()];
        let dets = [Detection { class_id: 0, score: 0.876_54, bbox: [1.234_5, 2.0, 3.006, 4.0] }];
        let json = serde_json::to_string(&to_json(&dets, &names)).unwrap();
        assert_eq!(json, r#"[{"class_id":0,"label":"person","score":0.8765,"box":[1.23,2.0,3.01,4.0]}]"#);
        assert_eq!(ms(Duration::from_micros(200_049)), 200.0);
    }

    #[test]
    fn save_new_never_replaces_a_file() {
        let dir = crate::testing::temp_dir("save-new");
        let path = dir.join("a.png");
        std::fs::write(&path, b"mine").unwrap();
        assert!(save_new(&RgbImage::new(2, 2), &path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
        save_new(&RgbImage::new(2, 2), &dir.join("b.png")).unwrap();
        assert_eq!(image::open(dir.join("b.png")).unwrap().width(), 2);
        // Only the two files: no part file left beside them.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    }
}
