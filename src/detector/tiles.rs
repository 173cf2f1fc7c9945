//! Tiled inference, pure: which crops of a frame go through the model, and how their boxes become one per object.
//!
//! A frame letterboxed to the model's input loses small objects (a 1920x1080 frame is shrunk 3x into
//! 640x640). Crops at native resolution keep them; the full frame still runs, for objects larger than a
//! tile. The passes' boxes then overlap: the same object seen by the full frame and by one or two tiles,
//! or cut in half at a tile's edge. [`merge`] turns them into one box per object.

use std::fmt;
use std::str::FromStr;

use anyhow::bail;

use super::nms::iou;
use super::Detection;

/// Neighbouring tiles share at least this fraction of a tile, so an object of up to that size lies whole
/// in at least one of them.
pub const MIN_OVERLAP: f32 = 0.2;

/// Largest `CxR` grid side: 8x8 is 65 inferences a frame, already far past any live use.
pub const MAX_GRID: u32 = 8;

/// A smaller box lying this much inside a larger one of its class (intersection over the smaller area) is
/// the same object: mostly a part a tile saw of what the full frame saw whole. (Two objects of one class,
/// one in front of the other, also become one box while tiles are on: the price of no duplicates.)
pub const INSIDE: f32 = 0.8;

/// A box side within this many frame pixels of a crop's inner edge was cut there.
pub const CUT_TOLERANCE: f32 = 4.0;

/// A rectangle of frame pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn full(w: u32, h: u32) -> Rect {
        Rect { x: 0, y: 0, w, h }
    }

    /// From corners (any order), clipped to a `frame_w` x `frame_h` frame; `None` when less than 2 px remain.
    pub fn from_corners(a: (f32, f32), b: (f32, f32), frame_w: u32, frame_h: u32) -> Option<Rect> {
        let clamp = |v: f32, max: u32| if v.is_finite() { v.round().clamp(0.0, max as f32) as u32 } else { 0 };
        let (x1, x2) = (clamp(a.0.min(b.0), frame_w), clamp(a.0.max(b.0), frame_w));
        let (y1, y2) = (clamp(a.1.min(b.1), frame_h), clamp(a.1.max(b.1), frame_h));
        (x2 >= x1 + 2 && y2 >= y1 + 2).then_some(Rect { x: x1, y: y1, w: x2 - x1, h: y2 - y1 })
    }

    pub fn right(&self) -> u32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> u32 {
        self.y + self.h
    }
}

/// How the frame is cut into tiles (`--tiles`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tiling {
    /// The full frame only.
    #[default]
    Off,
    /// Tiles of the model's input size at native resolution, at least [`MIN_OVERLAP`] apart.
    Auto,
    /// A fixed grid of `cols` x `rows` tiles overlapping by [`MIN_OVERLAP`].
    Grid { cols: u32, rows: u32 },
}

impl FromStr for Tiling {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Tiling> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "off" | "none" => return Ok(Tiling::Off),
            "auto" => return Ok(Tiling::Auto),
            _ => {}
        }
        let grid = s.split_once('x').and_then(|(c, r)| Some((c.parse::<u32>().ok()?, r.parse::<u32>().ok()?)));
        match grid {
            Some((cols, rows)) if (1..=MAX_GRID).contains(&cols) && (1..=MAX_GRID).contains(&rows) => {
                Ok(Tiling::Grid { cols, rows })
            }
            _ => bail!("--tiles {s:?}: use auto, off, or CxR (columns x rows, each 1..={MAX_GRID}), e.g. 3x2"),
        }
    }
}

impl fmt::Display for Tiling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tiling::Off => write!(f, "off"),
            Tiling::Auto => write!(f, "auto"),
            Tiling::Grid { cols, rows } => write!(f, "{cols}x{rows}"),
        }
    }
}

/// Four numbers `x1,y1,x2,y2` of `--line` or `--region`: pixels of the frame, or fractions of it when all four
/// lie in 0..1. Returns them and whether they are fractions. Anything that is not four finite, non-negative
/// numbers is refused, and so is a mix of the two units (`0.5,0,0.5,1.5`): one of them would be read wrongly.
pub fn parse_corners(flag: &str, s: &str, usage: &str) -> anyhow::Result<([f32; 4], bool)> {
    let v: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("{flag} {s:?} is not four numbers; {usage}"))?;
    let [x1, y1, x2, y2] = v[..] else { bail!("{flag} {s:?} has {} numbers, not four; {usage}", v.len()) };
    let p = [x1, y1, x2, y2];
    if p.iter().any(|c| !c.is_finite() || *c < 0.0) {
        bail!("{flag} {s:?}: coordinates must be finite and not negative; {usage}");
    }
    if p.iter().all(|c| *c <= 1.0) {
        return Ok((p, true));
    }
    if let Some(f) = p.iter().find(|c| **c > 0.0 && **c < 1.0) {
        bail!(
            "{flag} {s:?} mixes units: {f} is a fraction of the frame, the values above 1 are pixels; give all four \
             as fractions (0..1) or all in pixels; {usage}"
        );
    }
    Ok((p, false))
}

/// A zoom region as the user gives it (`--region x1,y1,x2,y2`, frame pixels or fractions); clipped to each frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    /// The corners are fractions of the frame (0..1), resolved for each frame's size.
    pub fractions: bool,
}

impl Region {
    /// A region in frame pixels (the window's Z + drag).
    pub fn pixels(x1: f32, y1: f32, x2: f32, y2: f32) -> Region {
        Region { x1, y1, x2, y2, fractions: false }
    }

    pub fn in_frame(&self, frame_w: u32, frame_h: u32) -> Option<Rect> {
        let (sx, sy) = if self.fractions { (frame_w as f32, frame_h as f32) } else { (1.0, 1.0) };
        Rect::from_corners((self.x1 * sx, self.y1 * sy), (self.x2 * sx, self.y2 * sy), frame_w, frame_h)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{},{}", self.x1, self.y1, self.x2, self.y2)
    }
}

impl FromStr for Region {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Region> {
        let usage = "use x1,y1,x2,y2 with x2 > x1 and y2 > y1, in frame pixels (e.g. 600,300,1100,700) or as \
                     fractions of the frame (e.g. 0.25,0.25,0.75,0.75)";
        let ([x1, y1, x2, y2], fractions) = parse_corners("--region", s, usage)?;
        // At least 2 pixels, or 1 % of the frame, each way.
        let least = if fractions { 0.01 } else { 1.0 };
        if !(x2 > x1 + least && y2 > y1 + least) {
            bail!("--region {s:?}: {usage}");
        }
        Ok(Region { x1, y1, x2, y2, fractions })
    }
}

/// What runs on each frame: the tiling and the zoom region (a region replaces the tiles while it is set).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PassSettings {
    pub tiling: Tiling,
    pub region: Option<Region>,
}

/// Start and length of `n` spans of length `tile` spread evenly over `0..len`, first and last on the ends.
fn spans(len: u32, tile: u32, n: u32) -> Vec<(u32, u32)> {
    if n <= 1 || tile >= len {
        return vec![(0, len)];
    }
    let room = (len - tile) as f64;
    (0..n).map(|i| ((room * i as f64 / (n - 1) as f64).round() as u32, tile)).collect()
}

/// Tiles of `tile` pixels needed to cover `len` with at least [`MIN_OVERLAP`] between neighbours.
fn auto_count(len: u32, tile: u32) -> u32 {
    if len <= tile || tile == 0 {
        return 1;
    }
    let step = tile as f64 * (1.0 - MIN_OVERLAP as f64);
    1 + ((len - tile) as f64 / step).ceil() as u32
}

/// Tile length for `n` tiles over `len` overlapping by [`MIN_OVERLAP`].
fn grid_tile(len: u32, n: u32) -> u32 {
    if n <= 1 {
        return len;
    }
    let tile = (len as f64 / (n as f64 - MIN_OVERLAP as f64 * (n - 1) as f64)).ceil() as u32;
    tile.min(len)
}

/// Tiles of an area (`within`, frame pixels) at the model's input size, row by row.
fn auto_tiles(within: Rect, input_w: u32, input_h: u32) -> Vec<Rect> {
    let xs = spans(within.w, input_w, auto_count(within.w, input_w));
    let ys = spans(within.h, input_h, auto_count(within.h, input_h));
    ys.iter()
        .flat_map(|&(y, h)| xs.iter().map(move |&(x, w)| Rect { x: within.x + x, y: within.y + y, w, h }))
        .collect()
}

/// The passes of one frame: the full frame first, then the region's crops (one if it fits the model's
/// input, else its tiles) or the tiles. A crop that is the full frame again is left out.
pub fn plan(frame_w: u32, frame_h: u32, input_w: u32, input_h: u32, settings: &PassSettings) -> Vec<Rect> {
    let full = Rect::full(frame_w, frame_h);
    let crops = match (settings.region.and_then(|r| r.in_frame(frame_w, frame_h)), settings.tiling) {
        (Some(r), _) if r.w <= input_w && r.h <= input_h => vec![r],
        (Some(r), _) => auto_tiles(r, input_w, input_h),
        (None, Tiling::Off) => Vec::new(),
        (None, Tiling::Auto) => auto_tiles(full, input_w, input_h),
        (None, Tiling::Grid { cols, rows }) => {
            let xs = spans(frame_w, grid_tile(frame_w, cols), cols);
            let ys = spans(frame_h, grid_tile(frame_h, rows), rows);
            ys.iter().flat_map(|&(y, h)| xs.iter().map(move |&(x, w)| Rect { x, y, w, h })).collect()
        }
    };
    std::iter::once(full).chain(crops.into_iter().filter(|c| *c != full)).collect()
}

/// Whether a box (frame pixels) found in `pass` touches one of the crop's edges that lies inside the frame:
/// the object may go on beyond it, and the box is only its visible part.
pub fn is_cut(bbox: &[f32; 4], pass: &Rect, frame_w: u32, frame_h: u32) -> bool {
    let near = |v: f32, edge: u32| (v - edge as f32).abs() <= CUT_TOLERANCE;
    (pass.x > 0 && near(bbox[0], pass.x))
        || (pass.y > 0 && near(bbox[1], pass.y))
        || (pass.right() < frame_w && near(bbox[2], pass.right()))
        || (pass.bottom() < frame_h && near(bbox[3], pass.bottom()))
}

/// Intersection over the smaller box's area: 1 when one lies wholly inside the other.
pub fn inside_ratio(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let smaller = area(a).min(area(b));
    if smaller > 0.0 {
        w * h / smaller
    } else {
        0.0
    }
}

fn area(r: &[f32; 4]) -> f32 {
    (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0)
}

fn union(a: &[f32; 4], b: &[f32; 4]) -> [f32; 4] {
    [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]
}

/// Whether two boxes of one class are the same object: IoU above `iou_threshold`, or the smaller one lies
/// [`INSIDE`] the larger (a tile saw part of what the full frame or another tile saw whole).
fn same_object(a: &[f32; 4], b: &[f32; 4], iou_threshold: f32) -> bool {
    iou(a, b) > iou_threshold || inside_ratio(a, b) >= INSIDE
}

/// Boxes from several passes, best score first (`cut[i]` from [`is_cut`]), merged class by class: a box
/// joins a kept one when [`same_object`] says so. The kept one keeps its (best) score and, when either was
/// cut, grows to the union of both, so an object split by a tile edge gets its whole box back. A box that
/// is the same object as several kept ones joins them all: the full frame's view of a large object
/// gathers the halves two tiles saw. Keeps at most `max_keep`.
pub fn merge(dets: &[Detection], cut: &[bool], iou_threshold: f32, max_keep: usize, out: &mut Vec<Detection>) {
    out.clear();
    let mut out_cut: Vec<bool> = Vec::new();
    let mut matches: Vec<usize> = Vec::new();
    for (d, &d_cut) in dets.iter().zip(cut) {
        matches.clear();
        matches.extend(
            (0..out.len())
                .filter(|&i| out[i].class_id == d.class_id && same_object(&out[i].bbox, &d.bbox, iou_threshold)),
        );
        let Some((&first, rest)) = matches.split_first() else {
            if out.len() < max_keep {
                out.push(*d);
                out_cut.push(d_cut);
            }
            continue;
        };
        // Later (lower-scored) matches first, so removing them leaves the earlier indices valid.
        for &j in rest.iter().rev() {
            let (other, other_cut) = (out.remove(j), out_cut.remove(j));
            join(&mut out[first], &mut out_cut[first], &other.bbox, other_cut);
        }
        join(&mut out[first], &mut out_cut[first], &d.bbox, d_cut);
    }
}

/// `kept` absorbs a box of the same object: the union when either was cut; a whole view clears the cut.
fn join(kept: &mut Detection, kept_cut: &mut bool, bbox: &[f32; 4], cut: bool) {
    if cut || *kept_cut {
        kept.bbox = union(&kept.bbox, bbox);
    }
    *kept_cut &= cut;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class_id: usize, score: f32, bbox: [f32; 4]) -> Detection {
        Detection { class_id, score, bbox }
    }

    fn auto(w: u32, h: u32) -> Vec<Rect> {
        plan(w, h, 640, 640, &PassSettings { tiling: Tiling::Auto, region: None })
    }

    #[test]
    fn auto_plan_of_1080p() {
        // 1920 wide: 1 + ceil((1920 - 640) / 512) = 4 columns, step 1280 / 3 = 426.7 (overlap 213 px, 33 %).
        // 1080 high: 1 + ceil(440 / 512) = 2 rows, step 440 (overlap 200 px, 31 %). 8 tiles + the full frame.
        let p = auto(1920, 1080);
        assert_eq!(p.len(), 9);
        assert_eq!(p[0], Rect::full(1920, 1080));
        let xs: Vec<u32> = p[1..5].iter().map(|r| r.x).collect();
        assert_eq!(xs, vec![0, 427, 853, 1280]);
        assert_eq!((p[5].y, p[8]), (440, Rect { x: 1280, y: 440, w: 640, h: 640 }));
        assert!(p[1..].iter().all(|r| r.w == 640 && r.h == 640 && r.right() <= 1920 && r.bottom() <= 1080));
    }

    #[test]
    fn overlap_is_at_least_a_fifth_of_a_tile() {
        for len in [641, 1000, 1152, 1280, 1281, 1920, 3840] {
            let s = spans(len, 640, auto_count(len, 640));
            assert_eq!(s[0].0, 0);
            assert_eq!(s.last().map(|(x, w)| x + w), Some(len), "{len}: the last tile ends on the edge");
            for w in s.windows(2) {
                let overlap = w[0].0 + 640 - w[1].0;
                assert!(overlap as f32 >= 0.2 * 640.0 - 1.0, "{len}: overlap {overlap}");
            }
        }
    }

    #[test]
    fn small_frames_are_not_tiled() {
        assert_eq!(auto(640, 480), vec![Rect::full(640, 480)]);
        assert_eq!(auto(640, 640), vec![Rect::full(640, 640)]);
        // Wider than a tile only: tiles across, each the frame's full height.
        let p = auto(1000, 400);
        assert_eq!(&p[1..], &[Rect { x: 0, y: 0, w: 640, h: 400 }, Rect { x: 360, y: 0, w: 640, h: 400 }]);
    }

    #[test]
    fn fixed_grid() {
        // 3 columns over 1920 overlapping by 20 %: tile = ceil(1920 / 2.6) = 739, at 0, 591, 1181.
        let p = plan(1920, 1080, 640, 640, &PassSettings { tiling: Tiling::Grid { cols: 3, rows: 1 }, region: None });
        assert_eq!(&p[1..], &[0, 591, 1181].map(|x| Rect { x, y: 0, w: 739, h: 1080 }));
        // 1x1 is the full frame again: no second pass.
        let one = plan(1920, 1080, 640, 640, &PassSettings { tiling: Tiling::Grid { cols: 1, rows: 1 }, region: None });
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn region_replaces_tiles() {
        let small = Region::pixels(100.0, 50.0, 500.0, 350.0);
        let s = PassSettings { tiling: Tiling::Auto, region: Some(small) };
        assert_eq!(
            plan(1920, 1080, 640, 640, &s),
            vec![Rect::full(1920, 1080), Rect { x: 100, y: 50, w: 400, h: 300 }]
        );
        // Larger than the input: tiled inside the region (1000 wide: 2 columns).
        let large = Region::pixels(0.0, 0.0, 1000.0, 600.0);
        let p = plan(1920, 1080, 640, 640, &PassSettings { tiling: Tiling::Off, region: Some(large) });
        assert_eq!(&p[1..], &[Rect { x: 0, y: 0, w: 640, h: 600 }, Rect { x: 360, y: 0, w: 640, h: 600 }]);
        // Outside the frame: only the full frame.
        let away = Region::pixels(3000.0, 0.0, 3100.0, 100.0);
        assert_eq!(plan(1920, 1080, 640, 640, &PassSettings { tiling: Tiling::Off, region: Some(away) }).len(), 1);
    }

    #[test]
    fn parses_tiles_and_region() {
        assert_eq!("auto".parse::<Tiling>().unwrap(), Tiling::Auto);
        assert_eq!("3x2".parse::<Tiling>().unwrap(), Tiling::Grid { cols: 3, rows: 2 });
        assert_eq!("OFF".parse::<Tiling>().unwrap(), Tiling::Off);
        for bad in ["0x2", "9x1", "3", "x", "axb", "-1x2"] {
            assert!(bad.parse::<Tiling>().is_err(), "{bad}");
        }
        assert_eq!("10,20,300,400".parse::<Region>().unwrap(), Region::pixels(10.0, 20.0, 300.0, 400.0));
        for bad in ["1,2,3", "300,20,10,400", "0,0,nan,5", "-5,0,10,10", "5,5,6,6", "0.5,0.5,0.5,0.9"] {
            assert!(bad.parse::<Region>().is_err(), "{bad}");
        }
        // Words among the numbers are refused, not dropped (100,abc,200,300,400 was taken as 100,200,300,400).
        let err = "100,abc,200,300,400".parse::<Region>().unwrap_err().to_string();
        assert!(err.contains("is not four numbers"), "{err}");
        // Fractions, as --line takes them: resolved for each frame's size (0,0,1,1 is the whole frame).
        assert_eq!("0,0,1,1".parse::<Region>().unwrap().in_frame(64, 48), Some(Rect::full(64, 48)));
        let half = "0.25,0.25,0.75,0.75".parse::<Region>().unwrap();
        assert_eq!(half.in_frame(768, 576), Some(Rect { x: 192, y: 144, w: 384, h: 288 }));
        assert_eq!(half.in_frame(200, 100), Some(Rect { x: 50, y: 25, w: 100, h: 50 }));
        // A mix of the two units is refused: one of them would be read wrongly.
        let err = "0.5,0,600,400".parse::<Region>().unwrap_err().to_string();
        assert!(err.contains("mixes units"), "{err}");
    }

    #[test]
    fn cut_only_at_inner_edges() {
        let tile = Rect { x: 640, y: 0, w: 640, h: 640 };
        // Touches the tile's left edge (x = 640, inside the frame): cut.
        assert!(is_cut(&[641.0, 100.0, 700.0, 200.0], &tile, 1920, 1080));
        // Touches the tile's top edge, which is the frame's top: not cut.
        assert!(!is_cut(&[700.0, 0.0, 800.0, 200.0], &tile, 1920, 1080));
        // Bottom edge at y = 640 is inside the 1080-high frame: cut.
        assert!(is_cut(&[700.0, 500.0, 800.0, 638.0], &tile, 1920, 1080));
        assert!(!is_cut(&[700.0, 100.0, 800.0, 200.0], &tile, 1920, 1080));
        // The full frame never cuts.
        assert!(!is_cut(&[0.0, 0.0, 1920.0, 1080.0], &Rect::full(1920, 1080), 1920, 1080));
    }

    #[test]
    fn inside_ratio_by_hand() {
        // (0,0,10,10) and (5,0,10,10): intersection 50, smaller area 50.
        assert_eq!(inside_ratio(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 10.0, 10.0]), 1.0);
        // (0,0,10,10) and (8,0,18,10): 20 / 100.
        assert_eq!(inside_ratio(&[0.0, 0.0, 10.0, 10.0], &[8.0, 0.0, 18.0, 10.0]), 0.2);
        assert_eq!(inside_ratio(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 1.0, 1.0]), 0.0);
    }

    #[test]
    fn a_box_cut_at_a_tile_edge_joins_the_whole_one_and_lends_its_extent() {
        // A person 100..300 wide. The full frame (coarse, 3x shrunk) sees 104..298; the tile starting at
        // x = 200 sees its right half, 200..301, cut at the tile's left edge (IoU with the whole 0.51 < 0.7).
        let whole = det(0, 0.6, [104.0, 50.0, 298.0, 400.0]);
        let half = det(0, 0.9, [200.0, 52.0, 301.0, 399.0]);
        let mut out = Vec::new();
        merge(&[half, whole], &[true, false], 0.7, 300, &mut out);
        // One box: the best score, the union of both extents.
        assert_eq!(out, vec![det(0, 0.9, [104.0, 50.0, 301.0, 400.0])]);
        // A box inside another that was not cut is merged too, but lends nothing: the best box as it is.
        merge(&[half, whole], &[false, false], 0.7, 300, &mut out);
        assert_eq!(out, vec![half]);
        // Under 80 % inside and IoU not above the threshold: two objects.
        let beside = det(0, 0.5, [250.0, 50.0, 450.0, 400.0]);
        merge(&[half, beside], &[true, false], 0.7, 300, &mut out);
        assert_eq!(out, vec![half, beside]);
    }

    #[test]
    fn duplicates_from_overlapping_tiles_become_one() {
        // The same cup seen whole by two overlapping tiles and by the full frame: IoU above 0.7 each.
        let dets = [
            det(41, 0.85, [500.0, 300.0, 560.0, 380.0]),
            det(41, 0.80, [501.0, 301.0, 561.0, 379.0]),
            det(41, 0.40, [498.0, 302.0, 559.0, 383.0]),
            // A second cup beside it, and a person overlapping the first cup: different objects.
            det(41, 0.70, [600.0, 300.0, 660.0, 380.0]),
            det(0, 0.75, [500.0, 300.0, 560.0, 380.0]),
        ];
        let mut out = Vec::new();
        merge(&dets, &[false; 5], 0.7, 300, &mut out);
        assert_eq!(out, vec![dets[0], dets[3], dets[4]], "no union for whole boxes, best score kept");
        merge(&dets, &[false; 5], 0.7, 2, &mut out);
        assert_eq!(out.len(), 2, "max_keep");
    }

    #[test]
    fn halves_of_an_object_split_between_two_tiles_join_through_the_full_frame() {
        // Tiles 0..640 and 427..1067; a car at 300..800 is wider than their overlap, so each tile sees a
        // cut half: 300..640 and 427..800 (IoU 0.43, the smaller 57 % inside the other: not one by
        // themselves). The full frame sees it whole, and both halves lie inside that box.
        let left = det(2, 0.7, [300.0, 100.0, 640.0, 180.0]);
        let right = det(2, 0.6, [427.0, 101.0, 800.0, 181.0]);
        let whole = det(2, 0.5, [305.0, 98.0, 796.0, 182.0]);
        let mut out = Vec::new();
        merge(&[left, right], &[true, true], 0.7, 300, &mut out);
        assert_eq!(out.len(), 2);
        merge(&[left, right, whole], &[true, true, false], 0.7, 300, &mut out);
        assert_eq!(out, vec![det(2, 0.7, [300.0, 98.0, 800.0, 182.0])]);
    }
}
