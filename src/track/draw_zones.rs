//! Zones as drawn (main thread and recorder): a translucent polygon, its outline, and a tag with what is inside.

use std::collections::BTreeMap;

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::draw_line_segment_mut;

use crate::canvas::{draw_tag, Mapping};

use super::draw::per_class;
use super::zones::Zone;

const ZONE: Rgb<u8> = Rgb([64, 160, 255]);
/// How much of the zone's colour is mixed into the pixels inside it, in 1/256.
const ALPHA: u16 = 64;

/// A zone and its figures, as drawn and as written to JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneView {
    pub name: String,
    pub poly: Vec<[f32; 2]>,
    pub now: BTreeMap<usize, u64>,
    pub entries: BTreeMap<usize, u64>,
    pub exits: BTreeMap<usize, u64>,
}

impl ZoneView {
    pub fn of(z: &Zone) -> ZoneView {
        ZoneView {
            name: z.spec.name.clone(),
            poly: z.poly.clone(),
            now: z.now_per_class(),
            entries: z.entries.clone(),
            exits: z.exits.clone(),
        }
    }
}

/// Fills `poly` (image pixels) with `colour` mixed in at `alpha`/256, row by row (even-odd rule), clipped to the
/// image: the corners may lie far outside it.
pub fn blend_polygon(img: &mut RgbImage, poly: &[(f32, f32)], colour: Rgb<u8>, alpha: u16) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    if poly.len() < 3 || w == 0 || h == 0 {
        return;
    }
    let ys = poly.iter().map(|p| p.1);
    let top = ys.clone().fold(f32::INFINITY, f32::min).floor().max(0.0) as i64;
    let bottom = (ys.fold(f32::NEG_INFINITY, f32::max).ceil() as i64).min(h - 1);
    let mut xs = Vec::with_capacity(poly.len());
    for y in top..=bottom {
        let yc = y as f32 + 0.5;
        xs.clear();
        for i in 0..poly.len() {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            if (a.1 > yc) != (b.1 > yc) {
                xs.push(a.0 + (yc - a.1) / (b.1 - a.1) * (b.0 - a.0));
            }
        }
        xs.sort_by(|a, b| a.total_cmp(b));
        for pair in xs.chunks(2) {
            let [x0, x1] = pair else { continue };
            let (from, to) = ((x0.round() as i64).max(0), (x1.round() as i64).min(w));
            for x in from..to {
                let p = img.get_pixel_mut(x as u32, y as u32);
                for c in 0..3 {
                    p.0[c] = ((u16::from(p.0[c]) * (256 - alpha) + u16::from(colour.0[c]) * alpha) >> 8) as u8;
                }
            }
        }
    }
}

/// Each zone: translucent fill, outline, and a tag at its first corner: `door: person 2 (in 5, out 3)`.
pub fn draw_zones(
    img: &mut RgbImage,
    zones: &[ZoneView],
    names: &[String],
    map: Mapping,
    font: &FontRef,
    scale: PxScale,
) {
    for z in zones {
        let pts: Vec<(f32, f32)> = z.poly.iter().map(|p| map.point(*p)).collect();
        blend_polygon(img, &pts, ZONE, ALPHA);
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            // Clipped to a box around the image first: imageproc walks every step of a segment.
            let clamp = |p: (f32, f32)| {
                (p.0.clamp(-10.0, img.width() as f32 + 10.0), p.1.clamp(-10.0, img.height() as f32 + 10.0))
            };
            draw_line_segment_mut(img, clamp(a), clamp(b), ZONE);
        }
        let total = |m: &BTreeMap<usize, u64>| m.values().sum::<u64>();
        let text =
            format!("{}: {} (in {}, out {})", z.name, per_class(&z.now, names), total(&z.entries), total(&z.exits));
        if let Some(&(x, y)) = pts.first() {
            let (x, y) = (x.clamp(0.0, img.width() as f32 - 40.0), (y - scale.y - 6.0).clamp(0.0, img.height() as f32));
            draw_tag(img, font, scale, x as i32, y as i32, &text, ZONE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_triangle_is_tinted_inside_only_and_far_corners_are_clipped() {
        let mut img = RgbImage::from_pixel(20, 20, Rgb([0, 0, 0]));
        blend_polygon(&mut img, &[(0.0, 0.0), (20.0, 0.0), (0.0, 20.0)], Rgb([255, 255, 255]), 128);
        // Inside (near the right angle): half of 255 mixed in; outside (far corner): untouched.
        assert_eq!(img.get_pixel(2, 2).0, [127, 127, 127]);
        assert_eq!(img.get_pixel(18, 18).0, [0, 0, 0]);
        // Corners a billion pixels away: clipped rows and columns, no endless loop.
        let mut big = RgbImage::new(8, 8);
        blend_polygon(&mut big, &[(-1e9, -1e9), (1e9, -1e9), (0.0, 1e9)], Rgb([255, 0, 0]), 256);
        assert_eq!(big.get_pixel(4, 4).0, [255, 0, 0]);
    }
}
