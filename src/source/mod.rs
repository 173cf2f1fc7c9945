//! Frame sources (camera, demo clip, images, MP4) and the capture thread that feeds the newest frame on.

pub mod camera;
pub mod demo;
pub mod images;
pub mod video;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use image::RgbImage;

use crate::channel::NewestSender;

/// One captured frame. `seq` counts every frame the source produced, dropped or not.
#[derive(Clone, Debug)]
pub struct Frame {
    pub seq: u64,
    pub image: Arc<RgbImage>,
    /// When the capture thread got it (for the HUD's staleness figure).
    pub captured_at: Instant,
    /// Presentation time from the start of the source (recording timestamps).
    pub pts: Duration,
}

/// Anything that yields frames. `Ok(None)` is the end of a finite source.
pub trait Source {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>>;
    /// What the source is, as shown on start-up and in the HUD (e.g. the camera mode it really gave).
    fn describe(&self) -> String;
    /// True for sources whose every frame matters when nobody watches (files in headless mode).
    /// Time between frames for sources that are not paced by hardware (demo, images, video files).
    fn frame_interval(&self) -> Option<Duration> {
        None
    }
}

/// Camera options from the command line.
#[derive(Clone, Debug, Default)]
pub struct CameraRequest {
    pub resolution: Option<(u32, u32)>,
    pub fps: Option<u32>,
    pub pixel_format: Option<String>,
}

/// A parsed `--source`: opened later on the capture thread (cameras cannot move between threads).
#[derive(Clone, Debug)]
pub enum Spec {
    /// The demo clip; `fault` injects a failure or a stall (for the fault tests and for trying the HUD).
    Demo {
        fps: u32,
        fault: Option<demo::Fault>,
    },
    Images {
        path: PathBuf,
        fps: Option<u32>,
    },
    Video(PathBuf),
    Camera {
        name: String,
        request: CameraRequest,
    },
}

impl Spec {
    /// `0`, a camera name, `demo`, an image or folder, or an MP4 file.
    pub fn parse(spec: &str, camera: &CameraRequest, fps: Option<u32>) -> anyhow::Result<Spec> {
        let path = Path::new(spec);
        if let Some(rest) = spec.strip_prefix("demo") {
            if rest.is_empty() || rest.starts_with('?') {
                let fault = demo::Fault::parse(rest.trim_start_matches('?'))?;
                return Ok(Spec::Demo { fps: fps.unwrap_or(30), fault });
            }
        }
        if path.is_dir() || (path.is_file() && crate::config::is_image_name(path)) {
            return Ok(Spec::Images { path: path.to_path_buf(), fps });
        }
        if path.is_file() {
            return Ok(Spec::Video(path.to_path_buf()));
        }
        if spec.contains('/') || spec.contains('.') {
            bail!("source {spec} does not exist: pass --source demo, a video file, an image folder, or a camera index (see `nasview cameras`)");
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
            Spec::Camera { .. } => true,
            Spec::Demo { fault, .. } => fault.is_some_and(|f| f.as_camera),
            _ => false,
        }
    }

    pub fn open(&self) -> anyhow::Result<Box<dyn Source>> {
        Ok(match self {
            Spec::Demo { fps, fault } => Box::new(demo::Demo::new(*fps)?.with_fault(*fault)),
            Spec::Images { path, fps } => Box::new(images::Images::open(path, *fps)?),
            Spec::Video(path) => Box::new(video::Mp4Video::open(path)?),
            Spec::Camera { name, request } => camera::Camera::open(name, request)?,
        })
    }
}

/// What the capture thread reports about its source, for the HUD and stderr.
pub type Status = std::sync::Mutex<Option<String>>;

fn set_status(status: &Status, msg: Option<String>) {
    if let Some(m) = &msg {
        eprintln!("nasview: {m}");
    }
    *status.lock().unwrap_or_else(|p| p.into_inner()) = msg;
}

/// The capture thread's loop: frames go on until the source ends or the consumer hangs up. Live
/// sources replace a stale frame; `lossless` (files and the demo in headless mode) waits for the
/// consumer instead. A camera that fails is opened again with back-off (0.5 s doubling to 8 s).
pub fn capture_loop(
    spec: &Spec,
    mut source: Box<dyn Source>,
    tx: NewestSender<Frame>,
    captured: Arc<AtomicU64>,
    status: &Status,
    lossless: bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let interval = source.frame_interval();
    let mut seq = 0u64;
    let mut paced_from = (start, 0u64);
    loop {
        let image = match source.next_frame() {
            Ok(Some(image)) => image,
            Ok(None) => return Ok(()),
            Err(e) if spec.is_camera_like() => {
                let mut backoff = Duration::from_millis(500);
                let mut attempt = 1;
                source = loop {
                    set_status(
                        status,
                        Some(format!(
                            "camera lost ({e:#}); retrying in {:.1} s (attempt {attempt})",
                            backoff.as_secs_f32()
                        )),
                    );
                    std::thread::sleep(backoff);
                    if tx.consumer_gone() {
                        return Ok(());
                    }
                    match spec.open() {
                        Ok(s) => break s,
                        Err(_) => {
                            backoff = (backoff * 2).min(Duration::from_secs(8));
                            attempt += 1;
                        }
                    }
                };
                set_status(status, Some(format!("camera back after {attempt} attempt(s)")));
                paced_from = (Instant::now(), seq);
                continue;
            }
            Err(e) => return Err(e),
        };
        // Play paced sources in real time when someone watches; as fast as possible when lossless.
        if let (Some(dt), false) = (interval, lossless) {
            let due = paced_from.0 + dt * (seq - paced_from.1) as u32;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let now = Instant::now();
        let frame = Frame { seq, image: Arc::new(image), captured_at: now, pts: now - start };
        seq += 1;
        captured.fetch_add(1, Ordering::Relaxed);
        let delivered = if lossless { tx.send_lossless(frame) } else { tx.send(frame) };
        if !delivered {
            return Ok(());
        }
    }
}

impl Source for video::Mp4Video {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        Ok(video::Mp4Video::next_frame(self)?.map(|(image, _pts)| image))
    }

    fn describe(&self) -> String {
        let (w, h) = self.size();
        format!("video {w}x{h} @ {:.1} fps", self.fps().unwrap_or(0.0))
    }

    fn frame_interval(&self) -> Option<Duration> {
        self.fps().filter(|f| *f > 0.0).map(|f| Duration::from_secs_f64(1.0 / f as f64))
    }
}
