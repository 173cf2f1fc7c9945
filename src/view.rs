//! A processed frame as the main thread holds it: the scene selected at the current thresholds, and its latency.

use std::time::Duration;

use crate::detector::Thresholds;
use crate::overlay::Scene;
use crate::pipeline::Processed;

/// The frame being shown (and fed to the outputs) and what was made of it.
pub struct FrameView {
    pub processed: Processed,
    /// Its detections at `thresholds`, and whatever the per-frame steps add.
    pub scene: Scene,
    pub thresholds: Thresholds,
    /// Capture -> result: from the capture thread getting the frame to the consumer receiving its result.
    pub latency: Duration,
}
