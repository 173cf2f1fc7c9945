//! The live window (main thread): the newest processed frame, its boxes, HUD, sliders and keys.

pub mod hud;
pub mod slider;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ab_glyph::PxScale;
use image::{Rgb, RgbImage};
use minifb::{InputCallback, Key, MouseButton, MouseMode, Window, WindowOptions};

use crate::commands::live::{Outputs, Rates};
use crate::detector::preprocess::{resize_rgb, ResizeScratch};
use crate::detector::{Detection, Thresholds};
use crate::overlay;
use crate::pipeline::{Pipeline, Processed};

use self::slider::Slider;

/// Where the frame sits in the window: scale and offset of the aspect-preserving fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    pub scale: f32,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

pub fn fit(frame_w: u32, frame_h: u32, win_w: u32, win_h: u32) -> Fit {
    let scale = (win_w as f32 / frame_w as f32).min(win_h as f32 / frame_h as f32);
    let (w, h) = (
        ((frame_w as f32 * scale).round() as u32).clamp(1, win_w),
        ((frame_h as f32 * scale).round() as u32).clamp(1, win_h),
    );
    Fit { scale, x: (win_w - w) / 2, y: (win_h - h) / 2, w, h }
}

/// Collects key presses (and the window system's auto-repeats) between refreshes.
struct KeyQueue(Rc<RefCell<Vec<Key>>>);

impl InputCallback for KeyQueue {
    fn add_char(&mut self, _uni_char: u32) {}

    fn set_key_state(&mut self, key: Key, down: bool) {
        if down {
            self.0.borrow_mut().push(key);
        }
    }
}

/// State of the window between refreshes.
struct View {
    conf: Slider,
    iou: Slider,
    paused: bool,
    help: bool,
    current: Option<Processed>,
    dets: Vec<Detection>,
    canvas: RgbImage,
    pixels: Vec<u32>,
    scratch: ResizeScratch,
}

impl View {
    fn thresholds(&self) -> Thresholds {
        Thresholds { conf: self.conf.value, iou: self.iou.value }
    }

    fn reselect(&mut self) {
        if let Some(p) = &self.current {
            self.dets = p.candidates.select(&self.thresholds());
            // The window test reads these lines (NASVIEW_LOG=info) to know what is on screen.
            tracing::info!(
                "view frame={} conf={:.2} iou={:.2} objects={}{}",
                p.frame.seq,
                self.conf.value,
                self.iou.value,
                self.dets.len(),
                if self.paused { " paused" } else { "" }
            );
        }
    }
}

/// Runs the window until Q, Esc, the close button, a signal, or `max_frames`. Returns frames shown.
pub fn run(
    pipeline: &Pipeline,
    outputs: &mut Outputs,
    t: Thresholds,
    floor: f32,
    max_frames: Option<u64>,
    stop: &AtomicBool,
) -> anyhow::Result<u64> {
    let mut window = Window::new("nasview", 1280, 720, WindowOptions { resize: true, ..WindowOptions::default() })
        .map_err(|e| {
            anyhow::anyhow!("cannot open a window ({e}); is there a display? Use --headless to run without one")
        })?;
    window.set_target_fps(60);
    // Key presses arrive through a callback so that a tap shorter than one refresh is not lost.
    let pressed: Rc<RefCell<Vec<Key>>> = Rc::default();
    window.set_input_callback(Box::new(KeyQueue(Rc::clone(&pressed))));
    let font = overlay::font();
    let mut view = View {
        conf: Slider::new("conf", floor, 1.0, t.conf),
        iou: Slider::new("IoU", 0.05, 0.95, t.iou),
        paused: false,
        help: false,
        current: None,
        dets: Vec::new(),
        canvas: RgbImage::new(1, 1),
        pixels: Vec::new(),
        scratch: ResizeScratch::default(),
    };
    let mut rates = Rates::default();
    let mut shown = 0u64;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut source_ended = false;
    while window.is_open() && !stop.load(Ordering::Relaxed) {
        let mut dirty = false;
        // Newest processed frame (unless paused): it and its boxes are shown together.
        if !view.paused {
            match pipeline.results.try_recv() {
                Ok(p) => {
                    rates.on_result();
                    view.current = Some(p);
                    view.reselect();
                    if let Some(p) = &view.current {
                        outputs.on_frame(p, &view.dets, &pipeline.info.labels);
                    }
                    shown += 1;
                    dirty = true;
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) if !source_ended => {
                    // The end of a file: its recording is complete; the last frame stays on screen.
                    source_ended = true;
                    outputs.stop_recording();
                    dirty = true;
                }
                Err(_) => {}
            }
        }
        if max_frames.is_some_and(|m| shown >= m) {
            break;
        }
        // Keys.
        let keys: Vec<Key> = pressed.borrow_mut().drain(..).collect();
        for key in keys {
            let changed = match key {
                Key::Up => view.conf.nudge(0.05),
                Key::Down => view.conf.nudge(-0.05),
                Key::Right => view.iou.nudge(0.05),
                Key::Left => view.iou.nudge(-0.05),
                Key::Space => {
                    view.paused = !view.paused;
                    view.reselect();
                    true
                }
                Key::H => {
                    view.help = !view.help;
                    true
                }
                Key::R => {
                    if let Some(p) = &view.current {
                        outputs.toggle_recording(p.frame.image.width(), p.frame.image.height());
                    }
                    true
                }
                Key::S => {
                    if let Some(p) = &view.current {
                        outputs.snapshot(p, &view.dets, &pipeline.info.labels);
                    }
                    true
                }
                Key::Q | Key::Escape => return Ok(shown),
                _ => false,
            };
            if changed && matches!(key, Key::Up | Key::Down | Key::Left | Key::Right) {
                view.reselect();
            }
            dirty |= changed;
        }
        // Sliders follow the mouse; boxes change at this refresh, also while paused.
        let mouse = window.get_mouse_pos(MouseMode::Discard);
        let down = window.get_mouse_down(MouseButton::Left);
        if view.conf.update(mouse, down) | view.iou.update(mouse, down) {
            view.reselect();
            dirty = true;
        }
        // Redraw on change, and at least every 250 ms so the HUD's figures move.
        let (ww, wh) = window.get_size();
        let resized = view.canvas.dimensions() != (ww as u32, wh as u32);
        if dirty || resized || last_draw.elapsed() > Duration::from_millis(250) {
            draw(&mut view, pipeline, outputs, &mut rates, source_ended, ww.max(1) as u32, wh.max(1) as u32, &font);
            window
                .update_with_buffer(&view.pixels, ww.max(1), wh.max(1))
                .map_err(|e| anyhow::anyhow!("window update failed: {e}"))?;
            last_draw = Instant::now();
        } else {
            window.update();
        }
    }
    Ok(shown)
}

#[allow(clippy::too_many_arguments)] // one call site; the pieces of one refresh
fn draw(
    view: &mut View,
    pipeline: &Pipeline,
    outputs: &Outputs,
    rates: &mut Rates,
    source_ended: bool,
    ww: u32,
    wh: u32,
    font: &ab_glyph::FontRef,
) {
    if view.canvas.dimensions() != (ww, wh) {
        view.canvas = RgbImage::new(ww, wh);
    }
    view.canvas.pixels_mut().for_each(|p| *p = Rgb([16, 16, 16]));
    let (_, scale) = overlay::style_for(ww, wh);
    let small = PxScale::from((scale.y * 0.85).max(13.0));
    let mut shown: Vec<Detection> = Vec::new();
    if let Some(p) = &view.current {
        let img = &p.frame.image;
        let f = fit(img.width(), img.height(), ww, wh);
        let offset = (f.y * ww + f.x) as usize * 3;
        let stride = ww as usize * 3;
        resize_rgb(
            img.as_raw(),
            img.width() as usize,
            img.height() as usize,
            &mut view.canvas.as_mut()[offset..],
            f.w as usize,
            f.h as usize,
            stride,
            &mut view.scratch,
        );
        // Boxes in window pixels, drawn after scaling so lines stay crisp.
        shown = view
            .dets
            .iter()
            .map(|d| Detection {
                bbox: [
                    d.bbox[0] * f.scale + f.x as f32,
                    d.bbox[1] * f.scale + f.y as f32,
                    d.bbox[2] * f.scale + f.x as f32,
                    d.bbox[3] * f.scale + f.y as f32,
                ],
                ..*d
            })
            .collect();
    }
    let mut lines = rates.hud_lines(pipeline, view.current.as_ref(), view.dets.len());
    lines.push((
        format!(
            "conf {:.2}  IoU {:.2}{}",
            view.conf.value,
            view.iou.value,
            if view.paused { "  [paused]" } else { "" }
        ),
        hud::TEXT,
    ));
    let age = view.current.as_ref().map(|p| p.frame.captured_at.elapsed()).filter(|_| !view.paused);
    for w in outputs.warnings(pipeline, source_ended, age) {
        lines.push((w, hud::WARN));
    }
    lines.push(("H: help".into(), hud::TEXT));
    hud::text_box(&mut view.canvas, font, small, 8, 8, &lines);
    // Over the HUD panel: a label is worth more than the figures it may cover.
    overlay::draw_detections(&mut view.canvas, &shown, &pipeline.info.labels);
    if let Some(secs) = outputs.recording_seconds() {
        hud::rec_badge(&mut view.canvas, font, small, secs);
    }
    if view.help {
        hud::help(&mut view.canvas, font, small);
    }
    // Sliders along the bottom edge.
    let sw = (ww as f32 * 0.25).clamp(120.0, 400.0);
    let sh = (small.y + 6.0).round();
    let label_room = 110.0;
    view.conf.place(label_room, wh as f32 - 2.0 * sh - 24.0, sw, sh);
    view.iou.place(label_room, wh as f32 - sh - 10.0, sw, sh);
    hud::slider(&mut view.canvas, font, small, &view.conf);
    hud::slider(&mut view.canvas, font, small, &view.iou);
    view.pixels.resize((ww * wh) as usize, 0);
    for (dst, p) in view.pixels.iter_mut().zip(view.canvas.pixels()) {
        *dst = (p.0[0] as u32) << 16 | (p.0[1] as u32) << 8 | p.0[2] as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_centres() {
        assert_eq!(fit(960, 540, 1280, 720), Fit { scale: 1280.0 / 960.0, x: 0, y: 0, w: 1280, h: 720 });
        // A 4:3 frame in a 16:9 window: bars left and right.
        assert_eq!(fit(640, 480, 1280, 720), Fit { scale: 1.5, x: 160, y: 0, w: 960, h: 720 });
        // A tall window: bars top and bottom.
        assert_eq!(fit(960, 540, 480, 800), Fit { scale: 0.5, x: 0, y: 265, w: 480, h: 270 });
    }
}
