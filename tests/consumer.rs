//! The consumer loop end to end: frames carry their source time into the recording and the JSON lines,
//! exit codes say what happened, every rejected flag is one error line.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{ffprobe, model, nasview, photo, scratch};

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(args)
        .args(["--model", model("yolov12n_int8.onnx").to_str().unwrap()])
        .current_dir(dir)
        .env_remove("NASVIEW_MODEL")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!s.contains("panicked"), "panic:\n{s}");
    s
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn a_clip_is_recorded_and_timed_by_its_own_clock() {
    let dir = scratch("clip-time");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=5", "-t", "4"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "clip.mp4"])
        .current_dir(&dir)
        .status()
        .expect("ffmpeg runs (make setup installs it)");
    assert!(made.success());
    let out = run(&["--source", "clip.mp4", "--headless", "--record", "out.mp4", "--save-frames", "frames"], &dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 20, "{err}");
    for (k, l) in lines.iter().enumerate() {
        let t = l["time_ms"].as_f64().unwrap();
        assert!((t - 200.0 * k as f64).abs() <= 1.0, "frame {k} at {t} ms");
        assert!(l["latency_ms"].as_f64().unwrap() >= 0.0, "{l}");
    }
    let p = ffprobe(&dir.join("out.mp4"));
    assert_eq!((p.codec.as_str(), p.frames), ("h264", 20), "{p:?}");
    assert!((p.duration - 4.0).abs() <= 0.25, "{p:?}");
    // Saved frames are named by their source time too.
    for k in [0u64, 1, 19] {
        let png = dir.join(format!("frames/frame_{k:06}_{:07}ms.png", 200 * k));
        assert_eq!(image::image_dimensions(&png).unwrap(), (320, 240), "{}", png.display());
    }
}

#[test]
fn the_demo_recorded_headless_lasts_its_own_time() {
    let dir = scratch("demo-time");
    let out = run(&["--source", "demo", "--headless", "--max-frames", "60", "--record", "demo.mp4"], &dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let p = ffprobe(&dir.join("demo.mp4"));
    assert_eq!(p.frames, 60, "{p:?}");
    assert!((p.duration - 2.0).abs() <= 0.1, "60 frames at 30 fps: {p:?}");
    let last = &json_lines(&out)[59];
    assert!((last["time_ms"].as_f64().unwrap() - 1966.7).abs() <= 1.0, "{last}");
}

#[test]
fn record_into_a_folder_numbers_the_takes() {
    let dir = scratch("record-folder");
    std::fs::create_dir(dir.join("takes")).unwrap();
    for n in 1..=2 {
        let out = run(&["--source", "demo", "--headless", "--max-frames", "3", "--record", "takes"], &dir);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("saved takes/nasview-{n}.mp4")), "{}", stderr(&out));
        assert_eq!(ffprobe(&dir.join(format!("takes/nasview-{n}.mp4"))).frames, 3);
    }
    // A name that does not say .mp4: recorded, with a warning.
    let out = run(&["--source", "demo", "--headless", "--max-frames", "3", "--record", "clip.mkv"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("nasview: warning: --record clip.mkv: the recording is an MP4 file"));
    assert_eq!(ffprobe(&dir.join("clip.mkv")).codec, "h264");
}

#[test]
fn a_video_without_frames_is_an_error() {
    // A recording cut before its first fragment: a valid H.264 track with no frame.
    let dir = scratch("no-frames");
    let full = dir.join("full.mp4");
    nasview::testing::record(&full, 320, 240, 5).finish().unwrap();
    let bytes = std::fs::read(&full).unwrap();
    let moof = bytes.windows(4).position(|w| w == b"moof").unwrap() - 4;
    std::fs::write(dir.join("empty.mp4"), &bytes[..moof]).unwrap();
    let out = run(&["--source", "empty.mp4", "--headless"], &dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("nasview: error:").count(), 1, "{err}");
    assert!(err.contains("gave no frames"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_source_that_never_delivers_is_an_error_not_a_silent_wait() {
    let dir = scratch("never");
    let t0 = std::time::Instant::now();
    let out = run(&["--source", "demo?stall-after=0", "--headless"], &dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("waiting for the first frame"), "said while waiting: {err}");
    assert!(err.contains("gave no frame in 10 s"), "{err}");
    assert_eq!(err.matches("nasview: error:").count(), 1, "{err}");
    assert!(t0.elapsed().as_secs() < 40, "gave up in {:?}", t0.elapsed());
}

#[test]
fn each_rejected_flag_is_one_error_line_and_exit_2() {
    let dir = scratch("flags");
    std::fs::create_dir(dir.join("frames")).unwrap();
    std::fs::write(dir.join("frames/frame_000000.png"), b"earlier run").unwrap();
    let demo = ["--source", "demo", "--headless"];
    let cases: &[(&[&str], &str)] = &[
        (&["--max-frames", "0"], "--max-frames 0: give at least 1"),
        (&["--fps", "0"], "--fps 0 is outside 1..240"),
        (
            &["--pixel-format", "bogus"],
            "unknown --pixel-format \"bogus\": use one of mjpeg, yuyv, nv12, gray, rgb24, bgr24",
        ),
        (&["--conf", "1.5"], "--conf 1.5 is outside 0.01..0.99"),
        (&["--iou", "0.99"], "--iou 0.99 is outside 0.05..0.95"),
        (&["--classes", ""], "--classes \"\" names no class"),
        (&["--classes", "999"], "--classes 999: no such class id; this model has 80 classes: ids 0..79"),
        (&["--classes", "unicorn"], "--classes \"unicorn\": no such class"),
        (&["--threads", "0"], "--threads 0: give at least 1"),
        (&["--record", "/dev/full"], "--record /dev/full is not a regular file"),
        (&["--save-frames", "frames"], "already holds frame_*.png files of an earlier run"),
        (&["--line", "1,2,3"], "--line \"1,2,3\" has 3 numbers, not four; use --line x1,y1,x2,y2"),
        (&["--line", "0,0,0,0"], "--line \"0,0,0,0\": both ends are the same point"),
        (&["--line", "0.5,0,0.5,1", "--no-track"], "--line counts tracked objects: it cannot be used with --no-track"),
    ];
    for (flags, message) in cases {
        let mut args = demo.to_vec();
        args.extend_from_slice(flags);
        let out = run(&args, &dir);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("nasview: error:")).collect();
        assert_eq!(errors.len(), 1, "{flags:?}: {err}");
        assert!(errors[0].contains(message), "{flags:?}: {err}");
        assert_eq!(err.matches(message).count(), 1, "said once: {err}");
        assert!(out.stdout.is_empty(), "{flags:?}");
    }
    // The file of the earlier run is untouched.
    assert_eq!(std::fs::read(dir.join("frames/frame_000000.png")).unwrap(), b"earlier run");
    // Flags that do not apply to the source are said, not silently ignored.
    let out = run(&["--source", "demo", "--headless", "--max-frames", "1", "--resolution", "640x480"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("warning: --resolution applies to cameras only"), "{}", stderr(&out));
}

#[test]
fn window_and_headless_accept_the_same_ranges() {
    // The bounds themselves run (headless here; the window's sliders span the same ranges: config.rs).
    let dir = scratch("ranges");
    let out = run(&["--source", "demo", "--headless", "--max-frames", "1", "--conf", "0.01", "--iou", "0.95"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_lines(&out).len(), 1);
    let det = nasview(&["detect", "--iou", "0.99", photo("chelsea.png").to_str().unwrap()]);
    assert_eq!(det.status.code(), Some(2), "detect checks the same ranges");
}

#[test]
fn an_unreadable_image_in_a_slideshow_is_skipped_once_and_exits_1() {
    let dir = scratch("slideshow");
    std::fs::create_dir(dir.join("show")).unwrap();
    std::fs::copy(photo("chelsea.png"), dir.join("show/a.png")).unwrap();
    std::fs::write(dir.join("show/b.jpg"), b"not a jpeg").unwrap();
    std::fs::copy(photo("dog.jpg"), dir.join("show/c.jpg")).unwrap();
    let out = run(&["--source", "show", "--headless"], &dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("b.jpg: not a readable image").count(), 1, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "the others still run: {err}");
    // A slideshow at the default 1 image a second: times follow the files' places.
    let times: Vec<f64> = lines.iter().map(|l| l["time_ms"].as_f64().unwrap()).collect();
    assert_eq!(times, [0.0, 2000.0]);
}
