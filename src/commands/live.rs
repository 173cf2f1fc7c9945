//! The live command (default): a source through the pipeline into the window or headless JSON, with recording.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use image::{Rgb, RgbImage};
use serde::Serialize;

use crate::commands::detect::{to_json, JsonDetection};
use crate::config::LiveArgs;
use crate::detector::{Detection, LoadOptions, Thresholds};
use crate::pipeline::{Pipeline, PipelineConfig, Processed};
use crate::record::{numbered_path, Recorder};
use crate::{overlay, source, ui};

/// A source that gives nothing for this long is reported as stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(3);

/// Lowest confidence the slider reaches; candidates are kept down to it.
pub const CONF_FLOOR: f32 = 0.05;

/// Smoothed rates for the HUD.
#[derive(Default)]
pub struct Rates {
    last_result: Option<Instant>,
    inference_fps: f32,
    capture_fps: f32,
    last_captured: (u64, Option<Instant>),
}

fn ewma(old: f32, new: f32) -> f32 {
    if old == 0.0 {
        new
    } else {
        0.9 * old + 0.1 * new
    }
}

impl Rates {
    /// A new result reached the display.
    pub fn on_result(&mut self) {
        let now = Instant::now();
        if let Some(prev) = self.last_result.replace(now) {
            let dt = (now - prev).as_secs_f32();
            if dt > 0.0 {
                self.inference_fps = ewma(self.inference_fps, 1.0 / dt);
            }
        }
    }

    pub fn hud_lines(
        &mut self,
        pipeline: &Pipeline,
        current: Option<&Processed>,
        objects: usize,
    ) -> Vec<(String, Rgb<u8>)> {
        let captured = pipeline.stats.captured.load(Ordering::Relaxed);
        let now = Instant::now();
        if let (n, Some(t)) = self.last_captured {
            let dt = (now - t).as_secs_f32();
            if dt >= 0.5 {
                self.capture_fps = ewma(self.capture_fps, (captured - n) as f32 / dt);
                self.last_captured = (captured, Some(now));
            }
        } else {
            self.last_captured = (captured, Some(now));
        }
        let dropped = pipeline.stats.capture_dropped.load(Ordering::Relaxed)
            + pipeline.stats.result_dropped.load(Ordering::Relaxed);
        let info = &pipeline.info;
        let mut lines = vec![(
            format!(
                "capture {:.1} fps   inference {:.1} fps   dropped {dropped}",
                self.capture_fps, self.inference_fps
            ),
            ui::hud::TEXT,
        )];
        if let Some(p) = current {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            lines.push((
                format!(
                    "pre {:.1} + infer {:.1} + post {:.1} ms   frame age {:.0} ms   {objects} objects",
                    ms(p.times.preprocess),
                    ms(p.times.inference),
                    ms(p.times.postprocess),
                    ms(p.frame.captured_at.elapsed())
                ),
                ui::hud::TEXT,
            ));
        }
        lines.push((
            format!("{} {} on {}", info.file_name, info.precision.as_str(), info.placement.label()),
            ui::hud::TEXT,
        ));
        lines.push((pipeline.source_desc.clone(), ui::hud::TEXT));
        lines
    }
}

/// Where annotated frames go: the MP4 recorder (toggled by R), PNG frames, snapshots.
pub struct Outputs {
    record_path: Option<PathBuf>,
    /// `--record` was given: the first frame starts a take.
    record_at_start: bool,
    overwrite: bool,
    record_hud: bool,
    /// The recorder, when the take started, and the first recorded frame's capture time.
    recorder: Option<(Recorder, Instant, Option<Duration>)>,
    takes: u32,
    save_frames: Option<PathBuf>,
    message: Option<String>,
    fps_hint: f32,
}

impl Outputs {
    pub fn new(args: &LiveArgs) -> anyhow::Result<Outputs> {
        if let Some(dir) = &args.save_frames {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create --save-frames folder {}; pass a writable folder", dir.display())
            })?;
        }
        Ok(Outputs {
            record_path: args.record.clone(),
            record_at_start: args.record.is_some(),
            overwrite: args.overwrite,
            record_hud: args.record_hud,
            recorder: None,
            takes: 0,
            save_frames: args.save_frames.clone(),
            message: None,
            fps_hint: args.fps.unwrap_or(30) as f32,
        })
    }

    fn take_path(&self) -> PathBuf {
        let base = self.record_path.clone().unwrap_or_else(|| PathBuf::from("nasview.mp4"));
        if self.overwrite && self.takes == 0 && self.record_path.is_some() {
            base
        } else {
            numbered_path(&base)
        }
    }

    /// Starts a new take, or stops and finalises the current one.
    pub fn toggle_recording(&mut self, width: u32, height: u32) {
        if self.recorder.is_some() {
            self.stop_recording();
            return;
        }
        let path = self.take_path();
        match Recorder::start(&path, width, height, self.fps_hint) {
            Ok(r) => {
                eprintln!("nasview: recording to {}", path.display());
                self.takes += 1;
                self.recorder = Some((r, Instant::now(), None));
                self.message = None;
            }
            Err(e) => self.warn(format!("recording not started: {e:#}")),
        }
    }

    pub fn stop_recording(&mut self) {
        if let Some((r, _, _)) = self.recorder.take() {
            match r.finish() {
                Ok(s) => eprintln!(
                    "nasview: saved {} ({} frames, {:.1} s, {} dropped by the encoder)",
                    s.path.display(),
                    s.frames,
                    s.duration.as_secs_f64(),
                    s.dropped
                ),
                Err(e) => self.warn(format!("recording failed: {e:#}")),
            }
        }
    }

    fn warn(&mut self, msg: String) {
        eprintln!("nasview: {msg}");
        self.message = Some(msg);
    }

    pub fn recording_seconds(&self) -> Option<u64> {
        self.recorder.as_ref().map(|(_, t, _)| t.elapsed().as_secs())
    }

    /// The frame as recorded: full resolution, boxes and labels (HUD only with --record-hud).
    fn annotate(p: &Processed, dets: &[Detection], labels: &[String], hud: bool) -> RgbImage {
        let mut img = (*p.frame.image).clone();
        overlay::draw_detections(&mut img, dets, labels);
        if hud {
            let (_, scale) = overlay::style_for(img.width(), img.height());
            let line = format!("{} objects   infer {:.1} ms", dets.len(), p.times.inference.as_secs_f64() * 1e3);
            ui::hud::text_box(&mut img, &overlay::font(), scale, 8, 8, &[(line, ui::hud::TEXT)]);
        }
        img
    }

    /// Each new processed frame: to the recorder and the PNG folder.
    pub fn on_frame(&mut self, p: &Processed, dets: &[Detection], labels: &[String]) {
        // `--record` starts with the first frame, whose size the recording takes.
        if std::mem::take(&mut self.record_at_start) {
            self.toggle_recording(p.frame.image.width(), p.frame.image.height());
        }
        if self.recorder.is_none() && self.save_frames.is_none() {
            return;
        }
        let img = Arc::new(Self::annotate(p, dets, labels, self.record_hud));
        if let Some((r, _, first_pts)) = &mut self.recorder {
            let first = *first_pts.get_or_insert(p.frame.pts);
            if !r.push(Arc::clone(&img), p.frame.pts.saturating_sub(first)) {
                let why = r.failure().unwrap_or_else(|| "the encoder stopped".into());
                self.stop_recording();
                self.warn(format!("recording stopped: {why}; the app keeps running"));
            }
        }
        if let Some(dir) = &self.save_frames {
            let target = dir.join(format!("frame_{:06}.png", p.frame.seq));
            if let Err(e) = img.save(&target) {
                self.save_frames = None;
                self.warn(format!("stopped saving frames: cannot write {} ({e})", target.display()));
            }
        }
    }

    pub fn snapshot(&mut self, p: &Processed, dets: &[Detection], labels: &[String]) {
        let path = numbered_path(Path::new("nasview-snapshot.png"));
        match Self::annotate(p, dets, labels, false).save(&path) {
            Ok(()) => eprintln!("nasview: snapshot {}", path.display()),
            Err(e) => self.warn(format!("snapshot failed: cannot write {} ({e})", path.display())),
        }
    }

    /// Lines for the HUD: fallbacks, source trouble, recording trouble.
    pub fn warnings(&self, pipeline: &Pipeline, source_ended: bool, frame_age: Option<Duration>) -> Vec<String> {
        let mut w = Vec::new();
        let placement = &pipeline.info.placement;
        if let Some(reason) = &placement.fallback_reason {
            w.push(format!("{} unavailable, running on CPU: {reason}", placement.requested));
        }
        let status = pipeline.stats.source_status.lock().ok().and_then(|e| e.clone());
        if let Some(e) = pipeline.stats.source_error.lock().ok().and_then(|e| e.clone()) {
            w.push(format!("source failed: {e}"));
        } else if source_ended {
            w.push("source ended".into());
        } else if let Some(s) = status {
            w.push(s);
        } else if let Some(age) = frame_age.filter(|a| *a > STALL_AFTER) {
            w.push(format!("source stalled: no new frame for {:.0} s", age.as_secs_f64()));
        }
        w.extend(self.message.clone());
        w
    }
}

#[derive(Serialize)]
struct FrameLine {
    frame: u64,
    time_ms: f64,
    width: u32,
    height: u32,
    detections: Vec<JsonDetection>,
}

/// Runs the live command; returns the exit code.
pub fn run(
    args: &LiveArgs,
    model: PathBuf,
    load: LoadOptions,
    classes: Option<String>,
    t: Thresholds,
) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot install signal handlers")?;
    }
    let mut outputs = Outputs::new(args)?;
    let camera = source::CameraRequest {
        resolution: args.resolution.as_deref().map(parse_resolution).transpose()?,
        fps: args.fps,
        pixel_format: args.pixel_format.clone(),
    };
    let src = source::Spec::parse(&args.source, &camera, args.fps)?;
    let lossless = args.headless && src.every_frame_matters();
    let floor = CONF_FLOOR.min(t.conf);
    let pipeline = Pipeline::start(src, PipelineConfig { model, load, classes, floor, lossless })?;
    eprintln!("nasview: {}", pipeline.info.summary());
    eprintln!("nasview: source {}", pipeline.source_desc);
    let result = if args.headless {
        headless(&pipeline, &mut outputs, &t, args, &stop)
    } else {
        ui::run(&pipeline, &mut outputs, t, floor, args.max_frames, &stop).map(|_| ())
    };
    // Finalise the recording whatever happened above: nothing recorded is lost.
    outputs.stop_recording();
    let stats = Arc::clone(&pipeline.stats);
    let joined = pipeline.join(Duration::from_secs(3));
    eprintln!(
        "nasview: {} frames captured, {} processed, {} dropped before inference, {} results not shown",
        stats.captured.load(Ordering::Relaxed),
        stats.processed.load(Ordering::Relaxed),
        stats.capture_dropped.load(Ordering::Relaxed),
        stats.result_dropped.load(Ordering::Relaxed)
    );
    result?;
    joined?;
    Ok(0)
}

fn headless(
    pipeline: &Pipeline,
    outputs: &mut Outputs,
    t: &Thresholds,
    args: &LiveArgs,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut next = pipeline.results.recv_timeout(Duration::from_secs(60)).ok();
    let stdout = std::io::stdout();
    let mut n = 0u64;
    while let Some(p) = next {
        let dets = p.candidates.select(t);
        outputs.on_frame(&p, &dets, &pipeline.info.labels);
        let line = FrameLine {
            frame: p.frame.seq,
            time_ms: (p.frame.pts.as_secs_f64() * 1e4).round() / 10.0,
            width: p.frame.image.width(),
            height: p.frame.image.height(),
            detections: to_json(&dets, &pipeline.info.labels),
        };
        let mut out = stdout.lock();
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
        n += 1;
        if args.max_frames.is_some_and(|m| n >= m) || stop.load(Ordering::Relaxed) {
            break;
        }
        let waiting = Instant::now();
        let mut warned = false;
        next = loop {
            match pipeline.results.recv_timeout(Duration::from_millis(100)) {
                Ok(p) => break Some(p),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break None,
                Err(_) if stop.load(Ordering::Relaxed) => break None,
                Err(_) if waiting.elapsed() > STALL_AFTER && !warned => {
                    warned = true;
                    eprintln!("nasview: source stalled: no new frame for {} s; still waiting (Ctrl-C ends, the recording is kept)", STALL_AFTER.as_secs());
                }
                Err(_) => continue,
            }
        };
    }
    Ok(())
}

pub fn parse_resolution(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X']).with_context(|| format!("--resolution {s:?}: use WxH, e.g. 1280x720"))?;
    match (w.parse(), h.parse()) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => bail!("--resolution {s:?}: use WxH, e.g. 1280x720"),
    }
}
