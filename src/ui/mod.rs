//! The window presenter (main thread): the frame the consumer loop hands over, its scene, HUD, sliders and keys.

pub mod hud;
pub mod legend;
pub mod region;
pub mod slider;
pub mod tracking;
pub mod zones;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use minifb::{InputCallback, Key, MouseButton, MouseMode, ScaleMode, Window, WindowOptions};

use crate::class_conf::ClassConf;
use crate::config::{CONF_RANGE, IOU_RANGE};
use crate::consumer::stats::{compact_lines, hud_lines, HudStats, Tone};
use crate::consumer::{Action, FrameView, Presenter};
use crate::detector::preprocess::{resize_rgb, ResizeScratch};
use crate::detector::tiles::{Region, Tiling};
use crate::detector::Thresholds;
use crate::overlay::{self, Mapping, Scene};
use crate::pipeline::InferenceSettings;
use crate::step::TrackAction;
use crate::track::live::HeatState;

use self::region::RegionTool;
use self::slider::Slider;
use self::tracking::LineTool;
use self::zones::{PKey, ZoneTool};

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

/// The live window: sliders and keys become `Action`s for the consumer loop; it draws what the loop hands over.
pub struct WindowPresenter {
    window: Window,
    pressed: Rc<RefCell<Vec<Key>>>,
    font: FontRef<'static>,
    labels: Vec<String>,
    conf: Slider,
    iou: Slider,
    help: bool,
    canvas: RgbImage,
    pixels: Vec<u32>,
    scratch: ResizeScratch,
    last_draw: Instant,
    /// Something changed in the last refresh whose effect (pause, thresholds) the loop applies after it.
    redraw: bool,
    /// Capture -> display of the frame shown: its sequence number and the latency when first drawn.
    shown: Option<(u64, Duration)>,
    /// L and a mouse drag: the counting line.
    line_tool: LineTool,
    /// Frame pixels to window pixels, as last drawn (the line tool maps the mouse back through it).
    to_window: Mapping,
    /// The inference thread's settings as this window last sent them (tiles, zoom region).
    inference: InferenceSettings,
    /// What `G` turns on: `--tiles` when given, else `auto`.
    tiles_on: Tiling,
    region_tool: RegionTool,
    /// Where the frame shown sits in the window, and its size: maps a drawn region into the frame.
    frame_fit: Option<(Fit, u32, u32)>,
    /// One line, full or none (`D`).
    hud_mode: hud::HudMode,
    /// Classes' own thresholds and hidden classes, as this window last sent them.
    class_conf: ClassConf,
    /// The class the confidence slider and Up/Down set (a click in the legend), if any.
    selected: Option<usize>,
    /// The threshold of every class without one of its own (the slider's value when no class is selected).
    default_conf: f32,
    /// Legend entries as last drawn (window pixels).
    legend: Vec<(usize, hud::Area)>,
    /// The left button was down at the last refresh (a click is its press).
    was_down: bool,
    /// `B`: blurring off in the window only (what is written stays blurred while `--blur` is given).
    blur_off: bool,
    /// `M`: the heatmap over the dimmed frame, fed by the tracking step.
    heat_view: bool,
    heat: Option<Rc<RefCell<HeatState>>>,
    /// P, clicks and Enter: a zone.
    zone_tool: ZoneTool,
    /// Zones as last shown (names and polygons, frame pixels), for P over a zone.
    zones_shown: Vec<(String, Vec<[f32; 2]>)>,
    /// The mouse in window pixels at the last refresh (the zone tool's rubber band).
    mouse: Option<(f32, f32)>,
}

impl WindowPresenter {
    /// Opens the window. `floor` is the lowest confidence the candidates hold, and so the slider's minimum.
    pub fn open(labels: Vec<String>, t: &Thresholds, floor: f32) -> anyhow::Result<WindowPresenter> {
        // The buffer is drawn at the window's size: copied as it is (minifb's default stretch resamples even
        // at 1:1, 18 % of the main thread's time when every frame is shown).
        let options = WindowOptions { resize: true, scale_mode: ScaleMode::UpperLeft, ..WindowOptions::default() };
        let mut window = Window::new("nasview", 1280, 720, options).map_err(|e| {
            anyhow::anyhow!("cannot open a window ({e}); is there a display? Use --headless to run without one")
        })?;
        window.set_target_fps(60);
        // Key presses arrive through a callback so that a tap shorter than one refresh is not lost.
        let pressed: Rc<RefCell<Vec<Key>>> = Rc::default();
        window.set_input_callback(Box::new(KeyQueue(Rc::clone(&pressed))));
        Ok(WindowPresenter {
            window,
            pressed,
            font: overlay::font(),
            labels,
            conf: Slider::new("conf", floor, *CONF_RANGE.end(), t.conf),
            iou: Slider::new("IoU", *IOU_RANGE.start(), *IOU_RANGE.end(), t.iou),
            help: false,
            canvas: RgbImage::new(1, 1),
            pixels: Vec::new(),
            scratch: ResizeScratch::default(),
            last_draw: Instant::now() - Duration::from_secs(1),
            redraw: false,
            shown: None,
            line_tool: LineTool::default(),
            to_window: Mapping::IDENTITY,
            inference: InferenceSettings { floor, passes: Default::default() },
            tiles_on: Tiling::Auto,
            region_tool: RegionTool::Off,
            frame_fit: None,
            hud_mode: hud::HudMode::default(),
            class_conf: ClassConf::default(),
            selected: None,
            default_conf: t.conf,
            legend: Vec::new(),
            was_down: false,
            blur_off: false,
            heat_view: false,
            heat: None,
            zone_tool: ZoneTool::default(),
            zones_shown: Vec::new(),
            mouse: None,
        })
    }

    /// The inference settings the run starts with; `G` and `Z` change them from there.
    /// The heatmap the tracking step feeds, shown by `M`.
    pub fn with_heat(mut self, heat: Option<Rc<RefCell<HeatState>>>) -> WindowPresenter {
        self.heat = heat;
        self
    }

    pub fn with_inference(mut self, settings: InferenceSettings) -> WindowPresenter {
        if settings.passes.tiling != Tiling::Off {
            self.tiles_on = settings.passes.tiling;
        }
        self.inference = settings;
        self
    }

    /// Classes' own thresholds from the start (`--conf 0.25,person=0.5`).
    pub fn with_class_conf(mut self, class_conf: ClassConf) -> WindowPresenter {
        self.class_conf = class_conf;
        self
    }

    fn thresholds(&self) -> Thresholds {
        Thresholds { conf: self.default_conf, iou: self.iou.value }
    }

    /// The confidence slider moved: the selected class's own threshold, or everyone else's.
    fn conf_moved(&mut self) -> Action {
        match self.selected {
            Some(c) => {
                self.class_conf.per_class.insert(c, self.conf.value);
                tracing::info!("class {c} conf={:.2}", self.conf.value);
                Action::SetClassConf(self.class_conf.clone())
            }
            None => {
                self.default_conf = self.conf.value;
                Action::SetThresholds(self.thresholds())
            }
        }
    }

    /// A click in the legend: select, hide or show a class; the slider then shows what it sets.
    fn legend_click(&mut self, class: usize) -> Action {
        let what = legend::click(&mut self.class_conf, &mut self.selected, class);
        tracing::info!("legend class={class} {what:?}");
        self.conf.value = match self.selected {
            Some(c) => self.class_conf.conf(c, self.default_conf),
            None => self.default_conf,
        };
        self.redraw = true;
        Action::SetClassConf(self.class_conf.clone())
    }

    /// Keys and mouse since the last refresh, as actions.
    fn input(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        let keys: Vec<Key> = self.pressed.borrow_mut().drain(..).collect();
        for key in keys {
            let moved = match key {
                Key::Up | Key::Down => {
                    if self.conf.nudge(if key == Key::Up { 0.05 } else { -0.05 }) {
                        actions.push(self.conf_moved());
                    }
                    false
                }
                Key::Right => self.iou.nudge(0.05),
                Key::Left => self.iou.nudge(-0.05),
                Key::Space => {
                    actions.push(Action::TogglePause);
                    false
                }
                Key::H => {
                    self.help = !self.help;
                    self.redraw = true;
                    false
                }
                Key::D => {
                    self.hud_mode = self.hud_mode.next();
                    tracing::info!("hud {:?}", self.hud_mode);
                    self.redraw = true;
                    false
                }
                Key::R => {
                    actions.push(Action::ToggleRecording);
                    false
                }
                Key::B => {
                    self.blur_off = !self.blur_off;
                    tracing::info!("window blur {}", if self.blur_off { "off" } else { "on" });
                    self.redraw = true;
                    false
                }
                Key::P => {
                    let mouse = self.window.get_mouse_pos(MouseMode::Discard).map(|m| self.to_window.inverse(m));
                    match self.zone_tool.p_key(mouse, &self.zones_shown) {
                        PKey::Remove(name) => actions.push(Action::Track(TrackAction::RemoveZone(name))),
                        what => tracing::info!("zone tool {what:?}"),
                    }
                    self.redraw = true;
                    false
                }
                Key::Enter | Key::NumPadEnter if self.zone_tool.armed => {
                    let taken: Vec<String> = self.zones_shown.iter().map(|z| z.0.clone()).collect();
                    actions.extend(self.zone_tool.close(&taken).map(Action::Track));
                    self.redraw = true;
                    false
                }
                Key::Backspace if self.zone_tool.armed => {
                    self.zone_tool.backspace();
                    self.redraw = true;
                    false
                }
                Key::M => {
                    self.heat_view = !self.heat_view && self.heat.is_some();
                    tracing::info!("heatmap {}", if self.heat_view { "on" } else { "off" });
                    self.redraw = true;
                    false
                }
                Key::S => {
                    actions.push(Action::Snapshot);
                    false
                }
                Key::Q | Key::Escape => {
                    actions.push(Action::Quit);
                    false
                }
                Key::G | Key::Z => {
                    actions.extend(self.tiles_key(key));
                    false
                }
                k => {
                    if let Some(action) = tracking::on_key(k, &mut self.line_tool) {
                        actions.extend(action);
                        self.redraw = true;
                    }
                    false
                }
            };
            if moved {
                actions.push(Action::SetThresholds(self.thresholds()));
            }
        }
        // While the region tool is armed the mouse draws a region; else the sliders follow it and the boxes
        // change at the next refresh, also while paused.
        if self.region_tool.active() {
            actions.extend(self.region_drag());
            return actions;
        }
        let mouse = self.window.get_mouse_pos(MouseMode::Discard);
        let down = self.window.get_mouse_down(MouseButton::Left);
        let pressed = down && !self.was_down;
        self.was_down = down;
        let on_legend = mouse.and_then(|m| legend::hit(&self.legend, m));
        if self.mouse != mouse {
            self.redraw |= self.zone_tool.armed;
            self.mouse = mouse;
        }
        if self.zone_tool.armed {
            // After P a click is a corner of the zone, not a slider or the legend.
            if let (true, Some(m)) = (pressed, mouse) {
                self.zone_tool.click(self.to_window.inverse(m));
                self.redraw = true;
            }
        } else if let (true, Some(class), false) = (pressed, on_legend, self.line_tool.armed) {
            actions.push(self.legend_click(class));
        } else if self.line_tool.armed {
            // After L the mouse draws the counting line, not the sliders.
            let (changed, action) = tracking::on_mouse(mouse, down, self.to_window, &mut self.line_tool);
            self.redraw |= changed;
            actions.extend(action);
        } else {
            if self.conf.update(mouse, down) {
                actions.push(self.conf_moved());
            }
            if self.iou.update(mouse, down) {
                actions.push(Action::SetThresholds(self.thresholds()));
            }
        }
        actions
    }

    /// `G` toggles the tiles; `Z` arms the region tool, or cancels it, or clears the region set.
    fn tiles_key(&mut self, key: Key) -> Option<Action> {
        self.redraw = true;
        let passes = &mut self.inference.passes;
        if key == Key::G {
            passes.tiling = if passes.tiling == Tiling::Off { self.tiles_on } else { Tiling::Off };
        } else if self.region_tool.active() {
            self.region_tool = RegionTool::Off;
            return None;
        } else if passes.region.is_some() {
            passes.region = None;
        } else {
            self.region_tool = RegionTool::Armed;
            return None;
        }
        tracing::info!("inference tiles={} region={:?}", passes.tiling, passes.region);
        Some(Action::SetInference(self.inference.clone()))
    }

    /// A mouse sample for the region tool; a finished drag becomes the zoom region, in frame pixels.
    fn region_drag(&mut self) -> Option<Action> {
        let mouse = self.window.get_mouse_pos(MouseMode::Clamp);
        let down = self.window.get_mouse_down(MouseButton::Left);
        let before = self.region_tool;
        let corners = self.region_tool.update(mouse, down);
        self.redraw |= self.region_tool != before;
        let [a, b] = corners?;
        let (f, fw, fh) = self.frame_fit?;
        let to_frame = |(x, y): (f32, f32)| ((x - f.x as f32) / f.scale, (y - f.y as f32) / f.scale);
        let (a, b) = (to_frame(a), to_frame(b));
        let r = crate::detector::tiles::Rect::from_corners(a, b, fw, fh)?;
        let region = Region::pixels(r.x as f32, r.y as f32, r.right() as f32, r.bottom() as f32);
        self.inference.passes.region = Some(region);
        tracing::info!("inference tiles={} region={:?}", self.inference.passes.tiling, self.inference.passes.region);
        Some(Action::SetInference(self.inference.clone()))
    }

    /// The region being drawn, or the one in use, outlined over the frame; a hint while the tool is armed.
    fn draw_region(&mut self, small: PxScale) {
        let rect = match (self.region_tool, self.inference.passes.region, self.frame_fit) {
            (RegionTool::Dragging { start, now }, _, _) => Some([start.0, start.1, now.0, now.1]),
            // As inference sees it: resolved (fractions) and clipped to the frame.
            (_, Some(r), Some((f, fw, fh))) => r.in_frame(fw, fh).map(|c| {
                let corners = [c.x as f32, c.y as f32, c.right() as f32, c.bottom() as f32];
                Mapping { scale: f.scale, offset: (f.x as f32, f.y as f32) }.apply(corners)
            }),
            _ => None,
        };
        if let Some([x1, y1, x2, y2]) = rect {
            let (l, t, r, b) = (x1.min(x2), y1.min(y2), x1.max(x2), y1.max(y2));
            for k in 0..2 {
                let (w, h) = ((r - l) as i32 - 2 * k, (b - t) as i32 - 2 * k);
                if w > 0 && h > 0 {
                    let at = imageproc::rect::Rect::at(l as i32 + k, t as i32 + k).of_size(w as u32, h as u32);
                    imageproc::drawing::draw_hollow_rect_mut(&mut self.canvas, at, hud::REGION);
                }
            }
        }
        if self.region_tool == RegionTool::Armed {
            let hint = "drag a zoom region with the mouse (Z cancels)".to_string();
            let x = (self.canvas.width() as f32 / 2.0 - overlay::text_width(&self.font, small, &hint) / 2.0) as i32;
            overlay::text_box(&mut self.canvas, &self.font, small, x.max(0), 8, &[(hint, hud::REGION)]);
        }
    }
}

impl Presenter for WindowPresenter {
    /// No wait for frames: `update` paces the loop at the window's 60 refreshes a second.
    fn wait(&self) -> Duration {
        Duration::ZERO
    }

    fn keeps_last_frame(&self) -> bool {
        true
    }

    fn refresh(&mut self, view: Option<&FrameView>, hud: &HudStats, changed: bool) -> anyhow::Result<Vec<Action>> {
        if !self.window.is_open() {
            return Ok(vec![Action::Quit]);
        }
        let actions = self.input();
        // Redraw on change, and at least every 250 ms so the HUD's figures move.
        let (ww, wh) = self.window.get_size();
        let (ww, wh) = (ww.max(1), wh.max(1));
        let resized = self.canvas.dimensions() != (ww as u32, wh as u32);
        let due = self.last_draw.elapsed() > Duration::from_millis(250);
        if changed || self.redraw || resized || due {
            self.redraw = !actions.is_empty();
            if let Some(v) = view.filter(|v| self.shown.is_none_or(|(seq, _)| seq != v.frame.seq)) {
                self.shown = Some((v.frame.seq, v.frame.captured_at.elapsed()));
            }
            let mut hud = hud.clone();
            hud.latency = self.shown.map(|(_, l)| l);
            self.draw(view, &hud, ww as u32, wh as u32);
            self.window
                .update_with_buffer(&self.pixels, ww, wh)
                .map_err(|e| anyhow::anyhow!("window update failed: {e}"))?;
            self.last_draw = Instant::now();
        } else {
            self.redraw |= !actions.is_empty();
            self.window.update();
        }
        Ok(actions)
    }
}

impl WindowPresenter {
    fn draw(&mut self, view: Option<&FrameView>, hud: &HudStats, ww: u32, wh: u32) {
        if self.canvas.dimensions() != (ww, wh) {
            self.canvas = RgbImage::new(ww, wh);
        }
        let (_, scale) = overlay::style_for(ww, wh);
        let small = PxScale::from((scale.y * 0.85).max(13.0));
        let mut to_window = None;
        let bars = Rgb([16, 16, 16]);
        if view.is_none() {
            overlay::fill_rect(&mut self.canvas, 0, 0, ww as i32, wh as i32, bars);
        }
        // `M`: the heat of the last minutes over the dimmed frame, drawn in its place.
        let heat_img = match (view, &self.heat, self.heat_view) {
            (Some(v), Some(heat), true) => heat.borrow().map.as_ref().map(|m| m.render(&v.frame.image, false)),
            _ => None,
        };
        if let Some(v) = view {
            let img = heat_img.as_ref().unwrap_or(&v.frame.image);
            let f = fit(img.width(), img.height(), ww, wh);
            // Only the bars around the frame: the frame covers the rest.
            let (fx, fy, fw, fh) = (f.x as i32, f.y as i32, f.w as i32, f.h as i32);
            let (w, h) = (ww as i32, wh as i32);
            overlay::fill_rect(&mut self.canvas, 0, 0, w, fy, bars);
            overlay::fill_rect(&mut self.canvas, 0, fy + fh, w, h - fy - fh, bars);
            overlay::fill_rect(&mut self.canvas, 0, fy, fx, fh, bars);
            overlay::fill_rect(&mut self.canvas, fx + fw, fy, w - fx - fw, fh, bars);
            let offset = (f.y * ww + f.x) as usize * 3;
            let stride = ww as usize * 3;
            resize_rgb(
                img.as_raw(),
                img.width() as usize,
                img.height() as usize,
                &mut self.canvas.as_mut()[offset..],
                f.w as usize,
                f.h as usize,
                stride,
                &mut self.scratch,
            );
            to_window = Some(Mapping { scale: f.scale, offset: (f.x as f32, f.y as f32) });
            self.frame_fit = Some((f, img.width(), img.height()));
        }
        // Sliders along the bottom edge, the HUD and the REC badge laid out around them; tags keep off all three.
        let sw = (ww as f32 * 0.25).clamp(120.0, 400.0);
        let sh = (small.y + 6.0).round();
        let label_room = 110.0;
        self.conf.place(label_room, wh as f32 - 2.0 * sh - 24.0, sw, sh);
        self.iou.place(label_room, wh as f32 - sh - 10.0, sw, sh);
        let sliders = hud::Area {
            x: 0,
            y: self.conf.y as i32 - 4,
            w: (label_room + sw) as i32 + 8,
            h: wh as i32 - self.conf.y as i32 + 4,
        };
        let lines = match self.hud_mode {
            hud::HudMode::Full => hud_lines(hud),
            hud::HudMode::Compact => compact_lines(hud),
            hud::HudMode::None => compact_lines(hud).into_iter().skip(1).collect(),
        };
        let mut lines: Vec<(String, Rgb<u8>)> =
            lines.into_iter().map(|(t, tone)| (t, if tone == Tone::Warn { hud::WARN } else { hud::TEXT })).collect();
        if let Some(c) = self.selected {
            let name = crate::detector::labels::name(&self.labels, c);
            let note = format!("slider sets {name}: conf {:.2} (click {name} again to hide it)", self.conf.value);
            lines.insert(0, (note, hud::WARN));
        }
        let text_w = lines.iter().map(|(t, _)| overlay::text_width(&self.font, small, t)).fold(0.0, f32::max);
        let line_h = small.y.ceil() as i32 + 3;
        let badge = hud::rec_badge_size(&self.font, small);
        let (panel, kept, badge_at) =
            hud::layout(ww as i32, (text_w.ceil() as i32 + 12, lines.len(), line_h), badge, sliders);
        // The class legend down the right edge, under the REC badge's corner.
        let listed = legend::classes(
            view.iter().flat_map(|v| v.scene.detections.iter().map(|d| d.class_id)),
            &self.class_conf,
            self.selected,
        );
        let legend_top = badge_at.bottom().max(8 + badge.1) + 10;
        let mut avoid = vec![[sliders.x, sliders.y, sliders.w, sliders.h]];
        let th = small.y.ceil() as i32 + 4;
        if let Some(w) = listed
            .iter()
            .map(|&c| {
                overlay::text_width(
                    &self.font,
                    small,
                    &format!("{} (hidden)", crate::detector::labels::name(&self.labels, c)),
                )
            })
            .reduce(f32::max)
        {
            let w = w.ceil() as i32 + 10;
            avoid.push([ww as i32 - 8 - w, legend_top - 2, w + 2, listed.len() as i32 * (th + 4) + 4]);
        }
        if kept > 0 {
            avoid.push([panel.x, panel.y, panel.w, panel.h]);
        }
        if hud.recording_seconds.is_some() {
            avoid.push([badge_at.x, badge_at.y, badge_at.w, badge_at.h]);
        }
        // Drawn after scaling, in window pixels, so lines stay crisp.
        if let (Some(v), Some(m)) = (view, to_window) {
            if self.blur_off && !v.scene.blur.is_empty() {
                let scene = Scene { blur: Vec::new(), ..v.scene.clone() };
                overlay::draw_scene_avoiding(&mut self.canvas, &scene, &self.labels, m, &avoid);
            } else {
                overlay::draw_scene_avoiding(&mut self.canvas, &v.scene, &self.labels, m, &avoid);
            }
            self.to_window = m;
            self.zones_shown = v.scene.zones.iter().map(|z| (z.name.clone(), z.poly.clone())).collect();
        }
        zones::draw(&mut self.canvas, &self.zone_tool, self.mouse, self.to_window, &self.font, small);
        if let (true, Some(heat)) = (heat_img.is_some(), &self.heat) {
            // The heatmap's legend: distinct tracks per class that left heat, above the sliders.
            let per_class = heat.borrow().map.as_ref().map(|m| {
                m.tracks
                    .iter()
                    .map(|(c, ids)| format!("{} {}", crate::detector::labels::name(&self.labels, *c), ids.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let text =
                format!("heatmap (M), tracks: {}", per_class.filter(|t| !t.is_empty()).unwrap_or("none yet".into()));
            overlay::draw_tag(
                &mut self.canvas,
                &self.font,
                small,
                12,
                sliders.y - small.y as i32 - 16,
                &text,
                hud::WARN,
            );
        }
        tracking::draw(&mut self.canvas, &self.line_tool, self.to_window, &self.font, small);
        self.draw_region(small);
        hud::slider(&mut self.canvas, &self.font, small, &self.conf);
        hud::slider(&mut self.canvas, &self.font, small, &self.iou);
        overlay::text_box(&mut self.canvas, &self.font, small, panel.x, panel.y, &lines[..kept]);
        self.legend = legend::draw(
            &mut self.canvas,
            &self.font,
            small,
            ww as i32 - 8,
            legend_top,
            &listed,
            &self.labels,
            &self.class_conf,
            self.selected,
        );
        if let Some(secs) = hud.recording_seconds {
            hud::rec_badge(&mut self.canvas, &self.font, small, badge_at, secs);
        }
        if self.help {
            hud::help(&mut self.canvas, &self.font, small);
        }
        self.pixels.resize((ww * wh) as usize, 0);
        for (dst, p) in self.pixels.iter_mut().zip(self.canvas.as_raw().chunks_exact(3)) {
            *dst = (p[0] as u32) << 16 | (p[1] as u32) << 8 | p[2] as u32;
        }
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
