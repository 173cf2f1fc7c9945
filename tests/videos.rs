//! Videos people have, made at test time with the `ffmpeg` CLI from a bundled photo, read through nasview's FFmpeg
//! path and compared with ffmpeg's own decode: frame count, timestamps, displayed size and pixels.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use image::RgbImage;
use nasview::source::video::{Input, Video};

use crate::common::{ffmpeg, ffprobe, nasview, photo, scratch};

/// A 3 s pan over a photo at 15 fps, 320x180: objects move, so a frame out of order or a wrong frame shows.
fn pan(dir: &Path) -> PathBuf {
    let out = dir.join("pan.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-framerate", "15", "-i"])
        .arg(photo("dog.jpg"))
        .args(["-vf", "scale=480:-2,crop=320:180:'t*40':'20+t*10',setsar=1,format=yuv420p", "-t", "3"])
        .args(["-c:v", "libx264", "-crf", "12", "-bf", "0"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs (make setup installs it)");
    assert!(status.success());
    out
}

/// What ffmpeg's own decode gives: every decoded frame (no frame-rate conversion) as RGB24, and each frame's
/// best-effort timestamp from ffprobe, from the first.
fn reference(path: &Path) -> (Vec<u8>, Vec<f64>) {
    let rgb = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg decode")
        .stdout;
    let times = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe")
        .stdout;
    let times: Vec<f64> =
        String::from_utf8_lossy(&times).lines().filter_map(|l| l.trim().trim_end_matches(',').parse().ok()).collect();
    let first = times.first().copied().unwrap_or(0.0);
    (rgb, times.iter().map(|t| (t - first) * 1000.0).collect())
}

fn read_all(path: &Path) -> (Video, Vec<(RgbImage, Duration)>) {
    let mut video = Video::open(&Input::File(path.to_path_buf())).unwrap_or_else(|e| panic!("{e:#}"));
    let mut frames = Vec::new();
    while let Some(f) = video.next_frame().unwrap_or_else(|e| panic!("{}: {e:#}", path.display())) {
        frames.push(f);
    }
    (video, frames)
}

/// Checks one file against ffmpeg: count, times, displayed size and pixels (mean absolute difference <= 1 level).
fn check(name: &str, path: &Path, size: (u32, u32)) -> usize {
    let (video, frames) = read_all(path);
    let (rgb, times) = reference(path);
    let frame_len = (size.0 * size.1 * 3) as usize;
    assert_eq!(rgb.len() % frame_len, 0, "{name}: ffmpeg's frames are not {}x{}", size.0, size.1);
    assert_eq!(frames.len(), rgb.len() / frame_len, "{name}: frame count vs ffmpeg's decode");
    assert_eq!(frames.len(), times.len(), "{name}: frame count vs ffprobe");
    for (i, ((image, time), want)) in frames.iter().zip(rgb.chunks(frame_len)).enumerate() {
        assert_eq!(image.dimensions(), size, "{name} frame {i}: displayed size");
        let ms = time.as_secs_f64() * 1000.0;
        assert!((ms - times[i]).abs() < 1.0, "{name} frame {i}: time {ms:.2} ms, ffprobe {:.2} ms", times[i]);
        let diff: u64 = image.as_raw().iter().zip(want).map(|(&a, &b)| u64::from(a.abs_diff(b))).sum();
        let mad = diff as f64 / frame_len as f64;
        assert!(mad <= 1.0, "{name} frame {i}: mean absolute difference {mad:.3} from ffmpeg's decode");
    }
    println!("{name}: {} frames {}x{} ({})", frames.len(), size.0, size.1, video.describe());
    frames.len()
}

#[test]
fn every_common_format_reads_as_ffmpeg_decodes_it() {
    let dir = scratch("videos-corpus");
    let base = pan(&dir);
    let p = |n: &str| dir.join(n);
    let b = base.to_str().unwrap();
    // (file, how ffmpeg makes it from the pan, displayed size)
    let cases: Vec<(&str, Vec<&str>, (u32, u32))> = vec![
        ("hevc.mkv", vec!["-c:v", "libx265", "-x265-params", "log-level=none"], (320, 180)),
        ("vp9.webm", vec!["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"], (320, 180)),
        ("av1.mkv", vec!["-c:v", "libsvtav1", "-preset", "12"], (320, 180)),
        ("ten-bit.mov", vec!["-c:v", "libx264", "-pix_fmt", "yuv420p10le"], (320, 180)),
        ("mjpeg.avi", vec!["-c:v", "mjpeg", "-q:v", "3"], (320, 180)),
        ("mpeg4.avi", vec!["-c:v", "mpeg4", "-q:v", "3"], (320, 180)),
        ("bframes.ts", vec!["-c:v", "libx264", "-bf", "3", "-f", "mpegts"], (320, 180)),
        ("grey.mp4", vec!["-c:v", "libx264", "-pix_fmt", "gray"], (320, 180)),
        // Frames 0-9 every frame, then every third: gaps of 67 and 200 ms.
        ("vfr.mp4", vec!["-vf", "select='lt(n,10)+not(mod(n,3))'", "-fps_mode", "vfr", "-c:v", "libx264"], (320, 180)),
    ];
    let mut counts = Vec::new();
    for (name, args, size) in &cases {
        let mut all = vec!["-i", b];
        all.extend(args);
        let out = p(name);
        all.push(out.to_str().unwrap());
        ffmpeg(&all);
        counts.push((name.to_string(), check(name, &out, *size)));
    }
    // A phone video: stored landscape with a display rotation (written by a stream copy, as phones do).
    let rotated = p("rotated.mp4");
    ffmpeg(&["-i", b, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated.to_str().unwrap()]);
    counts.push(("rotated.mp4".into(), check("rotated", &rotated, (180, 320))));
    // Cut without re-encoding: the edit list hides the frames before 0.5 s that the decoder still needs.
    let cut = p("cut.mp4");
    ffmpeg(&["-ss", "0.5", "-i", b, "-c", "copy", cut.to_str().unwrap()]);
    let n = check("edit list", &cut, (320, 180));
    assert!(n < 45 - 5, "the edit list's hidden frames must not play: {n} of 45");
    counts.push(("cut.mp4".into(), n));
    for (name, n) in &counts {
        assert!(*n >= 10, "{name}: only {n} frames");
    }
}

#[test]
fn the_binary_reports_rotated_frames_upright_with_their_times() {
    let dir = scratch("videos-binary");
    let base = pan(&dir);
    let rotated = dir.join("phone.mp4");
    ffmpeg(&["-i", base.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated.to_str().unwrap()]);
    let out = nasview(&["--source", rotated.to_str().unwrap(), "--headless", "--max-frames", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 5);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!((l["width"].as_u64(), l["height"].as_u64()), (Some(180), Some(320)), "{l}");
        let want = i as f64 * 1000.0 / 15.0;
        assert!((l["time_ms"].as_f64().unwrap() - want).abs() < 0.1, "frame {i}: {l}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rotated upright"), "{stderr}");
}

#[test]
fn damaged_and_huge_h264_decodes_as_ffmpeg_does() {
    let dir = scratch("videos-damaged");
    // 300 frames, one key frame: a flipped bit in the IDR frame's slice data.
    let clip = dir.join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=30",
        "-t",
        "10",
        "-c:v",
        "libx264",
        "-g",
        "300",
        "-bf",
        "0",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let mut bytes = std::fs::read(&clip).unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").expect("mdat") + 4;
    // Past the SEI and into the IDR slice: a third of the way into the first frame's bytes.
    bytes[mdat + 900] ^= 0x10;
    std::fs::write(&clip, &bytes).unwrap();
    let (_, frames) = read_all(&clip);
    let ffmpeg_count = ffprobe(&clip).frames as usize;
    assert_eq!(frames.len(), ffmpeg_count, "ffmpeg decodes {ffmpeg_count}");
    assert!(frames.len() >= 290, "{} frames of 300", frames.len());

    // 5K H.264 (level 5.1), which OpenH264 refused ("Native:16").
    let big = dir.join("5k.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=5120x2880:rate=5",
        "-frames:v",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        big.to_str().unwrap(),
    ]);
    let (_, frames) = read_all(&big);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].0.dimensions(), (5120, 2880));
    let probe = ffprobe(&big);
    assert_eq!((probe.width, probe.height, probe.frames), (5120, 2880, 3));
}

#[test]
fn raw_frame_names_and_options_that_do_not_apply_are_said() {
    let dir = scratch("videos-raw-names");
    for bad in ["x.640X480.gray", "x.-640x480.gray"] {
        let path = dir.join(bad);
        std::fs::write(&path, vec![128u8; 640 * 480]).unwrap();
        let out = nasview(&["--source", path.to_str().unwrap(), "--headless", "--max-frames", "1"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("NAME.WxH.FORMAT") && !stderr.contains("MP4"), "{stderr}");
    }
    let good = dir.join("x.64x48.gray");
    std::fs::write(&good, vec![128u8; 64 * 48]).unwrap();
    let out = nasview(&["--source", good.to_str().unwrap(), "--fps", "10", "--headless"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--fps is ignored for --source") && stderr.contains("raw frame"), "{stderr}");
}
