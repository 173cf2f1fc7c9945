//! Recording stage: the "recorder" thread encodes frames to H.264 and writes a fragmented MP4.
//!
//! The file is fragmented MP4 (ftyp+moov once, then one moof+mdat per ~1 s GOP), written as it goes:
//! a crash or a full disk leaves every fragment already written playable, and memory stays bounded
//! (muxide's non-fragmented muxer keeps every sample in memory until `finish`).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use image::RgbImage;
use muxide::codec::{annexb_to_avcc, extract_avc_config};
use muxide::fragmented::{FragmentConfig, FragmentedMuxer};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::{RGB8Source, RGBSource, YUVBuffer};
use openh264::{OpenH264API, Timestamp};

/// Frames waiting for the encoder; more are dropped so memory never grows when it falls behind.
const QUEUE_LEN: usize = 4;
/// MP4 media timescale (90 kHz, the usual video clock).
const TIMESCALE: u64 = 90_000;
/// A keyframe (and so a new fragment) at least this often: bounds what a crash can lose and seek cost.
const KEYFRAME_EVERY: Duration = Duration::from_secs(1);
/// 3 Mbit/s at 1280x720, scaled by pixel count: openh264's default bitrate smears motion.
const BITS_PER_PIXEL_SECOND: f64 = 3_000_000.0 / (1280.0 * 720.0);
const MIN_BITRATE: f64 = 200_000.0;

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
        let (enc_w, enc_h) = (width & !1, height & !1);
        if enc_w < 16 || enc_h < 16 || enc_w > 3840 || enc_h > 3840 || enc_w.min(enc_h) > 2160 {
            bail!("cannot record {width}x{height} frames: the H.264 encoder takes 16x16 up to 3840x2160");
        }
        let file = File::create(path).map_err(|e| create_error(path, e))?;
        let fps = if fps_hint.is_finite() && fps_hint > 0.0 {
            fps_hint
        } else {
            30.0
        };
        let shared = Arc::new(Shared::default());
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_LEN);
        let job = Job {
            path: path.to_path_buf(),
            file,
            width,
            height,
            fps,
            shared: shared.clone(),
        };
        let handle = thread::Builder::new()
            .name("recorder".into())
            .spawn(move || job.run(rx))
            .context("cannot start the recorder thread")?;
        tracing::info!(path = %path.display(), width = enc_w, height = enc_h, "recording started");
        Ok(Recorder {
            tx,
            handle: Some(handle),
            shared,
            path: path.to_path_buf(),
        })
    }

    /// Non-blocking. Queues a frame with its presentation time since the recording started. If the encoder is
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
        let summary = RecordSummary {
            path: self.path.clone(),
            frames: self.frames(),
            dropped: self.dropped(),
            duration,
        };
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

/// Next free numbered name: out.mp4 -> out.mp4 if absent, else out-1.mp4, out-2.mp4 ... (never overwrites).
pub fn numbered_path(path: &Path) -> PathBuf {
    // symlink_metadata: a dangling symlink is taken too, creating through it could write elsewhere.
    let taken = |p: &Path| p.symlink_metadata().is_ok();
    if !taken(path) {
        return path.to_path_buf();
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1u64..)
        .map(|n| path.with_file_name(format!("{stem}-{n}{ext}")))
        .find(|p| !taken(p))
        .unwrap_or_else(|| path.to_path_buf())
}

/// Turns a failed `File::create` into a message that says what to do.
fn create_error(path: &Path, e: io::Error) -> anyhow::Error {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
        _ => ".".to_string(),
    };
    let advice = match e.kind() {
        io::ErrorKind::NotFound => format!("the folder {dir} does not exist: create it or record elsewhere"),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            format!("the folder {dir} is not writable: record into a writable folder")
        }
        io::ErrorKind::NotADirectory => format!("{dir} is a file, not a folder: record into a folder"),
        io::ErrorKind::IsADirectory => "that is a folder: give a file name such as out.mp4".to_string(),
        _ => "check the path and the free space".to_string(),
    };
    anyhow!("cannot create the recording {}: {e}; {advice}", path.display())
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
            tracing::error!("recording failed: {e:#}");
        }
        result
    }

    fn record(mut self, rx: &Receiver<Command>) -> anyhow::Result<Duration> {
        let mut encoder = self.encoder()?;
        let mut yuv = YUVBuffer::new((self.width & !1) as usize, (self.height & !1) as usize);
        let mut muxer: Option<FragmentedMuxer> = None;
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
                    tracing::warn!(
                        "dropping {w}x{h} frames: this recording is {}x{}",
                        self.width,
                        self.height
                    );
                }
                continue;
            }
            let since_start = pts.saturating_sub(*first_pts.get_or_insert(pts));
            let ticks = ((since_start.as_secs_f64() * TIMESCALE as f64).round() as u64).max(last.map_or(0, |t| t + 1));
            if last_key.is_none_or(|k| ticks - k >= KEYFRAME_EVERY.as_secs() * TIMESCALE) {
                encoder.force_intra_frame();
            }
            yuv.read_rgb8(EvenRgb(&frame));
            let ms = Timestamp::from_millis((ticks * 1000) / TIMESCALE);
            let bitstream = encoder.encode_at(&yuv, ms).context("the H.264 encoder failed")?;
            let keyframe = match bitstream.frame_type() {
                FrameType::IDR => true,
                FrameType::I | FrameType::P | FrameType::IPMixed => false,
                // Rate control skipped the frame (skipping is off, so this should not happen).
                FrameType::Skip | FrameType::Invalid => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            annexb.clear();
            bitstream.write_vec(&mut annexb);
            if keyframe {
                last_key = Some(ticks);
                match muxer.as_mut() {
                    // A fragment per GOP: each starts with a keyframe, so any prefix of fragments plays.
                    Some(m) => self.write_fragment(m)?,
                    None => muxer = Some(self.start_file(&annexb)?),
                }
            }
            let Some(m) = muxer.as_mut() else {
                bail!("the H.264 encoder did not start with a keyframe");
            };
            m.write_video(ticks, ticks, &annexb_to_avcc(&annexb), keyframe)
                .map_err(|e| anyhow!("cannot add a frame to the MP4 fragment: {e}"))?;
            self.shared.frames.fetch_add(1, Ordering::Relaxed);
            (prev, last) = (last, Some(ticks));
            tracing::trace!(ticks, keyframe, bytes = annexb.len(), "frame encoded");
        }
        if let Some(m) = muxer.as_mut() {
            self.write_fragment(m)?;
        }
        let last_len = match (prev, last) {
            (Some(p), Some(l)) => l - p,
            (None, Some(_)) => (TIMESCALE as f64 / f64::from(self.fps)) as u64,
            _ => 0,
        };
        Ok(Duration::from_secs_f64(
            (last.unwrap_or(0) + last_len) as f64 / TIMESCALE as f64,
        ))
    }

    fn encoder(&self) -> anyhow::Result<Encoder> {
        let pixels = f64::from((self.width & !1) * (self.height & !1));
        let bps = (pixels * BITS_PER_PIXEL_SECOND).max(MIN_BITRATE) as u32;
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bps))
            .rate_control_mode(RateControlMode::Bitrate)
            .max_frame_rate(FrameRate::from_hz(self.fps))
            .skip_frames(false)
            .usage_type(UsageType::CameraVideoRealTime)
            // Keyframes are forced by time (KEYFRAME_EVERY), which works with a variable frame rate.
            .intra_frame_period(IntraFramePeriod::auto())
            // One thread: the detector needs the other cores more than the encoder.
            .num_threads(1)
            // openh264's RGB->YUV conversion is BT.601 limited range; say so, or players assume BT.709 for HD.
            .vui(VuiConfig::bt601());
        Encoder::with_api_config(OpenH264API::from_source(), config).context("cannot create the H.264 encoder")
    }

    /// Writes the init segment (ftyp+moov), which needs the SPS/PPS of the first keyframe.
    fn start_file(&mut self, keyframe: &[u8]) -> anyhow::Result<FragmentedMuxer> {
        let avc = extract_avc_config(keyframe).context("the first H.264 keyframe has no SPS/PPS")?;
        let mut config = FragmentConfig::new(self.width & !1, self.height & !1, TIMESCALE as u32);
        (config.sps, config.pps) = (avc.sps, avc.pps);
        let mut muxer = FragmentedMuxer::new(config).map_err(|e| anyhow!("cannot set up the MP4 muxer: {e}"))?;
        self.write(&muxer.init_segment())?;
        Ok(muxer)
    }

    fn write_fragment(&mut self, muxer: &mut FragmentedMuxer) -> anyhow::Result<()> {
        match muxer.flush_segment() {
            Some(fragment) => self.write(&fragment),
            None => Ok(()),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        // Straight to the file (no BufWriter): a fragment is one large write, and a crash loses at most the
        // fragment being built.
        self.file.write_all(bytes).map_err(|e| {
            let frames = self.shared.frames.load(Ordering::Relaxed);
            let what = if e.kind() == io::ErrorKind::StorageFull {
                "disk full"
            } else {
                "write error"
            };
            anyhow!(
                "{what} while writing {}: {e}; the recording was stopped after {frames} frames (what was written \
                 before plays); free some space or record elsewhere",
                self.path.display()
            )
        })
    }
}

/// The largest even-sized top-left part of an RGB image, without copying (openh264 needs even sizes).
struct EvenRgb<'a>(&'a RgbImage);

impl RGBSource for EvenRgb<'_> {
    fn dimensions(&self) -> (usize, usize) {
        ((self.0.width() & !1) as usize, (self.0.height() & !1) as usize)
    }

    fn pixel_f32(&self, x: usize, y: usize) -> (f32, f32, f32) {
        let [r, g, b] = self.0.get_pixel(x as u32, y as u32).0;
        (r.into(), g.into(), b.into())
    }
}

impl RGB8Source for EvenRgb<'_> {
    fn dimensions_padded(&self) -> (usize, usize) {
        (self.0.width() as usize, self.0.height() as usize)
    }

    fn rgb8_data(&self) -> &[u8] {
        self.0.as_raw()
    }
}
