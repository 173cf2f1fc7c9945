//! The threads: capture -> newest-frame channel -> inference (owns the ort session) -> newest-result channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::channel::{newest, NewestReceiver, NewestSender};
use crate::config::ModelConfig;
use crate::detector::tiles::PassSettings;
use crate::detector::{Candidates, Detector, ModelInfo, StageTimes};
use crate::source::{capture_loop, Frame, SharedState, Spec};

/// One frame with the candidates computed on it: the UI draws both together, so boxes never drift.
pub struct Processed {
    pub frame: Frame,
    pub candidates: Candidates,
    pub times: StageTimes,
    /// Sequence number of the newest captured frame when inference took this one.
    pub newest_seq_at_pickup: u64,
    /// The inference settings this frame was processed with.
    pub settings: InferenceSettings,
}

/// Counters the HUD, the headless output and the tests read.
#[derive(Default)]
pub struct Stats {
    pub captured: Arc<AtomicU64>,
    /// Frames replaced before inference took them.
    pub capture_dropped: Arc<AtomicU64>,
    /// Results replaced before the display took them.
    pub result_dropped: Arc<AtomicU64>,
    pub processed: AtomicU64,
    /// What the capture thread is doing with its source (running, reconnecting, ended, failed).
    pub source: SharedState,
}

/// Settings of the inference thread that the presenter may change while it runs (the window's keys): the
/// inference loop reads them once per frame, so a change applies from the next frame on, and each
/// `Processed` says which settings made it. New settings (tiles on/off, a zoom region) are new fields here,
/// sent from the window as `consumer::Action::SetInference`.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceSettings {
    /// Candidates are kept above this confidence so the slider can move without a new inference.
    pub floor: f32,
    /// Tiles and zoom region: the passes besides the full frame (`G` and `Z` in the window).
    pub passes: PassSettings,
}

/// The one copy of the settings, shared by the consumer (writes) and the inference thread (reads).
#[derive(Clone)]
pub struct SettingsHandle(Arc<Mutex<InferenceSettings>>);

impl SettingsHandle {
    pub fn new(settings: InferenceSettings) -> SettingsHandle {
        SettingsHandle(Arc::new(Mutex::new(settings)))
    }

    pub fn get(&self) -> InferenceSettings {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, settings: InferenceSettings) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = settings;
    }
}

pub struct PipelineConfig {
    pub model: ModelConfig,
    /// The inference settings at start.
    pub settings: InferenceSettings,
    /// Every frame is processed (files in headless mode) instead of the newest only.
    pub lossless: bool,
    /// Every captured frame also goes to the display (`Pipeline::frames`, newest wins), not only the processed.
    pub display_frames: bool,
}

pub struct Pipeline {
    pub results: NewestReceiver<Processed>,
    /// Every captured frame, newest wins, when the display shows them all (`--display every`).
    pub frames: Option<NewestReceiver<Frame>>,
    pub stats: Arc<Stats>,
    pub info: ModelInfo,
    pub source_desc: String,
    pub settings: SettingsHandle,
    threads: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// Loads the model and applies `--classes` to its labels: the one way every command gets its detector.
pub fn load_detector(model: &ModelConfig) -> anyhow::Result<Detector> {
    let mut d = Detector::load(&model.path, &model.load)?;
    if let Some(spec) = &model.classes {
        d.class_filter = Some(spec.resolve(&d.info.labels)?);
    }
    Ok(d)
}

fn spawn<F>(name: &str, f: F) -> anyhow::Result<JoinHandle<anyhow::Result<()>>>
where
    F: FnOnce() -> anyhow::Result<()> + Send + 'static,
{
    std::thread::Builder::new().name(name.into()).spawn(f).with_context(|| format!("cannot start the {name} thread"))
}

impl Pipeline {
    /// Starts inference first (the model must load before frames flow), then capture.
    pub fn start(source: Spec, cfg: PipelineConfig) -> anyhow::Result<Pipeline> {
        let (frame_tx, frame_rx) = newest::<Frame>();
        let (frame_tx, frames) = if cfg.display_frames {
            let (display_tx, display_rx) = newest::<Frame>();
            (frame_tx.with_tap(display_tx), Some(display_rx))
        } else {
            (frame_tx, None)
        };
        let (result_tx, results) = newest::<Processed>();
        let stats = Arc::new(Stats {
            capture_dropped: frame_tx.dropped(),
            result_dropped: result_tx.dropped(),
            ..Stats::default()
        });
        let stats_inf = Arc::clone(&stats);
        let lossless = cfg.lossless;
        let settings = SettingsHandle::new(cfg.settings);
        let settings_inf = settings.clone();
        let (inference, info) = spawn_after_setup(
            "inference",
            move || {
                let d = load_detector(&cfg.model)?;
                let info = d.info.clone();
                Ok((d, info))
            },
            move |mut detector| inference_loop(&mut detector, frame_rx, result_tx, &stats_inf, &settings_inf, lossless),
        )?;
        let captured = Arc::clone(&stats.captured);
        let stats_cap = Arc::clone(&stats);
        let (capture, source_desc) = spawn_after_setup(
            "capture",
            move || {
                let src = source.open()?;
                let desc = src.describe();
                Ok(((src, source), desc))
            },
            // The error is returned, not printed: `join` hands it to the top level, which says it once.
            move |(src, source)| {
                capture_loop(&source, src, frame_tx, captured, &stats_cap.source, lossless).context("source failed")
            },
        )?;
        let threads = vec![capture, inference];
        Ok(Pipeline { results, frames, stats, info, source_desc, settings, threads })
    }

    /// A pipeline without threads, fed through `results` by the test: the consumer loop tested on its own.
    #[cfg(test)]
    pub(crate) fn without_threads(
        results: NewestReceiver<Processed>,
        frames: Option<NewestReceiver<Frame>>,
        info: ModelInfo,
    ) -> Pipeline {
        let settings = SettingsHandle::new(InferenceSettings { floor: 0.05, passes: Default::default() });
        Pipeline {
            results,
            frames,
            stats: Arc::default(),
            info,
            source_desc: "test frames".into(),
            settings,
            threads: Vec::new(),
        }
    }

    /// Hangs up and joins every thread; a thread that does not end within `grace` (a stalled camera)
    /// is left behind rather than hanging the exit. Returns the first thread error.
    pub fn join(self, grace: Duration) -> anyhow::Result<()> {
        drop(self.results);
        drop(self.frames);
        let deadline = Instant::now() + grace;
        let mut first_err = None;
        for t in self.threads {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !t.is_finished() {
                tracing::debug!("thread {:?} did not stop in time; leaving it", t.thread().name());
                continue;
            }
            if let Err(e) = t.join().map_err(|_| anyhow!("a pipeline thread panicked")).and_then(|r| r) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Starts a named thread that first sets itself up (loads the model, opens the source) and says how that
/// went before it runs: the caller gets the set-up's error, or what the set-up announced.
fn spawn_after_setup<S, A>(
    name: &str,
    setup: impl FnOnce() -> anyhow::Result<(S, A)> + Send + 'static,
    run: impl FnOnce(S) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<(JoinHandle<anyhow::Result<()>>, A)>
where
    A: Send + 'static,
{
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    let handle = spawn(name, move || match setup() {
        Ok((state, announce)) => {
            let _ = ready_tx.send(Ok(announce));
            run(state)
        }
        Err(e) => {
            let _ = ready_tx.send(Err(e));
            Ok(())
        }
    })?;
    match ready_rx.recv() {
        Ok(Ok(announce)) => Ok((handle, announce)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(match handle.join() {
            Ok(Err(e)) => e,
            _ => anyhow!("the {name} thread stopped before it was set up"),
        }),
    }
}

fn inference_loop(
    detector: &mut Detector,
    frames: NewestReceiver<Frame>,
    results: NewestSender<Processed>,
    stats: &Stats,
    settings: &SettingsHandle,
    lossless: bool,
) -> anyhow::Result<()> {
    while let Some(frame) = frames.recv() {
        let newest_seq_at_pickup = stats.captured.load(Ordering::Relaxed).saturating_sub(1);
        let settings = settings.get();
        let (candidates, times) = detector.detect_tiled(&frame.image, &settings.passes, settings.floor)?;
        tracing::trace!(seq = frame.seq, ?times, "inference");
        stats.processed.fetch_add(1, Ordering::Relaxed);
        let p = Processed { frame, candidates, times, newest_seq_at_pickup, settings };
        let delivered = if lossless { results.send_lossless(p) } else { results.send(p) };
        if !delivered {
            break;
        }
    }
    Ok(())
}
