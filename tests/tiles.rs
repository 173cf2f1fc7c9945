//! Small objects: mosaics of the bundled photos (each photo shrunk whole into a cell of a 6x6 grid over a
//! 1920x1080 frame) through `nasview detect`, with and without tiles, against what the same model finds on
//! the full-size photos.

use std::path::{Path, PathBuf};

use image::{imageops, Rgb, RgbImage};
use nasview::detector::nms::iou;
use nasview::detector::tiles::{inside_ratio, PassSettings, Tiling};
use nasview::detector::{Detector, Thresholds};

use crate::common::{cpu_options, data, model, nasview, photo, scratch, PHOTOS};

const MOSAIC: (u32, u32) = (1920, 1080);
/// 36 cells: each of the nine photos four times, so each weighs the same. Cells are 320x180, a frame's
/// sixth: a person filling a cell is 60 px tall at native resolution, 20 px in the full frame's letterbox.
const GRID: (u32, u32) = (6, 6);
/// Ground truth: what the model finds on the full-size photo at this confidence.
const TRUTH_CONF: f32 = 0.5;

/// One detection as `detect --json` prints it.
#[derive(Clone, Debug)]
struct Found {
    class_id: u64,
    bbox: [f32; 4],
}

fn parse_dets(v: &serde_json::Value) -> Vec<Found> {
    v["detections"]
        .as_array()
        .expect("detections")
        .iter()
        .map(|d| {
            let b: Vec<f32> = d["box"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            Found { class_id: d["class_id"].as_u64().unwrap(), bbox: [b[0], b[1], b[2], b[3]] }
        })
        .collect()
}

/// `nasview detect --json` on `paths` with extra arguments: detections per image, in the order given.
fn detect_json(paths: &[PathBuf], extra: &[&str]) -> Vec<Vec<Found>> {
    let m = model("yolov12n_int8.onnx");
    let mut args = vec!["detect", "--json", "--model", m.to_str().unwrap()];
    args.extend_from_slice(extra);
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = nasview(&args);
    assert!(out.status.success(), "nasview {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Vec<Found>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| parse_dets(&serde_json::from_str(l).expect("a JSON line")))
        .collect();
    assert_eq!(lines.len(), paths.len());
    lines
}

/// Where a photo went in a mosaic: (photo index, x scale, y scale, x offset, y offset).
type Placed = (usize, f32, f32, f32, f32);

/// Mosaic `k`: cell `i` holds photo `(i + k) % 9`, shrunk whole (aspect kept) and centred on grey.
pub fn mosaic(k: usize, photos: &[RgbImage]) -> (RgbImage, Vec<Placed>) {
    let (cw, ch) = (MOSAIC.0 / GRID.0, MOSAIC.1 / GRID.1);
    let mut img = RgbImage::from_pixel(MOSAIC.0, MOSAIC.1, Rgb([128, 128, 128]));
    let mut placed = Vec::new();
    for cell in 0..(GRID.0 * GRID.1) as usize {
        let p = (cell + k) % photos.len();
        let (pw, ph) = photos[p].dimensions();
        let s = (cw as f32 / pw as f32).min(ch as f32 / ph as f32);
        let (w, h) = ((pw as f32 * s).round().max(1.0) as u32, (ph as f32 * s).round().max(1.0) as u32);
        let small = imageops::resize(&photos[p], w, h, imageops::FilterType::Triangle);
        let x = (cell as u32 % GRID.0) * cw + (cw - w) / 2;
        let y = (cell as u32 / GRID.0) * ch + (ch - h) / 2;
        imageops::replace(&mut img, &small, x as i64, y as i64);
        // The resize rounds each side; map boxes with the scale each axis really got.
        placed.push((p, w as f32 / pw as f32, h as f32 / ph as f32, x as f32, y as f32));
    }
    (img, placed)
}

/// Matches outputs (best score first, as printed) to ground truth one to one: same class, IoU >= 0.5.
/// Returns (truth found, outputs matching no truth).
fn score(truth: &[Found], out: &[Found]) -> (usize, usize) {
    let mut taken = vec![false; truth.len()];
    let mut others = 0;
    for o in out {
        let best = (0..truth.len())
            .filter(|&i| !taken[i] && truth[i].class_id == o.class_id)
            .map(|i| (i, iou(&truth[i].bbox, &o.bbox)))
            .filter(|&(_, v)| v >= 0.5)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, _)) => taken[i] = true,
            None => others += 1,
        }
    }
    (taken.iter().filter(|t| **t).count(), others)
}

/// Pairs of one class that are the same object twice: IoU above 0.5, or one 80 % inside the other.
fn duplicates(out: &[Found]) -> Vec<(Found, Found)> {
    let mut pairs = Vec::new();
    for (i, a) in out.iter().enumerate() {
        for b in &out[i + 1..] {
            if a.class_id == b.class_id && (iou(&a.bbox, &b.bbox) > 0.5 || inside_ratio(&a.bbox, &b.bbox) >= 0.8) {
                pairs.push((a.clone(), b.clone()));
            }
        }
    }
    pairs
}

struct Mosaics {
    files: Vec<PathBuf>,
    truth: Vec<Vec<Found>>,
}

/// Two mosaics written to `dir`, and the ground truth mapped into them.
fn build(dir: &Path) -> Mosaics {
    let photo_paths: Vec<PathBuf> = PHOTOS.iter().map(|p| photo(p)).collect();
    let full = detect_json(&photo_paths, &["--conf", &TRUTH_CONF.to_string()]);
    let photos: Vec<RgbImage> = photo_paths.iter().map(|p| image::open(p).unwrap().to_rgb8()).collect();
    let mut files = Vec::new();
    let mut truth = Vec::new();
    for k in 0..2 {
        let (img, placed) = mosaic(k, &photos);
        let file = dir.join(format!("mosaic{k}.png"));
        img.save(&file).unwrap();
        files.push(file);
        truth.push(
            placed
                .iter()
                .flat_map(|&(p, sx, sy, x, y)| {
                    full[p].iter().map(move |d| Found {
                        bbox: [d.bbox[0] * sx + x, d.bbox[1] * sy + y, d.bbox[2] * sx + x, d.bbox[3] * sy + y],
                        ..d.clone()
                    })
                })
                .collect(),
        );
    }
    Mosaics { files, truth }
}

fn recall(m: &Mosaics, extra: &[&str]) -> (f32, usize, Vec<Vec<Found>>) {
    let out = detect_json(&m.files, extra);
    let (mut found, mut others, mut total) = (0, 0, 0);
    for (t, o) in m.truth.iter().zip(&out) {
        let (f, x) = score(t, o);
        found += f;
        others += x;
        total += t.len();
    }
    (found as f32 / total.max(1) as f32, others, out)
}

#[test]
fn tiles_find_three_times_more_small_objects_without_duplicates() {
    let dir = scratch("tiles-mosaic");
    let m = build(&dir);
    let total: usize = m.truth.iter().map(Vec::len).sum();
    assert!(total >= 20, "too little ground truth to measure recall: {total}");
    let (full, full_others, _) = recall(&m, &[]);
    let (tiled, tiled_others, out) = recall(&m, &["--tiles", "auto"]);
    eprintln!(
        "mosaics: {total} objects; full frame recall {:.0} % ({full_others} other), tiles auto {:.0} % ({tiled_others} other)",
        full * 100.0,
        tiled * 100.0
    );
    assert!(tiled >= 3.0 * full, "tiles auto recall {tiled:.2} is not 3x the full frame's {full:.2}");
    for (file, o) in m.files.iter().zip(&out) {
        let d = duplicates(o);
        assert!(d.is_empty(), "{}: one object boxed twice: {d:?}", file.display());
    }
}

#[test]
fn tiles_run_as_one_batch_when_the_batch_is_dynamic() {
    // The YOLO-NAS S fixture exported with a dynamic batch (models/export_yolo_nas.py --dynamic-batch);
    // the other exports fix it to 1 and run their tiles one after another.
    nasview::runtime::init(None).expect("ONNX Runtime from `make setup`");
    let opts = cpu_options();
    let mut batched = Detector::load(&data("yolo_nas_s_fixture_dynbatch_int8.onnx"), &opts).unwrap();
    assert!(batched.batch_dynamic() && batched.batches());
    let fixed = Detector::load(&data("yolo_nas_s_fixture_int8.onnx"), &opts).unwrap();
    assert!(!fixed.batch_dynamic() && !fixed.batches());

    let photos: Vec<RgbImage> = PHOTOS.iter().map(|p| image::open(photo(p)).unwrap().to_rgb8()).collect();
    let (img, _) = mosaic(0, &photos);
    let auto = PassSettings { tiling: Tiling::Auto, region: None };
    let t = Thresholds { conf: 0.25, iou: 0.7 };
    let (cands, _) = batched.detect_tiled(&img, &auto, 0.05).unwrap();
    assert_eq!(cands.passes, 9, "1920x1080: the full frame and 4x2 tiles");
    batched.set_batching(false);
    assert!(!batched.batches());
    let (one_by_one, _) = batched.detect_tiled(&img, &auto, 0.05).unwrap();
    // One run of nine images or nine runs of one: the same candidates, the same detections.
    assert_eq!(cands.dets.len(), one_by_one.dets.len());
    for (a, b) in cands.dets.iter().zip(&one_by_one.dets) {
        assert_eq!(a.class_id, b.class_id);
        assert!(
            (a.score - b.score).abs() < 1e-4 && (0..4).all(|i| (a.bbox[i] - b.bbox[i]).abs() < 0.01),
            "{a:?} {b:?}"
        );
    }
    let dets = cands.select(&t);
    assert!(!dets.is_empty(), "the fixture finds the photos it memorised");
    assert_eq!(dets.len(), one_by_one.select(&t).len());
}
