//! The fault table: sources that fail or stall, bad record paths, a full disk, signals mid-recording,
//! an ONNX Runtime that is too old. Each ends with a clear message, and what was recorded plays.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{ffprobe, model, photo, scratch, spawn};

/// Waits for the process, killing it after `limit`; returns (exit code, stdout, stderr).
fn finish(child: Child, limit: Duration) -> (Option<i32>, String, String) {
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(100));
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().unwrap();
    let _ = watchdog.join();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn signal(child: &Child, sig: &str) {
    assert!(Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().unwrap().success());
}

#[test]
fn a_file_like_source_that_fails_ends_cleanly_and_keeps_the_recording() {
    let dir = scratch("source-fails");
    let child = spawn(&["--source", "demo?fail-after=12", "--headless", "--record", "rec.mp4"], &dir);
    let (code, stdout, stderr) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(2), "{stderr}");
    // Said once, as the error, at the end.
    assert_eq!(stderr.matches("injected failure after 12 frames").count(), 1, "{stderr}");
    assert!(stderr.contains("nasview: error: source failed: injected failure after 12 frames"), "{stderr}");
    assert_eq!(stdout.lines().count(), 12, "every frame before the failure was processed");
    let p = ffprobe(&dir.join("rec.mp4"));
    assert_eq!((p.codec.as_str(), p.frames), ("h264", 12));
}

#[test]
fn a_camera_that_fails_is_reopened_with_back_off() {
    let dir = scratch("camera-retry");
    let child = spawn(&["--source", "demo?fail-after=5&camera", "--headless", "--max-frames", "8"], &dir);
    let (code, stdout, stderr) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("camera lost (injected failure after 5 frames); retrying in 0.5 s (attempt 1)"),
        "{stderr}"
    );
    assert!(stderr.contains("camera back after 1 attempt(s)"), "{stderr}");
    assert_eq!(stdout.lines().count(), 8, "frames keep coming after the camera is back");
}

#[test]
fn a_stalled_source_is_reported_and_sigterm_keeps_the_recording() {
    let dir = scratch("stall");
    let child = spawn(&["--source", "demo?stall-after=10", "--headless", "--record", "rec.mp4"], &dir);
    let t0 = Instant::now();
    while !dir.join("rec.mp4").exists() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Ten frames (slow when the machine is busy with other tests), then the 3 s until a stall is said.
    std::thread::sleep(Duration::from_secs(8));
    signal(&child, "TERM");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("source stalled: no new frame"), "{stderr}");
    assert_eq!(stdout.lines().count(), 10);
    assert_eq!(ffprobe(&dir.join("rec.mp4")).frames, 10);
}

#[test]
fn sigint_during_recording_leaves_a_playable_file() {
    let dir = scratch("sigint");
    // Paced like a camera (not lossless): it runs until interrupted.
    let child = spawn(&["--source", "demo?camera", "--headless", "--record", "rec.mp4"], &dir);
    std::thread::sleep(Duration::from_secs(6));
    signal(&child, "INT");
    let (code, _, stderr) = finish(child, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("saved rec.mp4"), "{stderr}");
    let p = ffprobe(&dir.join("rec.mp4"));
    assert!(p.codec == "h264" && p.frames > 0 && p.duration > 1.0, "{p:?}");
}

#[test]
fn record_path_that_cannot_be_created_warns_keeps_running_and_exits_1() {
    // A missing folder, and /proc, which refuses new files even to root (who may write into read-only folders).
    for (name, path) in [("missing-folder", "no/such/folder/rec.mp4"), ("unwritable", "/proc/rec.mp4")] {
        let dir = scratch(name);
        let child = spawn(&["--source", "demo", "--headless", "--max-frames", "5", "--record", path], &dir);
        let (code, stdout, stderr) = finish(child, Duration::from_secs(120));
        assert_eq!(code, Some(1), "a recording asked for and not made: {stderr}");
        assert!(stderr.contains("recording not started") && stderr.contains(path), "{stderr}");
        assert_eq!(stderr.matches("recording not started").count(), 1, "said once: {stderr}");
        assert_eq!(stdout.lines().count(), 5, "detection goes on without the recording");
    }
}

#[test]
fn a_full_disk_stops_the_recording_the_app_keeps_running_and_exits_1() {
    // A file size limit (ulimit -f, with SIGXFSZ ignored) fails the writes the way a full disk does: 300 KiB
    // hold the first one-second fragment of the demo (about 190 KB), not the second (about 400 KB in all).
    let dir = scratch("full-disk");
    let nasview = env!("CARGO_BIN_EXE_nasview");
    let m = model("yolov12n_int8.onnx");
    let script = format!(
        "trap '' XFSZ; ulimit -f 600; exec {nasview} --source demo --headless --max-frames 100 --record rec.mp4 \
         --model {}",
        m.display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stdout, stderr) = finish(child, Duration::from_secs(180));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.matches("recording stopped: write error while writing rec.mp4").count(), 1, "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert_eq!(stdout.lines().count(), 100, "the app kept running");
    // What was written before the limit plays.
    let p = ffprobe(&dir.join("rec.mp4"));
    assert!(p.codec == "h264" && p.frames >= 30 && p.frames < 100, "{p:?}");
}

#[test]
fn an_onnx_runtime_that_is_too_old_is_refused_with_advice() {
    // A stand-in library that answers OrtGetApiBase with version 1.22.0, as an old install would.
    let dir = scratch("old-ort");
    let src = dir.join("old_ort.c");
    std::fs::write(
        &src,
        "static const char* version(void) { return \"1.22.0\"; }\n\
         struct base { const void* (*get_api)(unsigned); const char* (*get_version)(void); };\n\
         static const struct base b = { 0, version };\n\
         const struct base* OrtGetApiBase(void) { return &b; }\n",
    )
    .unwrap();
    let lib = dir.join("libonnxruntime.so.1.22.0");
    let cc = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().expect("a C compiler");
    assert!(cc.success());
    let out = Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(["detect", "--ort-lib", lib.to_str().unwrap(), photo("chelsea.png").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("1.22.0") && stderr.contains("1.31 or newer") && stderr.contains("make setup"), "{stderr}");
}
