//! Tracking in the live command: a per-frame step of the consumer loop that runs the tracker, the counting line and
//! the zones, puts IDs, trails and counts into the scene, and sends the events (main thread).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::detector::preprocess::clip_box;
use crate::detector::{Candidates, Detection, Thresholds};
use crate::overlay::Scene;
use crate::pipeline::Processed;
use crate::step::FrameStep;
pub use crate::step::TrackAction;

use crate::events::{Event, EventOutputs};
use crate::overlay;

use super::draw::{self, LineView};
use super::draw_zones::ZoneView;
use super::heatmap::Heatmap;
use super::line::{Counter, Direction, LineSpec};
use super::zones::{ZoneChange, Zones};
use super::{Ids, State, Tracker, TrackerConfig};

/// The tracker, the line and what is switched on.
pub struct Tracking {
    pub tracker: Tracker,
    pub enabled: bool,
    pub trails: bool,
    labels: Vec<String>,
    /// `--line` (or the line drawn with the mouse) as given: placed again on each new frame size, so a fraction
    /// line stays where it was asked on a folder of photos of mixed sizes.
    line: Option<LineSpec>,
    pub counter: Option<Counter>,
    /// Size of the frames tracked, and of the frame the line was placed on.
    frame_size: Option<(u32, u32)>,
    /// The line was said to lie (partly) outside a frame: said once.
    line_warned: bool,
    /// Time of the last update (tracker and line).
    pub cost: Duration,
    pub zones: Zones,
    /// Where events go (`--events`, `--event-snapshots`, `--mqtt`); shared with the command, which closes it.
    events: Option<Rc<RefCell<EventOutputs>>>,
    /// Events of the newest update, sent once its scene is drawn (a snapshot shows it).
    pending: Vec<Event>,
    /// The newest box of each confirmed track seen, for events about a track that is gone.
    last_seen: HashMap<u64, Detection>,
    /// Number of the frame being processed.
    frame: u64,
    /// `--blur`: classes whose boxes are pixelated, detected or (tracking on) predicted where the detector missed.
    blur: Vec<usize>,
    /// `--heatmap-out` (and the window's `M`): where the tracks' feet went, with the newest frame to draw it on.
    pub heat: Option<Rc<RefCell<HeatState>>>,
}

/// The heatmap and what it is drawn over, shared with the command that writes it at the end.
#[derive(Default)]
pub struct HeatState {
    pub map: Option<Heatmap>,
    previous: BTreeMap<u64, [f32; 2]>,
    pub last_frame: Option<std::sync::Arc<image::RgbImage>>,
}

impl Tracking {
    pub fn new(line: Option<LineSpec>, enabled: bool, labels: Vec<String>) -> Tracking {
        Tracking {
            tracker: Tracker::new(TrackerConfig::default()),
            enabled,
            trails: true,
            labels,
            line,
            counter: None,
            frame_size: None,
            line_warned: false,
            cost: Duration::ZERO,
            zones: Zones::default(),
            events: None,
            pending: Vec::new(),
            last_seen: HashMap::new(),
            frame: 0,
            blur: Vec::new(),
            heat: None,
        }
    }

    /// With the classes to blur and the heatmap to feed.
    pub fn with_privacy(mut self, blur: Vec<usize>, heat: Option<Rc<RefCell<HeatState>>>) -> Tracking {
        self.blur = blur;
        self.heat = heat;
        self
    }

    /// Boxes to blur at source time `time` (None: the newest frame's): detections of the blurred classes, and
    /// every live track of those classes (the detector's miss is where a face would leak), moved to `time`.
    fn blur_boxes(&self, dets: &[Detection], time: Option<Duration>) -> Vec<[f32; 4]> {
        if self.blur.is_empty() {
            return Vec::new();
        }
        let mut boxes: Vec<[f32; 4]> =
            dets.iter().filter(|d| self.blur.contains(&d.class_id)).map(|d| d.bbox).collect();
        if self.enabled {
            let (w, h) = self.frame_size.unwrap_or((u32::MAX, u32::MAX));
            for t in self.tracker.tracks.iter().filter(|t| self.blur.contains(&t.class_id)) {
                let b = t.filter.bbox();
                let b = match time {
                    Some(time) if t.id != 0 => self.tracker.moved_to(t.id, b, time),
                    _ => b,
                };
                boxes.push(clip_box(b, w, h));
            }
        }
        boxes
    }

    /// With zones and the outputs events go to.
    pub fn with_watch(mut self, zones: Zones, events: Option<Rc<RefCell<EventOutputs>>>) -> Tracking {
        self.zones = zones;
        self.events = events;
        self
    }

    /// One new processed frame: the tracker sees its candidates down to its low floor, then confirmed
    /// tracks seen in it are checked against the line.
    pub fn update(&mut self, candidates: &Candidates, t: &Thresholds, time: Duration) {
        let (w, h) = (candidates.frame_w, candidates.frame_h);
        if self.frame_size != Some((w, h)) {
            self.frame_size = Some((w, h));
            self.place_line(w, h);
        }
        if !self.enabled {
            return;
        }
        let start = Instant::now();
        let low = Thresholds { conf: self.tracker.config.low.min(t.conf), iou: t.iou };
        let all = candidates.select(&low);
        self.tracker.update(&all, t.conf, time);
        let seen: Vec<(u64, Detection)> = self
            .tracker
            .tracks
            .iter()
            .filter(|t| t.state == State::Tracked)
            .filter_map(|t| t.detection.map(|(_, d)| (t.id, d)))
            .collect();
        let (frame, names) = (self.frame, &self.labels);
        if let Some(c) = &mut self.counter {
            for &(id, det) in &seen {
                let centre = [(det.bbox[0] + det.bbox[2]) / 2.0, (det.bbox[1] + det.bbox[3]) / 2.0];
                if let Some(dir) = c.observe(id, det.class_id, centre) {
                    let mut e = Event::new("line_crossed", time, frame, id, &det, names);
                    e.direction = Some(if dir == Direction::In { "in" } else { "out" });
                    self.pending.push(e);
                }
            }
            let tracker = &self.tracker;
            c.retain(|id| tracker.is_alive(id));
        }
        if !self.zones.is_empty() {
            let boxes: Vec<(u64, usize, [f32; 4])> = seen.iter().map(|(id, d)| (*id, d.class_id, d.bbox)).collect();
            let tracker = &self.tracker;
            let changes = self.zones.update((w, h), time, &boxes, |id| tracker.is_alive(id));
            for (id, d) in &seen {
                self.last_seen.insert(*id, *d);
            }
            for change in changes {
                let (kind, zone, id, dwell) = match change {
                    ZoneChange::Entered { zone, id, .. } => ("zone_entered", zone, id, None),
                    ZoneChange::Left { zone, id, dwell, .. } => ("zone_left", zone, id, Some(dwell)),
                    ZoneChange::Dwelling { zone, id, dwell, .. } => ("dwell_alert", zone, id, Some(dwell)),
                };
                let Some(det) = self.last_seen.get(&id) else { continue };
                let mut e = Event::new(kind, time, frame, id, det, names);
                e.zone = self.zones.zones.get(zone).map(|z| z.spec.name.clone());
                e.dwell_s = dwell.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
                self.pending.push(e);
            }
            self.last_seen.retain(|id, _| tracker.is_alive(*id));
        }
        self.cost = start.elapsed();
    }

    /// Sends the newest update's events (a snapshot draws `scene` on the frame), and the counts and zone
    /// occupancy as retained state.
    fn send_events(&mut self, processed: &Processed, scene: &Scene) {
        let Some(events) = &self.events else {
            self.pending.clear();
            return;
        };
        let mut out = events.borrow_mut();
        let labels = &self.labels;
        for e in self.pending.drain(..) {
            out.emit(&e, &mut || {
                let mut img = (*processed.frame.image).clone();
                overlay::draw_scene(&mut img, scene, labels, crate::canvas::Mapping::IDENTITY);
                img
            });
        }
        let counts = scene.line.as_ref().map(|l| crate::outputs::JsonCounts::of(l, labels));
        let zones = crate::outputs::json_zones(&scene.zones, labels);
        if counts.is_some() || !scene.zones.is_empty() {
            out.state(&serde_json::json!({ "counts": counts, "zones": zones }));
        }
    }

    /// Resolves the line for a `w x h` frame and clips it to the frame: only its part inside can be crossed, and
    /// drawing a line that reaches 1e30 pixels away would never end. Counts so far are kept.
    fn place_line(&mut self, w: u32, h: u32) {
        let Some(spec) = self.line else {
            return;
        };
        let full = spec.resolve(w, h);
        let inside = full.clipped(w, h);
        if inside != Some(full) && !std::mem::replace(&mut self.line_warned, true) {
            // Debug form: 1e30 rather than thirty-one digits.
            let [x1, y1, x2, y2] = [full.a[0], full.a[1], full.b[0], full.b[1]].map(|v| format!("{v:?}"));
            crate::messages::warn(&match inside {
                Some(_) => format!(
                    "--line {x1},{y1},{x2},{y2} ends outside the {w}x{h} frame; only its part inside is drawn, and \
                     only tracks crossing that part are counted"
                ),
                None => format!(
                    "--line {x1},{y1},{x2},{y2} lies outside the {w}x{h} frame: nothing can cross it, so nothing is \
                     counted; give pixels inside the frame or fractions of it (e.g. 0.5,0,0.5,1)"
                ),
            });
        }
        match (inside, &mut self.counter) {
            (Some(line), Some(c)) => c.place(line, w, h),
            (Some(line), None) => self.counter = Some(Counter::new(line, w, h)),
            (None, _) => self.counter = None,
        }
    }

    /// Track IDs of `dets` (selected for display from the newest frame's candidates, at any thresholds):
    /// a detection has the ID of the confirmed track that took exactly this box in that frame.
    pub fn ids_for(&self, dets: &[Detection]) -> Ids {
        if !self.enabled {
            return Vec::new();
        }
        dets.iter()
            .map(|d| {
                self.tracker.tracks.iter().filter(|t| t.id != 0).find_map(|t| match t.detection {
                    Some((_, seen)) if seen.class_id == d.class_id && seen.bbox == d.bbox => Some(t.id),
                    _ => None,
                })
            })
            .collect()
    }

    /// IDs, trails and the line with its counts into the scene.
    pub fn fill(&self, scene: &mut Scene) {
        scene.ids = self.ids_for(&scene.detections);
        scene.trails = if self.enabled && self.trails { draw::trails(&self.tracker) } else { Vec::new() };
        scene.line = self.counter.as_ref().map(LineView::of);
        scene.zones = self.zones.zones.iter().map(ZoneView::of).collect();
        scene.blur = self.blur_boxes(&scene.detections, None);
    }

    /// The tracks' feet into the heatmap, made at the first frame's size.
    fn feed_heat(&mut self, processed: &Processed) {
        let Some(heat) = &self.heat else { return };
        let mut heat = heat.borrow_mut();
        let (w, h) = processed.frame.image.dimensions();
        if heat.map.as_ref().is_none_or(|m| m.cols != w.div_ceil(super::heatmap::CELL)) {
            heat.map = Some(Heatmap::new(w, h));
        }
        let feet: Vec<(u64, usize, [f32; 2])> = self
            .tracker
            .tracks
            .iter()
            .filter(|t| t.state == State::Tracked && t.id != 0)
            .filter_map(|t| t.detection.map(|(_, d)| (t.id, t.class_id, super::zones::feet(d.bbox))))
            .collect();
        let HeatState { map, previous, last_frame } = &mut *heat;
        if let Some(map) = map {
            map.add(processed.frame.time, &feet, previous);
        }
        previous.retain(|id, _| self.tracker.is_alive(*id));
        *last_frame = Some(processed.frame.image.clone());
    }

    pub fn apply(&mut self, action: &TrackAction) {
        match action {
            TrackAction::Toggle => {
                self.enabled = !self.enabled;
                tracing::info!("tracking {}", if self.enabled { "on" } else { "off" });
            }
            TrackAction::ToggleTrails => self.trails = !self.trails,
            TrackAction::SetLine(line) => {
                self.line = Some(LineSpec::Pixels([line.a[0], line.a[1], line.b[0], line.b[1]]));
                // Counting starts again from zero on the new line.
                self.counter = None;
                if let Some((w, h)) = self.frame_size {
                    self.place_line(w, h);
                }
            }
            TrackAction::AddZone(name, corners) => {
                tracing::info!("zone {name} added with {} corners", corners.len());
                self.zones.add(super::zones::ZoneSpec::from_pixels(name.clone(), corners.clone()));
            }
            TrackAction::RemoveZone(name) => {
                if self.zones.remove(name) {
                    tracing::info!("zone {name} removed");
                }
            }
            TrackAction::ResetCounts => {
                self.zones.reset();
                if let Some(c) = &mut self.counter {
                    c.reset();
                }
                tracing::info!("counts reset");
            }
        }
    }
}

impl FrameStep for Tracking {
    fn new_frame(&mut self, processed: &Processed, t: &Thresholds, scene: &mut Scene) {
        self.frame = processed.frame.seq;
        self.update(&processed.candidates, t, processed.frame.time);
        self.fill(scene);
        self.send_events(processed, scene);
        self.feed_heat(processed);
    }

    fn reselected(&mut self, _processed: &Processed, _t: &Thresholds, scene: &mut Scene) {
        self.fill(scene);
    }

    /// Each box of a confirmed track moved to `time` by the track's velocities; boxes without an ID (tracking
    /// off, tentative tracks) stay where they were found.
    fn moved(&self, time: Duration, scene: &mut Scene) {
        if !self.enabled {
            return;
        }
        let (w, h) = self.frame_size.unwrap_or((u32::MAX, u32::MAX));
        for (d, id) in scene.detections.iter_mut().zip(&scene.ids) {
            if let Some(id) = id {
                d.bbox = clip_box(self.tracker.moved_to(*id, d.bbox, time), w, h);
            }
        }
        scene.blur = self.blur_boxes(&scene.detections, Some(time));
    }

    fn on_action(&mut self, action: &TrackAction) {
        self.apply(action);
    }

    /// The tracker's cost, objects now and distinct tracks seen per class; the line's counts.
    fn hud_lines(&self) -> Vec<String> {
        if !self.enabled {
            return vec!["tracking off (T)".into()];
        }
        let names = &self.labels;
        let mut lines = vec![format!(
            "track {:.2} ms   now: {}   seen: {}",
            self.cost.as_secs_f64() * 1e3,
            draw::per_class(&self.tracker.now_per_class(), names),
            draw::per_class(&self.tracker.seen, names)
        )];
        if let Some(c) = &self.counter {
            lines.push(format!(
                "line in: {}   out: {}",
                draw::per_class(&c.counts_in, names),
                draw::per_class(&c.counts_out, names)
            ));
        }
        for z in &self.zones.zones {
            lines.push(format!(
                "zone {}: {}   in: {}   out: {}",
                z.spec.name,
                draw::per_class(&z.now_per_class(), names),
                draw::per_class(&z.entries, names),
                draw::per_class(&z.exits, names)
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::Limits;
    use crate::outputs::JsonCounts;
    use crate::track::line::Segment;

    fn candidates(dets: Vec<Detection>) -> Candidates {
        Candidates {
            dets,
            frame_w: 200,
            frame_h: 100,
            needs_nms: true,
            limits: Some(Limits { pre_nms_top_k: 1024, max_det: 300 }),
            passes: 1,
            cut: Vec::new(),
        }
    }

    #[test]
    fn ids_for_the_boxes_on_screen_and_counts_in_json() {
        let names = vec!["person".to_string(), "cat".to_string()];
        let mut tr = Tracking::new(Some(LineSpec::parse("0.5,0,0.5,1").unwrap()), true, names.clone());
        let t = Thresholds { conf: 0.5, iou: 0.7 };
        let mut scene = Scene::default();
        // A cat walks left to right over the line at x = 100, 10 px per frame; a faint person stands still.
        for f in 0..12u64 {
            let x = 20.0 + 10.0 * f as f32;
            let c = candidates(vec![
                Detection { class_id: 1, score: 0.9, bbox: [x, 30.0, x + 30.0, 60.0] },
                Detection { class_id: 0, score: 0.3, bbox: [150.0, 10.0, 170.0, 50.0] },
            ]);
            tr.update(&c, &t, Duration::from_millis(f * 33));
            scene = Scene::new(c.select(&t));
            tr.fill(&mut scene);
        }
        assert_eq!(scene.detections.len(), 1, "the faint person is below conf: not shown");
        assert_eq!(scene.ids, vec![Some(1)]);
        assert_eq!(scene.trails.len(), 1);
        let json = serde_json::to_string(&JsonCounts::of(scene.line.as_ref().unwrap(), &names)).unwrap();
        assert_eq!(json, r#"{"line":[100.0,0.0,100.0,100.0],"in":{"cat":1},"out":{}}"#);
        assert_eq!(tr.hud_lines()[1], "line in: cat 1   out: 0");
        tr.apply(&TrackAction::ResetCounts);
        assert_eq!(tr.counter.as_ref().unwrap().total(super::super::line::Direction::In), 0);
        // Trails off, then tracking off: no trails, no IDs.
        tr.apply(&TrackAction::ToggleTrails);
        tr.fill(&mut scene);
        assert!(scene.trails.is_empty() && scene.ids == vec![Some(1)]);
        tr.apply(&TrackAction::Toggle);
        tr.fill(&mut scene);
        assert!(scene.ids.is_empty());
        assert_eq!(tr.hud_lines(), vec!["tracking off (T)".to_string()]);
        // A line drawn with the mouse replaces the first.
        tr.apply(&TrackAction::SetLine(Segment { a: [0.0, 50.0], b: [200.0, 50.0] }));
        tr.fill(&mut scene);
        assert_eq!(scene.line.as_ref().unwrap().line.a, [0.0, 50.0]);
    }

    #[test]
    fn the_line_is_placed_again_on_each_frame_size_and_clipped() {
        let t = Thresholds { conf: 0.5, iou: 0.7 };
        let sized = |w, h| Candidates { frame_w: w, frame_h: h, ..candidates(Vec::new()) };
        let mut tr = Tracking::new(Some(LineSpec::parse("0.5,0,0.5,1").unwrap()), true, Vec::new());
        tr.update(&sized(200, 100), &t, Duration::ZERO);
        assert_eq!(tr.counter.as_ref().unwrap().line, Segment { a: [100.0, 0.0], b: [100.0, 100.0] });
        // The next photo of a folder is larger: the fraction line moves with it (it stayed at x = 100).
        tr.update(&sized(768, 576), &t, Duration::from_secs(1));
        assert_eq!(tr.counter.as_ref().unwrap().line, Segment { a: [384.0, 0.0], b: [384.0, 576.0] });
        // Pixels reaching far outside: only the part inside is kept (drawing 1e30 pixels never ended).
        let mut tr = Tracking::new(Some(LineSpec::parse("100,50,1e30,50").unwrap()), true, Vec::new());
        tr.update(&sized(200, 100), &t, Duration::ZERO);
        assert_eq!(tr.counter.as_ref().unwrap().line, Segment { a: [100.0, 50.0], b: [200.0, 50.0] });
        // Wholly outside: no line, so nothing to draw or count.
        let mut tr = Tracking::new(Some(LineSpec::parse("1e30,0,1e31,1").unwrap()), true, Vec::new());
        tr.update(&sized(768, 576), &t, Duration::ZERO);
        assert!(tr.counter.is_none());
    }

    #[test]
    fn no_line_no_counts() {
        let tr = Tracking::new(None, true, Vec::new());
        let mut scene = Scene::default();
        tr.fill(&mut scene);
        assert!(scene.line.is_none());
        assert_eq!(tr.hud_lines().len(), 1);
    }
}
