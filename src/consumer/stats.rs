//! Figures for the HUD (main thread): smoothed rates and the HUD's lines, built from plain values so they are
//! tested without a pipeline or a window.

use std::time::{Duration, Instant};

use crate::detector::StageTimes;

/// How a HUD line is coloured by the presenter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Text,
    Warn,
}

/// Everything the HUD shows, as plain values. A new figure is a field here and a line in `hud_lines`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HudStats {
    pub capture_fps: f32,
    /// Frames shown per second.
    pub display_fps: f32,
    pub inference_fps: f32,
    /// Frames dropped before inference plus results dropped before display.
    pub dropped: u64,
    /// Stage times of the frame shown.
    pub stages: Option<StageTimes>,
    /// Decoding the frame shown from the camera's pixel format (cameras, raw frames).
    pub decode: Option<Duration>,
    /// Capture -> display of the frame shown (set by the presenter that displays it).
    pub latency: Option<Duration>,
    /// How much older the frame the boxes were found in is than the frame shown.
    pub box_age: Option<Duration>,
    pub objects: usize,
    /// `yolov12n_int8.onnx INT8 on CPU`.
    pub model: String,
    /// The same, short, for the one-line HUD: `yolov12n_int8 INT8`.
    pub model_short: String,
    /// What the source is (`demo clip 960x540 @ 30 fps`).
    pub source: String,
    pub conf: f32,
    pub iou: f32,
    pub paused: bool,
    /// Lines of the per-frame steps (the tracker's cost, objects and counts).
    pub steps: Vec<String>,
    /// Fallbacks, source trouble, recording trouble: shown in the warning colour.
    pub warnings: Vec<String>,
    /// Seconds into the recording in progress (the REC badge).
    pub recording_seconds: Option<u64>,
    /// Tiles or a zoom region in use on the frame shown.
    pub passes: Option<PassesHud>,
}

/// The tiled inference of the frame shown: what ran besides the full frame, and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct PassesHud {
    /// `tiles auto`, `tiles 3x2`, `zoom region 400x300`.
    pub what: String,
    /// Crops run besides the full frame.
    pub crops: usize,
    /// The frame's inference time, every pass included (pre + infer + post).
    pub frame: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The HUD's lines, top to bottom.
pub fn hud_lines(s: &HudStats) -> Vec<(String, Tone)> {
    let mut lines = vec![(
        format!(
            "capture {:.1} fps   display {:.1} fps   inference {:.1} fps   dropped {}",
            s.capture_fps, s.display_fps, s.inference_fps, s.dropped
        ),
        Tone::Text,
    )];
    if let Some(t) = &s.stages {
        let latency = s.latency.map(|l| format!("   latency {:.0} ms", ms(l))).unwrap_or_default();
        let age = s.box_age.map(|a| format!("   boxes {:.0} ms old", ms(a))).unwrap_or_default();
        let decode = s.decode.map(|d| format!("decode {:.1} + ", ms(d))).unwrap_or_default();
        lines.push((
            format!(
                "{decode}pre {:.1} + infer {:.1} + post {:.1} ms{latency}{age}   {} objects",
                ms(t.preprocess),
                ms(t.inference),
                ms(t.postprocess),
                s.objects
            ),
            Tone::Text,
        ));
    }
    if let Some(p) = &s.passes {
        lines.push((
            format!(
                "{}: {} crop{} + full frame   {:.0} ms per frame",
                p.what,
                p.crops,
                if p.crops == 1 { "" } else { "s" },
                ms(p.frame)
            ),
            Tone::Text,
        ));
    }
    lines.push((s.model.clone(), Tone::Text));
    lines.push((s.source.clone(), Tone::Text));
    lines.push((
        format!("conf {:.2}  IoU {:.2}{}", s.conf, s.iou, if s.paused { "  [paused]" } else { "" }),
        Tone::Text,
    ));
    lines.extend(s.steps.iter().map(|l| (l.clone(), Tone::Text)));
    lines.extend(s.warnings.iter().map(|w| (w.clone(), Tone::Warn)));
    lines.push(("H: help".into(), Tone::Text));
    lines
}

/// The one-line HUD (the window's default): display and inference rates, inference time, model and
/// precision, objects now; then the warnings, which every HUD shows.
pub fn compact_lines(s: &HudStats) -> Vec<(String, Tone)> {
    let infer = s.stages.map(|t| format!("  {:.0} ms", ms(t.inference))).unwrap_or_default();
    let paused = if s.paused { "  [paused]" } else { "" };
    let mut lines = vec![(
        format!(
            "display {:.0} fps  inference {:.1} fps{infer}  {}  {} objects{paused}",
            s.display_fps, s.inference_fps, s.model_short, s.objects
        ),
        Tone::Text,
    )];
    lines.extend(s.warnings.iter().map(|w| (w.clone(), Tone::Warn)));
    lines
}

fn ewma(old: f32, new: f32) -> f32 {
    if old == 0.0 {
        new
    } else {
        0.9 * old + 0.1 * new
    }
}

/// Smoothed capture and inference rates.
#[derive(Debug, Default)]
pub struct Rates {
    last_result: Option<Instant>,
    last_shown: Option<Instant>,
    pub inference_fps: f32,
    pub display_fps: f32,
    pub capture_fps: f32,
    last_captured: Option<(u64, Instant)>,
}

impl Rates {
    /// A new processed frame reached the consumer at `now`.
    pub fn on_result(&mut self, now: Instant) {
        if let Some(prev) = self.last_result.replace(now) {
            let dt = (now - prev).as_secs_f32();
            if dt > 0.0 {
                self.inference_fps = ewma(self.inference_fps, 1.0 / dt);
            }
        }
    }

    /// A frame was shown at `now`.
    pub fn on_shown(&mut self, now: Instant) {
        if let Some(prev) = self.last_shown.replace(now) {
            let dt = (now - prev).as_secs_f32();
            if dt > 0.0 {
                self.display_fps = ewma(self.display_fps, 1.0 / dt);
            }
        }
    }

    /// The capture counter read at `now`; the rate is updated every half second.
    pub fn on_captured(&mut self, captured: u64, now: Instant) {
        match self.last_captured {
            Some((n, t)) => {
                let dt = (now - t).as_secs_f32();
                if dt >= 0.5 {
                    self.capture_fps = ewma(self.capture_fps, captured.saturating_sub(n) as f32 / dt);
                    self.last_captured = Some((captured, now));
                }
            }
            None => self.last_captured = Some((captured, now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hud_lines_from_plain_figures() {
        let ms = Duration::from_millis;
        let stats = HudStats {
            capture_fps: 30.0,
            display_fps: 29.94,
            inference_fps: 14.96,
            dropped: 7,
            stages: Some(StageTimes { preprocess: ms(3), inference: ms(52), postprocess: ms(1) }),
            decode: None,
            latency: Some(ms(81)),
            box_age: Some(ms(67)),
            objects: 2,
            model: "m.onnx INT8 on CPU".into(),
            model_short: "m INT8".into(),
            source: "demo clip".into(),
            conf: 0.25,
            iou: 0.7,
            paused: true,
            steps: vec!["track 0.05 ms   now: person 1   seen: person 2".into()],
            warnings: vec!["source ended".into()],
            recording_seconds: Some(3),
            passes: None,
        };
        let lines = hud_lines(&stats);
        let text: Vec<&str> = lines.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            text,
            [
                "capture 30.0 fps   display 29.9 fps   inference 15.0 fps   dropped 7",
                "pre 3.0 + infer 52.0 + post 1.0 ms   latency 81 ms   boxes 67 ms old   2 objects",
                "m.onnx INT8 on CPU",
                "demo clip",
                "conf 0.25  IoU 0.70  [paused]",
                "track 0.05 ms   now: person 1   seen: person 2",
                "source ended",
                "H: help",
            ]
        );
        assert_eq!((lines[5].1, lines[6].1), (Tone::Text, Tone::Warn));
        let compact: Vec<String> = compact_lines(&stats).into_iter().map(|(t, _)| t).collect();
        assert_eq!(compact, ["display 30 fps  inference 15.0 fps  52 ms  m INT8  2 objects  [paused]", "source ended"]);
        // Before the first frame: no stage line.
        assert_eq!(hud_lines(&HudStats::default()).len(), 5);
        // A camera frame's decode is a stage of its own.
        let camera = HudStats { decode: Some(Duration::from_micros(8400)), ..stats.clone() };
        assert_eq!(
            hud_lines(&camera)[1].0,
            "decode 8.4 + pre 3.0 + infer 52.0 + post 1.0 ms   latency 81 ms   boxes 67 ms old   2 objects"
        );
        // Tiles: their count and the whole frame's inference time, under the stage line.
        let passes = PassesHud { what: "tiles auto".into(), crops: 8, frame: ms(412) };
        let tiled = HudStats { passes: Some(passes), ..stats };
        assert_eq!(hud_lines(&tiled)[2].0, "tiles auto: 8 crops + full frame   412 ms per frame");
    }

    #[test]
    fn rates_are_smoothed() {
        let t0 = Instant::now();
        let mut r = Rates::default();
        r.on_result(t0);
        r.on_result(t0 + Duration::from_millis(100));
        assert!((r.inference_fps - 10.0).abs() < 1e-3);
        // A 50 ms gap moves the average a tenth of the way to 20 fps.
        r.on_result(t0 + Duration::from_millis(150));
        assert!((r.inference_fps - 11.0).abs() < 1e-3);
        r.on_captured(0, t0);
        r.on_captured(10, t0 + Duration::from_millis(200));
        assert_eq!(r.capture_fps, 0.0, "updated every half second");
        r.on_captured(15, t0 + Duration::from_millis(500));
        assert!((r.capture_fps - 30.0).abs() < 1e-3);
    }
}
