//! What is drawn over a frame (main thread): the `Scene` (boxes and `label score` tags) and text panels,
//! drawn the same way into the window and into recordings; pure, always clipped.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut};
use imageproc::rect::Rect;

use crate::detector::{labels, Detection};
use crate::track;
use crate::track::draw::{LineView, Trail};

/// DejaVu Sans, bundled (licence in assets/fonts/).
static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

pub fn font() -> FontRef<'static> {
    // The bundled file is checked by a unit test; parsing it cannot fail at run time.
    FontRef::try_from_slice(FONT_BYTES).expect("bundled DejaVu Sans parses")
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
    draw_filled_rect_mut(img, Rect::at(x, y).of_size(tw.max(1) as u32, th.max(1) as u32), bg);
    draw_text_mut(img, ink_on(bg), x + 3, y + 1, scale, font, text);
}

/// Line thickness and text size that read at this frame size.
pub fn style_for(width: u32, height: u32) -> (i32, PxScale) {
    let short = width.min(height) as f32;
    ((short / 320.0).round().max(1.0) as i32 + 1, PxScale::from((short / 32.0).clamp(13.0, 28.0)))
}

/// Everything drawn over one frame, in frame pixels. The window and the recording both draw it with
/// `draw_scene`, so what one shows the other records: a tracker's IDs and trails or a counting line are
/// new fields here, drawn in `draw_scene`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    /// Best first.
    pub detections: Vec<Detection>,
    /// Track ID of each detection (same order; shorter or empty when not tracking).
    pub ids: Vec<Option<u64>>,
    /// Recent paths of the confirmed tracks, drawn under the boxes.
    pub trails: Vec<Trail>,
    /// The counting line with its counts, drawn over the boxes.
    pub line: Option<LineView>,
}

impl Scene {
    pub fn new(detections: Vec<Detection>) -> Scene {
        Scene { detections, ..Scene::default() }
    }
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

/// Draws a scene into `img` (the frame itself, or the window canvas through `to_img`). Line and text sizes
/// follow the size of `img`, so they read the same in a recording and on screen.
pub fn draw_scene(img: &mut RgbImage, scene: &Scene, labels: &[String], to_img: Mapping) {
    let (thickness, scale) = style_for(img.width(), img.height());
    track::draw::draw_trails(img, &scene.trails, to_img, thickness);
    let dets: Vec<Detection> =
        scene.detections.iter().map(|d| Detection { bbox: to_img.apply(d.bbox), ..*d }).collect();
    draw_detections_with_ids(img, &dets, &scene.ids, labels);
    if let Some(line) = &scene.line {
        track::draw::draw_counter(img, line, labels, to_img, &font(), scale, thickness);
    }
}

/// Draws every detection: a box in its class colour and a `label score` tag above it (inside the box
/// when there is no room above).
pub fn draw_detections(img: &mut RgbImage, dets: &[Detection], labels: &[String]) {
    draw_detections_with_ids(img, dets, &[], labels);
}

/// As `draw_detections`, with `label #ID score` tags for detections that have a track ID (`ids[i]`
/// belongs to `dets[i]`; missing entries mean no ID).
pub fn draw_detections_with_ids(img: &mut RgbImage, dets: &[Detection], ids: &[Option<u64>], labels: &[String]) {
    if img.width() == 0 || img.height() == 0 {
        return;
    }
    let font = font();
    let (thickness, scale) = style_for(img.width(), img.height());
    // Lowest score first, so the best box is drawn on top.
    for (i, d) in dets.iter().enumerate().rev() {
        let colour = class_colour(d.class_id);
        let [x1, y1, x2, y2] = d.bbox.map(|v| v.round() as i32);
        for t in 0..thickness {
            let (w, h) = ((x2 - x1 - 2 * t).max(1) as u32, (y2 - y1 - 2 * t).max(1) as u32);
            draw_hollow_rect_mut(img, Rect::at(x1 + t, y1 + t).of_size(w, h), colour);
        }
        let text = match ids.get(i).copied().flatten() {
            Some(id) => format!("{} #{id} {:.2}", labels::name(labels, d.class_id), d.score),
            None => format!("{} {:.2}", labels::name(labels, d.class_id), d.score),
        };
        let th = scale.y.ceil() as i32 + 4;
        let ty = if y1 - th >= 0 { y1 - th } else { y1 };
        draw_tag(img, &font, scale, x1, ty, &text, colour);
    }
}

/// Darkens a rectangle so text on top reads on any frame.
pub fn shade(img: &mut RgbImage, x: i32, y: i32, w: u32, h: u32) {
    let (iw, ih) = (img.width() as i32, img.height() as i32);
    for yy in y.max(0)..(y + h as i32).min(ih) {
        for xx in x.max(0)..(x + w as i32).min(iw) {
            let p = img.get_pixel_mut(xx as u32, yy as u32);
            p.0 = p.0.map(|c| c / 3);
        }
    }
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
        draw_text_mut(img, *colour, x + 6, y + 4 + i as i32 * line_h, scale, font, t);
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

    #[test]
    fn draws_box_in_class_colour_and_clips() {
        let mut img = RgbImage::from_pixel(100, 80, Rgb([0, 0, 0]));
        let labels = vec!["person".to_string()];
        let dets = [
            Detection { class_id: 0, score: 0.9, bbox: [20.0, 40.0, 60.0, 70.0] },
            // Partly outside the image: must not panic, and its tag stays inside.
            Detection { class_id: 3, score: 0.5, bbox: [90.0, -10.0, 140.0, 30.0] },
        ];
        draw_detections(&mut img, &dets, &labels);
        assert_eq!(img.get_pixel(20, 55), &class_colour(0), "left edge of the first box");
        assert_eq!(img.get_pixel(59, 69), &class_colour(0), "bottom-right corner");
        assert_eq!(img.get_pixel(40, 55), &Rgb([0, 0, 0]), "inside stays untouched");
        // The tag of the first box sits above it: some pixel in the rows above y=40 has its colour.
        assert!((20..60).any(|x| (25..40).any(|y| img.get_pixel(x, y) == &class_colour(0))));
        // The second tag is pushed left and down to fit: its background fills the top-right corner.
        assert_eq!(img.get_pixel(99, 0), &class_colour(3));
    }

    #[test]
    fn a_scene_is_drawn_through_a_mapping() {
        let labels = vec!["person".to_string()];
        let scene = Scene::new(vec![Detection { class_id: 0, score: 0.9, bbox: [10.0, 20.0, 30.0, 40.0] }]);
        let mut img = RgbImage::from_pixel(200, 200, Rgb([0, 0, 0]));
        // Twice the size, 5 px right: the left edge lands at x = 25, from y = 45 to 85.
        draw_scene(&mut img, &scene, &labels, Mapping { scale: 2.0, offset: (5.0, 5.0) });
        assert_eq!(img.get_pixel(25, 60), &class_colour(0));
        assert_eq!(img.get_pixel(45, 60), &Rgb([0, 0, 0]), "inside stays untouched");
        let mut same = RgbImage::from_pixel(200, 200, Rgb([0, 0, 0]));
        draw_scene(&mut same, &scene, &labels, Mapping::IDENTITY);
        assert_eq!(same.get_pixel(10, 30), &class_colour(0));
    }
}
