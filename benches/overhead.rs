//! `cargo bench --bench overhead`: the per-frame work around inference (letterbox, decode, select, overlay),
//! each stage repeated on the demo clip's frames with the YOLO-NAS S INT8 fixture's real outputs.

// `nasview bench` times the same stages once per frame next to a 60 ms inference, where a stage of 0.3 ms is a
// noisy median; here each stage runs alone, many times, so a change to one shows clearly.

use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use nasview::detector::preprocess::{Letterbox, LetterboxRule, Preprocessor};
use nasview::detector::provider::Device;
use nasview::detector::{
    decode, nms, Candidates, Detection, Detector, Limits, LoadOptions, Spin, SpinSetting, Thresholds,
};
use nasview::overlay::{self, Mapping, Scene};
use nasview::source::{demo::Demo, Source};
use ort::session::Session;
use ort::value::TensorRef;

const FRAMES: usize = 40;
const ROUNDS: usize = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median over `ROUNDS` passes over every frame of the time of one call, in ms.
fn time(mut f: impl FnMut(usize)) -> f64 {
    let mut samples = Vec::with_capacity(ROUNDS * FRAMES);
    for _ in 0..ROUNDS {
        for i in 0..FRAMES {
            let t = Instant::now();
            f(i);
            samples.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    median(samples)
}

fn main() -> anyhow::Result<()> {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/yolo_nas_s_fixture_int8.onnx");
    let mut demo = Demo::new(30)?;
    let frames: Vec<RgbImage> =
        (0..FRAMES).map(|_| demo.next_frame().map(|f| f.expect("demo frame"))).collect::<Result<_, _>>()?;
    let (fw, fh) = frames[0].dimensions();
    let opts = LoadOptions {
        device: Device::Cpu,
        strict_device: false,
        threads: 2,
        labels_file: None,
        spin: SpinSetting::Fixed(Spin::Off),
    };
    let mut detector = Detector::load(&model, &opts)?;
    let labels = detector.info.labels.clone();
    let (iw, ih) = (detector.info.input.width, detector.info.input.height);
    let lb = Letterbox::new(LetterboxRule::YoloNas, fw, fh, iw, ih);
    let t = Thresholds { conf: 0.25, iou: 0.7 };

    // The model's raw outputs per frame (boxes [N, 4], scores [N, C]), from a session of our own.
    let env = nasview::runtime::init(None)?;
    let ort_err = |e: ort::Error<ort::session::builder::SessionBuilder>| anyhow::anyhow!(e.to_string());
    let mut session = Session::builder(env)?.with_intra_threads(2).map_err(ort_err)?.commit_from_file(&model)?;
    let input_name = session.inputs()[0].name().to_string();
    let mut pre = Preprocessor::default();
    let mut raw = Vec::new();
    let mut scenes = Vec::new();
    for f in &frames {
        let input = TensorRef::from_array_view(([1i64, 3, ih as i64, iw as i64], pre.letterbox_f32(f.as_raw(), &lb)))?;
        let out = session.run(ort::inputs![input_name.as_str() => input])?;
        let mut tensors: Vec<(Vec<i64>, Vec<f32>)> = Vec::new();
        for (_, v) in out.iter() {
            let (shape, data) = v.try_extract_tensor::<f32>()?;
            tensors.push((shape.to_vec(), data.to_vec()));
        }
        tensors.sort_by_key(|(s, _)| s.last().copied());
        let [(_, boxes), (s_shape, scores)] = <[_; 2]>::try_from(tensors).expect("two outputs");
        raw.push((boxes, scores, *s_shape.last().expect("scores shape") as usize));
        let (cands, _) = detector.detect(f, t.conf)?;
        scenes.push(Scene::new(cands.select(&t)));
    }
    let boxes_drawn: usize = scenes.iter().map(|s| s.detections.len()).sum();

    let preprocess = time(|i| {
        std::hint::black_box(pre.letterbox_f32(frames[i].as_raw(), &lb));
    });
    // Rows split between two threads, as `detect` does when the cores are idle.
    let mut pre2 = Preprocessor::new(true);
    let preprocess2 = time(|i| {
        std::hint::black_box(pre2.letterbox_f32(frames[i].as_raw(), &lb));
    });
    let mut out: Vec<Detection> = Vec::new();
    let decode = time(|i| {
        out.clear();
        let (b, s, c) = &raw[i];
        decode::yolo_nas_raw(b, s, *c, t.conf, &mut out);
    });
    // What `Detector::detect` does after decoding (frame pixels, score order, top-k), then the thresholds.
    let limits = Limits { pre_nms_top_k: 1024, max_det: 300 };
    let candidates: Vec<Candidates> = raw
        .iter()
        .map(|(b, s, c)| {
            let mut dets = Vec::new();
            decode::yolo_nas_raw(b, s, *c, t.conf, &mut dets);
            let mut dets: Vec<Detection> =
                dets.iter().map(|d| Detection { bbox: lb.box_from_model(d.bbox), ..*d }).collect();
            nms::sort_by_score(&mut dets);
            dets.truncate(limits.pre_nms_top_k);
            Candidates {
                dets,
                frame_w: fw,
                frame_h: fh,
                needs_nms: true,
                limits: Some(limits),
                passes: 1,
                cut: Vec::new(),
            }
        })
        .collect();
    let sort = time(|i| {
        out.clear();
        out.extend(candidates[i].dets.iter().rev());
        nms::sort_by_score(&mut out);
    });
    let select = time(|i| {
        std::hint::black_box(candidates[i].select(&t));
    });
    let clone_draw = time(|i| {
        let mut img = frames[i].clone();
        overlay::draw_scene(&mut img, &scenes[i], &labels, Mapping::IDENTITY);
        std::hint::black_box(&img);
    });
    let mut canvas = frames[0].clone();
    let copy = time(|i| {
        canvas.copy_from_slice(frames[i].as_raw());
        std::hint::black_box(&canvas);
    });
    // Drawn again and again over the same copies: the same work each time.
    let mut canvases = frames.clone();
    let draw = time(|i| overlay::draw_scene(&mut canvases[i], &scenes[i], &labels, Mapping::IDENTITY));
    println!(
        "{FRAMES} demo frames {fw}x{fh} into {iw}x{ih}, {ROUNDS} rounds, medians in ms; {:.1} candidates and {:.1} boxes \
         per frame",
        candidates.iter().map(|c| c.dets.len()).sum::<usize>() as f64 / FRAMES as f64,
        boxes_drawn as f64 / FRAMES as f64
    );
    println!("preprocess {preprocess:.3} (two threads {preprocess2:.3})  decode {decode:.3}  sort {sort:.3}  select {select:.3}");
    println!("overlay: clone + draw {clone_draw:.3}  copy {copy:.3}  draw {draw:.3}");
    Ok(())
}
