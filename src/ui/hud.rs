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

/// Which HUD the window shows; `D` cycles them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HudMode {
    /// One line: rates, inference time, model, objects (and any warning).
    #[default]
    Compact,
    /// Every figure, one per line.
    Full,
    /// Only warnings.
    None,
}

impl HudMode {
    pub fn next(self) -> HudMode {
        match self {
            HudMode::Compact => HudMode::Full,
            HudMode::Full => HudMode::None,
            HudMode::None => HudMode::Compact,
        }
    }
}

/// A rectangle in window pixels: x, y, width, height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Area {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Area {
    pub fn overlaps(&self, o: &Area) -> bool {
        self.w > 0
            && self.h > 0
            && o.w > 0
            && o.h > 0
            && self.x < o.x + o.w
            && o.x < self.x + self.w
            && self.y < o.y + o.h
            && o.y < self.y + self.h
    }

    pub fn bottom(&self) -> i32 {
        self.y + self.h
    }
}

/// Where the HUD panel and the REC badge go in a `win_w` x `win_h` window whose sliders take `sliders`
/// (bottom left): the HUD at the top left keeps `lines` of `line_h` pixels that fit above the sliders (at
/// least one); the badge at the top right, or under the HUD when the HUD reaches it, and never on the
/// sliders. Returns the HUD's area and lines kept, and the badge's area.
pub fn layout(win_w: i32, hud: (i32, usize, i32), badge: (i32, i32), sliders: Area) -> (Area, usize, Area) {
    let (hud_w, lines, line_h) = hud;
    let margin = 8;
    let room = ((sliders.y - margin - 8 - margin) / line_h.max(1)).max(1) as usize;
    let kept = lines.min(room);
    let panel = Area { x: margin, y: margin, w: hud_w, h: if kept == 0 { 0 } else { line_h * kept as i32 + 8 } };
    let mut at = Area { x: win_w - badge.0 - margin, y: margin, w: badge.0, h: badge.1 };
    if at.overlaps(&panel) {
        at.y = panel.bottom() + 6;
        if at.overlaps(&sliders) {
            // No room below the HUD: the badge goes right of the sliders, on the bottom row.
            at.y = sliders.bottom() - at.h;
            at.x = at.x.max(sliders.x + sliders.w + margin);
        }
    }
    (panel, kept, at)
}

/// The REC badge's size: a red dot and `REC mm:ss`.
pub fn rec_badge_size(font: &FontRef, scale: PxScale) -> (i32, i32) {
    (text_width(font, scale, "REC 00:00").ceil() as i32 + 44, scale.y as i32 + 10)
}

/// A red dot and `REC mm:ss` in `at` (from `layout`).
pub fn rec_badge(img: &mut RgbImage, font: &FontRef, scale: PxScale, at: Area, elapsed_s: u64) {
    let text = format!("REC {:02}:{:02}", elapsed_s / 60, elapsed_s % 60);
    shade(img, at.x, at.y, at.w as u32, at.h as u32);
    let r = (scale.y / 2.5) as i32;
    draw_filled_circle_mut(img, (at.x + 8 + r, at.y + 5 + scale.y as i32 / 2), r, REC_RED);
    draw_text(img, REC_RED, at.x + 2 * r + 16, at.y + 4, scale, font, &text);
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
pub const HELP: [(&str, &str); 18] = [
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
    ("D", "HUD: one line / full / off"),
    ("B", "blurring on / off in this window (--blur; what is written stays blurred)"),
    ("M", "heatmap of where tracks went"),
    ("P, clicks, Enter", "draw a zone (P over a zone removes it)"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hud_badge_and_sliders_never_overlap() {
        // A 1280x720 window; sliders in the bottom-left 520x70; badge 130x24; lines 18 px.
        let sliders = Area { x: 10, y: 640, w: 520, h: 70 };
        // One line, 600 px wide: the badge keeps its corner.
        let (hud, kept, badge) = layout(1280, (600, 1, 18), (130, 24), sliders);
        assert_eq!((hud, kept), (Area { x: 8, y: 8, w: 600, h: 26 }, 1));
        assert_eq!(badge, Area { x: 1142, y: 8, w: 130, h: 24 });
        // A full HUD as wide as the window: the badge goes under it.
        let (hud, _, badge) = layout(1280, (1270, 8, 18), (130, 24), sliders);
        assert_eq!((hud.bottom(), badge.y), (8 + 8 * 18 + 8, 160 + 6));
        assert!(!hud.overlaps(&badge) && !badge.overlaps(&sliders) && !hud.overlaps(&sliders));
        // A short window: the HUD keeps the lines that fit above the sliders, the badge goes beside them.
        let low = Area { x: 10, y: 150, w: 300, h: 70 };
        let (hud, kept, badge) = layout(640, (630, 12, 18), (130, 24), low);
        assert_eq!(kept, 7, "(150 - 24) / 18 lines");
        assert!(!hud.overlaps(&low) && !badge.overlaps(&hud) && !badge.overlaps(&low), "{hud:?} {badge:?}");
        // D cycles the three modes.
        assert_eq!(HudMode::default().next().next().next(), HudMode::Compact);
    }
}
