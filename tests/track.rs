//! Tracking and counting on a synthetic clip made here from the bundled photos, through the real binary
//! and the default model: objects move along known paths, cross each other, one vanishes for eight
//! frames; every object must keep one ID and the line counts must equal the known crossings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use image::{imageops, Rgb, RgbImage};
use nasview::detector::nms::iou;

use crate::common::{model, nasview, photo, scratch};

const W: u32 = 960;
const H: u32 = 540;
const FRAMES: usize = 120;
/// The counting line, as given to `--line`: a vertical line at x = 720, drawn downwards, so `in` is
/// left to right.
const LINE: &str = "0.75,0,0.75,1";

/// An object of the clip: a crop of a bundled photo (its detection box there), pasted at a size,
/// moving in a straight line from `from` to `to` (top-left corners) over the clip.
struct Mover {
    label: &'static str,
    photo: &'static str,
    crop: [u32; 4],
    size: (u32, u32),
    from: (f32, f32),
    to: (f32, f32),
    /// Frames in which it is not drawn.
    hidden: std::ops::Range<usize>,
}

/// Drawn in this order: the cat passes over the person (frames ~50 to ~73 overlap, the person's body
/// is behind the cat around frame 61); the cup is gone for frames 40..48.
fn movers() -> [Mover; 3] {
    [
        Mover {
            label: "person",
            photo: "astronaut.png",
            crop: [9, 16, 367, 512],
            size: (120, 166),
            from: (30.0, 170.0),
            to: (810.0, 170.0),
            hidden: 0..0,
        },
        Mover {
            label: "cat",
            photo: "chelsea.png",
            crop: [1, 1, 416, 296],
            size: (180, 128),
            from: (800.0, 185.0),
            to: (20.0, 185.0),
            hidden: 0..0,
        },
        Mover {
            label: "cup",
            photo: "coffee.png",
            crop: [171, 16, 419, 245],
            size: (124, 114),
            from: (20.0, 400.0),
            to: (820.0, 400.0),
            hidden: 40..48,
        },
    ]
}

impl Mover {
    /// Its box `[x1, y1, x2, y2]` in frame `f`, or None while hidden.
    fn rect(&self, f: usize) -> Option<[f32; 4]> {
        if self.hidden.contains(&f) {
            return None;
        }
        let t = f as f32 / (FRAMES - 1) as f32;
        let x = (self.from.0 + t * (self.to.0 - self.from.0)).round();
        let y = (self.from.1 + t * (self.to.1 - self.from.1)).round();
        Some([x, y, x + self.size.0 as f32, y + self.size.1 as f32])
    }

    /// Which way it crosses the line, if it does: `in` left to right.
    fn crossing(&self) -> Option<&'static str> {
        let line_x = 0.75 * W as f32;
        let (a, b) = (self.from.0 + self.size.0 as f32 / 2.0, self.to.0 + self.size.0 as f32 / 2.0);
        match (a < line_x, b < line_x) {
            (true, false) => Some("in"),
            (false, true) => Some("out"),
            _ => None,
        }
    }
}

/// Writes the clip as numbered PNGs into `dir`.
fn make_clip(dir: &Path, movers: &[Mover]) {
    let sprites: Vec<RgbImage> = movers
        .iter()
        .map(|m| {
            let img = image::open(photo(m.photo)).unwrap().to_rgb8();
            let [x1, y1, x2, y2] = m.crop;
            let crop = imageops::crop_imm(&img, x1, y1, x2 - x1, y2 - y1).to_image();
            imageops::resize(&crop, m.size.0, m.size.1, imageops::FilterType::Triangle)
        })
        .collect();
    for f in 0..FRAMES {
        let mut frame = RgbImage::from_pixel(W, H, Rgb([205, 205, 195]));
        for (m, s) in movers.iter().zip(&sprites) {
            if let Some(r) = m.rect(f) {
                imageops::overlay(&mut frame, s, r[0] as i64, r[1] as i64);
            }
        }
        frame.save(dir.join(format!("frame_{f:04}.png"))).unwrap();
    }
}

#[test]
fn synthetic_clip_keeps_ids_and_counts_crossings() {
    let dir = scratch("track-clip");
    let clip = dir.join("clip");
    std::fs::create_dir_all(&clip).unwrap();
    let movers = movers();
    make_clip(&clip, &movers);
    let frames = dir.join("annotated");
    let out = nasview(&[
        "--source",
        clip.to_str().unwrap(),
        "--fps",
        "30",
        "--headless",
        "--line",
        LINE,
        "--save-frames",
        frames.to_str().unwrap(),
        "--model",
        model("yolov12n_int8.onnx").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), FRAMES, "every frame of an image folder is processed headless; {stderr}");

    // Each object's detection in each frame: same label, IoU > 0.5 with where it was pasted.
    let mut detected = vec![0usize; movers.len()];
    let mut ids: Vec<Vec<u64>> = vec![Vec::new(); movers.len()];
    let mut untracked = vec![0usize; movers.len()];
    for (f, line) in lines.iter().enumerate() {
        assert_eq!(line["frame"].as_u64(), Some(f as u64));
        let dets = line["detections"].as_array().unwrap();
        for (k, m) in movers.iter().enumerate() {
            let Some(truth) = m.rect(f) else { continue };
            let found = dets.iter().find(|d| {
                let b: Vec<f32> = d["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
                d["label"] == m.label && iou(&[b[0], b[1], b[2], b[3]], &truth) > 0.5
            });
            if let Some(d) = found {
                detected[k] += 1;
                match d["track_id"].as_u64() {
                    Some(id) => ids[k].push(id),
                    None => untracked[k] += 1,
                }
            }
        }
    }
    let visible: Vec<usize> = movers.iter().map(|m| (0..FRAMES).filter(|&f| m.rect(f).is_some()).count()).collect();
    let switches: Vec<usize> = ids.iter().map(|v| v.windows(2).filter(|w| w[0] != w[1]).count()).collect();
    let distinct: Vec<BTreeSet<u64>> = ids.iter().map(|v| v.iter().copied().collect()).collect();
    for (k, m) in movers.iter().enumerate() {
        // The figures of the closing note.
        eprintln!(
            "{}: detected in {} of {} visible frames, {} with an ID, {} without; ID switches {}; IDs {:?}",
            m.label,
            detected[k],
            visible[k],
            ids[k].len(),
            untracked[k],
            switches[k],
            distinct[k]
        );
    }
    let counts = &lines[FRAMES - 1]["counts"];
    eprintln!("counts at the end: {counts}");

    for (k, m) in movers.iter().enumerate() {
        assert!(
            detected[k] * 10 >= visible[k] * 8,
            "{} detected in only {} of {} frames",
            m.label,
            detected[k],
            visible[k]
        );
        assert_eq!(distinct[k].len(), 1, "{} must keep one ID, had {:?}", m.label, distinct[k]);
        // Only the first frames before confirmation go without an ID.
        assert!(untracked[k] <= 4, "{}: {} detections without an ID", m.label, untracked[k]);
    }
    let all: BTreeSet<u64> = distinct.iter().flatten().copied().collect();
    assert_eq!(all.len(), movers.len(), "no two objects share an ID");

    // The line counts equal the known crossings, per class and direction.
    let mut truth: BTreeMap<&str, BTreeMap<&str, u64>> =
        BTreeMap::from([("in", BTreeMap::new()), ("out", BTreeMap::new())]);
    for m in &movers {
        if let Some(dir) = m.crossing() {
            *truth.get_mut(dir).unwrap().entry(m.label).or_default() += 1;
        }
    }
    assert_eq!(truth["in"], BTreeMap::from([("person", 1), ("cup", 1)]), "the clip is as designed");
    for dir in ["in", "out"] {
        let got: BTreeMap<&str, u64> =
            counts[dir].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_u64().unwrap())).collect();
        assert_eq!(got, truth[dir], "{dir} counts; line {}", counts["line"]);
    }
    assert_eq!(counts["line"], serde_json::json!([720.0, 0.0, 720.0, 540.0]));

    // The annotated frames (as recorded) show the line, its counts and the trails.
    // Saved frames are named `frame_<number>_<source time>ms.png`.
    let prefix = format!("frame_{:06}_", FRAMES - 1);
    let last_png = std::fs::read_dir(&frames)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .expect("the last annotated frame");
    let last = image::open(last_png).unwrap().to_rgb8();
    let line = nasview::track::draw::LINE;
    let on_line = (0..H).filter(|&y| (716..725).any(|x| *last.get_pixel(x, y) == line)).count();
    assert!(on_line > 500, "the line down x = 720 in the last annotated frame: {on_line} rows");
    let tags = (600..900).flat_map(|x| (250..300).map(move |y| (x, y))).filter(|&(x, y)| *last.get_pixel(x, y) == line);
    assert!(tags.count() > 500, "count tags beside the line");
    // The cat's trail: its class colour on its row, right of its box (where it was in the last 2 s).
    let cat = nasview::overlay::class_colour(15);
    let cat_box = movers[1].rect(FRAMES - 1).unwrap();
    let trail_y = ((cat_box[1] + cat_box[3]) / 2.0) as u32;
    let behind = (cat_box[2] as u32 + 5..cat_box[2] as u32 + 40)
        .filter(|&x| (trail_y - 3..trail_y + 4).any(|y| *last.get_pixel(x, y) == cat));
    assert!(behind.count() > 20, "the cat's trail behind it");
}

#[test]
fn no_track_means_no_track_id() {
    let run = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["--source", "demo", "--headless", "--max-frames", "5"];
        let m = model("yolov12n_int8.onnx");
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--model", m.to_str().unwrap()]);
        let out = nasview(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    // The demo's astronaut, tracked: an ID from the third frame on (confirmation after 3 hits).
    let tracked = run(&[]);
    assert!(tracked[0]["detections"][0].get("track_id").is_none(), "not yet confirmed in frame 0");
    assert_eq!(tracked[4]["detections"][0]["track_id"].as_u64(), Some(1), "{}", tracked[4]);
    assert!(tracked[4].get("counts").is_none(), "no line, no counts");
    let untracked = run(&["--no-track"]);
    assert!(untracked.iter().all(|l| l["detections"].as_array().unwrap().iter().all(|d| d.get("track_id").is_none())));
}
