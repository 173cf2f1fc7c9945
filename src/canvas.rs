//! Drawing primitives (main thread): the bundled font and cached text, class colours, filled and outlined
//! rectangles, tags, shading and the frame -> image mapping; below both the overlay and the tracker's drawing.

use std::cell::RefCell;
use std::collections::HashMap;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use imageproc::drawing::draw_text_mut;

/// DejaVu Sans, bundled (licence in assets/fonts/).
static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

pub fn font() -> FontRef<'static> {
    // Parsed once (each frame draws with it); the bundled file is checked by a unit test, so parsing it cannot
    // fail at run time.
    static FONT: std::sync::OnceLock<FontRef<'static>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("bundled DejaVu Sans parses")).clone()
}

/// Colour of HUD text, on screen and in recordings.
pub const TEXT: Rgb<u8> = Rgb([255, 255, 255]);

/// Twenty well-separated colours; class `i` gets `PALETTE[i % 20]`.
pub const PALETTE: [[u8; 3]; 20] = [
    [255, 56, 56],
    [255, 157, 151],
    [255, 112, 31],
    [255, 178, 29],
    [207, 210, 49],
    [72, 249, 10],
    [146, 204, 23],
    [61, 219, 134],
    [26, 147, 52],
    [0, 212, 187],
    [44, 153, 168],
    [0, 194, 255],
    [52, 69, 147],
    [100, 115, 255],
    [0, 24, 236],
    [132, 56, 255],
    [82, 0, 133],
    [203, 56, 255],
    [255, 149, 200],
    [255, 55, 199],
];

pub fn class_colour(class_id: usize) -> Rgb<u8> {
    Rgb(PALETTE[class_id % PALETTE.len()])
}

/// Width in pixels of `text` at `scale`.
pub fn text_width(font: &FontRef, scale: PxScale, text: &str) -> f32 {
    let f = font.as_scaled(scale);
    text.chars().map(|c| f.h_advance(f.glyph_id(c))).sum()
}

/// A glyph rasterised once: its coverage (clamped to 0..1, row by row) and its top-left corner relative to
/// the pen's whole-pixel x and the text's top.
struct CachedGlyph {
    left: i32,
    top: i32,
    width: usize,
    coverage: Vec<f32>,
}

/// A glyph at a size and at a sub-pixel pen position: the rasteriser's output depends on nothing else.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
struct GlyphKey {
    glyph: u16,
    scale: (u32, u32),
    pen_fract: u32,
}

/// Glyphs of the bundled font met so far on this thread (`None`: no outline, e.g. a space). Tags repeat
/// from frame to frame ("horse 0.93"), so almost every glyph is found here; a full cache is emptied.
const GLYPH_CACHE_MAX: usize = 4096;
thread_local! {
    static GLYPHS: RefCell<HashMap<GlyphKey, Option<CachedGlyph>>> = RefCell::new(HashMap::new());
}

fn rasterise(font: &FontRef, glyph: GlyphId, scale: PxScale, pen_fract: f32) -> Option<CachedGlyph> {
    let ascent = font.as_scaled(scale).ascent();
    let g = font.outline_glyph(glyph.with_scale_and_position(scale, point(pen_fract, ascent)))?;
    let bb = g.px_bounds();
    let width = bb.width() as usize;
    let mut coverage = vec![0.0; width * bb.height() as usize];
    g.draw(|x, y, v| coverage[y as usize * width + x as usize] = v.clamp(0.0, 1.0));
    Some(CachedGlyph { left: bb.min.x as i32, top: bb.min.y as i32, width, coverage })
}

/// Draws `text` with its top-left corner at `x, y`, pixel for pixel as imageproc's `draw_text_mut` does (its
/// layout, kerning and blend), but each glyph of the bundled font is rasterised once per size and sub-pixel
/// position instead of on every call: drawing a demo frame's 21 boxes and tags took 0.49 ms, 0.14 ms with
/// the cache (`cargo bench --bench overhead`).
/// Other fonts go through `draw_text_mut`.
pub fn draw_text(img: &mut RgbImage, colour: Rgb<u8>, x: i32, y: i32, scale: PxScale, font: &FontRef, text: &str) {
    if !std::ptr::eq(font.font_data(), FONT_BYTES) {
        draw_text_mut(img, colour, x, y, scale, font, text);
        return;
    }
    let f = font.as_scaled(scale);
    let (w, h) = (img.width() as i32, img.height() as i32);
    let ink = colour.0.map(f32::from);
    GLYPHS.with_borrow_mut(|cache| {
        if cache.len() > GLYPH_CACHE_MAX {
            cache.clear();
        }
        // imageproc's layout: each glyph at the pen, then the advance, then the kerning with the previous
        // outlined glyph (in its argument order).
        let (mut pen, mut prev) = (0.0f32, None);
        for c in text.chars() {
            let id = f.glyph_id(c);
            let at = pen;
            pen += f.h_advance(id);
            let key = GlyphKey {
                glyph: id.0,
                scale: (scale.x.to_bits(), scale.y.to_bits()),
                pen_fract: at.fract().to_bits(),
            };
            let Some(g) = cache.entry(key).or_insert_with(|| rasterise(font, id, scale, at.fract())) else {
                continue;
            };
            if let Some(prev) = prev {
                pen += f.kern(id, prev);
            }
            prev = Some(id);
            let (gx, gy) = (x + at.trunc() as i32 + g.left, y + g.top);
            for (row, cov) in g.coverage.chunks_exact(g.width.max(1)).enumerate() {
                let py = gy + row as i32;
                if !(0..h).contains(&py) {
                    continue;
                }
                // The part of this glyph row inside the image.
                let (from, to) = ((-gx).max(0) as usize, ((w - gx).max(0) as usize).min(g.width));
                if from >= to {
                    continue;
                }
                let start = (py as usize * w as usize + (gx + from as i32) as usize) * 3;
                let px = &mut img.as_mut()[start..start + (to - from) * 3];
                // Every pixel, also where the coverage is 0 (which gives the pixel back exactly): a test per
                // pixel mispredicted along each glyph's edges.
                for (p, &v) in px.chunks_exact_mut(3).zip(&cov[from..to]) {
                    for (ch, &k) in p.iter_mut().zip(&ink) {
                        // imageproc's weighted_sum, then its Clamp<f32> for u8 (truncating, 0 below, 255 above),
                        // which is what `as` does.
                        *ch = (*ch as f32 * (1.0 - v) + k * v) as u8;
                    }
                }
            }
        }
    });
}

/// Calls `f` with the bytes of each row of the rectangle `x, y, w, h` that lie inside the image.
fn for_each_row(img: &mut RgbImage, x: i32, y: i32, w: i64, h: i64, mut f: impl FnMut(&mut [u8])) {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let (x0, x1) = ((x as i64).max(0), (x as i64 + w).min(iw));
    let (y0, y1) = ((y as i64).max(0), (y as i64 + h).min(ih));
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let stride = iw as usize * 3;
    let (from, to) = (x0 as usize * 3, x1 as usize * 3);
    let buf: &mut [u8] = img.as_mut();
    for row in buf[y0 as usize * stride..y1 as usize * stride].chunks_exact_mut(stride) {
        f(&mut row[from..to]);
    }
}

/// Fills the part of the rectangle `x, y, w, h` inside the image, row by row.
pub fn fill_rect(img: &mut RgbImage, x: i32, y: i32, w: i32, h: i32, colour: Rgb<u8>) {
    // Sixteen pixels of the colour, copied in whole: the boxes and tags of a demo frame are ~85,000 pixels,
    // and filling them a pixel at a time was half of drawing them (perf).
    let pattern: [u8; 48] = std::array::from_fn(|i| colour.0[i % 3]);
    for_each_row(img, x, y, w as i64, h as i64, |span| {
        if let Ok(px) = <&mut [u8; 3]>::try_from(&mut *span) {
            *px = colour.0; // a vertical edge: one pixel a row
            return;
        }
        let mut chunks = span.chunks_exact_mut(48);
        for c in &mut chunks {
            c.copy_from_slice(&pattern);
        }
        let rest = chunks.into_remainder();
        // A whole number of pixels, so the pattern's start fits.
        rest.copy_from_slice(&pattern[..rest.len()]);
    });
}

/// The outline of the rectangle `x, y, w, h` (1 px wide), as imageproc's `draw_hollow_rect_mut` draws it.
fn hollow_rect(img: &mut RgbImage, x: i32, y: i32, w: i32, h: i32, colour: Rgb<u8>) {
    let (w, h) = (w.max(1), h.max(1));
    fill_rect(img, x, y, w, 1, colour);
    fill_rect(img, x, y + h - 1, w, 1, colour);
    fill_rect(img, x, y, 1, h, colour);
    fill_rect(img, x + w - 1, y, 1, h, colour);
}

/// A box `thickness` pixels wide inside `[x1, y1, x2, y2]`: nested 1-pixel outlines, each 1 px further in.
/// When they do not meet in the middle, their union is four bands, drawn as four rectangles (a row is
/// written once instead of once per ring).
pub fn box_outline(img: &mut RgbImage, [x1, y1, x2, y2]: [i32; 4], thickness: i32, colour: Rgb<u8>) {
    let (w, h, t) = (x2 - x1, y2 - y1, thickness);
    if w > 2 * t && h > 2 * t {
        fill_rect(img, x1, y1, w, t, colour);
        fill_rect(img, x1, y2 - t, w, t, colour);
        fill_rect(img, x1, y1 + t, t, h - 2 * t, colour);
        fill_rect(img, x2 - t, y1 + t, t, h - 2 * t, colour);
        return;
    }
    for i in 0..t {
        hollow_rect(img, x1 + i, y1 + i, w - 2 * i, h - 2 * i, colour);
    }
}

/// Black or white, whichever reads better on `bg`.
fn ink_on(bg: Rgb<u8>) -> Rgb<u8> {
    let [r, g, b] = bg.0;
    if 0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32 > 150.0 {
        Rgb([0, 0, 0])
    } else {
        Rgb([255, 255, 255])
    }
}

/// Draws a filled tag with text; its top-left corner is moved so that it stays inside the image.
pub fn draw_tag(img: &mut RgbImage, font: &FontRef, scale: PxScale, x: i32, y: i32, text: &str, bg: Rgb<u8>) {
    let (w, h) = (img.width() as i32, img.height() as i32);
    let tw = text_width(font, scale, text).ceil() as i32 + 6;
    let th = scale.y.ceil() as i32 + 4;
    let x = x.min(w - tw).max(0);
    let y = y.min(h - th).max(0);
    fill_rect(img, x, y, tw.max(1), th.max(1), bg);
    draw_text(img, ink_on(bg), x + 3, y + 1, scale, font, text);
}

/// Line thickness and text size that read at this frame size.
pub fn style_for(width: u32, height: u32) -> (i32, PxScale) {
    let short = width.min(height) as f32;
    ((short / 320.0).round().max(1.0) as i32 + 1, PxScale::from((short / 32.0).clamp(13.0, 28.0)))
}

/// From frame pixels to the pixels of the image drawn into: `scale` then `offset` (the window's fit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mapping {
    pub scale: f32,
    pub offset: (f32, f32),
}

impl Mapping {
    pub const IDENTITY: Mapping = Mapping { scale: 1.0, offset: (0.0, 0.0) };

    pub fn apply(&self, b: [f32; 4]) -> [f32; 4] {
        let (s, (x, y)) = (self.scale, self.offset);
        [b[0] * s + x, b[1] * s + y, b[2] * s + x, b[3] * s + y]
    }

    pub fn point(&self, p: [f32; 2]) -> (f32, f32) {
        (p[0] * self.scale + self.offset.0, p[1] * self.scale + self.offset.1)
    }

    /// From the drawn image back to frame pixels (the mouse in the window).
    pub fn inverse(&self, p: (f32, f32)) -> [f32; 2] {
        [(p.0 - self.offset.0) / self.scale, (p.1 - self.offset.1) / self.scale]
    }
}

/// Darkens a rectangle so text on top reads on any frame.
pub fn shade(img: &mut RgbImage, x: i32, y: i32, w: u32, h: u32) {
    for_each_row(img, x, y, w as i64, h as i64, |span| span.iter_mut().for_each(|c| *c /= 3));
}

/// Draws lines of text in a shaded box at `x, y`; each line has its colour.
pub fn text_box(img: &mut RgbImage, font: &FontRef, scale: PxScale, x: i32, y: i32, lines: &[(String, Rgb<u8>)]) {
    if lines.is_empty() {
        return;
    }
    let line_h = scale.y.ceil() as i32 + 3;
    let w = lines.iter().map(|(t, _)| text_width(font, scale, t)).fold(0.0, f32::max).ceil() as u32 + 12;
    shade(img, x, y, w, (line_h * lines.len() as i32 + 8) as u32);
    for (i, (t, colour)) in lines.iter().enumerate() {
        draw_text(img, *colour, x + 6, y + 4 + i as i32 * line_h, scale, font, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_parses_and_measures() {
        let f = font();
        assert!(text_width(&f, PxScale::from(20.0), "person 0.87") > 50.0);
    }

    /// A frame with something to blend over: every byte differs from its neighbours.
    fn noise(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7 + y * 3) as u8, ((x * 13) ^ (y * 5)) as u8, (x + y * 11) as u8]))
    }

    #[test]
    fn cached_glyphs_draw_exactly_what_imageproc_draws() {
        let f = font();
        let cases: [(&str, f32, i32, i32); 7] = [
            ("horse 0.96", 16.875, 10, 5),
            ("person #12 0.87", 13.0, 3, 40),
            ("AVWAY kerning, fi 0123456789%", 28.0, 0, 0),
            // Clipped on every side.
            ("clipped left", 20.0, -17, 30),
            ("clipped right and bottom", 20.0, 150, 70),
            ("above the top", 20.0, 40, -9),
            ("", 20.0, 0, 0),
        ];
        // Twice: the first pass fills the cache, the second draws from it.
        for pass in 0..2 {
            for (text, size, x, y) in cases {
                let scale = PxScale::from(size);
                let (mut want, mut got) = (noise(220, 80), noise(220, 80));
                draw_text_mut(&mut want, Rgb([250, 40, 3]), x, y, scale, &f, text);
                draw_text(&mut got, Rgb([250, 40, 3]), x, y, scale, &f, text);
                assert!(got == want, "pass {pass}: {text:?} at {size} px, ({x}, {y})");
                if !text.is_empty() {
                    assert!(got != noise(220, 80), "{text:?} drew something");
                }
            }
        }
        // Non-square scales and the sub-pixel pen positions of proportional text are keys of their own.
        let scale = PxScale { x: 19.0, y: 14.5 };
        let (mut want, mut got) = (noise(220, 40), noise(220, 40));
        draw_text_mut(&mut want, Rgb([0, 0, 0]), 5, 5, scale, &f, "illicit 1.11");
        draw_text(&mut got, Rgb([0, 0, 0]), 5, 5, scale, &f, "illicit 1.11");
        assert!(got == want);
    }

    #[test]
    fn rectangles_by_rows_equal_imageprocs() {
        use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut};
        use imageproc::rect::Rect;
        let colour = Rgb([9, 200, 77]);
        // Inside, clipped on each side, one pixel, wholly outside.
        for (x, y, w, h) in [(5, 6, 30, 20), (-10, -4, 25, 12), (90, 50, 40, 40), (20, 20, 1, 1), (200, 5, 10, 10)] {
            let (mut want, mut got) = (noise(100, 60), noise(100, 60));
            draw_filled_rect_mut(&mut want, Rect::at(x, y).of_size(w as u32, h as u32), colour);
            fill_rect(&mut got, x, y, w, h, colour);
            assert!(got == want, "filled {x},{y} {w}x{h}");
            let (mut want, mut got) = (noise(100, 60), noise(100, 60));
            draw_hollow_rect_mut(&mut want, Rect::at(x, y).of_size(w as u32, h as u32), colour);
            hollow_rect(&mut got, x, y, w, h, colour);
            assert!(got == want, "hollow {x},{y} {w}x{h}");
        }
        // Thick outlines: four bands where the rings do not meet, the rings themselves where they do.
        for (b, t) in [([10, 10, 60, 50], 3), ([-5, 20, 30, 200], 2), ([10, 10, 15, 50], 3), ([40, 40, 41, 41], 3)] {
            let (mut want, mut got) = (noise(100, 60), noise(100, 60));
            for i in 0..t {
                let (w, h) = ((b[2] - b[0] - 2 * i).max(1) as u32, (b[3] - b[1] - 2 * i).max(1) as u32);
                draw_hollow_rect_mut(&mut want, Rect::at(b[0] + i, b[1] + i).of_size(w, h), colour);
            }
            box_outline(&mut got, b, t, colour);
            assert!(got == want, "outline {b:?} x {t}");
        }
        // shade: a third of each byte, clipped: (0, 0) is 0/3, (99, 59) untouched.
        let mut img = noise(100, 60);
        shade(&mut img, -5, -5, 10, 10);
        assert_eq!(img.get_pixel(4, 4).0, noise(100, 60).get_pixel(4, 4).0.map(|c| c / 3));
        assert_eq!(img.get_pixel(5, 5), noise(100, 60).get_pixel(5, 5));
    }
}
