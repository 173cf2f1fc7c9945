//! The per-frame step contract (main thread): what the consumer loop asks of a step (the tracker, the counting
//! line) and the user's actions meant for steps; below both the loop and the steps that plug into it.

use std::time::Duration;

use crate::detector::Thresholds;
use crate::overlay::Scene;
use crate::pipeline::Processed;
use crate::track::line::Segment;

/// What the user can ask of the tracking step.
#[derive(Clone, Debug, PartialEq)]
pub enum TrackAction {
    /// T: tracking on / off (off: no update, no IDs, trails or counting).
    Toggle,
    /// Y: trails on / off.
    ToggleTrails,
    /// A line drawn with the mouse, in frame pixels: counting starts again from zero.
    SetLine(Segment),
    /// C: counts back to zero.
    ResetCounts,
    /// A zone drawn in the window (P, corners, Enter): its name and corners in frame pixels.
    AddZone(String, Vec<[f32; 2]>),
    /// P over a zone: that zone goes.
    RemoveZone(String),
}

/// A step run by the consumer loop on each new processed frame after selection (see `consumer`'s module note).
pub trait FrameStep {
    /// Once per new processed frame, in frame order, never while paused; `t` are the thresholds its
    /// scene was selected at.
    fn new_frame(&mut self, processed: &Processed, t: &Thresholds, scene: &mut Scene);
    /// The frame shown was selected again (thresholds changed, maybe while paused, or a step's
    /// settings changed): not a new frame.
    fn reselected(&mut self, _processed: &Processed, _t: &Thresholds, _scene: &mut Scene) {}
    /// The newest result's `scene` is about to be drawn on a frame captured later, at source time `time`:
    /// move what the step knows the motion of (the tracker's confirmed boxes). Called on a copy, per frame.
    fn moved(&self, _time: Duration, _scene: &mut Scene) {}
    /// An action of the user meant for steps (`Action::Track` of the consumer loop); the frame shown is
    /// selected again after.
    fn on_action(&mut self, _action: &TrackAction) {}
    /// Lines for the HUD.
    fn hud_lines(&self) -> Vec<String> {
        Vec::new()
    }
}
