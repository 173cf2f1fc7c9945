//! ONNX Runtime's intra-op spinning (`--spin`), and `auto`: each command's measured choice for free or busy cores.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Whether idle ONNX Runtime pool threads busy-wait for the next parallel section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spin {
    /// Sleep and be woken for each parallel section.
    Off,
    /// Busy-wait, also between runs (ONNX Runtime's default).
    On,
    /// Busy-wait inside a run, stop at its end (`session.force_spinning_stop`), so other threads get
    /// the cores between runs.
    Run,
}

impl std::str::FromStr for Spin {
    type Err = String;
    fn from_str(s: &str) -> Result<Spin, String> {
        match s {
            "off" => Ok(Spin::Off),
            "on" => Ok(Spin::On),
            "run" => Ok(Spin::Run),
            _ => Err(format!("{s:?}: use auto, on, off or run")),
        }
    }
}

impl Spin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Spin::Off => "off",
            Spin::On => "on",
            Spin::Run => "run",
        }
    }
}

/// What `--spin` asked for, and what a command made of `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SpinSetting {
    /// `--spin auto` before a command said what it measured: no spinning.
    #[default]
    Unset,
    /// `--spin on|off|run`.
    Fixed(Spin),
    /// A command's measured choice: `idle` when no other process wants the cores as the model loads,
    /// `busy` otherwise.
    Auto { idle: Spin, busy: Spin },
}

impl SpinSetting {
    /// This setting, or the command's measured choice when the user left `--spin` at `auto`.
    pub fn or_auto(self, idle: Spin, busy: Spin) -> SpinSetting {
        match self {
            SpinSetting::Fixed(s) => SpinSetting::Fixed(s),
            _ if idle == busy => SpinSetting::Fixed(idle),
            _ => SpinSetting::Auto { idle, busy },
        }
    }
}

/// The spinning in use and, for `auto`, why (for the start-up line).
#[derive(Clone, Debug, PartialEq)]
pub struct SpinChoice {
    pub spin: Spin,
    pub why: Option<String>,
}

impl SpinChoice {
    pub fn label(&self) -> String {
        match &self.why {
            Some(why) => format!("{} (auto: {why})", self.spin.as_str()),
            None => self.spin.as_str().to_string(),
        }
    }
}

/// [`Probe`] samples every [`SAMPLE_GAP`] until the model is read (7-11 ms here) and decides on the newest
/// [`WINDOW`] samples, so a fast load waits a few ms at most.
const WINDOW: usize = 6;
const SAMPLE_GAP: Duration = Duration::from_millis(1);
/// Busy cores count only when they stay busy this long. ONNX Runtime's pool threads keep spinning for a while
/// after their process's last run: a Python session's worker stayed runnable 37-39 ms here (Ultralytics' too),
/// so `nasview detect` started right after such a run saw "1 other runnable thread" and stopped spinning in
/// half the rounds of `make bench-ort` (INT8 1.11x of bare ONNX Runtime instead of 0.96x). Only the busy
/// case waits for this; a really busy machine makes each image take hundreds of ms anyway.
const PERSIST: Duration = Duration::from_millis(60);
const MAX_SAMPLES: usize = 256;

/// Counts, on a thread of its own, how many threads of *other* processes are runnable while this one loads
/// its model. The 1-minute load average used before counted nasview's own earlier runs: a benchmark that runs
/// nasview back to back saw its own load and stopped spinning (INT8 1.054x of bare ONNX Runtime, issue 13).
/// The number of runnable threads right now, less this process's own, has no such memory.
pub struct Probe {
    /// The sampler and the flag that tells it the model is read.
    sampler: Option<(JoinHandle<Vec<u32>>, Arc<AtomicBool>)>,
    cores: usize,
}

impl Probe {
    /// Starts sampling when the setting is `Auto`; otherwise does nothing.
    pub fn start(setting: SpinSetting) -> Probe {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let sampler = match setting {
            SpinSetting::Auto { .. } => {
                let done = Arc::new(AtomicBool::new(false));
                let flag = done.clone();
                let sampler = std::thread::Builder::new().name("spin-probe".into()).spawn(move || sample(&flag, cores));
                sampler.ok().map(|h| (h, done))
            }
            _ => None,
        };
        Probe { sampler, cores }
    }

    /// The choice for `setting`, from what was sampled.
    pub fn choose(self, setting: SpinSetting) -> SpinChoice {
        match setting {
            SpinSetting::Unset => SpinChoice { spin: Spin::Off, why: None },
            SpinSetting::Fixed(spin) => SpinChoice { spin, why: None },
            SpinSetting::Auto { idle, busy } => {
                let samples = self
                    .sampler
                    .and_then(|(h, done)| {
                        done.store(true, Ordering::Relaxed);
                        h.join().ok()
                    })
                    .unwrap_or_default();
                choose(median(newest(&samples)), self.cores, idle, busy)
            }
        }
    }
}

/// The samples the choice is made on.
fn newest(samples: &[u32]) -> &[u32] {
    &samples[samples.len().saturating_sub(WINDOW)..]
}

/// Samples until the model is read and the newest samples say the cores are free, or until busy cores have
/// stayed busy for [`PERSIST`].
fn sample(done: &AtomicBool, cores: usize) -> Vec<u32> {
    let start = std::time::Instant::now();
    let mut others = Vec::with_capacity(64);
    while others.len() < MAX_SAMPLES {
        let Some(all) = std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| runnable_in_loadavg(&s)) else {
            return Vec::new();
        };
        others.push(all.saturating_sub(own_runnable()));
        if others.len() >= WINDOW && done.load(Ordering::Relaxed) {
            let busy = median(newest(&others)).is_some_and(|n| is_busy(n, cores));
            if !busy || start.elapsed() >= PERSIST {
                break;
            }
        }
        std::thread::sleep(SAMPLE_GAP);
    }
    others
}

/// Runnable threads of this process (the sampler itself is one of them while it reads).
fn own_runnable() -> u32 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 1 };
    let running = tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("stat")).ok().and_then(|s| state_in_stat(&s)) == Some('R'))
        .count();
    (running as u32).max(1)
}

/// The runnable count in `/proc/loadavg` ("0.52 0.58 0.59 3/467 1234": 3).
fn runnable_in_loadavg(text: &str) -> Option<u32> {
    text.split_whitespace().nth(3)?.split('/').next()?.parse().ok()
}

/// A thread's state letter in its `stat` line; the name in parentheses may itself hold spaces and ")".
fn state_in_stat(text: &str) -> Option<char> {
    text[text.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

fn median(samples: &[u32]) -> Option<f32> {
    let mut s = samples.to_vec();
    s.sort_unstable();
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2] as f32),
        _ => Some((s[n / 2 - 1] + s[n / 2]) as f32 / 2.0),
    }
}

/// `busy` when other processes' runnable threads would take at least half the cores, else `idle`; unknown
/// (no `/proc`) counts as idle, which is ONNX Runtime's own default of spinning.
fn choose(others: Option<f32>, cores: usize, idle: Spin, busy: Spin) -> SpinChoice {
    match others {
        Some(n) if is_busy(n, cores) => {
            SpinChoice { spin: busy, why: Some(format!("{n} other runnable threads on {cores} cores")) }
        }
        Some(n) => SpinChoice { spin: idle, why: Some(format!("cores free, {n} other runnable threads")) },
        None => SpinChoice { spin: idle, why: Some("load unknown".into()) },
    }
}

fn is_busy(others: f32, cores: usize) -> bool {
    others * 2.0 >= cores as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_runnable_count_and_a_thread_state() {
        assert_eq!(runnable_in_loadavg("0.52 0.58 0.59 3/467 1234\n"), Some(3));
        assert_eq!(runnable_in_loadavg("0.52 0.58"), None);
        assert_eq!(state_in_stat("4242 (nasview) R 1 4242 0"), Some('R'));
        // A thread name may hold spaces and parentheses: the state follows the last ")".
        assert_eq!(state_in_stat("17 (a) b) S 1 17"), Some('S'));
        assert_eq!(state_in_stat("garbage"), None);
    }

    #[test]
    fn busy_from_half_the_cores() {
        let pick = |others, cores| choose(others, cores, Spin::On, Spin::Off).spin;
        // 2 cores: one other runnable thread already takes half.
        assert_eq!(pick(Some(0.0), 2), Spin::On);
        assert_eq!(pick(Some(0.5), 2), Spin::On);
        assert_eq!(pick(Some(1.0), 2), Spin::Off);
        assert_eq!(pick(Some(1.5), 8), Spin::On);
        assert_eq!(pick(Some(4.0), 8), Spin::Off);
        assert_eq!(pick(None, 2), Spin::On);
        assert_eq!(median(&[3, 0, 0, 1]), Some(0.5));
        assert_eq!(median(&[2, 9, 1]), Some(2.0));
        assert_eq!(median(&[]), None);
        // A spinner that stops (another process's pool after its last run) is judged by the newest samples.
        assert_eq!(median(newest(&[1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])), Some(0.0));
        assert_eq!(newest(&[4, 2]), &[4, 2]);
        assert_eq!(
            choose(Some(3.0), 2, Spin::On, Spin::Off).label(),
            "off (auto: 3 other runnable threads on 2 cores)"
        );
    }

    #[test]
    fn a_fixed_choice_is_kept_and_auto_is_resolved_per_command() {
        assert_eq!(SpinSetting::Fixed(Spin::On).or_auto(Spin::Run, Spin::Off), SpinSetting::Fixed(Spin::On));
        assert_eq!(SpinSetting::Unset.or_auto(Spin::Off, Spin::Off), SpinSetting::Fixed(Spin::Off));
        assert_eq!(
            SpinSetting::Unset.or_auto(Spin::On, Spin::Off),
            SpinSetting::Auto { idle: Spin::On, busy: Spin::Off }
        );
        assert_eq!(Probe::start(SpinSetting::Unset).choose(SpinSetting::Unset).spin, Spin::Off);
        assert_eq!("run".parse(), Ok(Spin::Run));
        assert!("auto".parse::<Spin>().is_err());
    }

    #[test]
    fn the_probe_sees_a_busy_thread_of_another_process() {
        // A real process spinning on every core: the probe, run now, must call the cores busy.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut hogs: Vec<_> = (0..cores)
            .map(|_| std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("sh runs"))
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let auto = SpinSetting::Auto { idle: Spin::On, busy: Spin::Off };
        let choice = Probe::start(auto).choose(auto);
        for h in &mut hogs {
            let _ = h.kill();
            let _ = h.wait();
        }
        assert_eq!(choice.spin, Spin::Off, "{choice:?}");
    }
}
