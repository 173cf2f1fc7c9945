//! Test support shared by the unit tests and the integration tests (not used by the app): scratch folders,
//! synthetic frames and recordings, and the one `ffprobe` reader every test uses to check a video file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::record::Recorder;

/// A fresh empty folder under the system temp dir (no tempfile dependency).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasview-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub const BACKGROUND: [u8; 3] = [40, 40, 40];
pub const SQUARE: [u8; 3] = [200, 60, 30];
pub const SIDE: u32 = 64;

/// Top-left corner of the moving square in frame `i`.
pub fn square_at(i: u32) -> (u32, u32) {
    (10 + i * 7, 20 + i * 4)
}

/// A flat background with a square that moves by (7, 4) pixels a frame.
pub fn frame(w: u32, h: u32, i: u32) -> RgbImage {
    let (sx, sy) = square_at(i);
    RgbImage::from_fn(w, h, |x, y| {
        let inside = (sx..sx + SIDE).contains(&x) && (sy..sy + SIDE).contains(&y);
        image::Rgb(if inside { SQUARE } else { BACKGROUND })
    })
}

/// Records `n` frames 100 ms apart, waiting for each to be encoded so none is dropped.
pub fn record(path: &Path, w: u32, h: u32, n: u32) -> Recorder {
    let rec = Recorder::start(path, w, h, 10.0).expect("start recorder");
    for i in 0..n {
        assert!(rec.push(Arc::new(frame(w, h, i)), Duration::from_millis(100 * u64::from(i))));
        let t = Instant::now();
        while rec.frames() + rec.dropped() < u64::from(i + 1) {
            assert!(t.elapsed() < Duration::from_secs(10), "encoder stuck at frame {i}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    rec
}

/// A finished 30-frame, 3 s recording cut to 60 % of its bytes, as a crash or a full disk leaves it.
pub fn truncated_recording(name: &str) -> PathBuf {
    let path = temp_dir(name).join("cut.mp4");
    record(&path, 320, 240, 30).finish().expect("finish");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() * 6 / 10]).expect("truncate");
    path
}

/// What ffprobe says of a video file's first stream, counting the frames it decodes: the proof that any
/// player can open it.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Frames ffprobe decoded.
    pub frames: u64,
    /// The container's duration in seconds.
    pub duration: f64,
}

/// Reads a video with ffprobe; panics (a test failure) when ffprobe is missing or cannot read it.
pub fn ffprobe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs (install ffmpeg: `make setup` does)");
    assert!(out.status.success(), "ffprobe cannot read {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    let s = &v["streams"][0];
    let probe = Probe {
        codec: s["codec_name"].as_str().unwrap_or_default().to_string(),
        width: s["width"].as_u64().unwrap_or(0) as u32,
        height: s["height"].as_u64().unwrap_or(0) as u32,
        frames: s["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0),
        duration: v["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0),
    };
    println!("ffprobe {}: {probe:?}", path.display());
    probe
}

/// `jpeg` with an EXIF block (APP1) that says `orientation` (1..=8, 6: turn 90 degrees clockwise to view),
/// inserted after its SOI marker: a phone photo without a phone.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    // Big-endian TIFF header, then one IFD of one entry: tag 0x0112 (Orientation), SHORT, count 1, value.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    for part in [&1u16.to_be_bytes()[..], &0x0112u16.to_be_bytes(), &3u16.to_be_bytes(), &1u32.to_be_bytes()] {
        exif.extend_from_slice(part);
    }
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0; 6]); // value padding, then no next IFD
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&u16::try_from(exif.len() + 2).expect("short EXIF").to_be_bytes());
    out.extend(exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}
