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
    Demo { fps: u32 },
    Images { path: PathBuf, fps: Option<u32> },
    Video(PathBuf),
    Camera { name: String, request: CameraRequest },
}

impl Spec {
    /// `0`, a camera name, `demo`, an image or folder, or an MP4 file.
    pub fn parse(spec: &str, camera: &CameraRequest, fps: Option<u32>) -> anyhow::Result<Spec> {
        let path = Path::new(spec);
        if spec == "demo" {
            return Ok(Spec::Demo { fps: fps.unwrap_or(30) });
        }
        if path.is_dir() || (path.is_file() && crate::config::is_image_name(path)) {
            return Ok(Spec::Images {
                path: path.to_path_buf(),
                fps,
            });
        }
        if path.is_file() {
            return Ok(Spec::Video(path.to_path_buf()));
        }
        if spec.contains('/') || spec.contains('.') {
            bail!("source {spec} does not exist: pass --source demo, a video file, an image folder, or a camera index (see `nasview cameras`)");
        }
        Ok(Spec::Camera {
            name: spec.to_string(),
            request: camera.clone(),
        })
    }

    /// Files and the (deterministic) demo clip: every frame matters when nobody watches.
    pub fn every_frame_matters(&self) -> bool {
        !matches!(self, Spec::Camera { .. })
    }

    pub fn open(&self) -> anyhow::Result<Box<dyn Source>> {
        Ok(match self {
            Spec::Demo { fps } => Box::new(demo::Demo::new(*fps)?),
            Spec::Images { path, fps } => Box::new(images::Images::open(path, *fps)?),
            Spec::Video(path) => Box::new(video::Mp4Video::open(path)?),
            Spec::Camera { name, request } => camera::Camera::open(name, request)?,
        })
    }
}

/// The capture thread's loop: frames go on until the source ends or the consumer hangs up.
/// Live sources replace a stale frame; `lossless` (files in headless mode) waits for the consumer instead.
pub fn capture_loop(
    mut source: Box<dyn Source>,
    tx: NewestSender<Frame>,
    captured: Arc<AtomicU64>,
    lossless: bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let interval = source.frame_interval();
    let mut seq = 0u64;
    while let Some(image) = source.next_frame()? {
        // Play paced sources in real time when someone watches; as fast as possible when lossless.
        if let (Some(dt), false) = (interval, lossless) {
            let due = start + dt * seq as u32;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let now = Instant::now();
        let frame = Frame {
            seq,
            image: Arc::new(image),
            captured_at: now,
            pts: now - start,
        };
        seq += 1;
        captured.fetch_add(1, Ordering::Relaxed);
        let delivered = if lossless {
            tx.send_lossless(frame)
        } else {
            tx.send(frame)
        };
        if !delivered {
            break;
        }
    }
    Ok(())
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
        self.fps()
            .filter(|f| *f > 0.0)
            .map(|f| Duration::from_secs_f64(1.0 / f as f64))
    }
}
