//! Paths of fixtures and models, and running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn photo(name: &str) -> PathBuf {
    root().join("assets/photos").join(name)
}

pub fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

/// A model `make setup` provides; a clear failure when set-up has not run.
pub fn model(name: &str) -> PathBuf {
    let p = root().join("models").join(name);
    assert!(p.is_file(), "{} is missing: run `make setup` first", p.display());
    p
}

pub fn nasview(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(args)
        .env_remove("NASVIEW_MODEL")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("the nasview binary runs")
}

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasview-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// What ffprobe says of a video file's first stream.
#[derive(Debug)]
pub struct Probe {
    pub codec: String,
    pub frames: u64,
    pub duration: f64,
}

/// Reads a video with ffprobe (counting the frames it decodes): the proof that any player can open it.
pub fn ffprobe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,nb_read_frames:format=duration", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs (install ffmpeg: `make setup` does)");
    assert!(out.status.success(), "ffprobe cannot read {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    Probe {
        codec: s["codec_name"].as_str().unwrap_or_default().to_string(),
        frames: s["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0),
        duration: v["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0),
    }
}
