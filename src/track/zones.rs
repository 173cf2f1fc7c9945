//! Zones: polygons a track is inside of by its feet (its box's bottom centre), with occupancy, entries and exits
//! per class and each track's dwell time in source time (pure; run by the tracking step on the main thread).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use anyhow::{bail, Context};

/// `--zone NAME:x1,y1,x2,y2,x3,y3[,...]`: at least three corners, all in pixels or all in fractions of the frame.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneSpec {
    pub name: String,
    points: Vec<[f32; 2]>,
    fractions: bool,
}

impl ZoneSpec {
    pub fn parse(s: &str) -> anyhow::Result<ZoneSpec> {
        let (name, coords) = s.split_once(':').with_context(|| {
            format!("--zone {s}: give NAME:x1,y1,x2,y2,x3,y3[,...] (e.g. door:0.1,0.5,0.4,0.5,0.4,1,0.1,1)")
        })?;
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)) {
            bail!("--zone {s}: the name must be 1-64 letters, digits, '-', '_' or '.' (it names an MQTT topic too)");
        }
        let values: Vec<f32> = coords
            .split(',')
            .map(|v| v.trim().parse::<f32>().ok().filter(|x| x.is_finite()))
            .collect::<Option<_>>()
            .with_context(|| format!("--zone {s}: the corners must be numbers, x,y pairs separated by commas"))?;
        if values.len() < 6 || !values.len().is_multiple_of(2) {
            bail!("--zone {s}: a zone needs at least three corners as x,y pairs; got {} numbers", values.len());
        }
        if values.len() > 2 * 256 {
            bail!("--zone {s}: at most 256 corners");
        }
        let fractions = values.iter().all(|v| (0.0..=1.0).contains(v)) && values.iter().any(|v| v.fract() != 0.0);
        if !fractions && values.iter().any(|v| *v < 0.0 || (v.fract() != 0.0 && *v < 1.0)) {
            bail!("--zone {s}: use pixels (whole numbers from 0) or fractions of the frame (0..1), not both");
        }
        let points = values.chunks(2).map(|p| [p[0], p[1]]).collect();
        Ok(ZoneSpec { name: name.to_string(), points, fractions })
    }

    /// From corners in pixels (a zone drawn in the window).
    pub fn from_pixels(name: String, points: Vec<[f32; 2]>) -> ZoneSpec {
        ZoneSpec { name, points, fractions: false }
    }

    /// The polygon in the pixels of a `w` x `h` frame: fractions are resolved per frame size.
    pub fn resolve(&self, w: u32, h: u32) -> Vec<[f32; 2]> {
        let scale = if self.fractions { [w as f32, h as f32] } else { [1.0, 1.0] };
        self.points.iter().map(|p| [p[0] * scale[0], p[1] * scale[1]]).collect()
    }
}

/// Whether `p` is inside `poly` (even-odd rule, so concave polygons work); a point on an edge is inside, so a
/// box whose feet touch the boundary counts as in.
pub fn contains(poly: &[[f32; 2]], p: [f32; 2]) -> bool {
    let n = poly.len();
    if n < 3 {
        return false;
    }
    let mut inside = false;
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        if on_segment(a, b, p) {
            return true;
        }
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

fn on_segment(a: [f32; 2], b: [f32; 2], p: [f32; 2]) -> bool {
    let cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
    let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt().max(1e-6);
    let within = |v: f32, u: f32, w: f32| v >= u.min(w) - 1e-3 && v <= u.max(w) + 1e-3;
    (cross / len).abs() <= 1e-3 && within(p[0], a[0], b[0]) && within(p[1], a[1], b[1])
}

/// The feet of a box `[x1, y1, x2, y2]`: where an object stands.
pub fn feet(bbox: [f32; 4]) -> [f32; 2] {
    [(bbox[0] + bbox[2]) / 2.0, bbox[3]]
}

/// What happened to a track and a zone in one update.
#[derive(Clone, Debug, PartialEq)]
pub enum ZoneChange {
    Entered {
        zone: usize,
        id: u64,
        class_id: usize,
    },
    /// With the time it spent inside.
    Left {
        zone: usize,
        id: u64,
        class_id: usize,
        dwell: Duration,
    },
    /// Inside for longer than `--dwell-alert` (once per stay).
    Dwelling {
        zone: usize,
        id: u64,
        class_id: usize,
        dwell: Duration,
    },
}

/// One zone's state.
#[derive(Clone, Debug)]
pub struct Zone {
    pub spec: ZoneSpec,
    /// The polygon for the current frame size.
    pub poly: Vec<[f32; 2]>,
    /// Tracks inside now: class and the source time they came in.
    pub inside: HashMap<u64, (usize, Duration)>,
    pub entries: BTreeMap<usize, u64>,
    pub exits: BTreeMap<usize, u64>,
    alerted: HashSet<u64>,
}

impl Zone {
    /// Objects inside now, per class.
    pub fn now_per_class(&self) -> BTreeMap<usize, u64> {
        let mut m = BTreeMap::new();
        self.inside.values().for_each(|(c, _)| *m.entry(*c).or_default() += 1);
        m
    }

    /// How long `id` has been inside at `now`.
    pub fn dwell(&self, id: u64, now: Duration) -> Option<Duration> {
        self.inside.get(&id).map(|(_, since)| now.saturating_sub(*since))
    }
}

/// Every zone, updated with the tracks seen in each processed frame.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    pub zones: Vec<Zone>,
    specs_pending: Vec<ZoneSpec>,
    size: Option<(u32, u32)>,
    pub dwell_alert: Option<Duration>,
}

impl Zones {
    pub fn new(specs: Vec<ZoneSpec>, dwell_alert: Option<Duration>) -> Zones {
        Zones { zones: Vec::new(), specs_pending: specs, size: None, dwell_alert }
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.specs_pending.is_empty()
    }

    pub fn add(&mut self, spec: ZoneSpec) {
        let poly = self.size.map(|(w, h)| spec.resolve(w, h)).unwrap_or_default();
        match self.size {
            Some(_) => self.zones.push(Zone {
                spec,
                poly,
                inside: HashMap::new(),
                entries: BTreeMap::new(),
                exits: BTreeMap::new(),
                alerted: HashSet::new(),
            }),
            None => self.specs_pending.push(spec),
        }
    }

    /// Removes the zone called `name`; true when there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.zones.len() + self.specs_pending.len();
        self.zones.retain(|z| z.spec.name != name);
        self.specs_pending.retain(|z| z.name != name);
        before != self.zones.len() + self.specs_pending.len()
    }

    pub fn reset(&mut self) {
        for z in &mut self.zones {
            z.entries.clear();
            z.exits.clear();
        }
    }

    /// One processed frame of size `w` x `h` at source time `now`: `seen` are the confirmed tracks in it (id,
    /// class, box); a track inside a zone that is not seen but still `alive` (occluded) stays inside, one that
    /// is gone leaves. Returns the changes in a stable order (zone, then track id).
    pub fn update(
        &mut self,
        (w, h): (u32, u32),
        now: Duration,
        seen: &[(u64, usize, [f32; 4])],
        alive: impl Fn(u64) -> bool,
    ) -> Vec<ZoneChange> {
        if self.size != Some((w, h)) {
            self.size = Some((w, h));
            for z in &mut self.zones {
                z.poly = z.spec.resolve(w, h);
            }
            for spec in std::mem::take(&mut self.specs_pending) {
                self.add(spec);
            }
        }
        let mut changes = Vec::new();
        for (zi, zone) in self.zones.iter_mut().enumerate() {
            let mut seen_ids: Vec<&(u64, usize, [f32; 4])> = seen.iter().collect();
            seen_ids.sort_by_key(|s| s.0);
            for &&(id, class_id, bbox) in &seen_ids {
                let inside = contains(&zone.poly, feet(bbox));
                match (inside, zone.inside.get(&id).copied()) {
                    (true, None) => {
                        zone.inside.insert(id, (class_id, now));
                        *zone.entries.entry(class_id).or_default() += 1;
                        changes.push(ZoneChange::Entered { zone: zi, id, class_id });
                    }
                    (false, Some((class_id, since))) => {
                        zone.inside.remove(&id);
                        zone.alerted.remove(&id);
                        *zone.exits.entry(class_id).or_default() += 1;
                        changes.push(ZoneChange::Left { zone: zi, id, class_id, dwell: now.saturating_sub(since) });
                    }
                    _ => {}
                }
            }
            // Tracks the tracker has dropped leave where they were last seen.
            let mut gone: Vec<u64> = zone.inside.keys().copied().filter(|id| !alive(*id)).collect();
            gone.sort_unstable();
            for id in gone {
                if let Some((class_id, since)) = zone.inside.remove(&id) {
                    zone.alerted.remove(&id);
                    *zone.exits.entry(class_id).or_default() += 1;
                    changes.push(ZoneChange::Left { zone: zi, id, class_id, dwell: now.saturating_sub(since) });
                }
            }
            if let Some(limit) = self.dwell_alert {
                let mut long: Vec<(u64, usize, Duration)> = zone
                    .inside
                    .iter()
                    .filter(|(id, (_, since))| now.saturating_sub(*since) >= limit && !zone.alerted.contains(id))
                    .map(|(id, (c, since))| (*id, *c, now.saturating_sub(*since)))
                    .collect();
                long.sort_unstable_by_key(|l| l.0);
                for (id, class_id, dwell) in long {
                    zone.alerted.insert(id);
                    changes.push(ZoneChange::Dwelling { zone: zi, id, class_id, dwell });
                }
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L_SHAPE: [[f32; 2]; 6] = [[0.0, 0.0], [10.0, 0.0], [10.0, 4.0], [4.0, 4.0], [4.0, 10.0], [0.0, 10.0]];

    #[test]
    fn concave_polygons_and_edges() {
        // The L's arm and foot are inside, the notch is not.
        assert!(contains(&L_SHAPE, [8.0, 2.0]));
        assert!(contains(&L_SHAPE, [2.0, 8.0]));
        assert!(!contains(&L_SHAPE, [7.0, 7.0]));
        // On an edge and on a corner: inside (feet touching the boundary count).
        assert!(contains(&L_SHAPE, [10.0, 2.0]));
        assert!(contains(&L_SHAPE, [4.0, 7.0]));
        assert!(contains(&L_SHAPE, [0.0, 0.0]));
        assert!(!contains(&L_SHAPE, [10.5, 2.0]));
        assert!(!contains(&L_SHAPE[..2], [1.0, 0.0]), "two corners are no zone");
    }

    #[test]
    fn specs_in_pixels_or_fractions() {
        let z = ZoneSpec::parse("door:0.25,0.5,0.75,0.5,0.75,1,0.25,1").unwrap();
        assert_eq!(z.resolve(640, 480), vec![[160.0, 240.0], [480.0, 240.0], [480.0, 480.0], [160.0, 480.0]]);
        let px = ZoneSpec::parse("shelf:10,20,300,20,300,200").unwrap();
        assert_eq!(px.resolve(640, 480)[1], [300.0, 20.0]);
        for bad in [
            "nocoords",
            ":1,2,3,4,5,6",
            "a:1,2,3,4",
            "a:1,2,3,4,5",
            "a:1,x,3,4,5,6",
            "a b:1,2,3,4,5,6",
            "a:0.5,0,200,10,300,300",
        ] {
            assert!(ZoneSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn entries_exits_and_dwell_on_a_known_timeline() {
        // A 100x100 zone at the frame's top-left; one track walks in at 1 s, stays, walks out at 4.5 s.
        let mut zones =
            Zones::new(vec![ZoneSpec::parse("z:0,0,100,0,100,100,0,100").unwrap()], Some(Duration::from_secs(3)));
        let s = Duration::from_millis;
        let at = |x: f32| [x - 10.0, 40.0, x + 10.0, 80.0];
        let mut log = Vec::new();
        for (ms, x) in [(0, 150.0), (1000, 90.0), (2000, 60.0), (4000, 50.0), (4200, 50.0), (4500, 130.0)] {
            log.extend(zones.update((640, 480), s(ms), &[(7, 0, at(x))], |_| true));
        }
        assert_eq!(
            log,
            vec![
                ZoneChange::Entered { zone: 0, id: 7, class_id: 0 },
                ZoneChange::Dwelling { zone: 0, id: 7, class_id: 0, dwell: s(3000) },
                ZoneChange::Left { zone: 0, id: 7, class_id: 0, dwell: s(3500) },
            ]
        );
        assert_eq!((zones.zones[0].entries[&0], zones.zones[0].exits[&0]), (1, 1));
        // A track dropped by the tracker while inside leaves there.
        zones.update((640, 480), s(5000), &[(8, 2, at(50.0))], |_| true);
        assert_eq!(zones.zones[0].now_per_class(), BTreeMap::from([(2, 1)]));
        let left = zones.update((640, 480), s(6000), &[], |id| id != 8);
        assert_eq!(left, vec![ZoneChange::Left { zone: 0, id: 8, class_id: 2, dwell: s(1000) }]);
    }

    #[test]
    fn a_box_on_the_zone_edge_and_fractions_per_frame_size() {
        let mut zones = Zones::new(vec![ZoneSpec::parse("half:0,0.5,1,0.5,1,1,0,1").unwrap()], None);
        // Feet exactly on the zone's top edge (y = 240 of 480): inside.
        let on_edge = zones.update((640, 480), Duration::ZERO, &[(1, 0, [300.0, 200.0, 340.0, 240.0])], |_| true);
        assert_eq!(on_edge.len(), 1);
        // The same fraction zone on a larger frame moves with it: y = 300 of 600 is the edge now.
        let mut big = Zones::new(vec![ZoneSpec::parse("half:0,0.5,1,0.5,1,1,0,1").unwrap()], None);
        assert!(big.update((800, 600), Duration::ZERO, &[(1, 0, [300.0, 200.0, 340.0, 260.0])], |_| true).is_empty());
        assert_eq!(big.update((800, 600), Duration::ZERO, &[(1, 0, [300.0, 250.0, 340.0, 300.0])], |_| true).len(), 1);
    }
}
