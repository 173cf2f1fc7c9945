//! What is drawn over a frame (main thread): the `Scene` (boxes and `label score` tags, track IDs, trails, the
//! counting line), drawn the same way into the window and into recordings; pure, always clipped. The
//! primitives it draws with live in `canvas.rs`.

use image::RgbImage;

use crate::canvas::box_outline;
// The primitives, where callers have always found them.
pub use crate::canvas::{
    class_colour, draw_tag, draw_text, fill_rect, font, shade, style_for, text_box, text_width, Mapping, PALETTE, TEXT,
};
use crate::detector::{labels, Detection};
use crate::tags::{self, Rect};
use crate::track;
use crate::track::draw::{LineView, Trail};

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
    /// Zones with what is inside, drawn under everything.
    pub zones: Vec<crate::track::draw_zones::ZoneView>,
    /// Boxes to pixelate (`--blur`), frame pixels: done first, so no tag or box is blurred with them.
    pub blur: Vec<[f32; 4]>,
}

impl Scene {
    pub fn new(detections: Vec<Detection>) -> Scene {
        Scene { detections, ..Scene::default() }
    }
}

/// Draws a scene into `img` (the frame itself, or the window canvas through `to_img`). Line and text sizes
/// follow the size of `img`, so they read the same in a recording and on screen.
pub fn draw_scene(img: &mut RgbImage, scene: &Scene, labels: &[String], to_img: Mapping) {
    draw_scene_avoiding(img, scene, labels, to_img, &[]);
}

/// As `draw_scene`; tags also keep off `avoid` (the window's HUD and REC badge, in `img` pixels) when they can.
pub fn draw_scene_avoiding(img: &mut RgbImage, scene: &Scene, labels: &[String], to_img: Mapping, avoid: &[Rect]) {
    let (thickness, scale) = style_for(img.width(), img.height());
    for b in &scene.blur {
        crate::privacy::pixelate(img, to_img.apply(*b));
    }
    if !scene.zones.is_empty() {
        track::draw_zones::draw_zones(img, &scene.zones, labels, to_img, &font(), scale);
    }
    track::draw::draw_trails(img, &scene.trails, to_img, thickness);
    let dets: Vec<Detection> =
        scene.detections.iter().map(|d| Detection { bbox: to_img.apply(d.bbox), ..*d }).collect();
    draw_boxes(img, &dets, &scene.ids, labels, avoid);
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
    draw_boxes(img, dets, ids, labels, &[]);
}

/// The tag text of each detection and where each tag goes (`tags::place`, best first), in `img` pixels.
pub fn tag_layout(
    img: (u32, u32),
    dets: &[Detection],
    ids: &[Option<u64>],
    labels: &[String],
    avoid: &[Rect],
) -> (Vec<String>, Vec<[i32; 4]>, Vec<Rect>) {
    let font = font();
    let (_, scale) = style_for(img.0, img.1);
    let th = scale.y.ceil() as i32 + 4;
    let texts: Vec<String> = dets
        .iter()
        .enumerate()
        .map(|(i, d)| match ids.get(i).copied().flatten() {
            Some(id) => format!("{} #{id} {:.2}", labels::name(labels, d.class_id), d.score),
            None => format!("{} {:.2}", labels::name(labels, d.class_id), d.score),
        })
        .collect();
    let sizes: Vec<(i32, i32)> = texts.iter().map(|t| (text_width(&font, scale, t).ceil() as i32 + 6, th)).collect();
    let boxes: Vec<[i32; 4]> = dets.iter().map(|d| d.bbox.map(|v| v.round() as i32)).collect();
    let placed = tags::place(&boxes, &sizes, (img.0 as i32, img.1 as i32), avoid);
    (texts, boxes, placed)
}

/// Boxes first, lowest score first, then their tags in the same order (the best on top), each where
/// `tag_layout` put it: no box line crosses a tag, and tags cover neither each other nor `avoid` while a
/// free place is near their box.
fn draw_boxes(img: &mut RgbImage, dets: &[Detection], ids: &[Option<u64>], labels: &[String], avoid: &[Rect]) {
    if img.width() == 0 || img.height() == 0 {
        return;
    }
    let font = font();
    let (thickness, scale) = style_for(img.width(), img.height());
    let (texts, boxes, placed) = tag_layout(img.dimensions(), dets, ids, labels, avoid);
    for (d, b) in dets.iter().zip(&boxes).rev() {
        box_outline(img, *b, thickness, class_colour(d.class_id));
    }
    for ((d, text), t) in dets.iter().zip(&texts).zip(&placed).rev() {
        draw_tag(img, &font, scale, t[0], t[1], text, class_colour(d.class_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

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
