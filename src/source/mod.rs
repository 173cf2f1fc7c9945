//! Frame sources (camera, demo clip, images, videos and streams through FFmpeg, the screen) and the capture thread
//! that feeds the newest frame on.

pub mod camera;
pub mod demo;
pub mod image_file;
pub mod images;
pub mod raw;
pub mod video;
pub mod watchdog;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use image::RgbImage;

use crate::channel::NewestSender;
use crate::messages;

/// One captured frame. `seq` counts every frame the source produced, dropped or not.
#[derive(Clone, Debug)]
pub struct Frame {
    pub seq: u64,
    pub image: Arc<RgbImage>,
    /// When the capture thread got it: for latency figures only, never for the timing of what is written.
    pub captured_at: Instant,
    /// Source time from the first frame (see `Timeline`): media time for files (and the demo read headless),
    /// capture time for cameras (and the demo shown live): `Spec::stamped_at_capture`. Recordings, saved
    /// frames and JSON use it.
    pub time: Duration,
    /// How long the frame took to decode from the camera's pixel format (cameras and raw frames; the HUD's
    /// `decode` stage).
    pub decode: Option<Duration>,
}

/// Anything that yields frames. `Ok(None)` is the end of a finite source.
pub trait Source {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>>;
    /// What the source is, as shown on start-up and in the HUD (e.g. the camera mode it really gave).
    fn describe(&self) -> String;
    /// The next frame with its media time, for sources with their own clock (video files, the demo clip,
    /// slideshows). Cameras keep this default: no media time, their frames are stamped when captured.
    fn next_timed(&mut self) -> anyhow::Result<Option<(RgbImage, Option<Duration>)>> {
        Ok(self.next_frame()?.map(|image| (image, None)))
    }
    /// How long the last frame took to decode to RGB, for sources that decode (cameras, raw frames).
    fn decode_time(&self) -> Option<Duration> {
        None
    }
    /// Items the source could not read and skipped so far (said as they happen); the run then exits 1.
    fn skipped(&self) -> u64 {
        0
    }
}

/// Turns media or capture times into source time from the first frame: the one place times are shifted to
/// zero. Times never go backwards (a camera clock or a file's edit may jump back: the frame keeps the last time).
#[derive(Debug)]
pub struct Timeline {
    start: Instant,
    origin: Option<Duration>,
    last: Duration,
}

impl Timeline {
    pub fn new(start: Instant) -> Timeline {
        Timeline { start, origin: None, last: Duration::ZERO }
    }

    /// Source time of a frame with this media time (None: captured at `captured_at`).
    pub fn stamp(&mut self, media: Option<Duration>, captured_at: Instant) -> Duration {
        let raw = media.unwrap_or_else(|| captured_at.saturating_duration_since(self.start));
        let origin = *self.origin.get_or_insert(raw);
        self.last = raw.saturating_sub(origin).max(self.last);
        self.last
    }
}

/// Camera options from the command line.
#[derive(Clone, Debug, Default)]
pub struct CameraRequest {
    pub resolution: Option<(u32, u32)>,
    pub fps: Option<u32>,
    pub pixel_format: Option<String>,
    /// For network cameras (`rtsp://`): how RTSP carries the media.
    pub rtsp_transport: video::address::RtspTransport,
}

/// A parsed `--source`: opened later on the capture thread (cameras cannot move between threads).
#[derive(Clone, Debug)]
pub enum Spec {
    /// The demo clip; `fault` injects a failure or a stall (for the fault tests and for trying the HUD).
    Demo {
        fps: u32,
        fault: Option<demo::Fault>,
        /// Shared by every reopening of a fake camera (`back-after`).
        outage: demo::Outage,
        /// Why the demo plays (no camera found), shown with its description.
        note: Option<&'static str>,
    },
    Images {
        path: PathBuf,
        fps: Option<u32>,
    },
    /// A video file of any container and codec FFmpeg reads.
    Video(PathBuf),
    /// A network stream (`rtsp://`, `http://`, ...): live, opened again when it drops.
    Stream(video::address::StreamUrl),
    /// The screen (x11grab, gdigrab, avfoundation), or a region of it.
    Screen {
        region: Option<video::address::ScreenRegion>,
        fps: u32,
    },
    /// One raw camera frame, `NAME.WxH.FORMAT`.
    RawFrame(PathBuf),
    Camera {
        name: String,
        request: CameraRequest,
    },
}

impl Spec {
    /// `0`, a camera name, `demo`, `screen`, a URL, an image or folder, or a video file.
    pub fn parse(spec: &str, camera: &CameraRequest, fps: Option<u32>) -> anyhow::Result<Spec> {
        let path = Path::new(spec);
        if let Some(url) = video::address::StreamUrl::parse(spec, camera.rtsp_transport) {
            return Ok(Spec::Stream(url));
        }
        if let Some(region) = video::address::parse_screen(spec) {
            return Ok(Spec::Screen { region: region?, fps: fps.unwrap_or(30) });
        }
        if let Some(rest) = spec.strip_prefix("demo") {
            if rest.is_empty() || rest.starts_with('?') {
                let fault = demo::Fault::parse(rest.trim_start_matches('?'))?;
                return Ok(Spec::Demo { fps: fps.unwrap_or(30), fault, outage: demo::Outage::default(), note: None });
            }
        }
        if path.is_file() && raw::parse_name(path).is_some() {
            return Ok(Spec::RawFrame(path.to_path_buf()));
        }
        if let Some(why) = raw::misnamed(path).filter(|_| path.is_file()) {
            bail!(why);
        }
        if path.is_dir() || (path.is_file() && images::is_image_name(path)) {
            return Ok(Spec::Images { path: path.to_path_buf(), fps });
        }
        if path.is_file() {
            return Ok(Spec::Video(path.to_path_buf()));
        }
        if spec.contains('/') || spec.contains('.') {
            bail!(
                "source {spec} does not exist: pass --source demo, a video file, an image folder, a stream URL \
                 (rtsp://, http://...), screen, or a camera index (see `nasview cameras`)"
            );
        }
        Ok(Spec::Camera { name: spec.to_string(), request: camera.clone() })
    }

    /// Files and the (deterministic) demo clip: every frame matters when nobody watches.
    pub fn every_frame_matters(&self) -> bool {
        !self.is_camera_like()
    }

    /// Cameras (and a demo that pretends to be one): when they fail, they are opened again.
    pub fn is_camera_like(&self) -> bool {
        match self {
            Spec::Camera { .. } | Spec::Stream(_) | Spec::Screen { .. } => true,
            Spec::Demo { fault, .. } => fault.is_some_and(|f| f.as_camera),
            _ => false,
        }
    }

    /// Whether frames are stamped with their capture time rather than the source's own clock: cameras always;
    /// the demo clip when it plays live (it stands in for a camera, and a recording of the window then lasts
    /// as long as what was on screen, also when a busy machine renders it slower than its rate). Files always
    /// keep their media time, and so does the demo read as fast as possible (`lossless`), where a capture time
    /// would only measure the speed of inference.
    pub fn stamped_at_capture(&self, lossless: bool) -> bool {
        match self {
            Spec::Camera { .. } | Spec::Stream(_) | Spec::Screen { .. } => true,
            Spec::Demo { .. } => self.is_camera_like() || !lossless,
            // Raw frames have no clock of their own: stamped when read either way.
            Spec::Images { .. } | Spec::Video(_) | Spec::RawFrame(_) => false,
        }
    }

    /// What fails and comes back, in messages.
    pub fn noun(&self) -> &'static str {
        match self {
            Spec::Stream(_) => "stream",
            Spec::Screen { .. } => "screen",
            _ => "camera",
        }
    }

    /// Opens the source. Cameras (and the fake one) are opened and read on a watched reader thread, so a read
    /// that never returns is reported as a stall instead of freezing the capture loop.
    pub fn open(&self) -> anyhow::Result<Box<dyn Source>> {
        use watchdog::{Watched, STALL_AFTER};
        Ok(match self {
            Spec::Demo { fps, fault, outage, .. } if self.is_camera_like() => {
                let (fps, fault, outage) = (*fps, *fault, outage.clone());
                let open = move || Ok(Box::new(demo::Demo::open_fake(fps, fault, &outage)?) as Box<dyn Source>);
                Box::new(Watched::start("camera-reader", open, STALL_AFTER)?)
            }
            Spec::Demo { fps, fault, note, .. } => Box::new(demo::Demo::new(*fps)?.with_fault(*fault).with_note(*note)),
            Spec::Images { path, fps } => Box::new(images::Images::open(path, *fps)?),
            Spec::Video(path) => Box::new(video::Video::open(&video::Input::File(path.clone()))?),
            // Not behind a watched thread: FFmpeg's interrupt callback bounds every blocking call of a stream.
            Spec::Stream(url) => Box::new(video::Video::open(&video::Input::Stream(url.clone()))?),
            Spec::Screen { region, fps } => {
                Box::new(video::Video::open(&video::Input::Screen { region: *region, fps: *fps })?)
            }
            Spec::RawFrame(path) => Box::new(raw::RawFrame::open(path)?),
            Spec::Camera { name, request } => {
                let (name, request) = (name.clone(), request.clone());
                Box::new(Watched::start("camera-reader", move || camera::Camera::open(&name, &request), STALL_AFTER)?)
            }
        })
    }
}

/// What the capture thread is doing with its source; the HUD and stderr render it in one place.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceState {
    /// Opened, frames flowing (or about to).
    Running,
    /// A camera failed and is opened again with back-off.
    Reconnecting { what: &'static str, attempt: u32, error: String, retry_in: Duration },
    /// Back after `attempts` attempts, at `at`: shown for a few seconds, then it is `Running` again.
    Recovered { what: &'static str, attempts: u32, at: Instant },
    /// A finite source gave its last frame.
    Ended,
    /// The source stopped on an error (the run ends with it; the HUD shows it until then).
    Failed(String),
}

/// How long "camera back" stays on the HUD.
pub const RECOVERED_SHOWN: Duration = Duration::from_secs(5);

impl SourceState {
    /// The line for the HUD at `now`, if any. `stalled_for`: how long no new frame has come while running.
    pub fn hud_text(&self, now: Instant, stalled_for: Option<Duration>) -> Option<String> {
        match self {
            // A camera just reopened has not had its first frame yet: that is not a stall.
            SourceState::Running | SourceState::Recovered { .. }
                if stalled_for.is_some() && self.settled(now, watchdog::STALL_AFTER) =>
            {
                stalled_for.map(|d| format!("source stalled: no new frame for {:.0} s", d.as_secs_f64()))
            }
            SourceState::Running => None,
            SourceState::Reconnecting { .. } => self.message(),
            SourceState::Recovered { at, .. } if now.saturating_duration_since(*at) < RECOVERED_SHOWN => self.message(),
            SourceState::Recovered { .. } => None,
            SourceState::Ended => Some("source ended".into()),
            SourceState::Failed(e) => Some(format!("source failed: {e}")),
        }
    }

    /// Running, or recovered longer than `grace` ago.
    pub fn settled(&self, now: Instant, grace: Duration) -> bool {
        match self {
            SourceState::Running => true,
            SourceState::Recovered { at, .. } => now.saturating_duration_since(*at) > grace,
            _ => false,
        }
    }

    /// What stderr says when the capture thread enters this state.
    pub fn message(&self) -> Option<String> {
        match self {
            SourceState::Reconnecting { what, attempt, error, retry_in } => {
                Some(format!("{what} lost ({error}); retrying in {:.1} s (attempt {attempt})", retry_in.as_secs_f32()))
            }
            SourceState::Recovered { what, attempts, .. } => Some(format!("{what} back after {attempts} attempt(s)")),
            _ => None,
        }
    }
}

/// The source state shared between the capture thread (writes) and the consumer (reads).
#[derive(Debug)]
pub struct SharedState {
    state: Mutex<SourceState>,
    /// What the source skipped (unreadable images): counted for the exit code.
    skipped: AtomicU64,
}

impl Default for SharedState {
    fn default() -> Self {
        SharedState { state: Mutex::new(SourceState::Running), skipped: AtomicU64::new(0) }
    }
}

impl SharedState {
    pub fn get(&self) -> SourceState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Sets the state; a camera losing or regaining its stream is also said on stderr.
    pub fn set(&self, state: SourceState) {
        if let Some(m) = state.message() {
            messages::note(&m);
        }
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }
}

/// The capture thread's loop: frames go on until the source ends or the consumer hangs up. Live
/// sources replace a stale frame; `lossless` (files and the demo in headless mode) waits for the
/// consumer instead. Sources with a media time play at their own rate unless lossless (then as fast as
/// the consumer takes them). A camera that fails is opened again with back-off (0.5 s doubling to 8 s).
pub fn capture_loop(
    spec: &Spec,
    mut source: Box<dyn Source>,
    tx: NewestSender<Frame>,
    captured: Arc<AtomicU64>,
    state: &SharedState,
    lossless: bool,
) -> anyhow::Result<()> {
    let mut timeline = Timeline::new(Instant::now());
    // Cameras (and the demo pretending to be one) are opened again when they fail.
    let live = spec.is_camera_like();
    let at_capture = spec.stamped_at_capture(lossless);
    let mut seq = 0u64;
    // Pacing anchor: wall clock and media time of the first frame.
    let mut paced_from: Option<(Instant, Duration)> = None;
    loop {
        let next = source.next_timed();
        state.skipped.store(source.skipped(), Ordering::Relaxed);
        let (image, media) = match next {
            Ok(Some(next)) => next,
            Ok(None) => {
                state.set(SourceState::Ended);
                return Ok(());
            }
            Err(e) if live => {
                let what = spec.noun();
                let mut backoff = Duration::from_millis(500);
                let mut attempt = 1;
                // What the last attempt said: the first loss, then each reopen's own error.
                let mut error = format!("{e:#}");
                source = loop {
                    state.set(SourceState::Reconnecting { what, attempt, error: error.clone(), retry_in: backoff });
                    // Sleep in slices, so quitting during a long back-off is not held up.
                    let wake = Instant::now() + backoff;
                    while Instant::now() < wake {
                        if tx.consumer_gone() {
                            return Ok(());
                        }
                        std::thread::sleep(
                            Duration::from_millis(50).min(wake.saturating_duration_since(Instant::now())),
                        );
                    }
                    match spec.open() {
                        Ok(s) => break s,
                        Err(e) => {
                            error = format!("{e:#}");
                            backoff = (backoff * 2).min(Duration::from_secs(8));
                            attempt += 1;
                        }
                    }
                };
                state.set(SourceState::Recovered { what, attempts: attempt, at: Instant::now() });
                // A reopened source starts its clock again.
                paced_from = None;
                continue;
            }
            Err(e) => {
                state.set(SourceState::Failed(format!("{e:#}")));
                return Err(e);
            }
        };
        if let Some(media) = media.filter(|_| !lossless) {
            // Play at the source's own rate: wait until this frame's media time has come.
            let (wall0, media0) = *paced_from.get_or_insert((Instant::now(), media));
            let due = wall0 + media.saturating_sub(media0);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let captured_at = Instant::now();
        let time = timeline.stamp(if at_capture { None } else { media }, captured_at);
        let decode = source.decode_time();
        let frame = Frame { seq, image: Arc::new(image), captured_at, time, decode };
        seq += 1;
        captured.fetch_add(1, Ordering::Relaxed);
        let delivered = if lossless { tx.send_lossless(frame) } else { tx.send(frame) };
        if !delivered {
            return Ok(());
        }
    }
}

impl Source for video::Video {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        Ok(video::Video::next_frame(self)?.map(|(image, _)| image))
    }

    fn describe(&self) -> String {
        video::Video::describe(self)
    }

    /// Files (and finite files over HTTP) have their own clock; live streams and the screen are stamped when read.
    fn next_timed(&mut self) -> anyhow::Result<Option<(RgbImage, Option<Duration>)>> {
        let finite = self.is_finite();
        Ok(video::Video::next_frame(self)?.map(|(image, t)| (image, finite.then_some(t))))
    }

    fn decode_time(&self) -> Option<Duration> {
        self.last_decode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_starts_at_zero_and_never_goes_back() {
        let start = Instant::now();
        let mut t = Timeline::new(start);
        let ms = Duration::from_millis;
        // Media times: shifted so the first is zero.
        assert_eq!(t.stamp(Some(ms(500)), start), ms(0));
        assert_eq!(t.stamp(Some(ms(700)), start), ms(200));
        // A jump back keeps the last time.
        assert_eq!(t.stamp(Some(ms(600)), start), ms(200));
        // Capture times: from the first frame's capture.
        let mut live = Timeline::new(start);
        assert_eq!(live.stamp(None, start + ms(40)), ms(0));
        assert_eq!(live.stamp(None, start + ms(73)), ms(33));
    }

    #[test]
    fn which_sources_are_stamped_at_capture() {
        let demo = Spec::parse("demo", &CameraRequest::default(), None).unwrap();
        assert!(demo.stamped_at_capture(false), "the demo in the window, like a camera");
        assert!(!demo.stamped_at_capture(true), "the demo headless: its own clock");
        let camera_like = Spec::parse("demo?camera", &CameraRequest::default(), None).unwrap();
        assert!(camera_like.stamped_at_capture(true));
        let video = Spec::Video("clip.mp4".into());
        assert!(!video.stamped_at_capture(false) && !video.stamped_at_capture(true), "files: media time");
        let camera = Spec::Camera { name: "0".into(), request: CameraRequest::default() };
        assert!(camera.stamped_at_capture(true));
    }

    #[test]
    fn source_state_renders_once_for_hud_and_stderr() {
        let now = Instant::now();
        let lost = SourceState::Reconnecting {
            what: "camera",
            attempt: 2,
            error: "gone".into(),
            retry_in: Duration::from_secs(1),
        };
        assert_eq!(lost.message().as_deref(), Some("camera lost (gone); retrying in 1.0 s (attempt 2)"));
        assert_eq!(lost.hud_text(now, None), lost.message());
        // "Camera back" clears from the HUD after a few seconds.
        let back = SourceState::Recovered { what: "camera", attempts: 3, at: now };
        assert_eq!(back.hud_text(now, None).as_deref(), Some("camera back after 3 attempt(s)"));
        assert_eq!(back.hud_text(now + RECOVERED_SHOWN, None), None);
        // Just back, no frame yet: still "back", not "stalled".
        let waiting = back.hud_text(now + Duration::from_millis(300), Some(Duration::from_secs(9)));
        assert_eq!(waiting.as_deref(), Some("camera back after 3 attempt(s)"));
        assert_eq!(SourceState::Running.hud_text(now, None), None);
        let stalled = SourceState::Running.hud_text(now, Some(Duration::from_secs(4)));
        assert_eq!(stalled.as_deref(), Some("source stalled: no new frame for 4 s"));
        assert_eq!(SourceState::Failed("x".into()).hud_text(now, None).as_deref(), Some("source failed: x"));
    }
}
