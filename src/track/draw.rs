//! Trails of tracks and the counting line with its counts, drawn into a frame or the window canvas (pure, clipped).

use std::collections::BTreeMap;

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_circle_mut, draw_line_segment_mut};

use crate::canvas::{class_colour, draw_tag, text_width, Mapping};
use crate::detector::labels;

use super::line::{Counter, Segment};
use super::{State, Tracker};

/// Colour of the counting line; the window test looks for it.
pub const LINE: Rgb<u8> = Rgb([255, 221, 0]);
/// Outline around the line so it reads on light frames too.
const OUTLINE: Rgb<u8> = Rgb([20, 20, 20]);

/// The recent path of one confirmed track (frame pixels, oldest first).
#[derive(Clone, Debug, PartialEq)]
pub struct Trail {
    pub class_id: usize,
    pub points: Vec<[f32; 2]>,
}

/// The trails of the tracker's confirmed tracks.
pub fn trails(tracker: &Tracker) -> Vec<Trail> {
    tracker
        .tracks
        .iter()
        .filter(|t| t.state != State::Tentative)
        .map(|t| Trail { class_id: t.class_id, points: t.trail.iter().map(|(_, p)| *p).collect() })
        .collect()
}

/// The counting line and its counts per class, as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct LineView {
    pub line: Segment,
    pub counts_in: BTreeMap<usize, u64>,
    pub counts_out: BTreeMap<usize, u64>,
}

impl LineView {
    pub fn of(c: &Counter) -> LineView {
        LineView { line: c.line, counts_in: c.counts_in.clone(), counts_out: c.counts_out.clone() }
    }
}

/// A line `thickness` pixels wide (a few parallel segments; imageproc clips them to the image).
fn thick_segment(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), thickness: i32, colour: Rgb<u8>) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx.hypot(dy).max(1e-6);
    let (nx, ny) = (-dy / len, dx / len);
    for k in 0..thickness.max(1) {
        let o = k as f32 - (thickness - 1) as f32 / 2.0;
        draw_line_segment_mut(img, (a.0 + o * nx, a.1 + o * ny), (b.0 + o * nx, b.1 + o * ny), colour);
    }
}

/// Each trail in its class colour, ending in a dot at the newest centre.
pub fn draw_trails(img: &mut RgbImage, trails: &[Trail], map: Mapping, thickness: i32) {
    for t in trails {
        let colour = class_colour(t.class_id);
        let points: Vec<(f32, f32)> = t.points.iter().map(|p| map.point(*p)).collect();
        for w in points.windows(2) {
            thick_segment(img, w[0], w[1], thickness, colour);
        }
        if let Some(&(x, y)) = points.last() {
            draw_filled_circle_mut(img, (x as i32, y as i32), thickness + 1, colour);
        }
    }
}

/// `person 2, cat 1` (classes by id), or `0` when nothing was counted.
pub fn per_class(counts: &BTreeMap<usize, u64>, names: &[String]) -> String {
    if counts.is_empty() {
        return "0".into();
    }
    counts.iter().map(|(c, n)| format!("{} {n}", labels::name(names, *c))).collect::<Vec<_>>().join(", ")
}

/// The line with round ends, and its counts beside it: `in` on the side tracks go in to, `out` on the other.
pub fn draw_counter(
    img: &mut RgbImage,
    counter: &LineView,
    names: &[String],
    map: Mapping,
    font: &FontRef,
    scale: PxScale,
    thickness: i32,
) {
    let (a, b) = (map.point(counter.line.a), map.point(counter.line.b));
    thick_segment(img, a, b, thickness + 2, OUTLINE);
    thick_segment(img, a, b, thickness, LINE);
    for p in [a, b] {
        draw_filled_circle_mut(img, (p.0 as i32, p.1 as i32), thickness + 2, LINE);
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx.hypot(dy).max(1e-6);
    // The unit normal towards the positive side (where "out" tracks go to).
    let (nx, ny) = (-dy / len, dx / len);
    let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
    let th = scale.y + 4.0;
    for (text, sign) in [
        (format!("in: {}", per_class(&counter.counts_in, names)), -1.0),
        (format!("out: {}", per_class(&counter.counts_out, names)), 1.0),
    ] {
        let tw = text_width(font, scale, &text) + 6.0;
        // Far enough along the normal that the tag clears the line whatever its angle.
        let reach = 0.5 * (tw * nx.abs() + th * ny.abs()) + thickness as f32 + 6.0;
        let (cx, cy) = (mid.0 + sign * nx * reach, mid.1 + sign * ny * reach);
        draw_tag(img, font, scale, (cx - tw / 2.0) as i32, (cy - th / 2.0) as i32, &text, LINE);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::canvas::font;
    use crate::detector::Detection;
    use crate::track::line::Segment;
    use crate::track::TrackerConfig;

    #[test]
    fn line_and_counts_are_drawn_beside_it() {
        let mut img = RgbImage::new(200, 100);
        let mut c = Counter::with_margin(Segment { a: [100.0, 0.0], b: [100.0, 100.0] }, 2.0);
        c.counts_in.insert(0, 3);
        let names = vec!["person".to_string()];
        draw_counter(&mut img, &LineView::of(&c), &names, Mapping::IDENTITY, &font(), PxScale::from(12.0), 2);
        assert_eq!(*img.get_pixel(100, 50), LINE, "on the line");
        // "in" goes to the negative side (right of a downward line), "out" to the left: tag colour there.
        assert!((110..200).any(|x| *img.get_pixel(x, 50) == LINE), "in tag right of the line");
        assert!((0..90).any(|x| *img.get_pixel(x, 50) == LINE), "out tag left of the line");
        assert_eq!(per_class(&c.counts_in, &names), "person 3");
        assert_eq!(per_class(&BTreeMap::new(), &names), "0");
    }

    #[test]
    fn trails_follow_the_track_through_the_mapping() {
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..10u64 {
            let x = 10.0 + 8.0 * f as f32;
            let d = Detection { class_id: 1, score: 0.9, bbox: [x, 40.0, x + 20.0, 60.0] };
            tr.update(&[d], 0.5, Duration::from_millis(f * 33));
        }
        let mut img = RgbImage::new(200, 100);
        // Half size, moved 10 px right: the trail runs along y = 25 from x = 20 to 60.
        draw_trails(&mut img, &trails(&tr), Mapping { scale: 0.5, offset: (10.0, 0.0) }, 1);
        assert_eq!(*img.get_pixel(40, 25), class_colour(1));
        assert_eq!(*img.get_pixel(40, 60), Rgb([0, 0, 0]));
    }
}
