//! Recording stage: the "recorder" thread takes annotated frames with their source times, encodes them
//! (`encoder.rs`) and writes a fragmented MP4 (`fragment.rs`); `naming.rs` picks the file of each take.

pub mod encoder;
pub mod fragment;
pub mod naming;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use image::RgbImage;

use self::encoder::H264Encoder;
use self::fragment::{FragmentWriter, TIMESCALE};
use self::naming::create_error;

/// Frames waiting for the encoder; more are dropped so memory never grows when it falls behind.
const QUEUE_LEN: usize = 4;
/// A keyframe, and so a new fragment, every second (in ticks): bounds what a crash loses and the cost of a seek.
const KEYFRAME_EVERY: u64 = TIMESCALE;

enum Command {
    Frame(Arc<RgbImage>, Duration),
    Stop,
}

/// Counters and the first failure, shared between the caller's thread and the recorder thread.
#[derive(Default)]
struct Shared {
    /// Frames encoded and handed to the muxer.
    frames: AtomicU64,
    /// Frames not recorded: queue full, or a size other than the one given to `start`.
    dropped: AtomicU64,
    /// Set once the recorder thread has stopped on an error; `push` then returns false.
    failed: AtomicBool,
    failure: OnceLock<String>,
}

/// Records frames to an MP4 file on its own thread; `finish` (or drop) finalises the file.
///
/// The file is fragmented MP4 (ftyp+moov once, then a moof+mdat per one-second GOP) written as it goes, so a
/// crash or a full disk leaves every fragment already written playable and memory stays bounded (muxide's plain
/// MP4 muxer keeps every sample in memory until it finishes, and a crash before that leaves nothing playable).
pub struct Recorder {
    tx: Sender<Command>,
    handle: Option<JoinHandle<anyhow::Result<Duration>>>,
    shared: Arc<Shared>,
    path: PathBuf,
}

/// What a finished recording holds.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    pub path: PathBuf,
    pub frames: u64,
    pub dropped: u64,
    pub duration: Duration,
}

impl Recorder {
    /// Fails at once (with a message that says what to do) when the file cannot be created: missing folder,
    /// read-only folder, etc. Odd sizes are recorded one pixel smaller (H.264 4:2:0 needs even sizes).
    pub fn start(path: &Path, width: u32, height: u32, fps_hint: f32) -> anyhow::Result<Recorder> {
        encoder::check_size(width, height)?;
        let file = File::create(path).map_err(|e| create_error(path, e))?;
        let fps = if fps_hint.is_finite() && fps_hint > 0.0 { fps_hint } else { 30.0 };
        let shared = Arc::new(Shared::default());
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_LEN);
        let job = Job { path: path.to_path_buf(), file, width, height, fps, shared: shared.clone() };
        let handle = thread::Builder::new()
            .name("recorder".into())
            .spawn(move || job.run(rx))
            .context("cannot start the recorder thread")?;
        tracing::info!(path = %path.display(), width, height, "recording started");
        Ok(Recorder { tx, handle: Some(handle), shared, path: path.to_path_buf() })
    }

    /// Non-blocking. Queues a frame with its source time; the first frame's time is the start of the file (the
    /// one place a recording's times are shifted to zero). If the encoder is
    /// behind (queue full) the frame is dropped and counted. Returns false once the recorder has failed.
    pub fn push(&self, frame: Arc<RgbImage>, pts: Duration) -> bool {
        if self.shared.failed.load(Ordering::Acquire) {
            return false;
        }
        match self.tx.try_send(Command::Frame(frame, pts)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::trace!("recorder queue full, frame dropped");
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    pub fn frames(&self) -> u64 {
        self.shared.frames.load(Ordering::Relaxed)
    }

    /// The error that stopped the recorder, if any.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure.get().cloned()
    }

    /// Stops, joins the thread, finalises the file so it is playable, returns the summary.
    pub fn finish(mut self) -> anyhow::Result<RecordSummary> {
        let duration = self.stop()?;
        let summary =
            RecordSummary { path: self.path.clone(), frames: self.frames(), dropped: self.dropped(), duration };
        tracing::info!(?summary, "recording finished");
        Ok(summary)
    }

    /// Queues `Stop` behind the frames already queued (they are still recorded) and joins the thread.
    fn stop(&mut self) -> anyhow::Result<Duration> {
        let Some(handle) = self.handle.take() else {
            bail!("the recorder was already stopped");
        };
        // Fails only if the thread has already ended (on an error), which `join` then reports.
        let _ = self.tx.send(Command::Stop);
        match handle.join() {
            Ok(result) => result,
            Err(_) => Err(anyhow!(
                "the recorder thread panicked; {} may be cut short but what was written is playable",
                self.path.display()
            )),
        }
    }
}

impl Drop for Recorder {
    /// Finalises the file even on an early return or a panic elsewhere.
    fn drop(&mut self) {
        if self.handle.is_some() {
            if let Err(e) = self.stop() {
                tracing::warn!("recording stopped on drop: {e:#}");
            }
        }
    }
}

/// Everything the recorder thread owns.
struct Job {
    path: PathBuf,
    file: File,
    width: u32,
    height: u32,
    fps: f32,
    shared: Arc<Shared>,
}

impl Job {
    fn run(self, rx: Receiver<Command>) -> anyhow::Result<Duration> {
        let shared = self.shared.clone();
        let result = self.record(&rx);
        if let Err(e) = &result {
            // Set before the receiver is dropped, so a push that sees the disconnect also sees the failure.
            let _ = shared.failure.set(format!("{e:#}"));
            shared.failed.store(true, Ordering::Release);
        }
        result
    }

    fn record(self, rx: &Receiver<Command>) -> anyhow::Result<Duration> {
        let mut encoder = H264Encoder::new(self.width, self.height, self.fps)?;
        let mut writer = FragmentWriter::new(&self.path, self.file, (self.width & !1, self.height & !1));
        let mut annexb = Vec::new();
        let mut first_pts: Option<Duration> = None;
        let mut last_key: Option<u64> = None;
        // Last two sample times in ticks: timestamps must increase, and the last sample lasts as long as the one before.
        let (mut prev, mut last) = (None::<u64>, None::<u64>);
        let mut warned_size = false;

        while let Ok(Command::Frame(frame, pts)) = rx.recv() {
            if frame.dimensions() != (self.width, self.height) {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                if !std::mem::replace(&mut warned_size, true) {
                    let (w, h) = frame.dimensions();
                    tracing::warn!("dropping {w}x{h} frames: this recording is {}x{}", self.width, self.height);
                }
                continue;
            }
            let since_start = pts.saturating_sub(*first_pts.get_or_insert(pts));
            let ticks = ((since_start.as_secs_f64() * TIMESCALE as f64).round() as u64).max(last.map_or(0, |t| t + 1));
            // (The first frame is a keyframe anyway.)
            let force_key = last_key.is_some_and(|k| ticks - k >= KEYFRAME_EVERY);
            let Some(keyframe) = encoder.encode(&frame, (ticks * 1000) / TIMESCALE, force_key, &mut annexb)? else {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if keyframe {
                last_key = Some(ticks);
            }
            writer.add(ticks, &annexb, keyframe)?;
            self.shared.frames.fetch_add(1, Ordering::Relaxed);
            (prev, last) = (last, Some(ticks));
            tracing::trace!(ticks, keyframe, bytes = annexb.len(), "frame encoded");
        }
        writer.flush()?;
        let last_len = match (prev, last) {
            (Some(p), Some(l)) => l - p,
            (None, Some(_)) => (TIMESCALE as f64 / f64::from(self.fps)) as u64,
            _ => 0,
        };
        Ok(Duration::from_secs_f64((last.unwrap_or(0) + last_len) as f64 / TIMESCALE as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ffprobe, frame, record, temp_dir, truncated_recording};
    use std::sync::Weak;
    use std::time::Instant;

    #[test]
    fn records_h264_that_ffprobe_reads_even_and_odd_sizes() {
        let dir = temp_dir("rec-sizes");
        for (w, h) in [(320, 240), (321, 241)] {
            let path = dir.join(format!("{w}x{h}.mp4"));
            let summary = record(&path, w, h, 30).finish().expect("finish");
            assert_eq!((summary.frames, summary.dropped), (30, 0));
            assert!((summary.duration.as_secs_f64() - 3.0).abs() < 0.01, "{summary:?}");
            let probe = ffprobe(&path);
            assert_eq!((probe.codec.as_str(), probe.width, probe.height, probe.frames), ("h264", 320, 240, 30));
            assert!((probe.duration - 3.0).abs() <= 0.6, "duration {}", probe.duration);
        }
    }

    #[test]
    fn a_slideshow_recording_gives_its_last_image_its_full_time() {
        let dir = temp_dir("rec-slideshow");
        let path = dir.join("slides.mp4");
        let rec = Recorder::start(&path, 320, 240, 1.0).expect("start");
        // Ten images a second apart: each one a keyframe, so each fragment holds one frame.
        for i in 0..10u32 {
            assert!(rec.push(Arc::new(frame(320, 240, i)), Duration::from_secs(u64::from(i))));
            let t = Instant::now();
            while rec.frames() + rec.dropped() < u64::from(i + 1) {
                assert!(t.elapsed() < Duration::from_secs(10), "encoder stuck");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let summary = rec.finish().expect("finish");
        assert_eq!(summary.frames, 10);
        // Before: 9.03 s, the last image shown for 1/30 s.
        let probe = ffprobe(&path);
        assert!((probe.duration - 10.0).abs() < 0.02, "{probe:?}");
        assert_eq!(probe.frames, 10);
    }

    #[test]
    fn start_fails_with_advice() {
        let dir = temp_dir("rec-errors");
        let missing = dir.join("no-such-folder").join("out.mp4");
        let file = dir.join("a-file");
        std::fs::write(&file, b"x").expect("write");
        // Root may write into chmod 555 folders, not into /sys.
        let cases = [
            (missing, "does not exist"),
            (PathBuf::from("/sys/nasview-out.mp4"), "not writable"),
            (file.join("out.mp4"), "is a file, not a folder"),
        ];
        for (path, advice) in cases {
            let err = format!("{:#}", Recorder::start(&path, 320, 240, 10.0).err().expect("start must fail"));
            assert!(err.contains(&path.display().to_string()) && err.contains(advice), "{err}");
        }
    }

    #[test]
    fn full_disk_fails_without_blocking_or_panicking() {
        let rec = Recorder::start(Path::new("/dev/full"), 320, 240, 10.0).expect("start");
        let t = Instant::now();
        let mut i = 0;
        while rec.failure().is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "no failure reported");
            let push = Instant::now();
            rec.push(Arc::new(frame(320, 240, i % 30)), Duration::from_millis(100 * u64::from(i)));
            assert!(push.elapsed() < Duration::from_millis(50), "push blocked");
            i += 1;
            thread::sleep(Duration::from_millis(5));
        }
        let failure = rec.failure().unwrap_or_default();
        assert!(failure.contains("disk full while writing /dev/full"), "{failure}");
        assert!(!rec.push(Arc::new(frame(320, 240, 0)), Duration::from_secs(99)));
        let err = format!("{:#}", rec.finish().expect_err("finish must report the failure"));
        assert!(err.contains("disk full"), "{err}");
    }

    #[test]
    fn drop_without_finish_leaves_a_playable_file() {
        let path = temp_dir("rec-drop").join("dropped.mp4");
        drop(record(&path, 320, 240, 15));
        let probe = ffprobe(&path);
        assert_eq!((probe.codec.as_str(), probe.frames), ("h264", 15));
    }

    #[test]
    fn truncated_file_still_plays() {
        let path = truncated_recording("rec-trunc");
        let probe = ffprobe(&path);
        assert_eq!(probe.codec, "h264");
        assert!((10..30).contains(&probe.frames), "{} frames decoded from the cut file", probe.frames);
    }

    #[test]
    fn queue_is_bounded_and_drops_are_counted() {
        let path = temp_dir("rec-queue").join("burst.mp4");
        let rec = Recorder::start(&path, 1280, 720, 30.0).expect("start");
        let templates: Vec<_> = (0..4).map(|i| frame(1280, 720, i * 10)).collect();
        let mut alive: Vec<Weak<RgbImage>> = Vec::new();
        for i in 0..200 {
            // A distinct buffer each time (a memcpy, faster than the encoder), as a camera would give.
            let f = Arc::new(templates[i % 4].clone());
            alive.push(Arc::downgrade(&f));
            assert!(rec.push(f, Duration::from_millis(33 * i as u64)));
            // Never more frames held than the queue plus the one being encoded.
            assert!(alive.iter().filter(|w| w.strong_count() > 0).count() <= QUEUE_LEN + 1);
        }
        // How many are dropped depends on the encoder's speed; that some are, and that all are counted, does not.
        assert!(rec.dropped() > 0);
        let summary = rec.finish().expect("finish");
        assert_eq!(summary.frames + summary.dropped, 200);
    }

    /// Camera-like 1280x720 frames: gradients, a moving pattern and sensor noise (harder than flat squares).
    fn camera_like(i: u32) -> RgbImage {
        let mut seed = 0x9e37_79b9_u32.wrapping_mul(i + 1);
        RgbImage::from_fn(1280, 720, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 9) as f32 - 4.0;
            let wave = ((x as f32 + 6.0 * i as f32) / 23.0).sin() * ((y as f32) / 17.0).cos() * 60.0;
            let base = [x as f32 / 8.0 + 40.0, y as f32 / 5.0 + 30.0, 120.0];
            image::Rgb(base.map(|c| (c + wave + noise).clamp(0.0, 255.0) as u8))
        })
    }

    /// `cargo test --release -- --ignored --nocapture encode_speed`: encoder time per 1280x720 frame.
    #[test]
    #[ignore]
    fn encode_speed_720p() {
        let path = temp_dir("rec-speed").join("speed.mp4");
        let frames: Vec<_> = (0..60).map(|i| Arc::new(camera_like(i))).collect();
        let rec = Recorder::start(&path, 1280, 720, 30.0).expect("start");
        let t = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            rec.push(f.clone(), Duration::from_millis(33 * i as u64));
            while rec.frames() + rec.dropped() < i as u64 + 1 {
                thread::sleep(Duration::from_micros(200));
            }
        }
        let per_frame = t.elapsed() / 60;
        let summary = rec.finish().expect("finish");
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mbps = size as f64 * 8.0 / summary.duration.as_secs_f64() / 1e6;
        println!("1280x720: {per_frame:?} per frame, {mbps:.2} Mbit/s, {summary:?}");
    }
}
