//! Cameras without a camera: the mode choice on six real cameras' mode lists, every pixel format against ffmpeg's
//! conversion of the same raw frame, and a fake camera behind the same `Source` trait that stalls and comes back.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use nasview::source::camera::convert::to_rgb;
use nasview::source::camera::format::{adjustment_note, choose_format, describe, mode_table};
use nasview::source::CameraRequest;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{CameraFormat, FrameFormat, RequestedFormat, RequestedFormatType};

use crate::common::{data, ffmpeg, ffprobe, model, photo, scratch, spawn};

/// The modes of a `v4l2-ctl --list-formats-ext` listing, as a backend reports them: one per format, size and
/// rate; formats nasview cannot read (H264, YU12, JPEG) left out, as nokhwa leaves them out. A rate like 7.5 fps
/// becomes 7 (rates are whole numbers in nokhwa). A `Stepwise` size range offers any size on its grid; it is
/// listed as its ends plus the common sizes on the grid, with no rate (the listing has none: rate 0, unknown).
fn parse_listing(text: &str) -> Vec<CameraFormat> {
    const COMMON: [(u32, u32); 9] = [
        (320, 240),
        (640, 480),
        (800, 600),
        (1024, 768),
        (1280, 720),
        (1280, 960),
        (1600, 1200),
        (1920, 1080),
        (2592, 1944),
    ];
    let mut modes = Vec::new();
    let mut format = None;
    let mut size = (0, 0);
    let parse_size = |s: &str| -> (u32, u32) {
        let (w, h) = s.trim().split_once('x').expect("WxH");
        (w.trim().parse().expect("width"), h.trim().parse().expect("height"))
    };
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        if line.starts_with('[') || line.starts_with("Pixel Format:") {
            let fourcc = line.split('\'').nth(1).expect("a quoted fourcc");
            format = match fourcc {
                "YUYV" => Some(FrameFormat::YUYV),
                "MJPG" => Some(FrameFormat::MJPEG),
                "GREY" => Some(FrameFormat::GRAY),
                "NV12" => Some(FrameFormat::NV12),
                "RGB3" => Some(FrameFormat::RAWRGB),
                "BGR3" => Some(FrameFormat::RAWBGR),
                _ => None,
            };
        } else if let Some(rest) = line.strip_prefix("Size: Discrete ") {
            size = parse_size(rest);
        } else if let Some(rest) = line.strip_prefix("Size: Stepwise ") {
            let (range, step) = rest.split_once(" with step ").expect("stepwise step");
            let (lo, hi) = range.split_once(" - ").expect("stepwise range");
            let (lo, hi) = (parse_size(lo), parse_size(hi));
            let (sw, sh) =
                step.split_once('/').map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())).unwrap();
            let on_grid = |(w, h): (u32, u32)| {
                w >= lo.0 && w <= hi.0 && h >= lo.1 && h <= hi.1 && (w - lo.0) % sw == 0 && (h - lo.1) % sh == 0
            };
            let mut sizes = vec![lo, hi];
            sizes.extend(COMMON.iter().copied().filter(|s| on_grid(*s) && *s != hi));
            for (w, h) in sizes {
                if let Some(f) = format {
                    modes.push(CameraFormat::new_from(w, h, f, 0));
                }
            }
        } else if let Some(rest) = line.strip_prefix("Interval: Discrete ") {
            let fps: f64 = rest.split('(').nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap();
            if let Some(f) = format {
                modes.push(CameraFormat::new_from(size.0, size.1, f, fps as u32));
            }
        }
    }
    modes
}

fn listing(name: &str) -> Vec<CameraFormat> {
    let text = std::fs::read_to_string(data(&format!("cameras/{name}.txt"))).unwrap();
    assert!(text.starts_with("# ") && text.contains("Source: "), "{name}: the listing's public source is noted");
    parse_listing(&text)
}

fn req(res: Option<(u32, u32)>, fps: Option<u32>, fmt: Option<&str>) -> CameraRequest {
    CameraRequest { resolution: res, fps, pixel_format: fmt.map(str::to_string), ..Default::default() }
}

/// Asserts the mode chosen for `request` (as `describe` prints it).
fn chooses(modes: &[CameraFormat], request: CameraRequest, expected: &str) {
    let chosen = choose_format(modes, &request).unwrap_or_else(|e| panic!("{request:?}: {e:#}"));
    assert_eq!(describe(&chosen), expected, "{request:?}");
}

/// What nasview opened by default before this change: nokhwa's own `AbsoluteHighestResolution`.
fn nokhwa_highest(modes: &[CameraFormat]) -> Option<CameraFormat> {
    RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestResolution).fulfill(modes)
}

const LISTS: [&str; 6] = [
    "logitech-c920",
    "logitech-brio-4k",
    "usb2-yuyv-only",
    "surface-laptop3-ir",
    "raspberry-pi-camera-bcm2835",
    "elp-4k-usb",
];

#[test]
fn c920_default_is_1080p_mjpeg_at_30_not_2304x1536_at_2() {
    let modes = listing("logitech-c920");
    assert_eq!(modes.len(), 17 * 7 + 98, "MJPEG and YUYV modes; H264 left out");
    chooses(&modes, CameraRequest::default(), "1920x1080 MJPEG @ 30 fps");
    assert_eq!(nokhwa_highest(&modes).map(|m| describe(&m)).as_deref(), Some("2304x1536 YUYV @ 2 fps"));
    let r = req(Some((1280, 700)), None, None);
    chooses(&modes, r.clone(), "1280x720 MJPEG @ 30 fps");
    let note = adjustment_note(&r, &choose_format(&modes, &r).unwrap()).unwrap();
    assert_eq!(note, "asked 1280x700, camera offers 1280x720 MJPEG @ 30 fps: using it");
    chooses(&modes, req(None, None, Some("yuyv")), "800x600 YUYV @ 24 fps");
    chooses(&modes, req(None, Some(60), None), "1920x1080 MJPEG @ 30 fps");
    let big = req(Some((2304, 1536)), None, None);
    chooses(&modes, big.clone(), "2304x1536 YUYV @ 2 fps");
    assert!(adjustment_note(&big, &choose_format(&modes, &big).unwrap()).unwrap().contains("only 2 fps"));
}

#[test]
fn brio_default_is_1080p_at_60_and_4k_is_there_when_asked() {
    let modes = listing("logitech-brio-4k");
    chooses(&modes, CameraRequest::default(), "1920x1080 MJPEG @ 60 fps");
    chooses(&modes, req(Some((3840, 2160)), None, None), "3840x2160 MJPEG @ 30 fps");
    chooses(&modes, req(Some((1024, 768)), None, None), "800x600 MJPEG @ 30 fps");
    chooses(&modes, req(None, None, Some("nv12")), "1920x1080 NV12 @ 30 fps");
    chooses(&modes, req(None, Some(90), None), "1280x720 MJPEG @ 90 fps");
    chooses(&modes, req(None, Some(120), None), "640x480 MJPEG @ 120 fps");
    assert_eq!(nokhwa_highest(&modes).map(|m| describe(&m)).as_deref(), Some("4096x2160 MJPEG @ 30 fps"));
}

#[test]
fn a_cheap_yuyv_only_camera_gets_its_best_mode_and_a_clear_refusal() {
    let modes = listing("usb2-yuyv-only");
    chooses(&modes, CameraRequest::default(), "640x480 YUYV @ 30 fps");
    let hd = req(Some((1280, 720)), None, None);
    let chosen = choose_format(&modes, &hd).unwrap();
    assert_eq!(adjustment_note(&hd, &chosen).unwrap(), "asked 1280x720, camera offers 640x480 YUYV @ 30 fps: using it");
    chooses(&modes, req(Some((320, 240)), None, None), "320x240 YUYV @ 30 fps");
    chooses(&modes, req(None, Some(15), None), "640x480 YUYV @ 30 fps");
    let err = choose_format(&modes, &req(None, None, Some("mjpeg"))).unwrap_err().to_string();
    assert_eq!(err, "the camera has no mjpeg mode; it offers yuyv: pass one of these to --pixel-format");
    assert_eq!(nokhwa_highest(&modes).map(|m| describe(&m)).as_deref(), Some("640x480 YUYV @ 30 fps"));
}

#[test]
fn a_laptop_ir_camera_is_gray_only() {
    let modes = listing("surface-laptop3-ir");
    chooses(&modes, CameraRequest::default(), "480x480 GRAY @ 60 fps");
    chooses(&modes, req(Some((640, 480)), None, None), "480x480 GRAY @ 60 fps");
    chooses(&modes, req(None, Some(30), None), "480x480 GRAY @ 60 fps");
    chooses(&modes, req(None, None, Some("grey")), "480x480 GRAY @ 60 fps");
    let err = choose_format(&modes, &req(None, None, Some("yuyv"))).unwrap_err().to_string();
    assert!(err.contains("no yuyv mode; it offers gray"), "{err}");
    // nokhwa's RGB decoder does not take GRAY, so its own request finds nothing to open.
    assert_eq!(nokhwa_highest(&modes), None);
}

#[test]
fn a_raspberry_pi_camera_with_size_ranges_and_no_rates() {
    let modes = listing("raspberry-pi-camera-bcm2835");
    chooses(&modes, CameraRequest::default(), "1920x1080 MJPEG @ rate not reported");
    chooses(&modes, req(Some((2592, 1944)), None, None), "2592x1944 MJPEG @ rate not reported");
    chooses(&modes, req(Some((1280, 700)), None, None), "1280x720 MJPEG @ rate not reported");
    chooses(&modes, req(None, None, Some("rgb24")), "1920x1080 RGB24 @ rate not reported");
    chooses(&modes, req(None, Some(30), Some("yuyv")), "1920x1080 YUYV @ rate not reported");
    assert_eq!(nokhwa_highest(&modes).map(|m| describe(&m)).as_deref(), Some("2592x1944 MJPEG @ rate not reported"));
}

#[test]
fn a_4k_usb_camera_defaults_to_1080p() {
    let modes = listing("elp-4k-usb");
    chooses(&modes, CameraRequest::default(), "1920x1080 MJPEG @ 30 fps");
    chooses(&modes, req(Some((3840, 2160)), None, None), "3840x2160 MJPEG @ 30 fps");
    chooses(&modes, req(Some((1024, 600)), None, None), "1280x720 MJPEG @ 30 fps");
    chooses(&modes, req(None, None, Some("yuyv")), "640x480 YUYV @ 30 fps");
    chooses(&modes, req(Some((1920, 1080)), None, Some("yuyv")), "1920x1080 YUYV @ 3 fps");
    assert_eq!(nokhwa_highest(&modes).map(|m| describe(&m)).as_deref(), Some("3840x2160 MJPEG @ 30 fps"));
}

/// The closing note's table: for each list, nasview's default and what nokhwa's AbsoluteHighestResolution opens.
/// (`cargo test --release --test integration camera::default_table -- --nocapture` prints it.)
#[test]
fn default_table() {
    for name in LISTS {
        let modes = listing(name);
        let ours = describe(&choose_format(&modes, &CameraRequest::default()).unwrap());
        let theirs = nokhwa_highest(&modes).map_or("nothing (fails to open)".to_string(), |m| describe(&m));
        println!("| {name} | {} modes | {ours} | {theirs} |", modes.len());
        assert_ne!(ours, "", "{name}");
        // Every list's table marks exactly one default.
        assert_eq!(mode_table(&modes).matches("<- default").count(), 1, "{name}");
    }
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum::<u64>() as f64 / a.len() as f64
}

/// One 1920x1080 raw camera frame made by ffmpeg from a photo, decoded by nasview and by ffmpeg.
fn compare_with_ffmpeg(dir: &Path, format: FrameFormat, ffmpeg_fmt: &str) -> f64 {
    let (w, h) = (1920u32, 1080u32);
    let src = photo("horses.jpg");
    let raw = dir.join(format!("frame.{ffmpeg_fmt}"));
    let reference = dir.join(format!("{ffmpeg_fmt}.rgb"));
    let (src, raw_s, ref_s) = (src.to_str().unwrap(), raw.to_str().unwrap(), reference.to_str().unwrap());
    if format == FrameFormat::MJPEG {
        // What webcams send: baseline JPEG, 4:2:2, full range.
        ffmpeg(&[
            "-i",
            src,
            "-vf",
            "scale=1920:1080",
            "-pix_fmt",
            "yuvj422p",
            "-c:v",
            "mjpeg",
            "-q:v",
            "3",
            "-frames:v",
            "1",
            "-f",
            "mjpeg",
            raw_s,
        ]);
        ffmpeg(&["-i", raw_s, "-pix_fmt", "rgb24", "-f", "rawvideo", ref_s]);
    } else {
        ffmpeg(&["-i", src, "-vf", "scale=1920:1080", "-pix_fmt", ffmpeg_fmt, "-f", "rawvideo", raw_s]);
        ffmpeg(&[
            "-f",
            "rawvideo",
            "-pix_fmt",
            ffmpeg_fmt,
            "-s",
            "1920x1080",
            "-i",
            raw_s,
            "-pix_fmt",
            "rgb24",
            "-f",
            "rawvideo",
            ref_s,
        ]);
    }
    let ours = to_rgb(format, w, h, &std::fs::read(&raw).unwrap()).unwrap();
    let theirs = std::fs::read(&reference).unwrap();
    mean_abs_diff(ours.as_raw(), &theirs)
}

#[test]
fn every_pixel_format_matches_ffmpeg_within_two_levels() {
    let dir = scratch("pixel-formats");
    for (format, name) in [
        (FrameFormat::MJPEG, "mjpeg"),
        (FrameFormat::YUYV, "yuyv422"),
        (FrameFormat::NV12, "nv12"),
        (FrameFormat::GRAY, "gray"),
        (FrameFormat::RAWRGB, "rgb24"),
        (FrameFormat::RAWBGR, "bgr24"),
    ] {
        let mad = compare_with_ffmpeg(&dir, format, name);
        println!("{name}: mean absolute difference {mad:.3} levels");
        assert!(mad <= 2.0, "{name}: mean absolute difference {mad:.3} levels against ffmpeg");
    }
}

/// A line the binary wrote, with when it arrived.
struct Timed {
    at: Duration,
    line: String,
}

/// Runs nasview headless, collecting stderr lines with their arrival times (the stall timeline) and stdout.
fn run_timed(args: &[&str], dir: &Path, limit: Duration) -> (Option<i32>, Vec<Timed>, Vec<Timed>) {
    let t0 = Instant::now();
    let mut child = spawn(args, dir);
    fn timed(pipe: impl std::io::Read + Send + 'static, t0: Instant) -> std::thread::JoinHandle<Vec<Timed>> {
        std::thread::spawn(move || {
            BufReader::new(pipe).lines().map_while(Result::ok).map(|line| Timed { at: t0.elapsed(), line }).collect()
        })
    }
    let reader = timed(child.stderr.take().unwrap(), t0);
    let out = timed(child.stdout.take().unwrap(), t0);
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = child.wait().unwrap().code();
    let (out, err) = (out.join().unwrap(), reader.join().unwrap());
    assert!(!err.iter().any(|t| t.line.contains("panicked")), "panic");
    (code, out, err)
}

fn first(lines: &[Timed], needle: &str) -> Option<Duration> {
    lines.iter().find(|t| t.line.contains(needle)).map(|t| t.at)
}

/// A camera whose read blocks forever after 30 frames and that cannot be opened for 5 s (unplugged, plugged
/// back): the stall is reported within 3 s of the last frame, the reopen goes on with back-off while it is gone,
/// frames come back without a restart, and the recording holds the frames from before and after.
#[test]
fn a_stalled_unplugged_camera_is_reported_reopened_and_recorded_across() {
    let dir = scratch("camera-stall");
    let args = ["--source", "demo?stall-after=30&back-after=5&camera", "--headless", "--max-frames", "45"];
    let (code, out, err) = run_timed(&[&args[..], &["--record", "rec.mp4"]].concat(), &dir, Duration::from_secs(120));
    let all: Vec<&str> = err.iter().map(|t| t.line.as_str()).collect();
    assert_eq!(code, Some(0), "{all:#?}");
    let stalled = first(&err, "camera lost (camera stalled: no frame for 3.0 s); retrying in 0.5 s (attempt 1)")
        .unwrap_or_else(|| panic!("no stall report: {all:#?}"));
    let back = first(&err, "camera back after").unwrap_or_else(|| panic!("never back: {all:#?}"));
    let attempts: u32 = err
        .iter()
        .find_map(|t| t.line.strip_prefix("nasview: camera back after "))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(attempts >= 2, "reopening was refused while the camera was gone: {all:#?}");
    // Each retry after the first says why that reopen failed, not the stall again.
    assert!(
        first(&err, "camera lost (cannot open the fake camera: unplugged").is_some_and(|t| t > stalled),
        "the reopen error is not shown: {all:#?}"
    );
    // Frames: pts from the JSON lines; the largest gap is the outage as the output sees it.
    let pts: Vec<f64> = out
        .iter()
        .map(|t| serde_json::from_str::<serde_json::Value>(&t.line).unwrap()["time_ms"].as_f64().unwrap() / 1e3)
        .collect();
    assert_eq!(pts.len(), 45, "frames came back after the stall");
    let i = (1..pts.len()).max_by(|&a, &b| (pts[a] - pts[a - 1]).total_cmp(&(pts[b] - pts[b - 1]))).unwrap();
    let gap = pts[i] - pts[i - 1];
    assert!(gap > 5.0, "the outage shows as a gap of at least 5 s: {gap:.2} s");
    // The last frame before the stall was printed after it was captured, so the report follows it by < 3 s.
    let (last_out, next_out) = (out[i - 1].at, out[i].at);
    assert!(stalled > last_out && stalled - last_out <= Duration::from_millis(3500), "{all:#?}");
    let summary = all.iter().find(|l| l.contains("frames captured")).unwrap();
    println!(
        "timeline: last frame before the stall out at {:.2} s; stall reported at {:.2} s (+{:.2} s); camera back at \
         {:.2} s (+{:.2} s after the report, {attempts} attempts); next frame out at {:.2} s; pts gap {gap:.2} s; {summary}",
        last_out.as_secs_f64(),
        stalled.as_secs_f64(),
        (stalled - last_out).as_secs_f64(),
        back.as_secs_f64(),
        (back - stalled).as_secs_f64(),
        next_out.as_secs_f64(),
    );
    // The recording has every processed frame, before and after, and spans the outage.
    let p = ffprobe(&dir.join("rec.mp4"));
    assert_eq!((p.codec.as_str(), p.frames), ("h264", 45), "{all:#?}");
    assert!(p.duration > gap, "{p:?}");
}

/// `nasview bench --source NAME.WxH.FORMAT` times decoding the raw camera frame as a stage of its own.
#[test]
fn bench_times_the_decode_of_a_raw_camera_frame() {
    let dir = scratch("bench-decode");
    for (fmt, name) in [("yuyv422", "desk.640x360.yuyv"), ("mjpeg", "desk.640x360.mjpeg")] {
        let raw = dir.join(name);
        let codec: &[&str] =
            if fmt == "mjpeg" { &["-c:v", "mjpeg", "-frames:v", "1", "-f", "mjpeg"] } else { &["-f", "rawvideo"] };
        let pix = if fmt == "mjpeg" { "yuvj422p" } else { fmt };
        let src = photo("kite.jpg");
        ffmpeg(
            &[
                &["-i", src.to_str().unwrap(), "-vf", "scale=640:360", "-pix_fmt", pix][..],
                codec,
                &[raw.to_str().unwrap()],
            ]
            .concat(),
        );
        let out = crate::common::nasview(&[
            "bench",
            "--json",
            "--frames",
            "3",
            "--source",
            raw.to_str().unwrap(),
            "--model",
            model("yolov12n_int8.onnx").to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (median, p95) = (v["decode"]["median"].as_f64().unwrap(), v["decode"]["p95"].as_f64().unwrap());
        assert!(median > 0.0 && p95 >= median, "{name}: {v}");
        assert_eq!(v["models"][0]["frames"].as_u64(), Some(3));
    }
}

/// No `--source` and no camera: the demo plays, and stderr and the HUD's source line say why. A camera asked
/// for by index that is missing still ends with the advice (exit 2). On a machine with a camera the default
/// opens it instead.
#[test]
fn without_a_camera_the_default_source_is_the_demo_with_a_note() {
    let cameras = crate::common::nasview(&["cameras"]);
    assert!(cameras.status.success());
    let listed = String::from_utf8_lossy(&cameras.stdout).to_string();
    let m = model("yolov12n_int8.onnx");
    let out = crate::common::nasview(&["--headless", "--max-frames", "2", "--model", m.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let note = "no camera found; showing the demo clip — pass --source to choose";
    if listed.starts_with("no cameras found") {
        assert!(stderr.contains(&format!("nasview: warning: {note}")), "{stderr}");
        assert!(stderr.contains(&format!("source {note} (demo clip 960x540 @ 30 fps)")), "{stderr}");
        let missing = crate::common::nasview(&["--source", "0", "--headless", "--model", m.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&missing.stderr);
        assert_eq!(missing.status.code(), Some(2), "{err}");
        assert!(err.contains("cannot open camera 0") && err.contains("--source demo"), "{err}");
    } else {
        assert!(stderr.contains("source camera "), "a camera is listed, so it is opened: {stderr}");
    }
}
