//! The headless presenter (main thread): shows nothing; the frames' JSON lines are an output (`outputs.rs`).

use std::time::Duration;

use super::stats::HudStats;
use super::{Action, FrameView, Presenter};

/// No window: the run ends with the source, and the loop waits for frames in slices short enough to
/// notice Ctrl-C and stalls.
pub struct Headless;

impl Presenter for Headless {
    fn wait(&self) -> Duration {
        Duration::from_millis(100)
    }

    fn keeps_last_frame(&self) -> bool {
        false
    }

    fn refresh(&mut self, _: Option<&FrameView>, _: &HudStats, _: bool) -> anyhow::Result<Vec<Action>> {
        Ok(Vec::new())
    }
}
