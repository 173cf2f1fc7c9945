//! Paths of fixtures and models, and running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled photos (`assets/photos`).
pub const PHOTOS: [&str; 9] = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "dog.jpg",
    "giraffe.jpg",
    "horses.jpg",
    "kite.jpg",
    "person.jpg",
    "rocket.jpg",
];

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

/// Runs ffmpeg (`-v error -y`, then `args`), failing the test with its stderr: how the tests make their clips.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).output().expect("ffmpeg runs (make setup)");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The one ffprobe reader, shared with the unit tests.
pub use nasview::testing::ffprobe;

/// What the library tests load models with: CPU, 2 threads, no spinning.
pub fn cpu_options() -> nasview::detector::LoadOptions {
    nasview::detector::LoadOptions {
        device: nasview::detector::provider::Device::Cpu,
        strict_device: false,
        threads: 2,
        labels_file: None,
        spin: nasview::detector::SpinSetting::Unset,
    }
}

/// Starts nasview in `dir` with the YOLOv12n INT8 model and piped output, for tests that watch it run.
pub fn spawn(args: &[&str], dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(args)
        .args(["--model", model("yolov12n_int8.onnx").to_str().unwrap()])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}
