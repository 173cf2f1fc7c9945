//! Tracking in the window: keys T, Y, L, C, and the counting line dragged with the mouse (main thread).

use ab_glyph::{FontRef, PxScale};
use image::RgbImage;
use minifb::Key;

use crate::consumer::Action;
use crate::overlay::{draw_tag, text_width, Mapping};
use crate::track::draw::LINE;
use crate::track::line::Segment;
use crate::track::live::TrackAction;

/// Shortest line accepted, in frame pixels: a click without a drag draws nothing.
const MIN_LENGTH: f32 = 8.0;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineTool {
    /// After `L`: the next drag draws the line (and the sliders ignore the mouse).
    pub armed: bool,
    /// Where the drag started and where the mouse is now, in frame pixels.
    drag: Option<([f32; 2], [f32; 2])>,
}

impl LineTool {
    /// `L`: arm, or cancel an armed tool.
    pub fn toggle(&mut self) {
        self.armed = !self.armed;
        self.drag = None;
    }

    /// Follows the mouse (`pos` in frame pixels, None outside the window). Returns whether the preview
    /// changed, and the line when a drag has just ended.
    pub fn update(&mut self, pos: Option<[f32; 2]>, down: bool) -> (bool, Option<Segment>) {
        if !self.armed {
            return (false, None);
        }
        match (&mut self.drag, pos, down) {
            (None, Some(p), true) => {
                self.drag = Some((p, p));
                (true, None)
            }
            (Some((_, end)), Some(p), true) => {
                let moved = *end != p;
                *end = p;
                (moved, None)
            }
            (Some((a, b)), _, false) => {
                let line = Segment { a: *a, b: *b };
                self.drag = None;
                if line.length() < MIN_LENGTH {
                    return (true, None); // A click: still armed, waiting for a drag.
                }
                self.armed = false;
                (true, Some(line))
            }
            _ => (false, None),
        }
    }

    /// The line being dragged, to draw while the button is down.
    pub fn preview(&self) -> Option<Segment> {
        self.drag.map(|(a, b)| Segment { a, b })
    }
}

/// T tracking on/off, Y trails, L line tool, C reset counts: the action, or None for other keys (and L,
/// which stays in the window until the drag ends).
pub fn on_key(key: Key, tool: &mut LineTool) -> Option<Option<Action>> {
    let action = match key {
        Key::T => Some(Action::Track(TrackAction::Toggle)),
        Key::Y => Some(Action::Track(TrackAction::ToggleTrails)),
        Key::C => Some(Action::Track(TrackAction::ResetCounts)),
        Key::L => {
            tool.toggle();
            tracing::info!("line tool {}", if tool.armed { "armed" } else { "cancelled" });
            None
        }
        _ => return None,
    };
    Some(action)
}

/// The mouse (window pixels) to the line tool, through the inverse of the frame's fit. Returns whether
/// the preview changed, and the action when a line was drawn.
pub fn on_mouse(
    mouse: Option<(f32, f32)>,
    down: bool,
    to_window: Mapping,
    tool: &mut LineTool,
) -> (bool, Option<Action>) {
    let (changed, line) = tool.update(mouse.map(|m| to_window.inverse(m)), down);
    let action = line.map(|l| {
        tracing::info!("line set x1={:.1} y1={:.1} x2={:.1} y2={:.1}", l.a[0], l.a[1], l.b[0], l.b[1]);
        Action::Track(TrackAction::SetLine(l))
    });
    (changed, action)
}

/// The line being dragged, and a hint while the tool is armed.
pub fn draw(canvas: &mut RgbImage, tool: &LineTool, to_window: Mapping, font: &FontRef, scale: PxScale) {
    if let Some(l) = tool.preview() {
        imageproc::drawing::draw_line_segment_mut(canvas, to_window.point(l.a), to_window.point(l.b), LINE);
    }
    if tool.armed {
        let text = "drag the counting line with the mouse (L cancels)";
        let x = (canvas.width() as f32 - text_width(font, scale, text)) / 2.0;
        draw_tag(canvas, font, scale, x as i32, 8, text, LINE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drag_draws_a_line_once_armed() {
        let mut t = LineTool::default();
        // Not armed: the mouse is the sliders'.
        assert_eq!(t.update(Some([10.0, 10.0]), true), (false, None));
        t.toggle();
        assert_eq!(t.update(Some([100.0, 20.0]), true), (true, None));
        assert_eq!(t.update(Some([100.0, 200.0]), true), (true, None));
        assert_eq!(t.preview(), Some(Segment { a: [100.0, 20.0], b: [100.0, 200.0] }));
        // Released (even outside the window): the line as dragged, and the tool is done.
        assert_eq!(t.update(None, false), (true, Some(Segment { a: [100.0, 20.0], b: [100.0, 200.0] })));
        assert!(!t.armed && t.preview().is_none());
    }

    #[test]
    fn a_click_is_not_a_line_and_l_cancels() {
        let mut t = LineTool::default();
        t.toggle();
        t.update(Some([50.0, 50.0]), true);
        assert_eq!(t.update(Some([52.0, 51.0]), false), (true, None));
        assert!(t.armed, "still waiting for a drag");
        t.update(Some([50.0, 50.0]), true);
        t.toggle();
        assert!(!t.armed && t.preview().is_none());
    }
}
