//! Zones and events for real: a clip where objects swing in and out of a zone, its events file checked against
//! the per-frame JSON, and MQTT to a real `mosquitto` broker on the loopback that is stopped and started again.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{model, photo, scratch};

/// `seconds` of a crop swinging left and right over a photo every 3 s, 480x320 at 10 fps: the dog and the bicycle
/// go in and out of a zone in the middle.
fn swinging(dir: &Path, seconds: u32) -> PathBuf {
    let out = dir.join(format!("swing-{seconds}.mp4"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-framerate", "10", "-i"])
        .arg(photo("dog.jpg"))
        .args(["-vf", "scale=960:-2,crop=480:320:'200+180*sin(2*PI*t/3)':150,setsar=1,format=yuv420p"])
        .args(["-t", &seconds.to_string(), "-c:v", "libx264", "-g", "10", "-bf", "0"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    out
}

const ZONE: &str = "mid:240,0,480,0,480,320,240,320";

fn nasview_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nasview"));
    cmd.args(args).args(["--model", model("yolov12n_int8.onnx").to_str().unwrap()]);
    cmd
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[test]
fn zone_events_match_the_frames_they_happen_in() {
    let dir = scratch("events-zone");
    let clip = swinging(&dir, 9);
    let events_file = dir.join("events.jsonl");
    let out = nasview_cmd(&["--source", clip.to_str().unwrap(), "--headless", "--zone", ZONE, "--dwell-alert", "1"])
        .args(["--events", events_file.to_str().unwrap(), "--event-snapshots", dir.join("snaps").to_str().unwrap()])
        .output()
        .expect("nasview runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let frames = json_lines(&String::from_utf8_lossy(&out.stdout));
    let events = json_lines(&std::fs::read_to_string(&events_file).unwrap());
    assert_eq!(frames.len(), 90);
    let entered = events.iter().filter(|e| e["event"] == "zone_entered").count();
    let left = events.iter().filter(|e| e["event"] == "zone_left").count();
    assert!(entered >= 6 && left >= 5, "three swings in and out: {entered} in, {left} out");
    // Each event belongs to a frame of the run (its number and time), in order, and each track alternates
    // entered, (dwell), left.
    let mut state: std::collections::HashMap<u64, &str> = Default::default();
    let mut last = (0u64, 0.0f64);
    for e in &events {
        let (n, t) = (e["frame"].as_u64().unwrap(), e["time_ms"].as_f64().unwrap());
        let frame = frames.iter().find(|f| f["frame"].as_u64() == Some(n)).unwrap_or_else(|| panic!("{e}"));
        assert_eq!(frame["time_ms"].as_f64(), Some(t), "{e}");
        assert!((n, t) >= last, "events in order: {e}");
        last = (n, t);
        let id = e["track_id"].as_u64().unwrap();
        let kind = e["event"].as_str().unwrap();
        let before = state.insert(id, kind);
        match kind {
            "zone_entered" => assert!(before.is_none_or(|b| b == "zone_left"), "{e}"),
            "zone_left" => {
                assert!(matches!(before, Some("zone_entered" | "dwell_alert")), "{e}");
                assert!(e["dwell_s"].as_f64().unwrap() > 0.0, "{e}");
            }
            "dwell_alert" => assert!(e["dwell_s"].as_f64().unwrap() >= 1.0 && before == Some("zone_entered"), "{e}"),
            other => panic!("unexpected {other}"),
        }
    }
    // The frames' zone figures add up to the events: entries and exits so far at the last frame.
    let zone = &frames.last().unwrap()["zones"]["mid"];
    let sum = |m: &Value| m.as_object().map_or(0, |o| o.values().filter_map(Value::as_u64).sum::<u64>());
    assert_eq!(sum(&zone["entered"]) as usize, entered, "{zone}");
    assert_eq!(sum(&zone["left"]) as usize, left, "{zone}");
    // One snapshot per event, none overwritten.
    assert_eq!(std::fs::read_dir(dir.join("snaps")).unwrap().count(), events.len());
}

/// A `mosquitto` broker on a free loopback port, killed on drop; `persist` keeps its sessions across a restart
/// (in `dir`), `password` turns anonymous access off.
struct Broker {
    child: Child,
}

impl Broker {
    fn start(dir: &Path, port: u16, password: Option<(&str, &str)>) -> Broker {
        let mut conf =
            format!("listener {port} 127.0.0.1\npersistence true\npersistence_location {}/\n", dir.display());
        match password {
            Some((user, pass)) => {
                let file = dir.join("passwords");
                let ok = Command::new("mosquitto_passwd").args(["-b", "-c"]).arg(&file).args([user, pass]).status();
                assert!(ok.expect("mosquitto_passwd runs (make setup installs mosquitto)").success());
                conf.push_str(&format!("allow_anonymous false\npassword_file {}\n", file.display()));
            }
            None => conf.push_str("allow_anonymous true\n"),
        }
        let conf_path = dir.join(format!("mosquitto-{port}.conf"));
        std::fs::write(&conf_path, conf).unwrap();
        // Debian puts the broker in /usr/sbin, which a user's PATH may lack.
        let bin = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"].into_iter().find(|p| Path::new(p).exists());
        let child = Command::new(bin.unwrap_or("mosquitto"))
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs (make setup installs it)");
        // Ready when it accepts connections.
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // SIGTERM: it saves its persistent sessions.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A subscriber with a persistent session (QoS 1): what the broker holds for it while it is away is delivered
/// when it is back. Lines are kept as they come.
fn subscribe(port: u16, topic: &str) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-v",
            "-q",
            "1",
            "-c",
            "-i",
            "nasview-test-sub",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub runs");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let keep = lines.clone();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).for_each(|l| keep.lock().unwrap().push(l))
    });
    (child, lines)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn mqtt_events_survive_a_broker_outage() {
    let dir = scratch("events-mqtt");
    let clip = swinging(&dir, 24);
    let port = free_port();
    let mut broker = Some(Broker::start(&dir, port, None));
    let (mut sub, received) = subscribe(port, "nv/#");
    std::thread::sleep(Duration::from_millis(300));
    let events_file = dir.join("events.jsonl");
    let mqtt = format!("mqtt://127.0.0.1:{port}/nv");
    let mut run = nasview_cmd(&["--source", clip.to_str().unwrap(), "--headless", "--zone", ZONE])
        .args(["--events", events_file.to_str().unwrap(), "--mqtt", &mqtt])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Frames as they come, to compare the detection rate with the broker up and down.
    let frames = Arc::new(Mutex::new(Vec::<f64>::new()));
    let start = Instant::now();
    let (keep, stdout) = (frames.clone(), run.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .for_each(|_| keep.lock().unwrap().push(start.elapsed().as_secs_f64()))
    });
    let stderr = run.stderr.take().unwrap();
    let errs = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Up for 5 s after the first frame, down for 5 s, then up to the end.
    let t = Instant::now();
    while frames.lock().unwrap().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(60), "no frame");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(5));
    let down_at = start.elapsed().as_secs_f64();
    drop(broker.take());
    std::thread::sleep(Duration::from_secs(5));
    let up_at = start.elapsed().as_secs_f64();
    broker = Some(Broker::start(&dir, port, None));
    let code = run.wait().unwrap().code();
    reader.join().unwrap();
    let stderr = errs.join().unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    std::thread::sleep(Duration::from_secs(2));
    let _ = sub.kill();
    let _ = sub.wait();

    let written = json_lines(&std::fs::read_to_string(&events_file).unwrap());
    let got: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("nv/events ").and_then(|j| serde_json::from_str(j).ok()))
        .collect();
    let during: Vec<&Value> = written
        .iter()
        .filter(|e| {
            let f = e["frame"].as_u64().unwrap() as usize;
            frames.lock().unwrap().get(f).is_some_and(|t| *t > down_at && *t < up_at)
        })
        .collect();
    assert!(!during.is_empty(), "the outage must see events for this test to mean anything");
    assert_eq!(got, written, "every event delivered once, in order ({} during the outage)", during.len());
    assert!(stderr.contains("unreachable") && stderr.contains("is back"), "{stderr}");
    let summary = stderr.lines().find(|l| l.contains("messages delivered")).unwrap_or_default();
    assert!(!summary.contains("dropped"), "{summary}");
    // Retained: the counts, and the status said offline at the end.
    let retained = |topic: &str| {
        let out = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic, "-C", "1", "-W", "3"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(retained("nv/status"), "offline");
    let counts: Value = serde_json::from_str(&retained("nv/counts")).expect("retained counts");
    assert!(counts["zones"]["mid"]["entered"].as_object().is_some_and(|o| !o.is_empty()), "{counts}");
    // Detection did not wait for the broker: frames kept coming while it was down. A client that blocked on
    // publishing would stall them for its connect timeout; the rates before and during are printed, not
    // compared, since the tests around this one load the same two cores unevenly.
    let f = frames.lock().unwrap();
    let rate = |a: f64, b: f64| f.iter().filter(|t| **t > a && **t <= b).count() as f64 / (b - a);
    let (up, down) = (rate(down_at - 4.0, down_at), rate(down_at + 0.5, up_at));
    let longest_gap =
        f.windows(2).filter(|w| w[1] > down_at && w[0] < up_at).map(|w| w[1] - w[0]).fold(0.0f64, f64::max);
    println!(
        "MQTT outage: broker down at {down_at:.1} s, up at {up_at:.1} s; {} events, {} during the outage, all \
         delivered; frames/s {up:.1} before, {down:.1} while down; {summary}",
        written.len(),
        during.len()
    );
    assert!(longest_gap < 2.0, "frames stalled {longest_gap:.2} s while the broker was down ({down:.1} vs {up:.1}/s)");
    drop(broker);
}

#[test]
fn a_wrong_mqtt_password_is_said_and_never_printed() {
    let dir = scratch("events-mqtt-auth");
    let port = free_port();
    let _broker = Broker::start(&dir, port, Some(("nasview", "right-pw")));
    let mqtt = format!("mqtt://nasview:wrong-pw-123@127.0.0.1:{port}/nv");
    let out = nasview_cmd(&["--source", "demo", "--headless", "--max-frames", "20", "--zone", ZONE, "--mqtt", &mqtt])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "detection goes on: {stderr}");
    assert!(stderr.contains("refused the user name or password"), "{stderr}");
    assert!(!stderr.contains("wrong-pw-123") && !stdout.contains("wrong-pw-123"), "{stderr}");
    assert!(stderr.contains("nasview:***@"), "{stderr}");
}

/// `P`, four clicks and Enter in the real window under Xvfb: the zone drawn there gets events.
#[test]
fn a_zone_drawn_in_the_window_gets_events() {
    let dir = scratch("events-window-zone");
    let x = crate::window::Xvfb::start();
    let events_file = dir.join("events.jsonl");
    let mut child = nasview_cmd(&["--source", "demo", "--events", events_file.to_str().unwrap()])
        .env("DISPLAY", &x.display)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let xdo = |args: &[&str]| {
        Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &x.display)
            .stderr(Stdio::null())
            .output()
            .expect("xdotool runs")
    };
    let found = xdo(&["search", "--sync", "--name", "^nasview$"]);
    let id = String::from_utf8_lossy(&found.stdout).lines().next().unwrap_or_default().to_string();
    assert!(!id.is_empty(), "no window");
    std::thread::sleep(Duration::from_secs(3));
    xdo(&["key", "--window", &id, "p"]);
    std::thread::sleep(Duration::from_millis(500));
    // A press held across a refresh, as a hand's is.
    for (px, py) in [("100", "100"), ("1100", "100"), ("1100", "700"), ("100", "700")] {
        xdo(&["mousemove", px, py]);
        std::thread::sleep(Duration::from_millis(200));
        xdo(&["mousedown", "1"]);
        std::thread::sleep(Duration::from_millis(200));
        xdo(&["mouseup", "1"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    xdo(&["key", "--window", &id, "Return"]);
    std::thread::sleep(Duration::from_secs(8));
    xdo(&["key", "--window", &id, "q"]);
    let status = child.wait().unwrap();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let events = json_lines(&std::fs::read_to_string(&events_file).unwrap_or_default());
    assert!(
        events.iter().any(|e| e["event"] == "zone_entered" && e["zone"] == "zone-1"),
        "no event of the drawn zone: {events:?}"
    );
}
