//! Zones drawn in the window (main thread): `P` then a click per corner, Enter closes the polygon, Backspace takes
//! the last corner back; `P` with the mouse over a zone removes it.

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::draw_line_segment_mut;

use crate::canvas::{draw_tag, text_width, Mapping};
use crate::step::TrackAction;
use crate::track::zones::contains;

const PREVIEW: Rgb<u8> = Rgb([64, 160, 255]);

/// What `P` does, decided from the tool's state and where the mouse is.
#[derive(Clone, Debug, PartialEq)]
pub enum PKey {
    Armed,
    Cancelled,
    Remove(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZoneTool {
    pub armed: bool,
    /// Corners clicked so far, frame pixels.
    pub corners: Vec<[f32; 2]>,
    /// Zones drawn so far in this window, for their names (zone-1, zone-2, ...).
    drawn: u32,
}

impl ZoneTool {
    /// `P`: cancel an armed tool; else remove the zone under the mouse (`zones`: names and polygons as shown);
    /// else arm.
    pub fn p_key(&mut self, mouse: Option<[f32; 2]>, zones: &[(String, Vec<[f32; 2]>)]) -> PKey {
        if self.armed {
            self.armed = false;
            self.corners.clear();
            return PKey::Cancelled;
        }
        if let Some((name, _)) = mouse.and_then(|m| zones.iter().rev().find(|(_, poly)| contains(poly, m))) {
            return PKey::Remove(name.clone());
        }
        self.armed = true;
        PKey::Armed
    }

    /// A click while armed: one more corner.
    pub fn click(&mut self, at: [f32; 2]) {
        if self.armed && self.corners.len() < 256 {
            self.corners.push(at);
        }
    }

    pub fn backspace(&mut self) {
        self.corners.pop();
    }

    /// Enter: the zone, when it has three corners or more (named zone-N, a name not in `taken`).
    pub fn close(&mut self, taken: &[String]) -> Option<TrackAction> {
        if !self.armed || self.corners.len() < 3 {
            return None;
        }
        let name = loop {
            self.drawn += 1;
            let name = format!("zone-{}", self.drawn);
            if !taken.contains(&name) {
                break name;
            }
        };
        self.armed = false;
        Some(TrackAction::AddZone(name, std::mem::take(&mut self.corners)))
    }
}

/// The corners so far joined, with the edge to the mouse, and a hint while armed.
pub fn draw(
    canvas: &mut RgbImage,
    tool: &ZoneTool,
    mouse: Option<(f32, f32)>,
    map: Mapping,
    font: &FontRef,
    scale: PxScale,
) {
    if !tool.armed {
        return;
    }
    let pts: Vec<(f32, f32)> = tool.corners.iter().map(|p| map.point(*p)).collect();
    for w in pts.windows(2) {
        draw_line_segment_mut(canvas, w[0], w[1], PREVIEW);
    }
    if let (Some(last), Some(m)) = (pts.last(), mouse) {
        draw_line_segment_mut(canvas, *last, m, PREVIEW);
    }
    for p in &pts {
        imageproc::drawing::draw_filled_circle_mut(canvas, (p.0 as i32, p.1 as i32), 3, PREVIEW);
    }
    let text = format!(
        "click the zone's corners ({}), Enter closes it, Backspace takes one back, P cancels",
        tool.corners.len()
    );
    let x = (canvas.width() as f32 - text_width(font, scale, &text)) / 2.0;
    // Below a one-line HUD, so both stay readable.
    draw_tag(canvas, font, scale, x.max(0.0) as i32, 44, &text, PREVIEW);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_then_enter_make_a_zone_and_p_over_it_removes_it() {
        let mut t = ZoneTool::default();
        assert_eq!(t.p_key(None, &[]), PKey::Armed);
        t.click([10.0, 10.0]);
        t.click([100.0, 10.0]);
        assert_eq!(t.close(&[]), None, "two corners are no zone");
        t.click([50.0, 200.0]);
        t.click([60.0, 60.0]);
        t.backspace();
        let zone = t.close(&["zone-1".to_string()]);
        assert_eq!(
            zone,
            Some(TrackAction::AddZone("zone-2".into(), vec![[10.0, 10.0], [100.0, 10.0], [50.0, 200.0]])),
            "zone-1 is taken"
        );
        assert!(!t.armed && t.corners.is_empty());
        let shown = vec![("zone-2".to_string(), vec![[10.0, 10.0], [100.0, 10.0], [50.0, 200.0]])];
        assert_eq!(t.p_key(Some([50.0, 50.0]), &shown), PKey::Remove("zone-2".into()));
        assert_eq!(t.p_key(Some([500.0, 500.0]), &shown), PKey::Armed);
        t.click([1.0, 1.0]);
        assert_eq!(t.p_key(Some([50.0, 50.0]), &shown), PKey::Cancelled);
        assert!(t.corners.is_empty());
    }
}
