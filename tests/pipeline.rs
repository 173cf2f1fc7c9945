//! The threaded pipeline with a source faster than inference: one frame in flight, drops counted,
//! and inference always takes the newest frame.

use std::sync::atomic::Ordering;

use nasview::config::ModelConfig;
use nasview::detector::Thresholds;
use nasview::pipeline::{InferenceSettings, Pipeline, PipelineConfig};
use nasview::source::{CameraRequest, Spec};

use crate::common::{cpu_options, model};

#[test]
fn fast_source_slow_inference_keeps_only_the_newest_frame() {
    nasview::runtime::init(None).unwrap();
    // 500 fps of demo frames against an inference of tens of milliseconds.
    let spec = Spec::parse("demo", &CameraRequest::default(), Some(500)).unwrap();
    let load = cpu_options();
    let thresholds = Thresholds { conf: 0.25, iou: 0.7 };
    let model = ModelConfig {
        path: model("yolov12n_int8.onnx"),
        load,
        classes: None,
        class_conf: Default::default(),
        thresholds,
        passes: Default::default(),
    };
    let cfg = PipelineConfig {
        model,
        settings: InferenceSettings { floor: 0.05, passes: Default::default() },
        lossless: false,
        display_frames: false,
    };
    let pipeline = Pipeline::start(spec, cfg).unwrap();
    let mut last_seq = None;
    for _ in 0..8 {
        assert!(pipeline.results.len() <= 1, "the result channel holds at most one");
        let p = pipeline.results.recv().expect("a result");
        // When inference took this frame it was the newest captured, or one behind (captured meanwhile).
        assert!(
            p.newest_seq_at_pickup - p.frame.seq <= 1,
            "frame {} taken when {} was newest",
            p.frame.seq,
            p.newest_seq_at_pickup
        );
        assert!(last_seq.is_none_or(|l| p.frame.seq > l), "sequence numbers increase");
        last_seq = Some(p.frame.seq);
    }
    let captured = pipeline.stats.captured.load(Ordering::Relaxed);
    let dropped = pipeline.stats.capture_dropped.load(Ordering::Relaxed);
    let processed = pipeline.stats.processed.load(Ordering::Relaxed);
    assert!(dropped > 0, "a source faster than inference drops frames: {captured} captured, {processed} processed");
    // Every captured frame was processed, dropped, or is the one in flight / waiting.
    assert!(captured - dropped - processed <= 2, "{captured} captured, {dropped} dropped, {processed} processed");
    pipeline.join(std::time::Duration::from_secs(5)).unwrap();
}
