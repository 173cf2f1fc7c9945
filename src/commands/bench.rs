//! `nasview bench`: the real pipeline stages on N frames per model, interleaved, with medians and p95.

use std::time::{Duration, Instant};

use anyhow::bail;
use image::RgbImage;
use serde::Serialize;

use crate::config::BenchConfig;
use crate::detector::tiles::PassSettings;
use crate::detector::{Detector, Spin, SpinSetting, Thresholds};
use crate::messages;
use crate::overlay::{self, Mapping, Scene};
use crate::progress::Progress;
use crate::record::encoder::H264Encoder;
use crate::source::{Source, Spec};

const STAGES: [&str; 5] = ["preprocess", "inference", "postprocess", "overlay", "encode"];
const WARMUP: usize = 5;

#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p95: f64,
}

/// Median and 95th percentile (nearest rank) of samples in milliseconds.
pub fn summarize(samples: &[f64]) -> Summary {
    if samples.is_empty() {
        return Summary { median: 0.0, p95: 0.0 };
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    let median = if s.len() % 2 == 1 { s[s.len() / 2] } else { (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0 };
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    Summary { median: round(median), p95: round(rank(0.95)) }
}

#[derive(Serialize)]
struct ModelResult {
    model: String,
    precision: String,
    /// `full frame`, or the tiles / zoom region measured and how their crops ran.
    passes: String,
    frames: usize,
    ms: serde_json::Map<String, serde_json::Value>,
    fps: f64,
    peak_rss_mb: f64,
}

#[derive(Serialize)]
struct Report {
    models: Vec<ModelResult>,
    /// The tracker on synthetic scenes (it needs many objects, which the bench frames do not have).
    track: Vec<TrackResult>,
    /// Decoding the source's raw camera frame to RGB (a `NAME.WxH.FORMAT` source only), per frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    decode: Option<Summary>,
}

#[derive(Serialize)]
struct TrackResult {
    objects: usize,
    frames: usize,
    ms: Summary,
}

/// Object counts of the synthetic tracking scenes.
const TRACK_OBJECTS: [usize; 2] = [10, 100];

/// The `track` stage: `Tracker::update` on synthetic scenes of 10 and 100 moving objects.
fn track_stage(frames: usize) -> Vec<TrackResult> {
    let frames = frames.max(30);
    TRACK_OBJECTS
        .iter()
        .map(|&n| TrackResult { objects: n, frames, ms: summarize(&crate::track::bench::measure(n, frames, WARMUP)) })
        .collect()
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}

/// The frames measured, read as they are needed and read again from the start when the source ends: memory stays
/// flat whatever `--frames` is (3000 frames held decoded took 4.7 GB). Reading is not measured: the stages are
/// timed one by one. The one seam where frames come in (the decode stage of a video reader plugs in here).
struct FrameCycle<'a> {
    spec: &'a Spec,
    name: &'a str,
    source: Option<Box<dyn Source>>,
    /// Frames read since the source was last opened.
    this_pass: u64,
}

impl<'a> FrameCycle<'a> {
    fn new(spec: &'a Spec, name: &'a str) -> FrameCycle<'a> {
        FrameCycle { spec, name, source: None, this_pass: 0 }
    }

    fn next(&mut self) -> anyhow::Result<RgbImage> {
        loop {
            let source = match &mut self.source {
                Some(s) => s,
                None => {
                    self.this_pass = 0;
                    self.source.insert(self.spec.open()?)
                }
            };
            match source.next_frame()? {
                Some(frame) => {
                    self.this_pass += 1;
                    return Ok(frame);
                }
                None if self.this_pass == 0 => bail!("source {} gave no frames", self.name),
                // The end: cycled from the start.
                None => self.source = None,
            }
        }
    }
}

/// Per frame, how long reading, decoding and converting a video to RGB takes (ms), over up to `n` frames after a
/// warm-up, a short file being read again from its start.
pub fn time_video_decodes(path: &std::path::Path, n: usize) -> anyhow::Result<Vec<f64>> {
    use crate::source::video::{Input, Video};
    let input = Input::File(path.to_path_buf());
    let mut video = Video::open(&input)?;
    let mut samples = Vec::with_capacity(n.min(100_000));
    let mut seen = 0;
    while samples.len() < n {
        let t = Instant::now();
        match video.next_frame()? {
            Some(_) => {
                seen += 1;
                if seen > WARMUP {
                    samples.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            None if seen == 0 => bail!("{} gave no frames", path.display()),
            None => video = Video::open(&input)?,
        }
    }
    Ok(samples)
}

struct Runner {
    detector: Detector,
    passes: PassSettings,
    /// What `passes` runs, for the table and the JSON.
    label: String,
    /// Made for the size of the frames; made again (untimed) when a photo of another size comes.
    encoder: Option<H264Encoder>,
    /// A frame size the encoder cannot take (above 3840x2160): its encode stage is skipped, said once.
    no_encoder: Option<(u32, u32)>,
    annexb: Vec<u8>,
    /// Frames encoded so far: their times, 30 a second.
    encoded: u64,
    samples: [Vec<f64>; 5],
    totals: Vec<f64>,
}

impl Runner {
    fn frame(&mut self, img: &RgbImage, t: &Thresholds, record: bool, progress: &Progress) -> anyhow::Result<()> {
        let start = Instant::now();
        let (cands, times) = self.detector.detect_tiled(img, &self.passes, t.conf)?;
        let t_post0 = Instant::now();
        let scene = Scene::new(cands.select(t));
        let select = t_post0.elapsed();
        let t_overlay = Instant::now();
        let mut annotated = img.clone();
        overlay::draw_scene(&mut annotated, &scene, &self.detector.info.labels, Mapping::IDENTITY);
        let overlay = t_overlay.elapsed();
        let size = img.dimensions();
        if self.encoder.as_ref().is_none_or(|e| e.size() != size) && self.no_encoder != Some(size) {
            self.encoder = match H264Encoder::new(img.width(), img.height(), 30.0) {
                Ok(enc) => Some(enc),
                Err(e) => {
                    // The other stages still say what they cost at this size: the bench goes on without this one.
                    let note = format!("bench: encode stage skipped for {}x{} frames: {e:#}", size.0, size.1);
                    progress.say(|| messages::note(&note));
                    self.no_encoder = Some(size);
                    None
                }
            };
        }
        let t_enc = Instant::now();
        let mut encoded = false;
        if let Some(enc) = self.encoder.as_mut().filter(|_| self.no_encoder != Some(size)) {
            enc.encode(&annotated, self.encoded * 1000 / 30, false, &mut self.annexb)?;
            self.encoded += 1;
            encoded = true;
        }
        let encode = t_enc.elapsed();
        if record {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let stage = [times.preprocess, times.inference, times.postprocess + select, overlay];
            for (s, d) in self.samples.iter_mut().zip(stage) {
                s.push(ms(d));
            }
            if encoded {
                self.samples[4].push(ms(encode));
            }
            self.totals.push(ms(start.elapsed()));
        }
        Ok(())
    }
}

/// ONNX Runtime spinning for `bench`, chosen as the first model loads: when the cores are free, spinning
/// inside each run (as `detect` spins) but stopped at its end, so the sessions of several models measured in
/// turn do not spin against each other (spinning between runs doubled their times, issue 13); off when other
/// processes load the cores. Measured on this shared 2-core machine under a load average of 12, 30
/// frames, off/on/run interleaved, two rounds, inference medians: YOLOv12n FP32 + INT8 together
/// off 215-351 / 110-162 ms, on 752-781 / 569-575 ms, run 627-711 / 444-528 ms; YOLO-NAS S INT8
/// fixture alone off 302-366 ms, on 499-576 ms, run 420-647 ms.
const SPIN_IDLE: Spin = Spin::Run;
const SPIN_BUSY: Spin = Spin::Off;

/// What is measured per model: the full frame, and with `--tiles` / `--region` those passes too, batched and
/// one by one when the model can batch (what batching gains). Items: (passes, label, batching).
fn variants(batch_dynamic: bool, passes: &PassSettings) -> Vec<(PassSettings, String, bool)> {
    let mut v = vec![(PassSettings::default(), "full frame".to_string(), true)];
    if *passes == PassSettings::default() {
        return v;
    }
    let what = match passes.region {
        Some(r) => format!("region {r}"),
        None => format!("tiles {}", passes.tiling),
    };
    if batch_dynamic {
        v.push((*passes, format!("{what}, batched"), true));
        v.push((*passes, format!("{what}, one by one"), false));
    } else {
        v.push((*passes, what, false));
    }
    v
}

pub fn run(cfg: &BenchConfig) -> anyhow::Result<u8> {
    let (models, load, t, args) = (&cfg.models, &cfg.load, &cfg.thresholds, cfg);
    if models.is_empty() {
        bail!("bench needs at least one --model");
    }
    let mut frames = FrameCycle::new(&cfg.source, &cfg.source_name);
    let first = frames.next()?;
    let (w, h) = first.dimensions();
    // A raw camera frame or a video: its decode is a stage of its own, timed here (the frames are decoded by the
    // source).
    let decode = match &cfg.source {
        Spec::RawFrame(path) => {
            let samples = crate::source::raw::RawFrame::open(path)?.time_decodes(args.frames + WARMUP)?;
            Some(summarize(&samples[WARMUP..]))
        }
        // At least 100 frames: decoding is cheap next to inference, and a median needs samples.
        Spec::Video(path) => Some(summarize(&time_video_decodes(path, args.frames.clamp(100, 10_000))?)),
        _ => None,
    };
    let mut runners = Vec::new();
    let mut load = load.spinning_or(SPIN_IDLE, SPIN_BUSY);
    for m in models {
        let first = Detector::load(m, &load)?;
        messages::note(&format!("bench: {}", first.info.summary()));
        // Every later session spins as the first one chose, so the models are measured on equal terms even
        // when the load around the run changes while they load.
        load.spin = SpinSetting::Fixed(first.info.spin.spin);
        let batch_dynamic = first.batch_dynamic();
        let mut first = Some(first);
        for (passes, label, batching) in variants(batch_dynamic, &cfg.passes) {
            // Each variant has its own session, so one's warm caches do not flatter another.
            let mut detector = match first.take() {
                Some(d) => d,
                None => Detector::load(m, &load)?,
            };
            detector.set_batching(batching);
            runners.push(Runner {
                detector,
                passes,
                label,
                encoder: None,
                no_encoder: None,
                annexb: Vec::new(),
                encoded: 0,
                samples: Default::default(),
                totals: Vec::new(),
            });
        }
    }
    // Interleaved, frame by frame, so drift of a noisy machine hits every model alike.
    let progress = Progress::new((args.frames + WARMUP) as u64, "frames");
    let mut img = first;
    for i in 0..args.frames + WARMUP {
        if i > 0 {
            img = frames.next()?;
        }
        for r in &mut runners {
            r.frame(&img, t, i >= WARMUP, &progress)?;
        }
        progress.inc();
    }
    drop(progress);
    let report = Report {
        models: runners
            .iter()
            .map(|r| {
                let mut ms = serde_json::Map::new();
                for (name, s) in STAGES.iter().zip(&r.samples) {
                    // A stage that never ran (encode at a size the encoder cannot take) is null, not 0 ms.
                    let v = if s.is_empty() { None } else { Some(summarize(s)) };
                    ms.insert(name.to_string(), serde_json::to_value(v).unwrap_or_default());
                }
                let mean_total = r.totals.iter().sum::<f64>() / r.totals.len().max(1) as f64;
                ModelResult {
                    model: r.detector.info.file_name.clone(),
                    precision: r.detector.info.precision.as_str().to_lowercase(),
                    passes: r.label.clone(),
                    frames: r.totals.len(),
                    ms,
                    fps: ((1000.0 / mean_total) * 100.0).round() / 100.0,
                    peak_rss_mb: peak_rss_mb(),
                }
            })
            .collect(),
        track: track_stage(args.frames),
        decode,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(0);
    }
    println!("{} frames of {} ({w}x{h}), {} threads, medians (p95) in ms", args.frames, cfg.source_name, load.threads);
    print!("{:<70}", "model");
    for s in STAGES {
        print!("{s:>18}");
    }
    println!("{:>9}", "fps");
    for (m, r) in report.models.iter().zip(&runners) {
        print!("{:<70}", format!("{} {}, {}", m.model, m.precision.to_uppercase(), m.passes));
        for s in &r.samples {
            let v = summarize(s);
            let cell = if s.is_empty() { "skipped".to_string() } else { format!("{:.2} ({:.2})", v.median, v.p95) };
            print!("{cell:>18}");
        }
        println!("{:>9.2}", m.fps);
    }
    let infer = |m: &ModelResult| m.ms.get("inference").and_then(|s| s["median"].as_f64()).unwrap_or(0.0);
    if let [a, b, ..] = &report.models[..] {
        println!(
            "ratio {} {} / {} {}: inference {:.2}x, end-to-end {:.2}x",
            a.model,
            a.passes,
            b.model,
            b.passes,
            infer(a) / infer(b).max(1e-9),
            b.fps / a.fps.max(1e-9)
        );
    }
    // Batched against one by one, for each model that batches.
    for pair in report.models.windows(2).filter(|p| p[0].model == p[1].model && p[1].passes.ends_with("one by one")) {
        println!(
            "batching the crops of {}: inference {:.2}x faster than one by one",
            pair[0].model,
            infer(&pair[1]) / infer(&pair[0]).max(1e-9)
        );
    }
    for t in &report.track {
        println!(
            "track (synthetic 1920x1080 scene, {} objects, {} frames): {:.3} ms median ({:.3} p95)",
            t.objects, t.frames, t.ms.median, t.ms.p95
        );
    }
    if let Some(d) = decode {
        let what =
            if matches!(cfg.source, Spec::Video(_)) { "video frame read and decoded" } else { "raw camera frame" };
        println!("decode ({what} to RGB): {:.2} ({:.2}) ms", d.median, d.p95);
    }
    println!("peak RSS {:.0} MiB (whole process)", peak_rss_mb());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p95_by_hand() {
        let s: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(summarize(&s), Summary { median: 10.5, p95: 19.0 });
        assert_eq!(summarize(&[3.0, 1.0, 2.0]), Summary { median: 2.0, p95: 3.0 });
        assert_eq!(summarize(&[]), Summary { median: 0.0, p95: 0.0 });
    }
}
