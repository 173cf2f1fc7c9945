//! Recording stage: the "recorder" thread encodes frames to H.264 and writes them to a fragmented MP4 file.

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
/// A keyframe, and so a new fragment, every second (in ticks): bounds what a crash loses and the cost of a seek.
const KEYFRAME_EVERY: u64 = TIMESCALE;
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
        let (enc_w, enc_h) = (width & !1, height & !1);
        if enc_w < 16 || enc_h < 16 || enc_w > 3840 || enc_h > 3840 || enc_w.min(enc_h) > 2160 {
            bail!("cannot record {width}x{height} frames: the H.264 encoder takes 16x16 up to 3840x2160");
        }
        let file = File::create(path).map_err(|e| create_error(path, e))?;
        let fps = if fps_hint.is_finite() && fps_hint > 0.0 { fps_hint } else { 30.0 };
        let shared = Arc::new(Shared::default());
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_LEN);
        let job = Job { path: path.to_path_buf(), file, width, height, fps, shared: shared.clone() };
        let handle = thread::Builder::new()
            .name("recorder".into())
            .spawn(move || job.run(rx))
            .context("cannot start the recorder thread")?;
        tracing::info!(path = %path.display(), width = enc_w, height = enc_h, "recording started");
        Ok(Recorder { tx, handle: Some(handle), shared, path: path.to_path_buf() })
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

/// Next free numbered name: out.mp4 -> out.mp4 if absent, else out-1.mp4, out-2.mp4 ... (never overwrites).
pub fn numbered_path(path: &Path) -> PathBuf {
    // symlink_metadata: a dangling symlink is taken too, creating through it could write elsewhere.
    let taken = |p: &Path| p.symlink_metadata().is_ok();
    if !taken(path) {
        return path.to_path_buf();
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
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
        }
        result
    }

    fn record(mut self, rx: &Receiver<Command>) -> anyhow::Result<Duration> {
        let mut encoder = new_encoder(self.width, self.height, self.fps)?;
        let mut yuv = YUVBuffer::new((self.width & !1) as usize, (self.height & !1) as usize);
        let mut muxer: Option<FragmentedMuxer> = None;
        let mut annexb = Vec::new();
        let mut first_pts: Option<Duration> = None;
        let mut last_key: Option<u64> = None;
        // Time of the first frame of the fragment being built.
        let mut fragment_start: Option<u64> = None;
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
            if last_key.is_some_and(|k| ticks - k >= KEYFRAME_EVERY) {
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
                    Some(m) => self.write_fragment(m, fragment_start.take())?,
                    None => muxer = Some(self.start_file(&annexb)?),
                }
            }
            let Some(m) = muxer.as_mut() else {
                bail!("the H.264 encoder did not start with a keyframe");
            };
            m.write_video(ticks, ticks, &annexb_to_avcc(&annexb), keyframe)
                .map_err(|e| anyhow!("cannot add a frame to the MP4 fragment: {e}"))?;
            self.shared.frames.fetch_add(1, Ordering::Relaxed);
            fragment_start.get_or_insert(ticks);
            (prev, last) = (last, Some(ticks));
            tracing::trace!(ticks, keyframe, bytes = annexb.len(), "frame encoded");
        }
        if let Some(m) = muxer.as_mut() {
            self.write_fragment(m, fragment_start)?;
        }
        let last_len = match (prev, last) {
            (Some(p), Some(l)) => l - p,
            (None, Some(_)) => (TIMESCALE as f64 / f64::from(self.fps)) as u64,
            _ => 0,
        };
        Ok(Duration::from_secs_f64((last.unwrap_or(0) + last_len) as f64 / TIMESCALE as f64))
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

    fn write_fragment(&mut self, muxer: &mut FragmentedMuxer, start: Option<u64>) -> anyhow::Result<()> {
        let Some(mut fragment) = muxer.flush_segment() else {
            return Ok(());
        };
        if let Some(ticks) = start {
            if !set_fragment_start(&mut fragment, ticks) {
                tracing::warn!("cannot find the tfdt box of a fragment: its times may be shifted");
            }
        }
        self.write(&fragment)
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        // Straight to the file (no BufWriter): a fragment is one large write, and a crash loses at most the
        // fragment being built.
        self.file.write_all(bytes).map_err(|e| {
            let frames = self.shared.frames.load(Ordering::Relaxed);
            let what = if e.kind() == io::ErrorKind::StorageFull { "disk full" } else { "write error" };
            anyhow!(
                "{what} while writing {}: {e}; the recording was stopped after {frames} frames (what was written \
                 before plays); free some space or record elsewhere",
                self.path.display()
            )
        })
    }
}

/// The H.264 encoder every recording uses (also timed by `nasview bench`).
fn new_encoder(width: u32, height: u32, fps: f32) -> anyhow::Result<Encoder> {
    let pixels = f64::from((width & !1) * (height & !1));
    let bps = (pixels * BITS_PER_PIXEL_SECOND).max(MIN_BITRATE) as u32;
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(bps))
        .rate_control_mode(RateControlMode::Bitrate)
        .max_frame_rate(FrameRate::from_hz(fps))
        // Every frame is kept (a skipped frame would be a dropped frame); the bitrate stays on target anyway.
        .skip_frames(false)
        .usage_type(UsageType::CameraVideoRealTime)
        // Keyframes are forced by time (KEYFRAME_EVERY), which works with a variable frame rate.
        .intra_frame_period(IntraFramePeriod::auto())
        // One thread: the detector needs the other cores more than the encoder (a second one gains ~10 %).
        .num_threads(1)
        // openh264's RGB->YUV conversion is BT.601 limited range; say so, or players assume BT.709 for HD.
        .vui(VuiConfig::bt601());
    Encoder::with_api_config(OpenH264API::from_source(), config).context("cannot create the H.264 encoder")
}

/// Encodes frames synchronously with the recorder's settings, without writing a file: the encode
/// stage of `nasview bench`.
pub struct FrameEncoder {
    encoder: Encoder,
    yuv: YUVBuffer,
    size: (u32, u32),
}

impl FrameEncoder {
    pub fn new(width: u32, height: u32, fps: f32) -> anyhow::Result<FrameEncoder> {
        let yuv = YUVBuffer::new((width & !1) as usize, (height & !1) as usize);
        Ok(FrameEncoder { encoder: new_encoder(width, height, fps)?, yuv, size: (width, height) })
    }

    /// Encodes one frame; returns the size of its bitstream in bytes.
    pub fn encode(&mut self, frame: &RgbImage) -> anyhow::Result<usize> {
        if frame.dimensions() != self.size {
            let (w, h) = frame.dimensions();
            bail!("cannot encode a {w}x{h} frame with an encoder made for {}x{}", self.size.0, self.size.1);
        }
        self.yuv.read_rgb8(EvenRgb(frame));
        let bitstream = self.encoder.encode(&self.yuv).context("the H.264 encoder failed")?;
        Ok(bitstream.to_vec().len())
    }
}

/// muxide 0.5 starts each fragment (tfdt) at the previous one's last frame time plus its mean frame interval: with
/// a variable frame rate (or dropped frames) that shifts whole fragments. This puts the real time back.
fn set_fragment_start(fragment: &mut [u8], ticks: u64) -> bool {
    // moof > mfhd, traf > tfhd, tfdt: the tfdt box (size 20, version 1, 64-bit time) starts at byte 48.
    let head = &fragment[..fragment.len().min(128)];
    let Some(at) = head.windows(4).position(|w| w == b"tfdt").filter(|&at| at >= 4) else {
        return false;
    };
    if fragment[at - 4..at] != 20u32.to_be_bytes() || fragment.get(at + 4) != Some(&1) {
        return false;
    }
    match fragment.get_mut(at + 8..at + 16) {
        Some(time) => {
            time.copy_from_slice(&ticks.to_be_bytes());
            true
        }
        None => false,
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::process::Command as Cmd;
    use std::sync::Weak;
    use std::time::Instant;

    /// A fresh empty folder under the system temp dir (no tempfile dependency).
    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nasview-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    pub(crate) const BACKGROUND: [u8; 3] = [40, 40, 40];
    pub(crate) const SQUARE: [u8; 3] = [200, 60, 30];
    pub(crate) const SIDE: u32 = 64;

    /// Top-left corner of the moving square in frame `i`.
    pub(crate) fn square_at(i: u32) -> (u32, u32) {
        (10 + i * 7, 20 + i * 4)
    }

    pub(crate) fn frame(w: u32, h: u32, i: u32) -> RgbImage {
        let (sx, sy) = square_at(i);
        RgbImage::from_fn(w, h, |x, y| {
            let inside = (sx..sx + SIDE).contains(&x) && (sy..sy + SIDE).contains(&y);
            image::Rgb(if inside { SQUARE } else { BACKGROUND })
        })
    }

    /// Records `n` frames 100 ms apart, waiting for each to be encoded so none is dropped.
    pub(crate) fn record(path: &Path, w: u32, h: u32, n: u32) -> Recorder {
        let rec = Recorder::start(path, w, h, 10.0).expect("start recorder");
        for i in 0..n {
            assert!(rec.push(Arc::new(frame(w, h, i)), Duration::from_millis(100 * u64::from(i))));
            let t = Instant::now();
            while rec.frames() + rec.dropped() < u64::from(i + 1) {
                assert!(t.elapsed() < Duration::from_secs(10), "encoder stuck at frame {i}");
                thread::sleep(Duration::from_millis(1));
            }
        }
        rec
    }

    /// A finished 30-frame, 3 s recording cut to 60 % of its bytes, as a crash or a full disk leaves it.
    pub(crate) fn truncated_recording(name: &str) -> PathBuf {
        let path = temp_dir(name).join("cut.mp4");
        record(&path, 320, 240, 30).finish().expect("finish");
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() * 6 / 10]).expect("truncate");
        path
    }

    /// `ffprobe` of the first video stream: codec_name, width, height, nb_read_frames, duration.
    pub(crate) fn ffprobe(path: &Path) -> HashMap<String, String> {
        let out = Cmd::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries"])
            .arg("stream=codec_name,nb_frames,nb_read_frames,width,height:format=duration")
            .args(["-of", "default=noprint_wrappers=1"])
            .arg(path)
            .output()
            .expect("ffprobe not found: install ffmpeg (make setup does)");
        let text = String::from_utf8_lossy(&out.stdout);
        println!("ffprobe {}: {}", path.display(), text.replace('\n', " "));
        text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn num(probe: &HashMap<String, String>, key: &str) -> f64 {
        probe.get(key).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
    }

    #[test]
    fn records_h264_that_ffprobe_reads_even_and_odd_sizes() {
        let dir = temp_dir("rec-sizes");
        for (w, h) in [(320, 240), (321, 241)] {
            let path = dir.join(format!("{w}x{h}.mp4"));
            let summary = record(&path, w, h, 30).finish().expect("finish");
            assert_eq!((summary.frames, summary.dropped), (30, 0));
            assert!((summary.duration.as_secs_f64() - 3.0).abs() < 0.01, "{summary:?}");
            let probe = ffprobe(&path);
            assert_eq!(probe["codec_name"], "h264");
            assert_eq!((num(&probe, "width"), num(&probe, "height")), (320.0, 240.0));
            assert_eq!(num(&probe, "nb_read_frames"), 30.0);
            let duration = num(&probe, "duration");
            assert!((duration - 3.0).abs() <= 0.6, "duration {duration}");
        }
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
        assert_eq!(probe["codec_name"], "h264");
        assert_eq!(num(&probe, "nb_read_frames"), 15.0);
    }

    #[test]
    fn truncated_file_still_plays() {
        let path = truncated_recording("rec-trunc");
        let probe = ffprobe(&path);
        assert_eq!(probe["codec_name"], "h264");
        let frames = num(&probe, "nb_read_frames");
        assert!((10.0..30.0).contains(&frames), "{frames} frames decoded from the cut file");
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

    #[test]
    fn frame_encoder_encodes_and_refuses_other_sizes() {
        let mut encoder = FrameEncoder::new(321, 241, 30.0).expect("encoder");
        let bytes = encoder.encode(&frame(321, 241, 0)).expect("encode");
        assert!(bytes > 0);
        assert!(encoder.encode(&frame(320, 240, 0)).is_err());
    }

    #[test]
    fn numbered_path_never_overwrites() {
        let dir = temp_dir("rec-numbered");
        let out = dir.join("out.mp4");
        assert_eq!(numbered_path(&out), out);
        std::fs::write(&out, b"").expect("write");
        assert_eq!(numbered_path(&out), dir.join("out-1.mp4"));
        std::fs::write(dir.join("out-1.mp4"), b"").expect("write");
        assert_eq!(numbered_path(&out), dir.join("out-2.mp4"));
        std::fs::write(dir.join("clip"), b"").expect("write");
        assert_eq!(numbered_path(&dir.join("clip")), dir.join("clip-1"));
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
