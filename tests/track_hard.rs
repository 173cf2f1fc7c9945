//! The tracker's hard cases on a clip made here from the bundled photos, run through the real binary and model:
//! two dogs crossing with one in front, two people crossing each other exactly on the counting line, a person
//! more than half hidden behind a pillar for 1.5 s while crossing the line, and a flickering cup. Measured:
//! ID switches, line count errors and frames without an ID after an object's 3rd detection.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use image::{imageops, Rgb, RgbImage};
use nasview::detector::nms::iou;

use crate::common::{model, nasview, photo, scratch};

const W: u32 = 1280;
const H: u32 = 720;
/// 10 s at 10 fps: a 1.5 s occlusion is 15 frames.
const FRAMES: usize = 100;
const FPS: &str = "10";
/// A vertical line down the middle, drawn downwards: `in` is left to right.
const LINE: &str = "0.5,0,0.5,1";
/// The pillar, in front of everything in the top band, straddling the line: `[x1, y1, x2, y2]`.
const PILLAR: [u32; 4] = [580, 0, 700, 280];
const PILLAR_GREY: Rgb<u8> = Rgb([70, 72, 76]);

/// An object of the clip: a crop of a bundled photo pasted at a size, its top-left corner moving in a
/// straight line from `from` (frame 0) to `to` (the last frame).
struct Mover {
    name: &'static str,
    label: &'static str,
    photo: &'static str,
    crop: [u32; 4],
    size: (u32, u32),
    from: (f32, f32),
    to: (f32, f32),
    /// Whether it is drawn in frame `f`.
    shown: fn(usize) -> bool,
}

fn always(_: usize) -> bool {
    true
}

/// Drawn 2 frames in 3, irregularly: the first run of 3 frames in a row comes only at frames 8..=10.
fn flicker(f: usize) -> bool {
    [true, true, false, true, false, true, true, false, true, true][f % 10]
}

/// Drawn in this order (later ones in front), then the pillar.
fn movers() -> Vec<Mover> {
    // Dog crops from `dog.jpg` and `person.jpg`, people from `person.jpg` and `astronaut.png` (boxes found by
    // the default model on those photos).
    let walker_crop = [191, 98, 275, 375];
    vec![
        // Top band: a person walks right behind the pillar, more than half hidden for 15 frames (its centre
        // within 60 px of the pillar's, at 8 px per frame), wholly hidden for 7.
        Mover {
            name: "walker",
            label: "person",
            photo: "person.jpg",
            crop: walker_crop,
            size: (72, 236),
            from: (204.0, 20.0),
            to: (996.0, 20.0),
            shown: always,
        },
        // Middle band: two people meet exactly on the line between frames 49 and 50 (both centres at x = 640), the slim
        // one in front of the astronaut.
        Mover {
            name: "astronaut",
            label: "person",
            photo: "astronaut.png",
            crop: [9, 16, 367, 512],
            size: (150, 208),
            from: (165.0, 300.0),
            to: (1115.0 - 150.0, 300.0),
            shown: always,
        },
        Mover {
            name: "passer",
            label: "person",
            photo: "person.jpg",
            crop: walker_crop,
            size: (66, 216),
            from: (1107.0, 296.0),
            to: (107.0, 296.0),
            shown: always,
        },
        // Bottom band, left of the line: two dogs cross at x = 300 between frames 49 and 50, the wide one in front
        // hiding the other's lower half (their feet on one line).
        Mover {
            name: "dog-back",
            label: "dog",
            photo: "dog.jpg",
            crop: [130, 223, 311, 543],
            size: (110, 194),
            from: (5.0, 520.0),
            to: (485.0, 520.0),
            shown: always,
        },
        Mover {
            name: "dog-front",
            label: "dog",
            photo: "person.jpg",
            crop: [64, 264, 206, 346],
            size: (186, 107),
            from: (447.0, 607.0),
            to: (-33.0, 607.0),
            shown: always,
        },
        // Bottom right: a second astronaut drifting slowly, drawn 2 frames in 3.
        Mover {
            name: "flickerer",
            label: "person",
            photo: "astronaut.png",
            crop: [9, 16, 367, 512],
            size: (120, 166),
            from: (1000.0, 540.0),
            to: (1100.0, 540.0),
            shown: flicker,
        },
    ]
}

impl Mover {
    /// Its whole box `[x1, y1, x2, y2]` in frame `f`, or None when it is not drawn.
    fn rect(&self, f: usize) -> Option<[f32; 4]> {
        if !(self.shown)(f) {
            return None;
        }
        let t = f as f32 / (FRAMES - 1) as f32;
        let x = (self.from.0 + t * (self.to.0 - self.from.0)).round();
        let y = (self.from.1 + t * (self.to.1 - self.from.1)).round();
        Some([x, y, x + self.size.0 as f32, y + self.size.1 as f32])
    }

    /// Which way its centre crosses the line over the clip, if it does.
    fn crossing(&self) -> Option<&'static str> {
        let half = self.size.0 as f32 / 2.0;
        let (a, b) = (self.from.0 + half, self.to.0 + half);
        let line_x = W as f32 / 2.0;
        match (a < line_x, b < line_x) {
            (true, false) => Some("in"),
            (false, true) => Some("out"),
            _ => None,
        }
    }
}

/// What is visible of each mover in one frame: the bounding box of its uncovered pixels and their share
/// of its box.
type Visible = Vec<Option<([f32; 4], f32)>>;

/// Writes the clip as numbered PNGs into `dir`; returns what is visible of each mover in each frame.
fn make_clip(dir: &Path, movers: &[Mover]) -> Vec<Visible> {
    let sprites: Vec<RgbImage> = movers
        .iter()
        .map(|m| {
            let img = image::open(photo(m.photo)).unwrap().to_rgb8();
            let [x1, y1, x2, y2] = m.crop;
            let crop = imageops::crop_imm(&img, x1, y1, x2 - x1, y2 - y1).to_image();
            imageops::resize(&crop, m.size.0, m.size.1, imageops::FilterType::Triangle)
        })
        .collect();
    let mut owner = vec![0u8; (W * H) as usize];
    let fill = |owner: &mut [u8], r: [f32; 4], who: u8| {
        let x = (r[0].max(0.0) as u32).min(W)..(r[2].max(0.0) as u32).min(W);
        for y in (r[1].max(0.0) as u32).min(H)..(r[3].max(0.0) as u32).min(H) {
            owner[(y * W + x.start) as usize..(y * W + x.end) as usize].fill(who);
        }
    };
    let mut visible = Vec::with_capacity(FRAMES);
    for f in 0..FRAMES {
        let mut frame = RgbImage::from_pixel(W, H, Rgb([205, 205, 195]));
        owner.fill(0);
        for (k, (m, s)) in movers.iter().zip(&sprites).enumerate() {
            if let Some(r) = m.rect(f) {
                imageops::overlay(&mut frame, s, r[0] as i64, r[1] as i64);
                fill(&mut owner, r, k as u8 + 1);
            }
        }
        let p = PILLAR.map(|c| c as f32);
        for y in PILLAR[1]..PILLAR[3] {
            for x in PILLAR[0]..PILLAR[2] {
                frame.put_pixel(x, y, PILLAR_GREY);
            }
        }
        fill(&mut owner, p, u8::MAX);
        frame.save(dir.join(format!("frame_{f:04}.png"))).unwrap();
        // Bounding box and count of each mover's uncovered pixels.
        let mut seen: Vec<Option<([u32; 4], u32)>> = vec![None; movers.len()];
        for y in 0..H {
            for x in 0..W {
                let who = owner[(y * W + x) as usize];
                if who == 0 || who == u8::MAX {
                    continue;
                }
                let e = seen[who as usize - 1].get_or_insert(([x, y, x, y], 0));
                e.0 = [e.0[0].min(x), e.0[1].min(y), e.0[2].max(x + 1), e.0[3].max(y + 1)];
                e.1 += 1;
            }
        }
        visible.push(
            seen.iter()
                .zip(movers)
                .map(|(s, m)| s.map(|(b, n)| (b.map(|c| c as f32), n as f32 / (m.size.0 * m.size.1) as f32)))
                .collect(),
        );
    }
    visible
}

/// What the tracker made of one mover over the clip.
#[derive(Debug, Default)]
struct Figures {
    /// Frames in which the model found it.
    detected: usize,
    /// Each frame it was found in, with its track ID there (None: no ID).
    ids: Vec<(usize, Option<u64>)>,
}

impl Figures {
    fn switches(&self) -> usize {
        let ids: Vec<u64> = self.ids.iter().filter_map(|(_, id)| *id).collect();
        ids.windows(2).filter(|w| w[0] != w[1]).count()
    }

    fn distinct(&self) -> BTreeSet<u64> {
        self.ids.iter().filter_map(|(_, id)| *id).collect()
    }

    /// Frames it was found in without an ID, from its 3rd detection on.
    fn without_id_after_third(&self) -> usize {
        self.ids.iter().skip(2).filter(|(_, id)| id.is_none()).count()
    }

    /// Its IDs frame by frame as runs, `-` for no ID: `-x2 1x40 (gap 12) 9x30`.
    fn runs(&self) -> String {
        let mut out = String::new();
        let mut last: Option<(usize, Option<u64>, usize)> = None;
        for &(f, id) in &self.ids {
            match &mut last {
                Some((lf, lid, n)) if *lid == id && f == *lf + 1 => {
                    *lf = f;
                    *n += 1;
                }
                _ => {
                    if let Some((lf, lid, n)) = last {
                        out += &format!("{}x{n} ", lid.map_or("-".into(), |i| i.to_string()));
                        if f > lf + 1 {
                            out += &format!("(gap {}) ", f - lf - 1);
                        }
                    }
                    last = Some((f, id, 1));
                }
            }
        }
        if let Some((_, lid, n)) = last {
            out += &format!("{}x{n}", lid.map_or("-".into(), |i| i.to_string()));
        }
        out
    }
}

/// Each frame's detections given to the movers: same label, and IoU of at least 0.4 with either its whole
/// box or the bounding box of its visible part; the best pairs first, one detection per mover.
fn figures(lines: &[serde_json::Value], movers: &[Mover], visible: &[Visible]) -> Vec<Figures> {
    let mut out: Vec<Figures> = movers.iter().map(|_| Figures::default()).collect();
    for (f, line) in lines.iter().enumerate() {
        let dets = line["detections"].as_array().unwrap();
        let mut pairs = Vec::new();
        for (k, m) in movers.iter().enumerate() {
            let (Some(whole), Some((part, _))) = (m.rect(f), visible[f][k]) else { continue };
            for (j, d) in dets.iter().enumerate() {
                let b: Vec<f32> = d["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
                let b = [b[0], b[1], b[2], b[3]];
                let score = iou(&b, &whole).max(iou(&b, &part));
                if d["label"] == m.label && score >= 0.4 {
                    pairs.push((score, k, j));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (mut mover_done, mut det_done) = (vec![false; movers.len()], vec![false; dets.len()]);
        for (_, k, j) in pairs {
            if mover_done[k] || det_done[j] {
                continue;
            }
            (mover_done[k], det_done[j]) = (true, true);
            out[k].detected += 1;
            out[k].ids.push((f, dets[j]["track_id"].as_u64()));
        }
    }
    out
}

#[test]
fn hard_cases_keep_ids_and_count_each_crossing_once() {
    let dir = scratch("track-hard");
    let clip = dir.join("clip");
    std::fs::create_dir_all(&clip).unwrap();
    let movers = movers();
    let visible = make_clip(&clip, &movers);
    let out = nasview(&[
        "--source",
        clip.to_str().unwrap(),
        "--fps",
        FPS,
        "--headless",
        "--line",
        LINE,
        "--model",
        model("yolov12n_int8.onnx").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Kept beside the clip, to look into when a figure changes.
    std::fs::write(dir.join("run.jsonl"), &out.stdout).unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), FRAMES, "every frame of an image folder is processed headless; {stderr}");
    let figs = figures(&lines, &movers, &visible);

    // The clip is as designed: the walker is more than half hidden for 15 frames (1.5 s) in a row.
    let walker_hidden: Vec<usize> =
        (0..FRAMES).filter(|&f| visible[f][0].is_none_or(|(_, share)| share < 0.5)).collect();
    assert_eq!(walker_hidden.len(), 15, "{walker_hidden:?}");
    assert_eq!(walker_hidden.last().unwrap() - walker_hidden[0], 14, "in a row: {walker_hidden:?}");
    let mut truth: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for m in &movers {
        if let Some(dir) = m.crossing() {
            *truth.entry((dir, m.label)).or_default() += 1;
        }
    }
    assert_eq!(truth, BTreeMap::from([(("in", "person"), 2), (("out", "person"), 1)]));

    // The figures of the closing note.
    let mut all_ids: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (m, fig) in movers.iter().zip(&figs) {
        let shown = (0..FRAMES).filter(|&f| m.rect(f).is_some()).count();
        let found: Vec<usize> = fig.ids.iter().map(|(f, _)| *f).take(3).collect();
        let first_id = fig.ids.iter().find(|(_, id)| id.is_some()).map(|(f, _)| *f);
        eprintln!(
            "{:>10}: found in {:>3} of {:>3} frames shown; ID switches {}; IDs {:?}; first found in frames {:?}, first ID in frame {:?}; \
             {} without an ID after the 3rd",
            m.name,
            fig.detected,
            shown,
            fig.switches(),
            fig.distinct(),
            found,
            first_id,
            fig.without_id_after_third()
        );
        eprintln!("{:>10}  {}", "", fig.runs());
        for id in fig.distinct() {
            all_ids.entry(id).or_default().push(m.name);
        }
    }
    let counts = &lines[FRAMES - 1]["counts"];
    let mut count_errors = 0;
    for dir in ["in", "out"] {
        let got: BTreeMap<&str, u64> =
            counts[dir].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_u64().unwrap())).collect();
        let labels: BTreeSet<&str> = got.keys().copied().chain(truth.keys().map(|k| k.1)).collect();
        for label in labels {
            let (g, t) = (got.get(label).copied().unwrap_or(0), truth.get(&(dir, label)).copied().unwrap_or(0));
            count_errors += g.abs_diff(t);
        }
    }
    let switches: usize = figs.iter().map(Figures::switches).sum();
    let shared = all_ids.values().filter(|names| names.len() > 1).count();
    let without: usize = figs.iter().map(Figures::without_id_after_third).sum();
    eprintln!(
        "ID switches {switches}, IDs on two objects {shared}, count errors {count_errors} (counts {counts}), \
         frames without an ID after the 3rd detection {without}"
    );

    // The model sees every object in most frames where it is mostly visible (else the figures say nothing).
    for (k, (m, fig)) in movers.iter().zip(&figs).enumerate() {
        let clear = (0..FRAMES).filter(|&f| visible[f][k].is_some_and(|(_, share)| share >= 0.6)).count();
        assert!(fig.detected * 10 >= clear * 8, "{} found in {} of {} clear frames", m.name, fig.detected, clear);
    }
    // Upper bounds: what the tracker achieves on this clip. Before (3 hits in a row, lost tracks kept 1 s
    // and predicted at their shrunk size): 6 ID switches, 1 count error (the walker came back from behind
    // the pillar under a new ID, its crossing not counted), 7 frames without an ID after the 3rd detection
    // (the flickering person waited for 3 frames in a row).
    for (m, fig) in movers.iter().zip(&figs) {
        // The model sees the two dogs' union as a third dog for a few frames, and that box's track
        // takes the back dog's detections now and then: the one case still switching.
        if m.name != "dog-back" {
            assert_eq!(fig.distinct().len(), 1, "{} keeps one ID: {}", m.name, fig.runs());
        }
    }
    assert!(switches <= 5, "ID switches: {switches}");
    assert!(shared == 0, "IDs on two objects: {all_ids:?}");
    assert!(count_errors == 0, "count errors: {count_errors}; counts {counts}");
    assert!(without <= 3, "frames without an ID after the 3rd detection: {without}");
}
