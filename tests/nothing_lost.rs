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
