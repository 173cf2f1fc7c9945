//! Network cameras for real on the loopback: an RTSP server (GStreamer) and an HTTP server (MJPEG, HLS, files)
//! started, killed and restarted by the tests; the screen grabbed from an Xvfb display.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{data, ffprobe, model, nasview, photo, scratch};
use crate::window::Xvfb;

const PASSWORD: &str = "s3cret-pw";

/// A port nothing listens on (the OS gave it and it was closed again).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A test server (Python script in tests/data), killed on drop; `start` waits for its "ready" line.
struct Server {
    child: Child,
}

impl Server {
    fn start(script: &str, args: &[&str]) -> Server {
        let mut child = Command::new("/usr/bin/python3")
            .arg(data(script))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (make setup installs it with GStreamer's RTSP server)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read ready");
        assert_eq!(line.trim(), "ready", "{script} did not start");
        Server { child }
    }

    fn rtsp(port: u16, clip: &Path) -> Server {
        let port = port.to_string();
        let clip = clip.to_str().unwrap();
        Server::start("rtsp_server.py", &["--port", &port, "--clip", clip, "--user", "viewer", "--password", PASSWORD])
    }

    fn http(port: u16, dir: &Path) -> Server {
        let port = port.to_string();
        Server::start("http_server.py", &["--port", &port, "--dir", dir.to_str().unwrap(), "--mjpeg-fps", "10"])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// 4 s of a pan over a photo, 640x360 at 25 fps, a key frame every 10 frames (as a camera's GOP), no B-frames.
fn clip(dir: &Path) -> PathBuf {
    let out = dir.join("clip.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-framerate", "25", "-i"])
        .arg(photo("dog.jpg"))
        .args(["-vf", "scale=960:-2,crop=640:360:'t*60':40,setsar=1,format=yuv420p", "-t", "4"])
        .args(["-c:v", "libx264", "-g", "10", "-bf", "0", "-movflags", "+faststart"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    out
}

/// nasview running headless on a live source; each line of stdout and stderr kept with the time it came.
struct Run {
    child: Child,
    start: Instant,
    lines: Arc<Mutex<Vec<(f64, bool, String)>>>,
}

impl Run {
    fn start(args: &[&str], dir: &Path) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nasview"))
            .args(args)
            .args(["--model", model("yolov12n_int8.onnx").to_str().unwrap(), "--headless"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nasview runs");
        let start = Instant::now();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let follow = |pipe: Box<dyn Read + Send>, is_json: bool| {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push((start.elapsed().as_secs_f64(), is_json, line));
                }
            });
        };
        follow(Box::new(child.stdout.take().unwrap()), true);
        follow(Box::new(child.stderr.take().unwrap()), false);
        Run { child, start, lines }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Waits until `n` frames (JSON lines) have come after `since` seconds; panics after `limit`.
    fn frames_after(&self, since: f64, n: usize, limit: Duration) -> f64 {
        let t = Instant::now();
        loop {
            let got: Vec<f64> =
                self.lines.lock().unwrap().iter().filter(|(at, json, _)| *json && *at > since).map(|l| l.0).collect();
            if got.len() >= n {
                return got[n - 1];
            }
            assert!(t.elapsed() < limit, "only {} frames after {since:.1} s: {:#?}", got.len(), self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first stderr line holding `text`, with its time.
    fn said(&self, text: &str) -> Option<(f64, String)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .find(|(_, json, l)| !json && l.contains(text))
            .map(|(t, _, l)| (*t, l.clone()))
    }

    fn stderr(&self) -> Vec<String> {
        self.lines.lock().unwrap().iter().filter(|l| !l.1).map(|l| l.2.clone()).collect()
    }

    fn all_text(&self) -> String {
        self.lines.lock().unwrap().iter().map(|l| l.2.as_str()).collect::<Vec<_>>().join("\n")
    }

    /// SIGTERM, as a user's Ctrl-C or a service manager's stop; returns the exit code.
    fn stop(mut self) -> (Option<i32>, String) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let code = self.child.wait().expect("wait").code();
        std::thread::sleep(Duration::from_millis(200));
        (code, self.all_text())
    }
}

/// Frames arrive; the server is killed for 5 s and started again on the same port; frames resume without a
/// restart of nasview, and the recording spans the gap. Returns the timeline for the closing note.
fn outage(kind: &str, url: &str, start_server: &dyn Fn() -> Server, dir: &Path) -> String {
    let mut server = start_server();
    let record = dir.join(format!("{kind}.mp4"));
    let run = Run::start(&["--source", url, "--record", record.to_str().unwrap()], dir);
    let first = run.frames_after(0.0, 10, Duration::from_secs(40));
    let killed = run.now();
    drop(server);
    std::thread::sleep(Duration::from_secs(5));
    let restarted = run.now();
    server = start_server();
    let resumed = run.frames_after(restarted, 1, Duration::from_secs(30));
    run.frames_after(restarted, 10, Duration::from_secs(30));
    let (lost_at, lost) =
        run.said(&format!("{kind} lost (")).unwrap_or_else(|| panic!("no loss said: {:#?}", run.stderr()));
    let (back_at, _) =
        run.said(&format!("{kind} back after")).unwrap_or_else(|| panic!("never back: {:#?}", run.stderr()));
    let (code, text) = run.stop();
    drop(server);
    assert_eq!(code, Some(0), "{text}");
    assert!(lost_at > killed && lost_at - killed <= 3.5, "loss said {:.2} s after the kill: {lost}", lost_at - killed);
    assert!(back_at > restarted, "back at {back_at:.2} s, restarted at {restarted:.2} s");
    assert!(!text.contains(PASSWORD), "the password was printed: {text}");
    // One recording across the gap, timed by capture: it lasts from the first frame to the last, gap included.
    let probe = ffprobe(&record);
    assert!(probe.frames >= 20, "{probe:?}");
    let span = resumed - first;
    assert!(
        span > 5.0 && probe.duration >= span - 1.0,
        "the recording does not span the outage ({span:.1} s): {probe:?}"
    );
    format!(
        "{kind}: first frames by {first:.2} s; server killed at {killed:.2} s; loss said at {lost_at:.2} s (+{:.2} s): \
         {lost}; server back at {restarted:.2} s; nasview back at {back_at:.2} s, frames again at {resumed:.2} s \
         (+{:.2} s); recording {:.1} s, {} frames",
        lost_at - killed,
        resumed - restarted,
        probe.duration,
        probe.frames
    )
}

#[test]
fn rtsp_camera_goes_away_and_comes_back() {
    let dir = scratch("streams-rtsp");
    let clip = clip(&dir);
    let port = free_port();
    let url = format!("rtsp://viewer:{PASSWORD}@127.0.0.1:{port}/cam");
    let timeline = outage("stream", &url, &|| Server::rtsp(port, &clip), &dir);
    println!("RTSP {timeline}");
}

/// The clip and the folder an HTTP server serves, in a fresh scratch folder.
fn served(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch(name);
    let clip = clip(&dir);
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    (dir, clip, www)
}

#[test]
fn http_mjpeg_camera_goes_away_and_comes_back() {
    let (dir, clip, www) = served("streams-mjpeg");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&clip)
        .args(["-vf", "fps=10", "-q:v", "5"])
        .arg(www.join("f%03d.jpg"))
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mjpeg");
    let timeline = outage("stream", &url, &|| Server::http(port, &www), &dir);
    println!("MJPEG {timeline}");
}

#[test]
fn hls_and_plain_files_over_http() {
    let (_dir, clip, www) = served("streams-http-files");
    std::fs::copy(&clip, www.join("clip.mp4")).unwrap();
    // The server also serves /mjpeg, from the JPEGs in its folder.
    std::fs::copy(photo("dog.jpg"), www.join("dog.jpg")).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&clip)
        .args(["-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0"])
        .arg(www.join("x.m3u8"))
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let _server = Server::http(port, &www);
    for path in ["x.m3u8", "clip.mp4"] {
        let url = format!("http://127.0.0.1:{port}/{path}");
        let out = nasview(&["--source", &url, "--headless", "--max-frames", "5"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout.lines().count(), 5, "{path}: {stdout}");
        assert!(stdout.lines().all(|l| l.contains("\"width\":640,\"height\":360")), "{path}: {stdout}");
    }
}

#[test]
fn wrong_password_port_or_path_exit_2_with_advice() {
    let dir = scratch("streams-errors");
    let clip = clip(&dir);
    let port = free_port();
    let _server = Server::rtsp(port, &clip);
    let closed = free_port();
    let cases = [
        (format!("rtsp://viewer:wrong-{PASSWORD}@127.0.0.1:{port}/cam"), "refused the user name or password"),
        (format!("rtsp://127.0.0.1:{port}/cam"), "asks for a user name and password"),
        (format!("rtsp://viewer:{PASSWORD}@127.0.0.1:{closed}/cam"), "connection refused by 127.0.0.1"),
        (format!("rtsp://viewer:{PASSWORD}@127.0.0.1:{port}/nope"), "no stream at /nope"),
    ];
    for (url, advice) in &cases {
        let t = Instant::now();
        let out = nasview(&["--source", url, "--headless", "--max-frames", "3"]);
        let took = t.elapsed();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{advice}: {stderr}");
        assert!(took < Duration::from_secs(10), "{advice}: took {took:?}");
        assert!(stderr.contains(advice), "want {advice:?}: {stderr}");
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD), "password printed: {stderr}");
        // Said once, as the last line.
        assert_eq!(stderr.matches(advice).count(), 1, "{stderr}");
    }
}

#[test]
fn the_screen_is_a_source() {
    let x = Xvfb::start();
    // The photo in a window at the top-left corner (Xvfb has no window manager to move it).
    let mut viewer = Command::new("display")
        .args(["-geometry", "+0+0"])
        .arg(photo("dog.jpg"))
        .env("DISPLAY", &x.display)
        .spawn()
        .expect("imagemagick's display runs");
    let shown = Command::new("timeout")
        .args(["10", "xdotool", "search", "--sync", "--onlyvisible", "--name", "dog.jpg"])
        .env("DISPLAY", &x.display)
        .output()
        .expect("xdotool runs");
    assert!(shown.status.success(), "the photo's window did not appear");
    let out = Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(["--source", "screen?region=0,0,768,576", "--headless", "--max-frames", "3"])
        .args(["--model", model("yolov12n_int8.onnx").to_str().unwrap()])
        .env("DISPLAY", &x.display)
        .output()
        .expect("nasview runs");
    let _ = viewer.kill();
    let _ = viewer.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().expect("a frame")).expect("JSON");
    assert_eq!((first["width"].as_u64(), first["height"].as_u64()), (Some(768), Some(576)));
    let labels: Vec<&str> =
        first["detections"].as_array().unwrap().iter().filter_map(|d| d["label"].as_str()).collect();
    assert!(labels.contains(&"dog") && labels.contains(&"bicycle"), "what the screen shows: {labels:?}");
    // No display: a clear error, exit 2.
    let out = Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(["--source", "screen", "--headless", "--max-frames", "1"])
        .args(["--model", model("yolov12n_int8.onnx").to_str().unwrap()])
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DISPLAY is not set"));
}
