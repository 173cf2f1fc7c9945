//! The window's widgets (main thread): REC badge, sliders and help, drawn onto the display canvas; the HUD's
//! lines come from `consumer::stats::hud_lines`.

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_circle_mut, draw_filled_rect_mut};
use imageproc::rect::Rect;

use super::slider::Slider;
use crate::overlay::{draw_text, shade, text_width};

pub const TEXT: Rgb<u8> = crate::overlay::TEXT;
pub const WARN: Rgb<u8> = Rgb([255, 210, 60]);
pub const REC_RED: Rgb<u8> = Rgb([235, 30, 30]);
/// Slider track and knob colours; the window test looks for the knob colour.
pub const TRACK: Rgb<u8> = Rgb([90, 90, 90]);
pub const FILL: Rgb<u8> = Rgb([0, 170, 255]);
pub const KNOB: Rgb<u8> = Rgb([255, 255, 255]);
/// The zoom region's outline (a colour no class has); the window test looks for it.
pub const REGION: Rgb<u8> = Rgb([0, 255, 255]);

/// A red dot and `REC mm:ss` at the top-right corner.
pub fn rec_badge(img: &mut RgbImage, font: &FontRef, scale: PxScale, elapsed_s: u64) {
    let text = format!("REC {:02}:{:02}", elapsed_s / 60, elapsed_s % 60);
    let tw = text_width(font, scale, &text).ceil() as i32;
    let x = img.width() as i32 - tw - 40;
    shade(img, x - 8, 6, (tw + 44) as u32, scale.y as u32 + 10);
    let r = (scale.y / 2.5) as i32;
    draw_filled_circle_mut(img, (x + r, 11 + scale.y as i32 / 2), r, REC_RED);
    draw_text(img, REC_RED, x + 2 * r + 8, 10, scale, font, &text);
}

/// Draws a slider: shaded panel, label with value, track, filled part and knob.
pub fn slider(img: &mut RgbImage, font: &FontRef, scale: PxScale, s: &Slider) {
    let label = format!("{} {:.2}", s.label, s.value);
    let lw = text_width(font, scale, &label).ceil() as i32;
    let (x, y, w, h) = (s.x as i32, s.y as i32, s.w as u32, s.h as u32);
    shade(img, x - lw - 16, y - 4, w + lw as u32 + 24, h + 8);
    draw_text(img, TEXT, x - lw - 10, y + (h as i32 - scale.y as i32) / 2, scale, font, &label);
    let track_h = (h / 3).max(2);
    let ty = y + (h - track_h) as i32 / 2;
    draw_filled_rect_mut(img, Rect::at(x, ty).of_size(w, track_h), TRACK);
    let kx = s.knob_x() as i32;
    if kx > x {
        draw_filled_rect_mut(img, Rect::at(x, ty).of_size((kx - x) as u32, track_h), FILL);
    }
    let kw = (h / 2).max(4);
    draw_filled_rect_mut(img, Rect::at(kx - kw as i32 / 2, y).of_size(kw, h), KNOB);
}

/// Keys and what they do, drawn in two columns at the centre.
pub const HELP: [(&str, &str); 14] = [
    ("Up / Down", "confidence +/- 0.05"),
    ("Left / Right", "IoU +/- 0.05"),
    ("mouse", "drag the sliders"),
    ("Space", "pause / resume"),
    ("R", "record on / off (MP4)"),
    ("S", "snapshot (PNG)"),
    ("T", "tracking on / off (IDs, counts)"),
    ("Y", "trails on / off"),
    ("L + drag", "draw the counting line"),
    ("C", "reset the counts"),
    ("G", "tiles on / off (small objects)"),
    ("Z + drag", "zoom region (Z again clears it)"),
    ("H", "this help"),
    ("Q / Esc", "quit"),
];

pub fn help(img: &mut RgbImage, font: &FontRef, scale: PxScale) {
    let key_w = HELP.iter().map(|(k, _)| text_width(font, scale, k)).fold(0.0, f32::max).ceil() as i32 + 24;
    let desc_w = HELP.iter().map(|(_, d)| text_width(font, scale, d)).fold(0.0, f32::max).ceil() as i32;
    let line_h = scale.y.ceil() as i32 + 3;
    let (w, h) = (key_w + desc_w + 24, line_h * HELP.len() as i32 + 16);
    let (x, y) = ((img.width() as i32 - w) / 2, (img.height() as i32 - h) / 2);
    shade(img, x, y, w as u32, h as u32);
    shade(img, x, y, w as u32, h as u32);
    for (i, (k, d)) in HELP.iter().enumerate() {
        let ty = y + 8 + i as i32 * line_h;
        draw_text(img, FILL, x + 12, ty, scale, font, k);
        draw_text(img, TEXT, x + 12 + key_w, ty, scale, font, d);
    }
}
