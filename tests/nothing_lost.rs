//! Issue 19's hostile round: nothing hangs, nothing is lost, nothing is silently ignored (special files, copies
//! that collide, stdout closed early, phone photos, options in the wrong place, odd geometry, signals).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{model, photo, scratch};

/// nasview with the YOLOv12n INT8 model, killed (and the test failed) if it runs longer than `limit`.
fn run_within(args: &[&str], dir: &Path, limit: Duration) -> Output {
    let child = start(args, dir, Stdio::null());
    wait_within(child, limit)
}

fn start(args: &[&str], dir: &Path, stdin: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(args)
        .args(["--model", model("yolov12n_int8.onnx").to_str().unwrap()])
        .env_remove("NASVIEW_MODEL")
        .current_dir(dir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nasview starts")
}

fn wait_within(mut child: Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "nasview still ran after {limit:?} and was killed; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn devices_and_pipes_are_skipped_with_a_message_and_the_rest_runs() {
    let dir = scratch("special-inputs");
    let fifo = dir.join("p.jpg");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let dog = photo("dog.jpg");
    // Before: /dev/zero grew past 5.6 GB of memory, and the pipe blocked forever with dog.jpg never reached.
    let out = run_within(
        &["detect", "--json", "/dev/zero", fifo.to_str().unwrap(), dog.to_str().unwrap()],
        &dir,
        Duration::from_secs(60),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/dev/zero: a device, not an image file; skipped"), "{stderr}");
    assert!(stderr.contains("p.jpg: a named pipe (FIFO), not an image file; skipped"), "{stderr}");
    assert!(stderr.contains("2 of 3 images were skipped"), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("dog.jpg") && stdout.contains("\"bicycle\""), "{stdout}");
}

/// A BMP copy of a bundled photo at `path`.
fn write_bmp(name: &str, path: &Path) {
    image::open(photo(name)).unwrap().to_rgb8().save_with_format(path, image::ImageFormat::Bmp).unwrap();
}

#[test]
fn copies_of_one_run_never_replace_each_other_and_each_path_is_said() {
    let dir = scratch("colliding-copies");
    let inputs = dir.join("in");
    std::fs::create_dir(&inputs).unwrap();
    // `x.bmp`'s copy is `x.bmp.png`, the name `x.bmp.png`'s copy keeps.
    write_bmp("dog.jpg", &inputs.join("x.bmp"));
    std::fs::copy(photo("chelsea.png"), inputs.join("x.bmp.png")).unwrap();
    let out = dir.join("o");
    for round in 0..2 {
        // Before: "wrote 2" while the second copy replaced the first (with --overwrite).
        let args = ["detect", "--overwrite", "--out", out.to_str().unwrap(), inputs.to_str().unwrap()];
        let o = run_within(&args, &dir, Duration::from_secs(120));
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("wrote 2 annotated image(s)"), "{stderr}");
        let mut names: Vec<String> =
            std::fs::read_dir(&out).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["x.bmp-1.png", "x.bmp.png"], "round {round}");
        // Each line says where its copy went; the two copies are the two photos (the dog is 768x576).
        for (input, copy, size) in [("x.bmp", "x.bmp.png", (768, 576)), ("x.bmp.png", "x.bmp-1.png", (451, 300))] {
            let line = stdout.lines().find(|l| l.starts_with(&format!("{}:", inputs.join(input).display())));
            let line = line.unwrap_or_else(|| panic!("no line for {input}: {stdout}"));
            assert!(line.ends_with(&format!(" -> {}", out.join(copy).display())), "{line}");
            assert_eq!(image::image_dimensions(out.join(copy)).unwrap(), size);
        }
    }
}

#[test]
fn closing_stdout_stops_the_lines_not_the_copies() {
    let dir = scratch("closed-stdout");
    let out = dir.join("D");
    let photos = crate::common::root().join("assets/photos");
    let n = std::fs::read_dir(&photos)
        .unwrap()
        .flatten()
        .filter(|e| nasview::source::images::is_image_name(&e.path()))
        .count();
    let mut child =
        start(&["detect", "--json", "--out", out.to_str().unwrap(), photos.to_str().unwrap()], &dir, Stdio::null());
    // `| head -1`: one line read, then the pipe closed.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("\"annotated\""), "{first}");
    let o = wait_within(child, Duration::from_secs(180));
    let stderr = text(&o.stderr);
    // Before: "error: Broken pipe", exit 2, 1 of 9 copies written.
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), n, "every copy written: {stderr}");
}

#[test]
fn a_phone_photo_is_detected_upright() {
    let dir = scratch("exif-photo");
    // dog.jpg stored turned a quarter counter-clockwise, with EXIF orientation 6 (turn it clockwise to view),
    // as a phone held upright saves it.
    let stored = image::imageops::rotate270(&image::open(photo("dog.jpg")).unwrap().to_rgb8());
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95).encode_image(&stored).unwrap();
    let phone = dir.join("phone.jpg");
    std::fs::write(&phone, nasview::testing::with_exif_orientation(&jpeg, 6)).unwrap();
    let out = dir.join("out");
    let o = run_within(
        &["detect", "--json", "--out", out.to_str().unwrap(), phone.to_str().unwrap()],
        &dir,
        Duration::from_secs(60),
    );
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    // Before: 576x768, processed sideways, the bicycle at 0.35.
    assert_eq!((line["width"].as_u64(), line["height"].as_u64()), (Some(768), Some(576)), "{stdout}");
    let score = |label: &str| {
        line["detections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["label"] == label)
            .filter_map(|d| d["score"].as_f64())
            .fold(0.0, f64::max)
    };
    assert!(score("bicycle") > 0.8 && score("dog") > 0.8, "{stdout}");
    // The copy is saved upright too.
    assert_eq!(image::image_dimensions(out.join("phone.jpg")).unwrap(), (768, 576));
}

/// Sends `signal` (e.g. "-TERM") to a running child.
fn signal(child: &Child, signal: &str) {
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
}

/// Reads stderr lines in the background, so the test can wait for one while the child runs.
fn stderr_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn a_line_far_outside_the_frame_neither_hangs_nor_blocks_signals() {
    let dir = scratch("huge-line");
    let mut child =
        start(&["--source", "demo", "--headless", "--line", "1e30,0,1e31,1", "--record", "x.mp4"], &dir, Stdio::null());
    let lines = stderr_lines(&mut child);
    // Before: no frame in 60 s (drawing a line 1e31 pixels long), SIGTERM ignored, a 0-byte MP4.
    let mut said = Vec::new();
    let t0 = Instant::now();
    while !said.iter().any(|l: &String| l.contains("recording to x.mp4")) {
        assert!(t0.elapsed() < Duration::from_secs(60), "never started recording: {said:?}");
        said.extend(lines.recv_timeout(Duration::from_secs(60)).ok());
    }
    std::thread::sleep(Duration::from_secs(2));
    let sent = Instant::now();
    signal(&child, "-TERM");
    let out = wait_within(child, Duration::from_secs(10));
    let took = sent.elapsed();
    said.extend(lines.try_iter());
    assert!(took < Duration::from_secs(1), "SIGTERM honoured after {took:?}");
    assert_eq!(out.status.code(), Some(0), "{said:?}");
    assert!(said.iter().any(|l| l.contains("--line 1e30,0.0,1e31,1.0 lies outside the 960x540 frame")), "{said:?}");
    let probe = crate::common::ffprobe(&dir.join("x.mp4"));
    assert!(probe.frames >= 5, "{probe:?}");
}

/// `dog.jpg` scaled to `w x h` (nearest neighbour: fast, and the objects stay) as a JPEG at `path`.
fn big_photo(path: &Path, w: u32, h: u32) {
    let dog = image::open(photo("dog.jpg")).unwrap().to_rgb8();
    image::imageops::resize(&dog, w, h, image::imageops::FilterType::Nearest).save(path).unwrap();
}

#[test]
fn a_photo_that_takes_long_to_infer_is_waited_for_and_said_to_be_slow() {
    let dir = scratch("slow-inference");
    let photos = dir.join("photos");
    std::fs::create_dir(&photos).unwrap();
    // 96 megapixels in 368 tiles: about 20 s of inference here; the source gave it at once.
    big_photo(&photos.join("a-big.jpg"), 12000, 8000);
    std::fs::copy(photo("dog.jpg"), photos.join("b-small.jpg")).unwrap();
    let out = run_within(
        &["--source", photos.to_str().unwrap(), "--tiles", "auto", "--headless"],
        &dir,
        Duration::from_secs(300),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // Before: exit 2 "gave no frame in 10 s" though the photo was read, then an ONNX Runtime [E:...] line.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.lines().next().unwrap().contains("\"width\":12000"), "{stdout}");
    assert!(stderr.contains("inference is slow: no result for 3 s while the source has frames waiting"), "{stderr}");
    assert!(!stderr.contains("gave no frame") && !stderr.contains("stalled"), "{stderr}");
    // The run's own summary is the last line: nothing from ONNX Runtime after it.
    assert!(stderr.trim_end().lines().last().unwrap().contains("frames shown in"), "{stderr}");
}

#[test]
fn slow_inference_after_the_first_frame_is_not_a_stalled_source() {
    let dir = scratch("slow-not-stalled");
    let photos = dir.join("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(photo("dog.jpg"), photos.join("a-small.jpg")).unwrap();
    // 24 megapixels in about 96 tiles: several seconds with one thread.
    big_photo(&photos.join("b-big.jpg"), 6000, 4000);
    let out = run_within(
        &["--source", photos.to_str().unwrap(), "--tiles", "auto", "--threads", "1", "--headless"],
        &dir,
        Duration::from_secs(300),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(text(&out.stdout).lines().count(), 2);
    // Before: "source stalled: no new frame for 3 s; ... the recording is kept", with a source that was fine.
    assert!(stderr.contains("inference is slow"), "{stderr}");
    assert!(!stderr.contains("stalled"), "{stderr}");
}

#[test]
fn frames_that_do_not_fit_on_the_disk_leave_no_partial_file() {
    let dir = scratch("frames-full-disk");
    let frames = dir.join("fr");
    // A full disk, without a disk: writes past 100 KiB fail with EFBIG (SIGXFSZ ignored, as a shell may).
    let bin = env!("CARGO_BIN_EXE_nasview");
    let m = model("yolov12n_int8.onnx");
    let script = format!(
        "trap '' XFSZ; ulimit -f 200; exec {bin} --model {} --source demo --headless --max-frames 3 --save-frames {}",
        m.display(),
        frames.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped saving frames: cannot write") && stderr.contains("File too large"), "{stderr}");
    // Before: a truncated frame_000000_0000000ms.png was left behind.
    let left: Vec<_> = std::fs::read_dir(&frames).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_region_outside_the_photo_is_said_and_fractions_are_taken() {
    let dir = scratch("region-outside");
    let dog = photo("dog.jpg");
    let d = dog.to_str().unwrap();
    // Before: the region was ignored on the 768x576 photo, exit 0, no word.
    let out = run_within(&["detect", "--region", "5000,5000,6000,6000", d], &dir, Duration::from_secs(60));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--region 5000,5000,6000,6000 lies outside the 768x576 frame"), "{stderr}");
    // As fractions, as --line takes them: the centre quarter of the photo is a second pass.
    let out = run_within(&["detect", "--region", "0.25,0.25,0.75,0.75", d], &dir, Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("(2 passes)") && !stderr.contains("outside"), "{stdout}{stderr}");
    // Words among the numbers are refused (100,abc,... was taken as 100,200,300,400).
    let out = run_within(&["detect", "--region", "100,abc,200,300,400", d], &dir, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not four numbers"));
}

#[test]
fn a_cut_raw_mjpeg_frame_is_said_and_fails_the_run_and_fps_is_said_to_be_ignored() {
    let dir = scratch("raw-frames");
    let jpeg = std::fs::read(photo("dog.jpg")).unwrap();
    let cut = dir.join("cut.768x576.mjpeg");
    std::fs::write(&cut, &jpeg[..jpeg.len() / 3]).unwrap();
    // Before: exit 0, the bottom two thirds grey, no word.
    let out = run_within(&["--source", cut.to_str().unwrap(), "--headless"], &dir, Duration::from_secs(60));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cut.768x576.mjpeg: truncated or corrupt JPEG"), "{stderr}");
    assert_eq!(text(&out.stdout).lines().count(), 1, "the frame is still shown");
    // --fps does nothing to one still frame: said, as --resolution is (before: ignored silently).
    let grey = dir.join("still.64x48.gray");
    std::fs::write(&grey, vec![128u8; 64 * 48]).unwrap();
    let out =
        run_within(&["--source", grey.to_str().unwrap(), "--fps", "10", "--headless"], &dir, Duration::from_secs(60));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--fps is ignored for --source") && stderr.contains("one still picture"), "{stderr}");
}

/// `bench --json` on `source` for `frames` frames: exit code, the report, stderr.
fn bench(dir: &Path, source: &Path, frames: &str) -> (Option<i32>, serde_json::Value, String) {
    let out = run_within(
        &["bench", "--source", source.to_str().unwrap(), "--frames", frames, "--json"],
        dir,
        Duration::from_secs(300),
    );
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), report, text(&out.stderr))
}

#[test]
fn bench_memory_stays_flat_whatever_the_frame_count() {
    let dir = scratch("bench-memory");
    // One 1920x1080 photo (6 MB as RGB), cycled: before, every measured frame was a copy held in memory.
    let photo_1080 = dir.join("p.png");
    big_photo(&photo_1080, 1920, 1080);
    let peak = |frames: &str| {
        let (code, report, stderr) = bench(&dir, &photo_1080, frames);
        assert_eq!(code, Some(0), "{stderr}");
        report["models"][0]["peak_rss_mb"].as_f64().unwrap()
    };
    let (few, many) = (peak("10"), peak("100"));
    // Before: 90 more frames held 6 MB each, about 540 MB more.
    assert!(many - few < 60.0, "peak RSS {few} MiB at 10 frames, {many} MiB at 100");
}

#[test]
fn bench_skips_the_encode_stage_at_a_size_the_encoder_cannot_take() {
    let dir = scratch("bench-4k");
    let wide = dir.join("wide.png");
    big_photo(&wide, 4096, 2304);
    let (code, report, stderr) = bench(&dir, &wide, "2");
    // Before: "cannot create the H.264 encoder" failed the whole bench (exit 2).
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("encode stage skipped for 4096x2304 frames"), "{stderr}");
    let ms = &report["models"][0]["ms"];
    assert!(ms["encode"].is_null() && ms["inference"]["median"].as_f64().unwrap() > 0.0, "{report}");
}

/// nasview under a pseudo-terminal (`script`), so its stderr is a terminal: what the terminal showed.
fn on_a_terminal(args: &[&str], dir: &Path) -> String {
    let m = model("yolov12n_int8.onnx");
    let line = format!("{} --model {} {}", env!("CARGO_BIN_EXE_nasview"), m.display(), args.join(" "));
    let out = Command::new("script").args(["-qec", &line, "/dev/null"]).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    text(&out.stdout)
}

#[test]
fn long_runs_show_a_progress_bar_only_on_a_terminal() {
    let dir = scratch("progress");
    let photos = crate::common::root().join("assets/photos");
    let p = photos.to_str().unwrap();
    // Before: nothing on screen until the end (103 s for 2,000 images).
    let shown = on_a_terminal(&["detect", p], &dir);
    assert!(shown.contains("/9 images") && shown.contains("eta"), "{shown}");
    let shown = on_a_terminal(&["bench", "--frames", "3"], &dir);
    assert!(shown.contains("/8 frames"), "{shown}");
    // Not a terminal (a pipe, a log file): no bar, the lines as before.
    let out = run_within(&["detect", p], &dir, Duration::from_secs(120));
    assert!(!text(&out.stderr).contains("images,") && !text(&out.stderr).contains("eta"), "{}", text(&out.stderr));
}
