//! The zoom-region tool (main thread; pure widget logic): `Z` arms it, a mouse drag draws the rectangle.

/// Where the tool is.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum RegionTool {
    #[default]
    Off,
    /// `Z` was pressed: the next drag draws a region (the sliders ignore the mouse meanwhile).
    Armed,
    /// The button is down: a rectangle from `start` to `now`, in window pixels.
    Dragging { start: (f32, f32), now: (f32, f32) },
}

/// A drag shorter than this (window pixels, either side) is a click, not a region.
pub const MIN_DRAG: f32 = 8.0;

impl RegionTool {
    pub fn active(&self) -> bool {
        *self != RegionTool::Off
    }

    /// One mouse sample (position, left button). Returns the two corners of a finished drag; a click
    /// without a drag disarms the tool and returns nothing.
    pub fn update(&mut self, mouse: Option<(f32, f32)>, down: bool) -> Option<[(f32, f32); 2]> {
        match (*self, mouse, down) {
            (RegionTool::Armed, Some(p), true) => {
                *self = RegionTool::Dragging { start: p, now: p };
                None
            }
            (RegionTool::Dragging { start, now }, m, true) => {
                *self = RegionTool::Dragging { start, now: m.unwrap_or(now) };
                None
            }
            (RegionTool::Dragging { start, now }, m, false) => {
                *self = RegionTool::Off;
                let end = m.unwrap_or(now);
                let big = (end.0 - start.0).abs() >= MIN_DRAG && (end.1 - start.1).abs() >= MIN_DRAG;
                big.then_some([start, end])
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drag_after_z_gives_its_corners() {
        let mut tool = RegionTool::default();
        // Off: the mouse is the sliders'.
        assert_eq!(tool.update(Some((10.0, 10.0)), true), None);
        assert_eq!(tool, RegionTool::Off);
        tool = RegionTool::Armed;
        assert_eq!(tool.update(Some((100.0, 50.0)), false), None, "moving without the button");
        assert_eq!(tool.update(Some((100.0, 50.0)), true), None);
        assert_eq!(tool.update(Some((300.0, 200.0)), true), None);
        assert_eq!(tool, RegionTool::Dragging { start: (100.0, 50.0), now: (300.0, 200.0) });
        // Released outside the window: the last position inside counts.
        assert_eq!(tool.update(None, false), Some([(100.0, 50.0), (300.0, 200.0)]));
        assert!(!tool.active());
    }

    #[test]
    fn a_click_is_not_a_region() {
        let mut tool = RegionTool::Armed;
        tool.update(Some((100.0, 50.0)), true);
        assert_eq!(tool.update(Some((103.0, 52.0)), false), None);
        assert_eq!(tool, RegionTool::Off);
    }
}
