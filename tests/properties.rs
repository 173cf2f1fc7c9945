//! Property tests: decoders and selection take any shapes and values (NaN, inf, negative sizes, empty).

use nasview::detector::preprocess::{Letterbox, LetterboxRule};
use nasview::detector::{decode, Candidates, Detection, Limits, Thresholds};
use proptest::prelude::*;

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        -2000.0f32..2000.0,
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(0.0),
        0.0f32..1.0,
    ]
}

/// Decoded candidates as the detector would hand them on: mapped to the frame through a letterbox.
fn select_all(raw: Vec<Detection>, frame: (u32, u32), rule: LetterboxRule, t: &Thresholds) -> Vec<Detection> {
    let lb = Letterbox::new(rule, frame.0, frame.1, 640, 640);
    let mut dets: Vec<Detection> =
        raw.into_iter().map(|d| Detection { bbox: lb.box_from_model(d.bbox), ..d }).collect();
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let c = Candidates {
        dets,
        frame_w: frame.0,
        frame_h: frame.1,
        needs_nms: true,
        limits: Some(Limits { pre_nms_top_k: 1024, max_det: 300 }),
        passes: 1,
        cut: Vec::new(),
    };
    c.select(t)
}

fn inside(d: &Detection, (w, h): (u32, u32)) -> bool {
    let [x1, y1, x2, y2] = d.bbox;
    [x1, x2].iter().all(|x| (0.0..=w as f32).contains(x))
        && [y1, y2].iter().all(|y| (0.0..=h as f32).contains(y))
        && d.score.is_finite()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn raw_yolo_nas_never_panics_or_escapes(
        boxes in prop::collection::vec(any_f32(), 0..64),
        scores in prop::collection::vec(any_f32(), 0..64),
        classes in 0usize..6,
        conf in 0.0f32..1.0,
        iou in 0.0f32..1.0,
        frame in (1u32..3000, 1u32..3000),
    ) {
        let mut out = Vec::new();
        decode::yolo_nas_raw(&boxes, &scores, classes, conf, &mut out);
        for d in select_all(out, frame, LetterboxRule::YoloNas, &Thresholds { conf, iou }) {
            prop_assert!(inside(&d, frame), "{:?} outside {:?}", d, frame);
        }
    }

    #[test]
    fn ultralytics_never_panics_or_escapes(
        data in prop::collection::vec(any_f32(), 0..128),
        channels in 0usize..12,
        anchors in 0usize..16,
        conf in 0.0f32..1.0,
        frame in (1u32..3000, 1u32..3000),
    ) {
        let mut out = Vec::new();
        decode::ultralytics(&data, channels, anchors, conf, &mut out);
        for d in select_all(out, frame, LetterboxRule::Ultralytics, &Thresholds { conf, iou: 0.7 }) {
            prop_assert!(inside(&d, frame));
        }
    }

    #[test]
    fn embedded_nms_never_panics_or_escapes(
        rows in prop::collection::vec(any_f32(), 0..70),
        num in -5i64..50,
        classes_out in prop::collection::vec(-3i64..100, 0..10),
        conf in 0.0f32..1.0,
        frame in (1u32..3000, 1u32..3000),
    ) {
        let mut out = Vec::new();
        decode::yolo_nas_flat(&rows, 80, conf, &mut out);
        let scores: Vec<f32> = rows.iter().take(10).copied().collect();
        decode::yolo_nas_batch(num, &rows, &scores, &classes_out, 80, conf, &mut out);
        prop_assert!(out.iter().all(|d| d.class_id < 80));
        for d in select_all(out, frame, LetterboxRule::YoloNas, &Thresholds { conf, iou: 0.7 }) {
            prop_assert!(inside(&d, frame));
        }
    }
}
