//! The consumer loop (main thread): what happens to each processed frame, for the window and headless alike.
//!
//! Each turn (unless paused): receive the newest processed frame, select its detections at the current
//! thresholds into a `Scene`, run the per-frame steps, give it to the JSON lines (`outputs.rs`); then the
//! frame to show: the processed one (`--display processed`, headless), or the newest captured frame
//! (`Pipeline::frames`, `--display every`) with the newest scene moved to its time by the steps (`moved`).
//! A frame shown goes to the recording and PNG frames, then with the HUD figures to a `Presenter` (the
//! window in `ui/`, or `Headless`), which answers with `Action`s (pause, thresholds, record, snapshot, quit).
//!
//! Where new work plugs in:
//! - **Per-frame steps** (a tracker, a counting line): implement `step::FrameStep` and add it with
//!   `Consumer::add_step`. `new_frame` runs once per new processed frame, in frame order, after selection
//!   and before the outputs, never while paused; a slider moved on a paused frame calls `reselected`
//!   instead (the same frame, not a new one); `moved` moves a copy of the scene to a later frame.
//! - **Drawing** (IDs, trails, a line): add fields to `overlay::Scene` and draw them in
//!   `overlay::draw_scene`, which both the window and the recording use.
//! - **HUD figures**: add a field to `stats::HudStats`, fill it in `Consumer::hud`, print it in
//!   `stats::hud_lines`.
//! - **Settings for the inference thread** (tiles on/off, a zoom region): add fields to
//!   `pipeline::InferenceSettings`; the window sends `Action::SetInference`, the inference loop reads the
//!   settings once per frame.

pub mod headless;
pub mod stats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use crossbeam_channel::RecvTimeoutError;

use self::stats::{HudStats, PassesHud, Rates};
use crate::class_conf::ClassConf;
use crate::detector::tiles::Tiling;
use crate::detector::Thresholds;
use crate::messages;
use crate::outputs::Outputs;
use crate::overlay::Scene;
use crate::pipeline::{InferenceSettings, Pipeline, Processed};
pub use crate::step::{FrameStep, TrackAction};
pub use crate::view::FrameView;

/// A source that gives nothing new for this long is reported as stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(3);
/// A source that gives no first frame in this long is an error (a camera that opens but never sends).
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// What a presenter asks of the loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    TogglePause,
    /// New thresholds: the frame shown is selected again (also while paused).
    SetThresholds(Thresholds),
    /// Classes' own thresholds and hidden classes (the window's legend): selected again like thresholds.
    SetClassConf(ClassConf),
    ToggleRecording,
    Snapshot,
    /// New settings for the inference thread, from the next frame on.
    SetInference(InferenceSettings),
    /// For the tracker and the counting line (T, Y, C, a line drawn with the mouse).
    Track(TrackAction),
    Quit,
}

/// Shows the frames: the window, or nothing (headless, where the JSON lines are an output).
pub trait Presenter {
    /// How long the loop may wait for a new frame before it calls `refresh` again.
    fn wait(&self) -> Duration;
    /// True to keep the last frame up after the source ends (the window); false ends the run (headless).
    fn keeps_last_frame(&self) -> bool;
    /// Once per turn: `view` is the frame to show, `changed` says whether it (or its scene) is new since the
    /// last call. Returns what the user asked for.
    fn refresh(&mut self, view: Option<&FrameView>, hud: &HudStats, changed: bool) -> anyhow::Result<Vec<Action>>;
}

/// Why the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A finite source gave its last frame (headless), or the window was closed after it did.
    SourceEnded,
    MaxFrames,
    /// Q, Esc or the close button.
    Quit,
    /// SIGINT or SIGTERM.
    Signal,
}

pub struct Consumer<'a> {
    pipeline: &'a Pipeline,
    outputs: &'a mut Outputs,
    steps: Vec<Box<dyn FrameStep>>,
    thresholds: Thresholds,
    /// Classes' own thresholds (`--conf 0.25,person=0.5`, the legend) and hidden classes.
    class_conf: ClassConf,
    max_frames: Option<u64>,
    stop: &'a AtomicBool,
    /// The newest result and its scene at the current thresholds (steps included, not moved).
    result: Option<(Arc<Processed>, Scene)>,
    /// New processed frames received so far (what `max_frames` counts).
    pub frames: u64,
    /// Frames shown (and fed to the recording): every captured frame the display got, or the processed ones.
    pub shown: u64,
    /// Capture -> display latency of each frame shown (ms, the first 65536), for the closing summary.
    latencies_ms: Vec<f32>,
    started: Instant,
}

impl<'a> Consumer<'a> {
    pub fn new(
        pipeline: &'a Pipeline,
        outputs: &'a mut Outputs,
        thresholds: Thresholds,
        max_frames: Option<u64>,
        stop: &'a AtomicBool,
    ) -> Consumer<'a> {
        let (latencies_ms, started) = (Vec::new(), Instant::now());
        Consumer {
            pipeline,
            outputs,
            steps: Vec::new(),
            thresholds,
            class_conf: ClassConf::default(),
            max_frames,
            stop,
            result: None,
            frames: 0,
            shown: 0,
            latencies_ms,
            started,
        }
    }

    /// Whether every captured frame is shown (the pipeline sends them), or only the processed ones.
    fn every(&self) -> bool {
        self.pipeline.frames.is_some()
    }

    /// The closing line: frames shown and results per second and the capture -> display latency (median,
    /// p95), the figures the display modes and the live viewer's spinning choice are measured with.
    pub fn summary(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let mut l = self.latencies_ms.clone();
        l.sort_by(f32::total_cmp);
        let at = |q: f64| l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1))).copied();
        format!(
            "{} frames shown in {secs:.1} s ({:.1}/s), {} results ({:.1}/s), capture -> display latency median {:.0} \
             ms, p95 {:.0} ms",
            self.shown,
            self.shown as f64 / secs,
            self.frames,
            self.frames as f64 / secs,
            at(0.5).unwrap_or(0.0),
            at(0.95).unwrap_or(0.0)
        )
    }

    /// Classes' own thresholds from the start (`--conf 0.25,person=0.5`).
    pub fn with_class_conf(mut self, class_conf: ClassConf) -> Self {
        self.class_conf = class_conf;
        self
    }

    pub fn add_step(&mut self, step: Box<dyn FrameStep>) {
        self.steps.push(step);
    }

    /// A new processed frame: select, run the steps, in frame order. Returns the view of the processed
    /// frame itself (its latency: capture -> result).
    fn new_result(&mut self, processed: Processed, now: Instant) -> FrameView {
        let mut scene = Scene::new(self.class_conf.select(&processed.candidates, &self.thresholds));
        for step in &mut self.steps {
            step.new_frame(&processed, &self.thresholds, &mut scene);
        }
        scene.trails.retain(|t| !self.class_conf.hidden.contains(&t.class_id));
        let processed = Arc::new(processed);
        self.result = Some((Arc::clone(&processed), scene.clone()));
        let latency = now.saturating_duration_since(processed.frame.captured_at);
        let view = FrameView {
            frame: processed.frame.clone(),
            processed,
            scene,
            thresholds: self.thresholds.clone(),
            latency,
        };
        log_passes(&view);
        view
    }

    /// The newest result's scene moved to a frame at source time `time` (the result's own frame: as found).
    fn scene_at(&self, time: Duration) -> Option<(Arc<Processed>, Scene)> {
        let (p, scene) = self.result.as_ref()?;
        let mut scene = scene.clone();
        if time > p.frame.time {
            for step in &self.steps {
                step.moved(time, &mut scene);
            }
        }
        Some((Arc::clone(p), scene))
    }

    /// `view` goes up: counted, fed to the recording and PNG frames, logged. An error only when stdout is gone.
    fn show(&mut self, view: FrameView, current: &mut Option<FrameView>, rates: &mut Rates) {
        rates.on_shown(Instant::now());
        if self.latencies_ms.len() < 1 << 16 {
            self.latencies_ms.push(view.latency.as_secs_f32() * 1e3);
        }
        self.shown += 1;
        self.outputs.on_shown(&view);
        log_view(&view, false);
        self.log_boxes(&view);
        *current = Some(view);
    }

    /// Each frame shown with its boxes as drawn and as found (not moved), and how many frames had been
    /// captured then, for `NASVIEW_LOG=nasview::shown=debug`: `tests/display_modes.py` scores the boxes
    /// against detections on every frame.
    fn log_boxes(&self, v: &FrameView) {
        if !tracing::enabled!(target: "nasview::shown", tracing::Level::DEBUG) {
            return;
        }
        let list = |dets: &[crate::detector::Detection]| {
            let b: Vec<String> = dets
                .iter()
                .map(|d| format!("{}:{:.1}:{:.1}:{:.1}:{:.1}", d.class_id, d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]))
                .collect();
            if b.is_empty() {
                "-".to_string()
            } else {
                b.join(";")
            }
        };
        let found = self.result.as_ref().map_or("-".into(), |(_, s)| list(&s.detections));
        tracing::debug!(
            target: "nasview::shown",
            "shown frame={} result={} captured={} boxes={} found={}",
            v.frame.seq,
            v.processed.frame.seq,
            self.pipeline.stats.captured.load(Ordering::Relaxed),
            list(&v.scene.detections),
            found
        );
    }

    /// The frame shown, selected again at the current thresholds (not a new frame).
    fn reselect(&mut self, view: &mut FrameView, paused: bool) {
        view.thresholds = self.thresholds.clone();
        if let Some((p, scene)) = &mut self.result {
            *scene = Scene::new(self.class_conf.select(&p.candidates, &view.thresholds));
            for step in &mut self.steps {
                step.reselected(p, &view.thresholds, scene);
            }
            scene.trails.retain(|t| !self.class_conf.hidden.contains(&t.class_id));
        }
        if let Some((p, scene)) = self.scene_at(view.frame.time) {
            (view.processed, view.scene) = (p, scene);
        }
        log_view(view, paused);
    }

    /// Runs until the source ends (headless), Q / Esc / close, a signal or `max_frames`. An error: the source
    /// gave no frame at all, or stdout is gone.
    pub fn run(&mut self, presenter: &mut dyn Presenter) -> anyhow::Result<Ending> {
        let started = Instant::now();
        let mut current: Option<FrameView> = None;
        let mut paused = false;
        let mut ended = false;
        let mut last_new = started;
        let mut stall_said = false;
        let mut rates = Rates::default();
        let every = self.every();
        // When new boxes for the frame on screen are drawn if no newer frame has come to carry them.
        let mut boxes_waiting: Option<Instant> = None;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Ending::Signal);
            }
            let mut changed = false;
            if !paused && !ended {
                // Showing every frame, the loop does not wait on results: captured frames come in between.
                let wait = if every { Duration::ZERO } else { presenter.wait() };
                match self.pipeline.results.recv_timeout(wait) {
                    Ok(p) => {
                        let now = Instant::now();
                        rates.on_result(now);
                        self.frames += 1;
                        let view = self.new_result(p, now);
                        self.outputs.on_result(&view)?;
                        match &mut current {
                            // Showing every frame, the frame on screen is usually newer than the result: it
                            // keeps its place and gets the new boxes, moved to its time, drawn with the next
                            // captured frame (due within a frame interval). Drawing them now as well would redraw
                            // the window for each result besides each frame: 50 times a second for 30 frames.
                            Some(c) if every && c.frame.seq >= view.frame.seq => {
                                if let Some((p, scene)) = self.scene_at(c.frame.time) {
                                    (c.processed, c.scene) = (p, scene);
                                }
                                log_view(c, false);
                                boxes_waiting = Some(now + boxes_wait(rates.capture_fps));
                            }
                            _ => {
                                self.show(view, &mut current, &mut rates);
                                changed = true;
                            }
                        }
                        (last_new, stall_said) = (now, false);
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        if self.frames == 0 {
                            bail!(
                                "the source ({}) gave no frames; check that it holds video or images, or try \
                                 --source demo",
                                self.pipeline.source_desc
                            );
                        }
                        // The end of a file: its recording is complete; the window keeps the last frame up.
                        (ended, changed) = (true, true);
                        self.outputs.stop_recording();
                        if !presenter.keeps_last_frame() {
                            return Ok(Ending::SourceEnded);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
                // The newest captured frame, once there is a result to draw on it.
                let frame = self.pipeline.frames.as_ref().and_then(|f| f.try_recv().ok());
                if let Some(frame) = frame.filter(|f| !ended && current.as_ref().is_none_or(|c| f.seq > c.frame.seq)) {
                    let now = Instant::now();
                    if let Some((processed, scene)) = self.scene_at(frame.time) {
                        let latency = now.saturating_duration_since(frame.captured_at);
                        let view = FrameView { frame, processed, scene, thresholds: self.thresholds.clone(), latency };
                        self.show(view, &mut current, &mut rates);
                        (changed, last_new, stall_said, boxes_waiting) = (true, now, false, None);
                    }
                }
                // New boxes for the frame on screen, and no newer frame in time to carry them: drawn on it.
                if boxes_waiting.is_some_and(|due| ended || Instant::now() >= due) {
                    (changed, boxes_waiting) = (true, None);
                }
                if !changed && !ended {
                    self.check_waiting(started, last_new, &mut stall_said)?;
                }
            }
            // Inference still on a frame the source gave is not the source stalling.
            let stalled = (!paused && !ended && self.frames > 0 && !self.inference_busy())
                .then(|| last_new.elapsed())
                .filter(|age| *age > STALL_AFTER);
            let hud = self.hud(&mut rates, current.as_ref(), paused, stalled);
            for action in presenter.refresh(current.as_ref(), &hud, changed)? {
                match action {
                    Action::Quit => return Ok(if ended { Ending::SourceEnded } else { Ending::Quit }),
                    Action::TogglePause => {
                        paused = !paused;
                        // Time spent paused is not the source stalling.
                        last_new = Instant::now();
                        if let Some(v) = &mut current {
                            self.reselect(v, paused);
                        }
                    }
                    Action::SetThresholds(t) => {
                        self.thresholds = t;
                        if let Some(v) = &mut current {
                            self.reselect(v, paused);
                        }
                    }
                    Action::SetClassConf(c) => {
                        self.class_conf = c;
                        if let Some(v) = &mut current {
                            self.reselect(v, paused);
                        }
                    }
                    Action::ToggleRecording => {
                        if let Some(v) = &current {
                            self.outputs.toggle_recording(v);
                        }
                    }
                    Action::Snapshot => {
                        if let Some(v) = &current {
                            self.outputs.snapshot(v);
                        }
                    }
                    Action::SetInference(s) => self.pipeline.settings.set(s),
                    Action::Track(a) => {
                        for step in &mut self.steps {
                            step.on_action(&a);
                        }
                        if let Some(v) = &mut current {
                            self.reselect(v, paused);
                        }
                    }
                }
            }
            if self.max_frames.is_some_and(|m| self.frames >= m) {
                return Ok(Ending::MaxFrames);
            }
        }
    }

    /// No new frame this turn. The source is timed, not inference: a first frame the source does not give is an
    /// error after FIRST_FRAME_TIMEOUT (said at STALL_AFTER); a frame it gave that inference has not finished (a
    /// 100 MP photo in 368 tiles takes 24 s) is waited for, and said once. A source that stops sending is said
    /// once per stall and waited for.
    fn check_waiting(&self, started: Instant, last_new: Instant, said: &mut bool) -> anyhow::Result<()> {
        let waited = last_new.elapsed();
        let desc = &self.pipeline.source_desc;
        let stats = &self.pipeline.stats;
        let inferring = self.inference_busy();
        if self.frames == 0 && !inferring && stats.captured.load(Ordering::Relaxed) == 0 {
            if started.elapsed() > FIRST_FRAME_TIMEOUT {
                bail!(
                    "the source ({desc}) gave no frame in {} s; if it is a camera, check that no other program \
                     uses it and try another --pixel-format or --resolution, or try --source demo",
                    FIRST_FRAME_TIMEOUT.as_secs()
                );
            }
            if waited > STALL_AFTER && !std::mem::replace(said, true) {
                messages::note(&format!(
                    "waiting for the first frame of {desc} (giving up after {} s)",
                    FIRST_FRAME_TIMEOUT.as_secs()
                ));
            }
            return Ok(());
        }
        if waited <= STALL_AFTER || *said {
            return Ok(());
        }
        if inferring {
            *said = true;
            messages::note(&format!(
                "inference is slow: no result for {} s while the source has frames waiting (each frame runs {}); \
                 still waiting (fewer --tiles, no --region or more --threads make it faster)",
                STALL_AFTER.as_secs(),
                self.passes_said()
            ));
            return Ok(());
        }
        // A camera that was just reopened gets its own STALL_AFTER before its silence counts again.
        if stats.source.get().settled(Instant::now(), STALL_AFTER) {
            *said = true;
            messages::warn(&format!(
                "source stalled: no new frame for {} s; still waiting (Ctrl-C ends, the recording is kept)",
                STALL_AFTER.as_secs()
            ));
        }
        Ok(())
    }

    /// Whether inference holds a frame the source gave (running it, or one waiting for it): then a missing result
    /// is inference's slowness, not the source's. Every captured frame is dropped (replaced by a newer one),
    /// processed, or still pending.
    fn inference_busy(&self) -> bool {
        let stats = &self.pipeline.stats;
        let captured = stats.captured.load(Ordering::Relaxed);
        let dropped = stats.capture_dropped.load(Ordering::Relaxed);
        captured.saturating_sub(dropped) > stats.processed.load(Ordering::Relaxed)
    }

    /// The passes each frame runs, in words, for the slow-inference note.
    fn passes_said(&self) -> String {
        let passes = self.pipeline.settings.get().passes;
        match (passes.region, passes.tiling) {
            (Some(r), _) => format!("the full frame and the zoom region {r}"),
            (None, Tiling::Off) => "the full frame".to_string(),
            (None, t) => format!("the full frame and tiles {t}"),
        }
    }

    /// The HUD's figures for this turn.
    fn hud(&self, rates: &mut Rates, view: Option<&FrameView>, paused: bool, stalled: Option<Duration>) -> HudStats {
        let stats = &self.pipeline.stats;
        let now = Instant::now();
        rates.on_captured(stats.captured.load(Ordering::Relaxed), now);
        let info = &self.pipeline.info;
        let mut warnings = Vec::new();
        if let Some(reason) = &info.placement.fallback_reason {
            warnings.push(format!("{} unavailable, running on CPU: {reason}", info.placement.requested));
        }
        warnings.extend(stats.source.get().hud_text(now, stalled));
        warnings.extend(self.outputs.message().map(str::to_string));
        HudStats {
            capture_fps: rates.capture_fps,
            display_fps: rates.display_fps,
            inference_fps: rates.inference_fps,
            dropped: stats.capture_dropped.load(Ordering::Relaxed) + stats.result_dropped.load(Ordering::Relaxed),
            stages: view.map(|v| v.processed.times),
            decode: view.and_then(|v| v.frame.decode),
            latency: None,
            box_age: view.map(FrameView::box_age),
            objects: view.map_or(0, |v| v.scene.detections.len()),
            model: format!("{} {} on {}", info.file_name, info.precision.as_str(), info.placement.label()),
            model_short: format!(
                "{} {}",
                info.file_name.strip_suffix(".onnx").unwrap_or(&info.file_name),
                info.precision.as_str()
            ),
            source: self.pipeline.source_desc.clone(),
            conf: self.thresholds.conf,
            iou: self.thresholds.iou,
            paused,
            steps: self.steps.iter().flat_map(|s| s.hud_lines()).collect(),
            warnings,
            recording_seconds: self.outputs.recording_seconds(),
            passes: view.and_then(|v| passes_hud(&v.processed)),
        }
    }
}

/// How long new boxes for the frame on screen wait for the next captured frame to be drawn on (`--display
/// every`): one capture interval, so a result is on screen at most a frame late; 100 ms while the capture rate
/// is not yet known; never more than 250 ms (a source that slows down or stops).
fn boxes_wait(capture_fps: f32) -> Duration {
    if capture_fps.is_finite() && capture_fps > 0.0 {
        Duration::from_secs_f32((1.0 / capture_fps).min(0.25))
    } else {
        Duration::from_millis(100)
    }
}

/// The HUD's tiles line for a frame, when it ran with tiles or a zoom region.
fn passes_hud(p: &Processed) -> Option<PassesHud> {
    let s = &p.settings.passes;
    let what = match (s.region.and_then(|r| r.in_frame(p.frame.image.width(), p.frame.image.height())), s.tiling) {
        (Some(r), _) => format!("zoom region {}x{}", r.w, r.h),
        (None, Tiling::Off) => return None,
        (None, t) => format!("tiles {t}"),
    };
    let t = &p.times;
    Some(PassesHud {
        what,
        crops: p.candidates.passes.saturating_sub(1),
        frame: t.preprocess + t.inference + t.postprocess,
    })
}

/// Tiled frames, for NASVIEW_LOG=info (the window test reads these lines): passes run, and how many of the
/// detections shown have their centre inside the zoom region.
fn log_passes(v: &FrameView) {
    let p = &v.processed;
    if p.candidates.passes <= 1 {
        return;
    }
    let (w, h) = p.frame.image.dimensions();
    let region = p.settings.passes.region.and_then(|r| r.in_frame(w, h));
    let inside = region.map_or(0, |r| {
        v.scene
            .detections
            .iter()
            .filter(|d| {
                let (cx, cy) = ((d.bbox[0] + d.bbox[2]) / 2.0, (d.bbox[1] + d.bbox[3]) / 2.0);
                (r.x as f32..r.right() as f32).contains(&cx) && (r.y as f32..r.bottom() as f32).contains(&cy)
            })
            .count()
    });
    tracing::info!("passes frame={} passes={} region={region:?} inside={inside}", p.frame.seq, p.candidates.passes);
}

/// What is on screen, for NASVIEW_LOG=info (the window test reads these lines): the frame shown, the
/// processed frame its boxes come from, and how much older that one is.
fn log_view(v: &FrameView, paused: bool) {
    tracing::info!(
        "view frame={} result={} age_ms={} conf={:.2} iou={:.2} objects={}{}",
        v.frame.seq,
        v.processed.frame.seq,
        v.box_age().as_millis(),
        v.thresholds.conf,
        v.thresholds.iou,
        v.scene.detections.len(),
        if paused { " paused" } else { "" }
    );
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::Arc;

    use super::*;
    use crate::channel::newest;
    use crate::detector::provider::{Device, Placement};
    use crate::detector::signature::{Family, InputSpec};
    use crate::detector::{Candidates, Detection, ModelInfo, Precision, Spin, SpinChoice, StageTimes};
    use crate::outputs::OutputConfig;
    use crate::source::Frame;

    fn info() -> ModelInfo {
        ModelInfo {
            path: "m.onnx".into(),
            file_name: "m.onnx".into(),
            family: Family::Ultralytics { out: 0 },
            input: InputSpec { width: 640, height: 640, uint8: false },
            precision: Precision::Int8,
            placement: Placement {
                requested: Device::Cpu,
                in_use: Device::Cpu,
                fallback_reason: None,
                passed_over: Vec::new(),
            },
            labels: vec!["person".into()],
            threads: 1,
            spin: SpinChoice { spin: Spin::Off, why: None },
        }
    }

    /// Captured frame `seq`, at 200 ms per frame.
    fn frame(seq: u64) -> Frame {
        Frame {
            seq,
            image: Arc::new(image::RgbImage::new(64, 48)),
            captured_at: Instant::now(),
            time: Duration::from_millis(200 * seq),
            decode: None,
        }
    }

    /// Frame `seq` with two candidates, scores 0.9 and 0.22, far apart.
    fn processed(seq: u64) -> Processed {
        let det = |score, x| Detection { class_id: 0, score, bbox: [x, 10.0, x + 20.0, 30.0] };
        Processed {
            frame: frame(seq),
            candidates: Candidates {
                dets: vec![det(0.9, 0.0), det(0.22, 40.0)],
                frame_w: 64,
                frame_h: 48,
                needs_nms: true,
                limits: None,
                passes: 1,
                cut: Vec::new(),
            },
            times: StageTimes::default(),
            newest_seq_at_pickup: seq,
            settings: InferenceSettings { floor: 0.05, passes: Default::default() },
        }
    }

    /// Records what the steps saw: (seq, objects) of new frames and of re-selections.
    #[derive(Default)]
    struct Seen {
        new: Vec<(u64, usize)>,
        reselected: Vec<(u64, usize)>,
    }

    struct Step(Rc<RefCell<Seen>>);

    impl FrameStep for Step {
        fn new_frame(&mut self, p: &Processed, _: &Thresholds, scene: &mut Scene) {
            self.0.borrow_mut().new.push((p.frame.seq, scene.detections.len()));
        }

        fn reselected(&mut self, p: &Processed, _: &Thresholds, scene: &mut Scene) {
            self.0.borrow_mut().reselected.push((p.frame.seq, scene.detections.len()));
        }
    }

    /// A presenter that answers each turn with the next scripted actions and notes the frames it is shown.
    struct Scripted {
        turns: Vec<Vec<Action>>,
        shown: Vec<Option<u64>>,
    }

    impl Presenter for Scripted {
        fn wait(&self) -> Duration {
            Duration::from_millis(500)
        }

        fn keeps_last_frame(&self) -> bool {
            true
        }

        fn refresh(&mut self, v: Option<&FrameView>, _: &HudStats, _: bool) -> anyhow::Result<Vec<Action>> {
            self.shown.push(v.map(|v| v.frame.seq));
            Ok(if self.turns.is_empty() { vec![Action::Quit] } else { self.turns.remove(0) })
        }
    }

    #[test]
    fn steps_run_once_per_new_frame_in_order_and_not_on_a_paused_reselection() {
        let (tx, rx) = newest();
        let pipeline = Pipeline::without_threads(rx, None, info());
        let mut outputs = Outputs::new(OutputConfig::default(), vec!["person".into()]);
        let stop = AtomicBool::new(false);
        let seen = Rc::new(RefCell::new(Seen::default()));
        let mut consumer = Consumer::new(&pipeline, &mut outputs, Thresholds { conf: 0.25, iou: 0.7 }, None, &stop);
        consumer.add_step(Box::new(Step(Rc::clone(&seen))));
        assert!(tx.send_lossless(processed(0)));
        let mut presenter = Scripted {
            turns: vec![
                // Frame 0 arrives; pause; lower the confidence on the paused frame.
                vec![Action::TogglePause],
                vec![Action::SetThresholds(Thresholds { conf: 0.2, iou: 0.7 })],
                // Resume: frame 1 is taken.
                vec![Action::TogglePause],
                vec![],
            ],
            shown: Vec::new(),
        };
        // Frame 1 waits in the channel while paused (one slot: the newest).
        let sender = std::thread::spawn(move || tx.send_lossless(processed(1)));
        let ending = consumer.run(&mut presenter).unwrap();
        assert!(sender.join().unwrap());
        // The sender hung up after frame 1: the window keeps it up until quit, and the run counts as ended.
        assert_eq!(ending, Ending::SourceEnded);
        assert_eq!(consumer.frames, 2);
        let seen = seen.borrow();
        // 0.9 passes 0.25; after the slider 0.22 passes 0.2 too: two objects on the same, paused frame.
        assert_eq!(seen.new, [(0, 1), (1, 2)], "each new frame once, in order");
        assert_eq!(seen.reselected, [(0, 1), (0, 2), (0, 2)], "pause, slider, resume: the same frame");
        assert_eq!(presenter.shown.first(), Some(&Some(0)));
        assert_eq!(presenter.shown.last(), Some(&Some(1)));
    }

    /// Moves every box 1 px right per 100 ms after the result it came from.
    struct Drift(Duration);

    impl FrameStep for Drift {
        fn new_frame(&mut self, p: &Processed, _: &Thresholds, _: &mut Scene) {
            self.0 = p.frame.time;
        }

        fn moved(&self, time: Duration, scene: &mut Scene) {
            let dx = (time - self.0).as_millis() as f32 / 100.0;
            scene.detections.iter_mut().for_each(|d| (d.bbox[0], d.bbox[2]) = (d.bbox[0] + dx, d.bbox[2] + dx));
        }
    }

    /// Feeds captured frames and results between refreshes, and notes (frame shown, its result, left edge).
    struct Feed {
        frames: crate::channel::NewestSender<Frame>,
        results: crate::channel::NewestSender<Processed>,
        turn: usize,
        seen: Vec<(u64, u64, f32)>,
    }

    impl Presenter for Feed {
        fn wait(&self) -> Duration {
            Duration::ZERO
        }

        fn keeps_last_frame(&self) -> bool {
            true
        }

        fn refresh(&mut self, v: Option<&FrameView>, _: &HudStats, changed: bool) -> anyhow::Result<Vec<Action>> {
            if let Some(v) = v.filter(|_| changed) {
                self.seen.push((v.frame.seq, v.processed.frame.seq, v.scene.detections[0].bbox[0]));
            }
            self.turn += 1;
            match self.turn {
                1 => assert!(self.frames.send(frame(1))),
                2 => assert!(self.frames.send(frame(2))),
                // A result for frame 1 comes after frame 2 went up: its boxes wait for the next frame, which
                // comes at once and carries them.
                3 => assert!(self.results.send(processed(1))),
                4 => assert!(self.frames.send(frame(3))),
                // A result for frame 2 and no frame after it: drawn on frame 3 once the wait is over.
                5 => assert!(self.results.send(processed(2))),
                6 => std::thread::sleep(boxes_wait(0.0) + Duration::from_millis(50)),
                _ => return Ok(vec![Action::Quit]),
            }
            Ok(Vec::new())
        }
    }

    #[test]
    fn every_frame_is_shown_with_the_newest_boxes_moved_to_it() {
        let (tx, rx) = newest();
        let (ftx, frx) = newest();
        let pipeline = Pipeline::without_threads(rx, Some(frx), info());
        let mut outputs = Outputs::new(OutputConfig::default(), vec!["person".into()]);
        let stop = AtomicBool::new(false);
        let mut consumer = Consumer::new(&pipeline, &mut outputs, Thresholds { conf: 0.25, iou: 0.7 }, None, &stop);
        consumer.add_step(Box::new(Drift(Duration::ZERO)));
        // A frame captured before any result is not shown: nothing to draw on it yet.
        assert!(ftx.send(frame(0)));
        assert!(tx.send(processed(0)));
        let mut feed = Feed { frames: ftx, results: tx, turn: 0, seen: Vec::new() };
        assert_eq!(consumer.run(&mut feed).unwrap(), Ending::Quit);
        // Result 0 on its own frame as found; frames 1 and 2 (200 and 400 ms on) with its box moved 2 and
        // 4 px; result 1 (at 200 ms) not redrawn on frame 2 but on frame 3 (600 ms): moved 4 px; result 2
        // (400 ms) on frame 3 after the wait: moved 2 px.
        assert_eq!(feed.seen, [(0, 0, 0.0), (1, 0, 2.0), (2, 0, 4.0), (3, 1, 4.0), (3, 2, 2.0)]);
        assert_eq!((consumer.shown, consumer.frames), (4, 3), "four frames shown, three results");
    }

    #[test]
    fn new_boxes_wait_one_capture_interval_for_a_frame_to_carry_them() {
        assert_eq!(boxes_wait(30.0), Duration::from_secs_f32(1.0 / 30.0));
        assert_eq!(boxes_wait(4.0), Duration::from_millis(250));
        // A source slower than 4 frames a second: a result waits no more than 250 ms to be drawn.
        assert_eq!(boxes_wait(0.5), Duration::from_millis(250));
        assert_eq!(boxes_wait(0.0), Duration::from_millis(100), "capture rate not known yet");
        assert_eq!(boxes_wait(f32::NAN), Duration::from_millis(100));
    }
}
