//! The counting line: confirmed tracks crossing a segment, counted per class and direction (main thread; pure).

use std::collections::{BTreeMap, HashMap};

use anyhow::bail;
use serde::Serialize;

/// `--line x1,y1,x2,y2` as given: source pixels, or fractions of the frame when all four are in 0..1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LineSpec {
    Pixels([f32; 4]),
    Fractions([f32; 4]),
}

impl LineSpec {
    pub fn parse(s: &str) -> anyhow::Result<LineSpec> {
        let usage = "use --line x1,y1,x2,y2 in pixels of the source frame (e.g. 480,0,480,540) or as fractions \
                     of it (e.g. 0.5,0,0.5,1)";
        let (p, fractions) = crate::detector::tiles::parse_corners("--line", s, usage)?;
        if p[0] == p[2] && p[1] == p[3] {
            bail!("--line {s:?}: both ends are the same point; {usage}");
        }
        Ok(if fractions { LineSpec::Fractions(p) } else { LineSpec::Pixels(p) })
    }

    /// The segment in pixels of a `width x height` frame.
    pub fn resolve(&self, width: u32, height: u32) -> Segment {
        match *self {
            LineSpec::Pixels([x1, y1, x2, y2]) => Segment { a: [x1, y1], b: [x2, y2] },
            LineSpec::Fractions([x1, y1, x2, y2]) => {
                let (w, h) = (width as f32, height as f32);
                Segment { a: [x1 * w, y1 * h], b: [x2 * w, y2 * h] }
            }
        }
    }
}

/// A segment from `a` to `b` in frame pixels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Segment {
    pub a: [f32; 2],
    pub b: [f32; 2],
}

impl Segment {
    /// The part of the segment inside a `width x height` frame (Cohen-Sutherland: an end outside is moved onto
    /// the edge it lies beyond, that coordinate set exactly, so ends as far out as 1e30 still land on the frame);
    /// None when less than a pixel of it is inside. Tracks' centres are inside the frame, so this part is all
    /// that can be crossed, and all that is drawn.
    pub fn clipped(&self, width: u32, height: u32) -> Option<Segment> {
        let (w, h) = (f64::from(width), f64::from(height));
        let code = |[x, y]: [f64; 2]| {
            (u8::from(x < 0.0)) | (u8::from(x > w) << 1) | (u8::from(y < 0.0) << 2) | (u8::from(y > h) << 3)
        };
        let mut ends = [self.a, self.b].map(|[x, y]| [f64::from(x), f64::from(y)]);
        // Each move puts an end on an edge; rounding may leave it a hair outside, hence a few more turns.
        for _ in 0..8 {
            let codes = ends.map(code);
            if codes[0] | codes[1] == 0 {
                break;
            }
            if codes[0] & codes[1] != 0 {
                return None; // Both ends beyond the same edge.
            }
            let i = usize::from(codes[0] == 0);
            let ([x0, y0], [x1, y1]) = (ends[i], ends[1 - i]);
            let out = codes[i];
            ends[i] = if out & 1 != 0 {
                [0.0, y0 + (y1 - y0) * (0.0 - x0) / (x1 - x0)]
            } else if out & 2 != 0 {
                [w, y0 + (y1 - y0) * (w - x0) / (x1 - x0)]
            } else if out & 4 != 0 {
                [x0 + (x1 - x0) * (0.0 - y0) / (y1 - y0), 0.0]
            } else {
                [x0 + (x1 - x0) * (h - y0) / (y1 - y0), h]
            };
        }
        let ends = ends.map(|[x, y]| [x.clamp(0.0, w) as f32, y.clamp(0.0, h) as f32]);
        let inside = Segment { a: ends[0], b: ends[1] };
        (inside.length() >= 1.0).then_some(inside)
    }

    pub fn length(&self) -> f32 {
        (self.b[0] - self.a[0]).hypot(self.b[1] - self.a[1])
    }

    /// Signed distance of `p` from the line through the segment. On screen (y down), the arrow from `a`
    /// to `b` turned a quarter clockwise points to the positive side: for a line drawn downwards, the
    /// left of the screen; for a line drawn left to right, the bottom.
    pub fn side(&self, p: [f32; 2]) -> f32 {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let len = self.length();
        if len == 0.0 {
            return 0.0;
        }
        (dx * (p[1] - self.a[1]) - dy * (p[0] - self.a[0])) / len
    }

    /// Where the move from `p` to `q` passes the line, as a fraction along the segment (0 at `a`, 1 at
    /// `b`); None when the move is parallel to it.
    fn crossing_at(&self, p: [f32; 2], q: [f32; 2]) -> Option<f32> {
        let (sp, sq) = (self.side(p), self.side(q));
        if sp == sq {
            return None;
        }
        let t = sp / (sp - sq);
        let x = [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        Some(((x[0] - self.a[0]) * dx + (x[1] - self.a[1]) * dy) / (dx * dx + dy * dy))
    }
}

/// Which way a track went over the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the positive side to the negative: left to right over a line drawn downwards, bottom to
    /// top over one drawn left to right.
    In,
    /// The other way.
    Out,
}

/// What the counter remembers of one track.
#[derive(Clone, Copy, Debug, Default)]
struct Crossing {
    /// Side (+1 / -1) and position where the track was last seen clear of the line; None before.
    clear: Option<(i8, [f32; 2])>,
    counted_in: bool,
    counted_out: bool,
}

/// In / out counts per class over one line, each track counted at most once per direction.
#[derive(Clone, Debug)]
pub struct Counter {
    pub line: Segment,
    /// A centre must be this far (pixels) from the line to be on a side: a box jittering on the line
    /// does not count again and again.
    pub margin: f32,
    pub counts_in: BTreeMap<usize, u64>,
    pub counts_out: BTreeMap<usize, u64>,
    tracks: HashMap<u64, Crossing>,
}

impl Counter {
    /// A counter for `line`, with a margin of 1 % of the frame diagonal (at least 2 px).
    pub fn new(line: Segment, frame_w: u32, frame_h: u32) -> Counter {
        let margin = (0.01 * (frame_w as f32).hypot(frame_h as f32)).max(2.0);
        Counter::with_margin(line, margin)
    }

    /// The same counts on the line placed again for another frame size (a folder of photos of mixed sizes).
    pub fn place(&mut self, line: Segment, frame_w: u32, frame_h: u32) {
        let margin = Counter::new(line, frame_w, frame_h).margin;
        (self.line, self.margin) = (line, margin);
    }

    pub fn with_margin(line: Segment, margin: f32) -> Counter {
        Counter { line, margin, counts_in: BTreeMap::new(), counts_out: BTreeMap::new(), tracks: HashMap::new() }
    }

    /// Sees track `id` of `class_id` at `centre` (frame pixels); returns the direction when this is a
    /// counted crossing.
    pub fn observe(&mut self, id: u64, class_id: usize, centre: [f32; 2]) -> Option<Direction> {
        let d = self.line.side(centre);
        let state = self.tracks.entry(id).or_default();
        if d.abs() < self.margin {
            return None; // On the line: wait until it is clearly on one side.
        }
        let side = if d > 0.0 { 1 } else { -1 };
        let previous = state.clear.replace((side, centre));
        let (was, from) = previous?;
        if was == side {
            return None;
        }
        // It changed sides: count it if it passed over the segment, not the line beyond its ends.
        let t = self.line.crossing_at(from, centre)?;
        if !(0.0..=1.0).contains(&t) {
            return None;
        }
        let (dir, counted, counts) = if was > 0 {
            (Direction::In, &mut state.counted_in, &mut self.counts_in)
        } else {
            (Direction::Out, &mut state.counted_out, &mut self.counts_out)
        };
        if std::mem::replace(counted, true) {
            return None;
        }
        *counts.entry(class_id).or_default() += 1;
        Some(dir)
    }

    /// Forgets tracks the tracker dropped.
    pub fn retain(&mut self, mut alive: impl FnMut(u64) -> bool) {
        self.tracks.retain(|id, _| alive(*id));
    }

    /// `C`: counts back to zero; tracks already past the line may count again on a new crossing.
    pub fn reset(&mut self) {
        self.counts_in.clear();
        self.counts_out.clear();
        for t in self.tracks.values_mut() {
            t.counted_in = false;
            t.counted_out = false;
        }
    }

    pub fn total(&self, dir: Direction) -> u64 {
        match dir {
            Direction::In => self.counts_in.values().sum(),
            Direction::Out => self.counts_out.values().sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vertical line at x = 100 from y = 0 down to y = 200, margin 5.
    fn counter() -> Counter {
        Counter::with_margin(Segment { a: [100.0, 0.0], b: [100.0, 200.0] }, 5.0)
    }

    #[test]
    fn parses_pixels_and_fractions() {
        assert_eq!(LineSpec::parse("0.5,0,0.5,1").unwrap(), LineSpec::Fractions([0.5, 0.0, 0.5, 1.0]));
        assert_eq!(LineSpec::parse("480, 0, 480, 540").unwrap(), LineSpec::Pixels([480.0, 0.0, 480.0, 540.0]));
        let s = LineSpec::parse("0.5,0,0.5,1").unwrap().resolve(960, 540);
        assert_eq!(s, Segment { a: [480.0, 0.0], b: [480.0, 540.0] });
        for bad in ["1,2,3", "a,b,c,d", "1,1,1,1", "-5,0,10,10", "0,0,inf,1", "", "1e39,0,1,1"] {
            let e = LineSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--line"), "{bad}: {e}");
        }
        // A fraction among pixels was taken as a pixel line at x = 0.5.
        let e = LineSpec::parse("0.5,0,0.5,1.5").unwrap_err().to_string();
        assert!(e.contains("mixes units: 0.5 is a fraction"), "{e}");
        // Integer pixels with a 0 or a 1 among them are pixels.
        assert_eq!(LineSpec::parse("1,0,400,300").unwrap(), LineSpec::Pixels([1.0, 0.0, 400.0, 300.0]));
    }

    #[test]
    fn clipped_to_the_frame() {
        let seg = |a: [f32; 2], b: [f32; 2]| Segment { a, b };
        // Inside: unchanged. Through the frame: cut at its edges.
        assert_eq!(seg([10.0, 10.0], [90.0, 40.0]).clipped(100, 50), Some(seg([10.0, 10.0], [90.0, 40.0])));
        assert_eq!(seg([-50.0, 25.0], [150.0, 25.0]).clipped(100, 50), Some(seg([0.0, 25.0], [100.0, 25.0])));
        assert_eq!(seg([50.0, -1e30], [50.0, 1e30]).clipped(100, 50), Some(seg([50.0, 0.0], [50.0, 50.0])));
        // Far away (the hostile --line 1e30,0,1e31,1), or passing beside the frame: nothing inside.
        assert_eq!(seg([1e30, 0.0], [1e31, 1.0]).clipped(768, 576), None);
        assert_eq!(seg([-10.0, 60.0], [200.0, 100.0]).clipped(100, 50), None);
        // From far outside to inside, diagonally: enters at the corner's edge.
        let s = seg([-100.0, -100.0], [50.0, 50.0]).clipped(100, 100).unwrap();
        assert_eq!(s, seg([0.0, 0.0], [50.0, 50.0]));
    }

    #[test]
    fn side_is_signed_distance() {
        let c = counter();
        // The arrow points down the screen: its left is the screen's left (x < 100), the positive side.
        assert_eq!(c.line.side([90.0, 50.0]), 10.0);
        assert_eq!(c.line.side([130.0, 50.0]), -30.0);
        assert_eq!(c.line.side([100.0, 500.0]), 0.0);
    }

    #[test]
    fn counts_once_per_direction_with_hysteresis() {
        let mut c = counter();
        // Left to right across the line: one "in" for class 2.
        assert_eq!(c.observe(1, 2, [80.0, 50.0]), None);
        assert_eq!(c.observe(1, 2, [97.0, 50.0]), None, "within the margin: no side yet");
        assert_eq!(c.observe(1, 2, [103.0, 50.0]), None, "within the margin on the other side");
        assert_eq!(c.observe(1, 2, [106.0, 50.0]), Some(Direction::In));
        // Jittering on the line afterwards does nothing.
        for x in [102.0, 98.0, 101.0, 96.0, 104.0] {
            assert_eq!(c.observe(1, 2, [x, 50.0]), None, "jitter at {x}");
        }
        // Back over the line: one "out"; over again: "in" is not counted twice for the same track.
        assert_eq!(c.observe(1, 2, [90.0, 50.0]), Some(Direction::Out));
        assert_eq!(c.observe(1, 2, [120.0, 50.0]), None);
        assert_eq!(c.observe(1, 2, [80.0, 50.0]), None);
        assert_eq!((c.counts_in.get(&2), c.counts_out.get(&2)), (Some(&1), Some(&1)));
        // Another track of another class, right to left: "out" for class 0.
        assert_eq!(c.observe(7, 0, [150.0, 150.0]), None);
        assert_eq!(c.observe(7, 0, [50.0, 150.0]), Some(Direction::Out));
        assert_eq!((c.total(Direction::In), c.total(Direction::Out)), (1, 2));
    }

    #[test]
    fn passing_beyond_the_ends_does_not_count() {
        let mut c = counter();
        c.observe(1, 0, [50.0, 250.0]);
        assert_eq!(c.observe(1, 0, [150.0, 260.0]), None, "below the segment's lower end");
        // A diagonal move whose crossing point lies on the segment counts.
        c.observe(2, 0, [50.0, 150.0]);
        assert_eq!(c.observe(2, 0, [150.0, 250.0]), Some(Direction::In), "crosses at y = 200, the end");
    }

    #[test]
    fn reset_clears_counts_and_allows_a_new_count() {
        let mut c = counter();
        c.observe(1, 0, [50.0, 50.0]);
        c.observe(1, 0, [150.0, 50.0]);
        assert_eq!(c.total(Direction::In), 1);
        c.reset();
        assert_eq!(c.total(Direction::In), 0);
        c.observe(1, 0, [50.0, 50.0]);
        assert_eq!(c.observe(1, 0, [150.0, 50.0]), Some(Direction::In));
        c.retain(|_| false);
        assert!(c.tracks.is_empty());
    }
}
