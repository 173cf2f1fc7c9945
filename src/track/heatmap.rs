//! Where tracks went (pure; fed by the tracking step on the main thread): their feet accumulated on a grid of
//! cells, with a slowly decaying copy for the window and the whole run's total for `--heatmap-out`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use image::{Rgb, RgbImage};

/// Grid cell side in frame pixels: fine enough to show a path, coarse enough that one walk lights a band.
pub const CELL: u32 = 8;
/// The window's map halves every this long (source time): a minute of the demo shows the last minutes' paths.
pub const HALF_LIFE: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct Heatmap {
    pub cols: u32,
    pub rows: u32,
    /// Decaying heat per cell (the window's `M` view).
    recent: Vec<f32>,
    /// Every visit of the run (`--heatmap-out`).
    total: Vec<f32>,
    last: Option<Duration>,
    /// Distinct tracks per class that left heat, for the legend.
    pub tracks: BTreeMap<usize, BTreeSet<u64>>,
}

impl Heatmap {
    pub fn new(width: u32, height: u32) -> Heatmap {
        let (cols, rows) = (width.div_ceil(CELL).max(1), height.div_ceil(CELL).max(1));
        let n = (cols * rows) as usize;
        Heatmap { cols, rows, recent: vec![0.0; n], total: vec![0.0; n], last: None, tracks: BTreeMap::new() }
    }

    /// The cell of a point in frame pixels, if it is inside the frame.
    pub fn cell(&self, p: [f32; 2]) -> Option<usize> {
        let (c, r) = ((p[0] / CELL as f32).floor(), (p[1] / CELL as f32).floor());
        (c >= 0.0 && r >= 0.0 && (c as u32) < self.cols && (r as u32) < self.rows)
            .then(|| (r as u32 * self.cols + c as u32) as usize)
    }

    /// One processed frame at source time `now`: the feet of the tracks seen in it, with their id and class. A
    /// track moving fast lights every cell between its last and its new position, so a path has no holes.
    pub fn add(&mut self, now: Duration, feet: &[(u64, usize, [f32; 2])], previous: &mut BTreeMap<u64, [f32; 2]>) {
        if let Some(last) = self.last {
            let dt = now.saturating_sub(last).as_secs_f32();
            let keep = 0.5f32.powf(dt / HALF_LIFE.as_secs_f32());
            self.recent.iter_mut().for_each(|v| *v *= keep);
        }
        self.last = Some(now);
        for &(id, class_id, p) in feet {
            let from = previous.insert(id, p).unwrap_or(p);
            // Steps of half a cell from the previous position to this one; each cell counted once per frame.
            let steps =
                ((p[0] - from[0]).hypot(p[1] - from[1]) / (CELL as f32 / 2.0)).ceil().clamp(1.0, 4096.0) as usize;
            let mut cells: Vec<usize> = (1..=steps)
                .filter_map(|i| {
                    let t = i as f32 / steps as f32;
                    self.cell([from[0] + (p[0] - from[0]) * t, from[1] + (p[1] - from[1]) * t])
                })
                .collect();
            cells.dedup();
            for c in cells {
                self.recent[c] += 1.0;
                self.total[c] += 1.0;
            }
            self.tracks.entry(class_id).or_default().insert(id);
        }
    }

    /// Cells with any heat in the run, in order.
    pub fn lit(&self) -> Vec<usize> {
        (0..self.total.len()).filter(|&i| self.total[i] > 0.0).collect()
    }

    /// The heat over the frame: the frame dimmed to a third, each warm cell coloured from dark red to yellow
    /// and white by its heat relative to the hottest (square root, so a path walked once still shows).
    pub fn render(&self, frame: &RgbImage, whole_run: bool) -> RgbImage {
        let heat = if whole_run { &self.total } else { &self.recent };
        let max = heat.iter().copied().fold(0.0f32, f32::max);
        let mut out = RgbImage::from_fn(frame.width(), frame.height(), |x, y| {
            let p = frame.get_pixel(x, y).0;
            Rgb(p.map(|v| v / 3))
        });
        if max <= 0.0 {
            return out;
        }
        for (x, y, px) in out.enumerate_pixels_mut() {
            let i = ((y / CELL).min(self.rows - 1) * self.cols + (x / CELL).min(self.cols - 1)) as usize;
            let h = heat.get(i).copied().unwrap_or(0.0);
            if h > 0.0 {
                let colour = ramp((h / max).sqrt());
                // Two thirds colour, one third the dimmed frame: the place stays recognisable under the heat.
                px.0 = [0, 1, 2].map(|c| ((u16::from(colour[c]) * 2 + u16::from(px.0[c])) / 3) as u8);
            }
        }
        out
    }
}

/// Dark red (cold) through red, orange and yellow to white (hottest), for t in 0..=1.
fn ramp(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let r = (96.0 + 159.0 * (t * 3.0).min(1.0)) as u8;
    let g = (255.0 * ((t - 0.33) * 1.5).clamp(0.0, 1.0)) as u8;
    let b = (255.0 * ((t - 0.8) * 5.0).clamp(0.0, 1.0)) as u8;
    [r, g, b]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_path_lights_exactly_its_cells() {
        // 64x32 frame: 8 x 4 cells. A track walks along y = 12 (row 1) from x = 4 to x = 60 in four frames.
        let mut map = Heatmap::new(64, 32);
        let mut prev = BTreeMap::new();
        for (i, x) in [4.0, 20.0, 44.0, 60.0].into_iter().enumerate() {
            map.add(Duration::from_millis(100 * i as u64), &[(1, 0, [x, 12.0])], &mut prev);
        }
        // Row 1, columns 0..=7: cells 8..=15, and nothing else.
        assert_eq!(map.lit(), (8..16).collect::<Vec<_>>());
        // A second track standing still heats one cell, every frame; the legend counts two tracks of two classes.
        map.add(Duration::from_millis(400), &[(2, 3, [5.0, 28.0])], &mut prev);
        map.add(Duration::from_millis(500), &[(2, 3, [5.0, 28.0])], &mut prev);
        assert_eq!(map.total[24], 2.0);
        assert_eq!(map.tracks.len(), 2);
        // Outside the frame: no cell.
        assert_eq!(map.cell([64.0, 0.0]), None);
        assert_eq!(map.cell([-0.1, 0.0]), None);
    }

    #[test]
    fn recent_heat_halves_each_half_life_and_the_total_keeps_all() {
        let mut map = Heatmap::new(16, 16);
        let mut prev = BTreeMap::new();
        map.add(Duration::ZERO, &[(1, 0, [1.0, 1.0])], &mut prev);
        map.add(HALF_LIFE, &[], &mut prev);
        assert!((map.recent[0] - 0.5).abs() < 1e-6 && map.total[0] == 1.0);
        // Rendered: the hot cell is coloured, a cold one is the frame dimmed to a third.
        let frame = RgbImage::from_pixel(16, 16, Rgb([90, 90, 90]));
        let img = map.render(&frame, true);
        assert_eq!(img.get_pixel(12, 12).0, [30, 30, 30]);
        assert_ne!(img.get_pixel(1, 1).0, [30, 30, 30]);
    }
}
