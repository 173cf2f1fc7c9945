//! A frame as the main thread shows it: the frame, the newest result whose boxes are drawn on it, its scene.

use std::sync::Arc;
use std::time::Duration;

use crate::detector::Thresholds;
use crate::overlay::Scene;
use crate::pipeline::Processed;
use crate::source::Frame;

/// The frame being shown (and fed to the outputs) and what is drawn on it.
pub struct FrameView {
    /// The frame shown.
    pub frame: Frame,
    /// The newest result when the frame was shown: the processed frame its boxes come from (`frame` itself
    /// with `--display processed` and in headless runs).
    pub processed: Arc<Processed>,
    /// The result's detections at `thresholds`, what the per-frame steps add, moved to `frame`'s time.
    pub scene: Scene,
    pub thresholds: Thresholds,
    /// Capture -> shown (for a processed frame in a headless run: capture -> result).
    pub latency: Duration,
}

impl FrameView {
    /// How much older (source time) the frame the boxes were found in is than the frame shown.
    pub fn box_age(&self) -> Duration {
        self.frame.time.saturating_sub(self.processed.frame.time)
    }
}
