//! Soak: the demo at full speed with recording on; memory must stay flat and the queues bounded.
//! 60 s under `make test`; `make soak` runs 10 minutes (SOAK_SECONDS=600) and prints the figures.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{ffprobe, model, scratch};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn soak_memory_stays_flat_while_recording() {
    let seconds: u64 = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let dir = scratch("soak");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nasview"))
        .args(["--source", "demo", "--headless", "--record", "soak.mp4"])
        .args(["--model", model("yolov12n_int8.onnx").to_str().unwrap()])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Count output lines as they come, so the pipe never fills.
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || std::io::BufRead::lines(std::io::BufReader::new(stdout)).count());
    // RSS once a second after a warm-up of a tenth of the run. Single samples wander by about 3 % with no
    // trend (allocator noise, measured here), so the growth compares the medians of the first and last
    // quarters of the samples: a leak still shows, the noise does not.
    let t0 = Instant::now();
    let warm_up = Duration::from_secs_f64(seconds as f64 * 0.1);
    std::thread::sleep(warm_up);
    let mut rss = Vec::new();
    while t0.elapsed() < Duration::from_secs(seconds) {
        rss.push(rss_kib(pid));
        std::thread::sleep(Duration::from_secs(1));
    }
    let quarter = (rss.len() / 4).max(1);
    let median = |v: &[u64]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let samples = [median(&rss[..quarter]), median(&rss), median(&rss[rss.len() - quarter..])];
    Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let frames = lines.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let probe = ffprobe(&dir.join("soak.mp4"));
    let growth = (samples[2] as f64 - samples[0] as f64) / samples[0] as f64;
    let report = format!(
        "soak {seconds} s: RSS medians first quarter {:.1} / all {:.1} / last quarter {:.1} MiB (growth {:+.2} %), {frames} frames processed, \
         recording {} frames over {:.1} s of video; {}",
        samples[0] as f64 / 1024.0,
        samples[1] as f64 / 1024.0,
        samples[2] as f64 / 1024.0,
        growth * 100.0,
        probe.frames,
        probe.duration,
        stderr.lines().filter(|l| l.contains("saved") || l.contains("processed")).collect::<Vec<_>>().join("; ")
    );
    eprintln!("{report}");
    std::fs::write(dir.join("soak-report.txt"), &report).unwrap();
    assert!(samples[0] > 0 && growth < 0.05, "{report}");
    assert!(frames > 0 && probe.frames > 0, "{report}");
    // The demo runs as fast as inference takes it; its recording is timed by the clip's own clock (30 fps),
    // so it spans the frames processed (a frame the encoder dropped leaves its time, not a shift).
    let clip_seconds = frames as f64 / 30.0;
    assert!((probe.duration - clip_seconds).abs() < 0.25, "the recording is timed by the clip: {report}");
    assert!(probe.frames as f64 > 0.9 * frames as f64, "the recording holds the frames processed: {report}");
}
