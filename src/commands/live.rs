//! The live command (default): a source through the pipeline into the consumer loop, with the window or
//! headless as presenter; returns the exit code.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cli::DisplayMode;
use crate::config::{LiveConfig, ModelConfig, CONF_FLOOR};
use crate::consumer::headless::Headless;
use crate::consumer::{Consumer, Presenter};
use crate::detector::Spin;
use crate::events::EventOutputs;
use crate::messages;
use crate::outputs::{OutputConfig, Outputs};
use crate::pipeline::{InferenceSettings, Pipeline, PipelineConfig};
use crate::track::live::{HeatState, Tracking};
use crate::track::zones::Zones;
use crate::ui::WindowPresenter;

/// ONNX Runtime spinning for the live viewer: off. Capture, display and the encoder share the cores with
/// inference, and a spinning pool thread takes the time slices they need. Measured (YOLO-NAS S INT8
/// fixture, `demo?camera` at 30 fps, 20 s per run, off/on/run interleaved, two rounds, on a shared and
/// busy 2-core machine), spinning on / off:
///   headless, recording off: inference rate 0.57x, capture -> display latency 1.66x
///   headless, recording on:  inference rate 0.61x, latency 1.70x
///   window,   recording off: inference rate 0.44x, latency 2.25x
///   window,   recording on:  inference rate 0.68x, latency 1.42x
/// and spinning inside runs only (`run`) did no better than `on` (0.41x-0.72x). On the same machine when
/// quiet (150 frames, two interleaved rounds), on / off: headless, frames shown 0.95x, latency 1.03x; window,
/// frames shown 0.99x (recording off) and 1.05x (on), latency 0.93x and 0.91x (83 vs 89 ms, 86 vs 95 ms).
/// So on idle cores spinning moves the live viewer by under 10 % either way, on busy ones it costs up to
/// 2.25x the latency; and a live session lasts while the load around it changes, but the choice is made
/// once, at start-up. Capture drops follow the inference rate (newest frame wins). `--spin on|run`
/// overrides this.
pub const SPIN: Spin = Spin::Off;

/// Runs the live command: 0 all done, 1 when an output the user asked for failed; errors (exit 2) when the
/// source fails or gives no frame.
pub fn run(cfg: LiveConfig) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal ends the run in order (the loop looks every 100 ms; the recording is finalised); a
        // second one, while that is still under way, ends the process at once (what was recorded plays).
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .context("cannot install signal handlers")?;
    }
    let thresholds = cfg.model.thresholds.clone();
    // Candidates are kept down to the slider's minimum, so it moves without a new inference.
    let floor = CONF_FLOOR.min(thresholds.conf).min(cfg.model.class_conf.0.iter().map(|c| c.1).fold(1.0, f32::min));
    let lossless = cfg.headless && cfg.source.every_frame_matters();
    let settings = InferenceSettings { floor, passes: cfg.model.passes };
    let class_conf_spec = cfg.model.class_conf.clone();
    let model = ModelConfig { load: cfg.model.load.spinning_or(SPIN, SPIN), ..cfg.model };
    // Headless, the JSON lines are the output: one per processed frame, whatever --display says.
    let display_frames = !cfg.headless && cfg.display == DisplayMode::Every;
    // Opened before anything runs: an unwritable events file is an error at start, not after frames went by.
    let events = if cfg.events.any() { Some(Rc::new(RefCell::new(EventOutputs::open(&cfg.events)?))) } else { None };
    let pipeline =
        Pipeline::start(cfg.source, PipelineConfig { model, settings: settings.clone(), lossless, display_frames })?;
    messages::note(&pipeline.info.summary());
    messages::note(&format!("source {}", pipeline.source_desc));
    let class_conf = class_conf_spec.resolve(&pipeline.info.labels)?;
    // The heatmap is fed when it is written (--heatmap-out) or can be shown (M in the window).
    let heat = (cfg.heatmap_out.is_some() || !cfg.headless).then(|| Rc::new(RefCell::new(HeatState::default())));
    let mut presenter: Box<dyn Presenter> = if cfg.headless {
        Box::new(Headless)
    } else {
        Box::new(
            WindowPresenter::open(pipeline.info.labels.clone(), &thresholds, floor)?
                .with_inference(settings)
                .with_class_conf(class_conf.clone())
                .with_heat(heat.clone()),
        )
    };
    let out_cfg = OutputConfig {
        record: cfg.record,
        overwrite: cfg.overwrite,
        record_hud: cfg.record_hud,
        save_frames: cfg.save_frames,
        json: cfg.headless,
        fps_hint: cfg.fps_hint,
    };
    let mut outputs = Outputs::new(out_cfg, pipeline.info.labels.clone());
    let mut consumer =
        Consumer::new(&pipeline, &mut outputs, thresholds, cfg.max_frames, &stop).with_class_conf(class_conf);
    // Always a step, so T can turn tracking on in the window after --no-track.
    let zones = Zones::new(cfg.zones, cfg.dwell_alert);
    let blur = match &cfg.blur {
        Some(spec) => spec.resolve_for("--blur", &pipeline.info.labels)?,
        None => Vec::new(),
    };
    consumer.add_step(Box::new(
        Tracking::new(cfg.line, cfg.track, pipeline.info.labels.clone())
            .with_watch(zones, events.clone())
            .with_privacy(blur, heat.clone()),
    ));
    let result = consumer.run(presenter.as_mut());
    let shown = consumer.summary();
    drop(presenter);
    // Finalise the recording whatever happened above: nothing recorded is lost.
    let stats = Arc::clone(&pipeline.stats);
    let failures = u64::from(outputs.finish()) + stats.source.skipped();
    let mut failures = failures;
    if let (Some(path), Some(heat)) = (&cfg.heatmap_out, heat) {
        match write_heatmap(path, &heat.borrow(), &pipeline.info.labels) {
            Ok(line) => messages::note(&line),
            Err(e) => {
                messages::warn(&format!("{e:#}"));
                failures += 1;
            }
        }
    }
    // Events last: the MQTT broker gets "offline" and what is still queued (up to 2 s).
    if let Some(events) = events {
        for line in events.borrow_mut().finish() {
            messages::note(&line);
        }
    }
    let joined = pipeline.join(Duration::from_secs(3));
    messages::note(&format!(
        "{} frames captured, {} processed, {} dropped before inference, {} results not shown",
        stats.captured.load(Ordering::Relaxed),
        stats.processed.load(Ordering::Relaxed),
        stats.capture_dropped.load(Ordering::Relaxed),
        stats.result_dropped.load(Ordering::Relaxed)
    ));
    messages::note(&shown);
    // A failed thread (the source) says why better than what the loop saw of it (no frames).
    joined?;
    match result {
        // Whoever reads stdout has gone (`| head`): not an error of ours.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(u8::from(failures > 0))
        }
        Err(e) => Err(e),
        Ok(_) => Ok(u8::from(failures > 0)),
    }
}

/// The whole run's heatmap over the last frame, as a new PNG; the closing line says where and what it holds.
fn write_heatmap(path: &std::path::Path, heat: &HeatState, labels: &[String]) -> anyhow::Result<String> {
    let (Some(map), Some(frame)) = (&heat.map, &heat.last_frame) else {
        anyhow::bail!("--heatmap-out {}: no frame was processed, so there is no heatmap to write", path.display());
    };
    crate::outputs::save_new(&map.render(frame, true), path).with_context(|| {
        format!("cannot write --heatmap-out {}; pass a path in a folder you can write", path.display())
    })?;
    let per_class: Vec<String> = map
        .tracks
        .iter()
        .map(|(c, ids)| format!("{} {}", crate::detector::labels::name(labels, *c), ids.len()))
        .collect();
    Ok(format!(
        "heatmap written to {} (tracks: {})",
        path.display(),
        if per_class.is_empty() { "none".into() } else { per_class.join(", ") }
    ))
}
