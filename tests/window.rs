//! The real window under Xvfb: boxes around the demo's astronaut, HUD and sliders drawn, the slider
//! changes the boxes (checked against headless output), R records an MP4 that ffprobe reads.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};

use crate::common::{model, nasview, scratch};

/// One real window at a time: the window tests measure frame rates and latencies, which another window (or its
/// nasview) drawing on the same two cores would halve. Held by each `Xvfb` until it is dropped.
static ONE_WINDOW: Mutex<()> = Mutex::new(());

/// An Xvfb server for one test, killed on drop.
pub struct Xvfb {
    child: Child,
    pub display: String,
    // Declared last: released after the server is gone.
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        // A test that failed while holding the lock poisons it; the next one still gets its turn.
        let turn = ONE_WINDOW.lock().unwrap_or_else(|p| p.into_inner());
        // Xvfb picks a free display itself (-displayfd), stepping over the stale locks of killed servers,
        // and writes its number once it accepts clients.
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb runs (install it: `make setup` does)");
        let mut number = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut number).unwrap();
        assert!(!number.trim().is_empty(), "Xvfb did not start");
        Xvfb { child, display: format!(":{}", number.trim()), _turn: turn }
    }

    fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool").args(args).env("DISPLAY", &self.display).output().expect("xdotool runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts nasview on this display (logging what is on screen), with `dir` as its working folder.
    fn launch(&self, args: &[&str], dir: &Path) -> (Child, Log) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nasview"))
            .args(args)
            .env("DISPLAY", &self.display)
            .env("NASVIEW_LOG", "info")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Log::follow(&mut child);
        (child, log)
    }

    /// Where a window is on the screen and its size: x, y, width, height.
    fn geometry(&self, win: &str) -> (u32, u32, u32, u32) {
        let geo = self.xdotool(&["getwindowgeometry", "--shell", win]);
        let g = |k: &str| geo.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap().parse::<u32>().unwrap();
        (g("X"), g("Y"), g("WIDTH"), g("HEIGHT"))
    }

    /// The id of nasview's window, waiting for it to appear.
    fn window(&self) -> String {
        self.xdotool(&["search", "--sync", "--name", "^nasview$"]).lines().next().unwrap().to_string()
    }

    /// The window's client area as an image (screen grab cropped to the window geometry).
    fn grab(&self, geometry: (u32, u32, u32, u32)) -> RgbImage {
        let out = Command::new("sh")
            .args(["-c", "xwd -root -silent | convert xwd:- png:-"])
            .env("DISPLAY", &self.display)
            .output()
            .expect("xwd and convert run");
        let screen = image::load_from_memory(&out.stdout).expect("screenshot PNG").to_rgb8();
        let (x, y, w, h) = geometry;
        image::imageops::crop_imm(&screen, x, y, w, h).to_image()
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: Xvfb then removes its lock file and socket.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// nasview's stderr, collected line by line while it runs.
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn follow(child: &mut Child) -> Log {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Log(lines)
    }

    /// Waits for a line containing `pat` that was logged after `since` lines; returns it.
    fn wait_for(&self, pat: &str, since: usize, timeout: Duration) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.0.lock().unwrap().iter().skip(since).find(|l| l.contains(pat)) {
                return l.clone();
            }
            assert!(t0.elapsed() < timeout, "no log line with {pat:?}; log:\n{}", self.0.lock().unwrap().join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// `key=value` out of a log line.
fn field<T: std::str::FromStr>(line: &str, key: &str) -> T {
    let v = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {line}"));
    v.parse().unwrap_or_else(|_| panic!("{key} value in {line}"))
}

fn count(img: &RgbImage, colour: Rgb<u8>, region: (u32, u32, u32, u32)) -> usize {
    let (x0, y0, x1, y1) = region;
    (y0..y1.min(img.height()))
        .flat_map(|y| (x0..x1.min(img.width())).map(move |x| (x, y)))
        .filter(|&(x, y)| *img.get_pixel(x, y) == colour)
        .count()
}

/// Columns holding a vertical run of `colour` at least `min_run` pixels long: the sides of boxes.
fn box_sides(img: &RgbImage, colour: Rgb<u8>, min_run: u32) -> Vec<u32> {
    (0..img.width())
        .filter(|&x| {
            let mut run = 0;
            (0..img.height()).any(|y| {
                run = if *img.get_pixel(x, y) == colour { run + 1 } else { 0 };
                run >= min_run
            })
        })
        .collect()
}

#[test]
fn live_window_boxes_hud_slider_and_recording() {
    let x = Xvfb::start();
    let dir = scratch("window");
    let (mut child, log) = x.launch(&["--source", "demo", "--model", model("yolov12n.onnx").to_str().unwrap()], &dir);

    // First frame on screen, then pause so the view holds still.
    log.wait_for("view frame=", 0, Duration::from_secs(60));
    let win = x.window();
    let geometry = x.geometry(&win);
    let mark = log.len();
    x.xdotool(&["key", "space"]);
    let paused = log.wait_for("paused", mark, Duration::from_secs(10));
    // The boxes on screen are those found on this processed frame (moved to the frame shown).
    let frame: u64 = field(&paused, "result");
    let objects_low: usize = field(&paused, "objects");
    std::thread::sleep(Duration::from_millis(500));
    let before = x.grab(geometry);
    before.save(dir.join("paused.png")).unwrap();
    let (w, h) = before.dimensions();

    // The astronaut (first shot of the demo) is boxed in person red: two long vertical sides far apart.
    let person = nasview::overlay::class_colour(0);
    let sides = box_sides(&before, person, h / 2);
    assert!(
        sides.len() >= 2 && sides[sides.len() - 1] - sides[0] > w / 4,
        "no tall person box in the paused frame {frame} (sides at {sides:?}); see {}",
        dir.join("paused.png").display()
    );
    // The one-line HUD (white text) at the top left; D gives the full HUD, lines more of it, then D twice
    // is back to one line.
    let white = Rgb([255, 255, 255]);
    let compact = count(&before, white, (0, 0, w / 2, h / 4));
    let mark = log.len();
    x.xdotool(&["key", "d"]);
    log.wait_for("hud Full", mark, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(400));
    let full = x.grab(geometry);
    full.save(dir.join("full_hud.png")).unwrap();
    let full_white = count(&full, white, (0, 0, w / 2, h / 4));
    assert!(compact > 100 && full_white > compact + 300, "HUD text: one line {compact} px, full {full_white} px");
    let mark = log.len();
    x.xdotool(&["key", "d"]);
    x.xdotool(&["key", "d"]);
    log.wait_for("hud Compact", mark, Duration::from_secs(10));
    // Both slider tracks (filled part) along the bottom.
    let fill = nasview::ui::hud::FILL;
    let bottom = (0, h - h / 5, w / 2, h);
    assert!(count(&before, fill, bottom) > 200, "slider fill");

    // Click the confidence slider near its right end: fewer boxes, the same as headless at that threshold.
    let track_rows: Vec<u32> =
        (h - h / 5..h).filter(|&y| (0..w / 2).any(|x| *before.get_pixel(x, y) == nasview::ui::hud::TRACK)).collect();
    let conf_row = track_rows[0] + 1;
    let xs: Vec<u32> =
        (0..w / 2).filter(|&x| [nasview::ui::hud::TRACK, fill].contains(before.get_pixel(x, conf_row))).collect();
    let (x0, x1) = (xs[0], xs[xs.len() - 1]);
    let click_x = x0 + (x1 - x0) * 95 / 100;
    let mark = log.len();
    // Pressed for a moment, as a hand does: the window samples the button once per refresh.
    x.xdotool(&[
        "mousemove",
        &(geometry.0 + click_x).to_string(),
        &(geometry.1 + conf_row).to_string(),
        "mousedown",
        "1",
    ]);
    std::thread::sleep(Duration::from_millis(150));
    x.xdotool(&["mouseup", "1"]);
    let changed = log.wait_for("conf=0.9", mark, Duration::from_secs(10));
    let conf: f32 = field(&changed, "conf");
    let objects_high: usize = field(&changed, "objects");
    assert_eq!(field::<u64>(&changed, "result"), frame, "still the paused frame's result");
    assert!(objects_high < objects_low, "conf {conf}: {objects_high} objects, not fewer than {objects_low}");
    std::thread::sleep(Duration::from_millis(500));
    let after = x.grab(geometry);
    after.save(dir.join("after_click.png")).unwrap();
    let full = (0, 0, w, h);
    assert!(count(&after, person, full) < count(&before, person, full), "fewer person-red pixels after the click");

    // Headless at that threshold, on the same (deterministic) demo frame, finds the same number.
    let headless = nasview(&[
        "--source",
        "demo",
        "--headless",
        "--max-frames",
        &(frame + 1).to_string(),
        "--conf",
        &format!("{conf:.2}"),
        "--model",
        model("yolov12n.onnx").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&headless.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("headless output")).unwrap();
    assert_eq!(last["frame"].as_u64(), Some(frame));
    assert_eq!(
        last["detections"].as_array().unwrap().len(),
        objects_high,
        "window and headless disagree at conf {conf}"
    );

    // Resume, record for about four seconds, quit: the MP4 is finalised and playable.
    x.xdotool(&["key", "space"]);
    let mark = log.len();
    x.xdotool(&["key", "r"]);
    log.wait_for("recording to", mark, Duration::from_secs(10));
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    x.xdotool(&["key", "q"]);
    let wall = t0.elapsed().as_secs_f64();
    let status = child.wait().unwrap();
    assert!(status.success(), "nasview exit {status}; log:\n{}", log.0.lock().unwrap().join("\n"));
    let mp4 = dir.join("nasview.mp4");
    let probe = crate::common::ffprobe(&mp4);
    assert_eq!(probe.codec, "h264");
    assert!(probe.frames > 0);
    assert!((probe.duration - wall).abs() < 0.2 * wall, "duration {} vs {wall:.2} s recorded", probe.duration);
}

/// `N<what>` out of the closing notes: the number just before `what` on the line that holds it.
fn number_before(log: &str, what: &str) -> f64 {
    let line = log.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{what:?} in\n{log}"));
    let head = &line[..line.find(what).unwrap()];
    head.split_whitespace().last().unwrap().parse().unwrap_or_else(|_| panic!("number before {what:?} in {line}"))
}

#[test]
fn every_captured_frame_is_shown_in_the_window() {
    let x = Xvfb::start();
    let dir = scratch("window-every");
    let m = model("yolov12n_int8.onnx");
    let (mut child, log) = x.launch(&["--source", "demo", "--model", m.to_str().unwrap()], &dir);
    log.wait_for("view frame=", 0, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(8));
    x.xdotool(&["key", "q"]);
    let status = child.wait().unwrap();
    let all = log.0.lock().unwrap().join("\n");
    assert!(status.success(), "exit {status}:\n{all}");
    // Frames shown against frames captured, over the whole run (the first frames come before any result:
    // a loose bound for a loaded machine, the figures are in the issue's note).
    let captured = number_before(&all, " frames captured");
    let shown = number_before(&all, " frames shown");
    let results = number_before(&all, " results (");
    println!("captured {captured}, shown {shown}, results {results}");
    assert!(shown >= 0.9 * captured, "{shown} frames shown of {captured} captured ({results} processed):\n{all}");
    // Frames between results carry boxes: a frame shown whose boxes come from an earlier processed frame.
    let carried = all
        .lines()
        .filter(|l| l.contains("view frame="))
        .filter(|l| field::<u64>(l, "frame") > field::<u64>(l, "result") && field::<usize>(l, "objects") > 0)
        .count();
    assert!(carried > 0 || results >= captured * 0.9, "no frame shown between results with boxes:\n{all}");

    // `--display processed`: only processed frames, each with its own boxes.
    let (mut child, log) =
        x.launch(&["--source", "demo", "--display", "processed", "--model", m.to_str().unwrap()], &dir);
    log.wait_for("view frame=", 0, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    x.xdotool(&["key", "q"]);
    assert!(child.wait().unwrap().success());
    let all = log.0.lock().unwrap().join("\n");
    assert_eq!(number_before(&all, " frames shown"), number_before(&all, " results ("), "{all}");
    let views: Vec<&str> = all.lines().filter(|l| l.contains("view frame=")).collect();
    assert!(views.iter().all(|l| field::<u64>(l, "frame") == field::<u64>(l, "result")), "{all}");
}

/// The window manager's close button, as the X11 message it sends (Xvfb has no window manager).
const CLOSE_WINDOW_PY: &str = r#"
import os, sys
from Xlib import display, X, protocol
d = display.Display(os.environ["DISPLAY"])
w = d.create_resource_object("window", int(sys.argv[1]))
proto, delete = d.intern_atom("WM_PROTOCOLS"), d.intern_atom("WM_DELETE_WINDOW")
w.send_event(protocol.event.ClientMessage(window=w, client_type=proto, data=(32, [delete, X.CurrentTime, 0, 0, 0])))
d.flush()
"#;

#[test]
fn close_button_mid_recording_leaves_a_playable_file() {
    let x = Xvfb::start();
    let dir = scratch("close-button");
    let m = model("yolov12n_int8.onnx");
    let (mut child, log) =
        x.launch(&["--source", "demo", "--record", "take.mp4", "--model", m.to_str().unwrap()], &dir);
    log.wait_for("recording to take.mp4", 0, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    let win = x.window();
    let python = crate::common::root().join(".venv/bin/python");
    let sent = Command::new(&python)
        .args(["-c", CLOSE_WINDOW_PY, &win])
        .env("DISPLAY", &x.display)
        .status()
        .expect("the set-up venv's python (make setup)");
    assert!(sent.success());
    let status = child.wait().unwrap();
    let all = log.0.lock().unwrap().join("\n");
    assert!(status.success(), "exit {status}:\n{all}");
    assert!(all.contains("saved take.mp4"), "{all}");
    let probe = crate::common::ffprobe(&dir.join("take.mp4"));
    assert!(probe.codec == "h264" && probe.frames > 0, "{probe:?}");
}

/// Columns `x0..x1` and rows where `colour` runs down at least `min_run` pixels: a drawn vertical line.
fn longest_vertical_run(img: &RgbImage, colour: Rgb<u8>, x0: u32, x1: u32) -> u32 {
    (x0..x1.min(img.width()))
        .map(|x| {
            let (mut run, mut best) = (0, 0);
            for y in 0..img.height() {
                run = if *img.get_pixel(x, y) == colour { run + 1 } else { 0 };
                best = best.max(run);
            }
            best
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn counting_line_drawn_with_the_mouse() {
    let x = Xvfb::start();
    let dir = scratch("window-line");
    let (mut child, log) =
        x.launch(&["--source", "demo", "--model", model("yolov12n_int8.onnx").to_str().unwrap()], &dir);
    log.wait_for("view frame=", 0, Duration::from_secs(60));
    let win = x.window();
    let geo = x.xdotool(&["getwindowgeometry", "--shell", &win]);
    let g = |k: &str| geo.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap().parse::<u32>().unwrap();
    let (gx, gy, w, h) = (g("X"), g("Y"), g("WIDTH"), g("HEIGHT"));

    // L, then drag from the top to the bottom down the middle, as a hand does: press, move, release.
    let mark = log.len();
    x.xdotool(&["key", "l"]);
    log.wait_for("line tool armed", mark, Duration::from_secs(10));
    let (cx, top, bottom) = (gx + w / 2, gy + h / 5, gy + h * 4 / 5);
    x.xdotool(&["mousemove", &cx.to_string(), &top.to_string(), "mousedown", "1"]);
    for k in 1..=10 {
        std::thread::sleep(Duration::from_millis(40));
        x.xdotool(&["mousemove", &cx.to_string(), &(top + (bottom - top) * k / 10).to_string()]);
    }
    std::thread::sleep(Duration::from_millis(150));
    x.xdotool(&["mouseup", "1"]);
    let set = log.wait_for("line set", mark, Duration::from_secs(10));
    // The line in frame pixels: the demo is 960x540 shown in the whole 1280x720 window (scale 0.75).
    let y1: f32 = field(&set, "y1");
    let y2: f32 = field(&set, "y2");
    assert!(y2 - y1 > 200.0, "a long line downwards: {set}");

    std::thread::sleep(Duration::from_millis(600));
    let shot = x.grab((gx, gy, w, h));
    shot.save(dir.join("line.png")).unwrap();
    let line = nasview::track::draw::LINE;
    let run = longest_vertical_run(&shot, line, w / 2 - 6, w / 2 + 7);
    assert!(run > h / 2, "the line down the middle: longest run {run} px; see {}", dir.join("line.png").display());
    // Its counts beside it: `out: 0` on the left, `in: 0` on the right, on tags of the line's colour.
    let mid = (h / 2 - 40, h / 2 + 40);
    let left = count(&shot, line, (w / 2 - 250, mid.0, w / 2 - 10, mid.1));
    let right = count(&shot, line, (w / 2 + 10, mid.0, w / 2 + 250, mid.1));
    assert!(left > 300 && right > 300, "count tags beside the line: {left} and {right} px; see line.png");

    // C resets the counts (logged), Q quits cleanly.
    let mark = log.len();
    x.xdotool(&["key", "c"]);
    log.wait_for("counts reset", mark, Duration::from_secs(10));
    x.xdotool(&["key", "q"]);
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status}; log:\n{}", log.0.lock().unwrap().join("\n"));
}

#[test]
fn a_video_file_plays_at_its_own_rate_in_the_window() {
    let x = Xvfb::start();
    let dir = scratch("window-rate");
    // 3 s at 10 fps: frame 29 is due 2.9 s after frame 0.
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "3"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "clip.mp4"])
        .current_dir(&dir)
        .status()
        .expect("ffmpeg runs");
    assert!(made.success());
    let (mut child, log) =
        x.launch(&["--source", "clip.mp4", "--model", model("yolov12n_int8.onnx").to_str().unwrap()], &dir);
    log.wait_for("view frame=", 0, Duration::from_secs(60));
    let t0 = Instant::now();
    // The last frame is never replaced, so it is always shown.
    log.wait_for("view frame=29 ", 0, Duration::from_secs(30));
    let played = t0.elapsed().as_secs_f64();
    x.xdotool(&["key", "q"]);
    assert!(child.wait().unwrap().success());
    // Not faster than the file (headless would take it as fast as inference goes), nor much slower.
    assert!((2.4..4.5).contains(&played), "3 s of video played in {played:.2} s");
}

/// `Rect { x: 450, y: 240, w: 330, h: 210 }` out of a log line, as (x1, y1, x2, y2).
fn logged_rect(line: &str) -> (f32, f32, f32, f32) {
    let num = |key: &str| -> f32 {
        let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    let (x, y) = (num("x: "), num("y: "));
    (x, y, x + num("w: "), y + num("h: "))
}

#[test]
fn zoom_region_drawn_with_z_and_the_mouse_finds_what_is_inside() {
    let x = Xvfb::start();
    let dir = scratch("zoom-region");
    // A still scene: a 1920x1080 mosaic of the photos (6x6), shown over and over at 4 frames a second.
    let photos: Vec<RgbImage> =
        crate::common::PHOTOS.iter().map(|p| image::open(crate::common::photo(p)).unwrap().to_rgb8()).collect();
    let (mosaic, _) = crate::tiles::mosaic(0, &photos);
    let still = dir.join("mosaic.png");
    mosaic.save(&still).unwrap();
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for i in 0..400 {
        std::os::unix::fs::symlink(&still, frames.join(format!("f{i:03}.png"))).unwrap();
    }
    let m = model("yolov12n_int8.onnx");
    let (mut child, log) =
        x.launch(&["--source", frames.to_str().unwrap(), "--fps", "4", "--model", m.to_str().unwrap()], &dir);
    log.wait_for("view frame=", 0, Duration::from_secs(60));
    let win = x.window();
    let geometry = x.geometry(&win);
    let fit = nasview::ui::fit(1920, 1080, geometry.2, geometry.3);

    // Z, then a drag over frame pixels (480, 240)..(800, 480): a 320x240 part, zoomed 2x into the model.
    let to_screen = |fx: f32, fy: f32| {
        let (wx, wy) = (fx * fit.scale + fit.x as f32, fy * fit.scale + fit.y as f32);
        ((geometry.0 as f32 + wx).round().to_string(), (geometry.1 as f32 + wy).round().to_string())
    };
    let ((ax, ay), (mx, my), (bx, by)) = (to_screen(480.0, 240.0), to_screen(640.0, 360.0), to_screen(800.0, 480.0));
    let mark = log.len();
    x.xdotool(&["key", "z"]);
    // Each step held long enough for a refresh to see it, also when the machine is busy (the window samples
    // the mouse once per refresh).
    let hold = || std::thread::sleep(Duration::from_millis(400));
    hold();
    x.xdotool(&["mousemove", &ax, &ay, "mousedown", "1"]);
    for (px, py) in [(&mx, &my), (&bx, &by)] {
        hold();
        x.xdotool(&["mousemove", px, py]);
    }
    hold();
    x.xdotool(&["mouseup", "1"]);
    let set = log.wait_for("inference tiles=off region=Some", mark, Duration::from_secs(30));
    // The first frame processed with the region: two passes, and what is shown inside the region.
    let line = log.wait_for("passes=2", mark, Duration::from_secs(60));
    let (x1, y1, x2, y2) = logged_rect(&line);
    assert!(
        (x1 - 480.0).abs() <= 3.0 && (y2 - 480.0).abs() <= 3.0,
        "region {line} for a drag over 480,240..800,480 ({set})"
    );
    let inside: usize = field(&line, "inside");
    std::thread::sleep(Duration::from_millis(700));
    let shot = x.grab(geometry);
    shot.save(dir.join("region.png")).unwrap();

    // The full frame alone, headless on the same image: what it finds inside that rectangle.
    let out = nasview(&["--source", still.to_str().unwrap(), "--headless", "--model", m.to_str().unwrap()]);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().expect("headless output")).unwrap();
    let before = first["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            let b: Vec<f32> = d["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
            (x1..x2).contains(&cx) && (y1..y2).contains(&cy)
        })
        .count();
    assert!(inside > before, "{inside} detections inside the zoom region, {before} without it; see {}", dir.display());

    // The region is outlined on screen: its colour runs along most of its perimeter.
    let outline = count(&shot, nasview::ui::hud::REGION, (0, 0, geometry.2, geometry.3));
    let perimeter = 2.0 * (x2 - x1 + y2 - y1) * fit.scale;
    assert!(outline as f32 > perimeter, "{outline} region-coloured pixels for a perimeter of {perimeter:.0}");

    // Z again clears it: the next frames run the full frame only.
    let mark = log.len();
    x.xdotool(&["key", "z"]);
    log.wait_for("inference tiles=off region=None", mark, Duration::from_secs(30));
    x.xdotool(&["key", "q"]);
    let status = child.wait().unwrap();
    assert!(status.success(), "nasview exit {status}");
}

#[test]
fn class_legend_selects_sets_and_hides_a_class() {
    let x = Xvfb::start();
    let dir = scratch("window-legend");
    let m = model("yolov12n_int8.onnx");
    let (mut child, log) =
        x.launch(&["--source", "demo", "--conf", "0.25,person=0.5", "--model", m.to_str().unwrap()], &dir);
    log.wait_for("view frame=", 0, Duration::from_secs(60));
    let win = x.window();
    let geometry = x.geometry(&win);
    // Pause on the astronaut: a person is shown, so the legend lists `person 0.50` at the top right.
    let mark = log.len();
    x.xdotool(&["key", "space"]);
    let paused = log.wait_for("paused", mark, Duration::from_secs(10));
    let objects: usize = field(&paused, "objects");
    std::thread::sleep(Duration::from_millis(500));
    let shot = x.grab(geometry);
    shot.save(dir.join("legend.png")).unwrap();
    let (w, _) = shot.dimensions();
    let person = nasview::overlay::class_colour(0);
    let entry: Vec<(u32, u32)> = (0..120)
        .flat_map(|y| (w - 200..w).map(move |x| (x, y)))
        .filter(|&(x, y)| *shot.get_pixel(x, y) == person)
        .collect();
    assert!(entry.len() > 100, "a person-red legend entry at the top right; see {}", dir.join("legend.png").display());
    let (cx, cy) = (
        entry.iter().map(|p| p.0).sum::<u32>() / entry.len() as u32,
        entry.iter().map(|p| p.1).sum::<u32>() / entry.len() as u32,
    );
    let click = || {
        x.xdotool(&["mousemove", &(geometry.0 + cx).to_string(), &(geometry.1 + cy).to_string(), "mousedown", "1"]);
        std::thread::sleep(Duration::from_millis(150));
        x.xdotool(&["mouseup", "1"]);
        std::thread::sleep(Duration::from_millis(150));
    };
    // Select person; Up sets its own threshold (logged), the others keep 0.25.
    let mark = log.len();
    click();
    log.wait_for("legend class=0 Selected", mark, Duration::from_secs(10));
    x.xdotool(&["key", "Up"]);
    log.wait_for("class 0 conf=0.55", mark, Duration::from_secs(10));
    // Click again: person hidden, fewer objects on the same paused frame, no person red left in the frame.
    let mark = log.len();
    click();
    log.wait_for("legend class=0 Hidden", mark, Duration::from_secs(10));
    // The astronaut's frame holds a person and nothing else at these thresholds: nothing is left.
    assert!(objects >= 1, "{paused}");
    log.wait_for("objects=0 paused", mark, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let after = x.grab(geometry);
    after.save(dir.join("legend_hidden.png")).unwrap();
    let full = (0, 0, w, geometry.3);
    assert!(count(&after, person, full) < count(&shot, person, full) / 4, "person boxes gone; see legend_hidden.png");
    x.xdotool(&["key", "q"]);
    assert!(child.wait().unwrap().success());
}
