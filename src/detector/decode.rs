//! Raw model outputs -> candidate boxes in model-input pixels, one decoder per output layout (inference thread).
//!
//! Decoders take plain slices and shapes (no ort types) so they are testable without a model, and they never
//! trust the numbers: a candidate with a non-finite value, an inverted or empty box, a score outside [0, 1] or
//! a class out of range is dropped, and each decoder returns how many it dropped so the caller can warn.

use super::Detection;

/// A box and score a detector could really have meant: finite, `x1 < x2`, `y1 < y2`, score in [0, 1].
pub fn plausible(bbox: &[f32; 4], score: f32) -> bool {
    bbox.iter().all(|v| v.is_finite()) && bbox[0] < bbox[2] && bbox[1] < bbox[3] && (0.0..=1.0).contains(&score)
}

/// Above the threshold, or NaN (which no comparison passes, but which must be counted, not skipped).
fn candidate(score: f32, conf: f32) -> bool {
    score > conf || score.is_nan()
}

/// Whether any score of `row` is a candidate. Branch-free (`|`, not `any`'s early exit),
/// so the compiler vectorises it: a frame is 8400 rows of 80 scores and almost every row has none; the
/// early-exit `any` took 0.37 ms a frame on the demo, this 0.13 ms, most of it reading the 2.7 MB of scores
/// (`cargo bench --bench overhead`).
fn any_candidate(row: &[f32], conf: f32) -> bool {
    row.iter().fold(false, |hit, &s| hit | (s > conf) | s.is_nan())
}

/// YOLO-NAS raw export: `boxes [N, 4]` xyxy and `scores [N, C]` (sigmoid applied).
/// Every (anchor, class) pair scoring above `conf` is a candidate, as super-gradients' multi-label
/// `predict` does. Returns the number of implausible candidates dropped.
pub fn yolo_nas_raw(boxes: &[f32], scores: &[f32], classes: usize, conf: f32, out: &mut Vec<Detection>) -> usize {
    if classes == 0 {
        return 0;
    }
    let mut dropped = 0;
    for (row, b) in scores.chunks_exact(classes).zip(boxes.chunks_exact(4)) {
        if !any_candidate(row, conf) {
            continue;
        }
        let bbox = [b[0], b[1], b[2], b[3]];
        for (class_id, &score) in row.iter().enumerate().filter(|(_, &s)| candidate(s, conf)) {
            if plausible(&bbox, score) {
                out.push(Detection { class_id, score, bbox });
            } else {
                dropped += 1;
            }
        }
    }
    dropped
}

/// Anchors scanned together by [`ultralytics`]: their best scores fit in registers and each class row is
/// read as one contiguous run.
const ANCHOR_BLOCK: usize = 64;

/// Ultralytics YOLOv8–v12: `output0 [4 + C, N]` (channel-major), rows cx, cy, w, h, then class scores.
/// One candidate per anchor: its best class (the first of equal scores; a NaN wins, the last NaN), if above
/// `conf`. Returns the number dropped.
pub fn ultralytics(out0: &[f32], channels: usize, anchors: usize, conf: f32, out: &mut Vec<Detection>) -> usize {
    if channels <= 4 || out0.len() < channels * anchors {
        return 0;
    }
    let at = |c: usize, a: usize| out0[c * anchors + a];
    let mut dropped = 0;
    // Channel-major scores: walking one anchor's classes strides by `anchors` floats. A block of anchors
    // walks each class row contiguously instead, branch-free, so it vectorises.
    for start in (0..anchors).step_by(ANCHOR_BLOCK) {
        let n = ANCHOR_BLOCK.min(anchors - start);
        let mut best = [0u32; ANCHOR_BLOCK];
        let mut best_score = [f32::NEG_INFINITY; ANCHOR_BLOCK];
        for c in 0..channels - 4 {
            let row = &out0[(4 + c) * anchors + start..][..n];
            for ((b, bs), &s) in best.iter_mut().zip(best_score.iter_mut()).zip(row) {
                let take = s > *bs || s.is_nan();
                *b = if take { c as u32 } else { *b };
                *bs = if take { s } else { *bs };
            }
        }
        for (i, (&class, &score)) in best.iter().zip(&best_score).take(n).enumerate() {
            if !candidate(score, conf) {
                continue;
            }
            let a = start + i;
            let (cx, cy, w, h) = (at(0, a), at(1, a), at(2, a), at(3, a));
            let bbox = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
            if plausible(&bbox, score) {
                out.push(Detection { class_id: class as usize, score, bbox });
            } else {
                dropped += 1;
            }
        }
    }
    dropped
}

/// YOLO-NAS export with embedded NMS, flat format: rows `[batch, x1, y1, x2, y2, score, class]`.
/// Only image 0 of the batch is read. Returns the number dropped.
pub fn yolo_nas_flat(rows: &[f32], classes: usize, conf: f32, out: &mut Vec<Detection>) -> usize {
    yolo_nas_flat_image(rows, 0, classes, conf, out)
}

/// [`yolo_nas_flat`] for image `image` of a batch.
pub fn yolo_nas_flat_image(rows: &[f32], image: usize, classes: usize, conf: f32, out: &mut Vec<Detection>) -> usize {
    rows.chunks_exact(7)
        .filter(|r| r[0] == image as f32)
        .map(|r| push_checked([r[1], r[2], r[3], r[4]], r[5], r[6], classes, conf, out))
        .sum()
}

/// YOLO-NAS export with embedded NMS, batch format (image 0): `num_predictions`, `pred_boxes [K, 4]`,
/// `pred_scores [K]`, `pred_classes [K]`. Returns the number dropped.
pub fn yolo_nas_batch(
    num: i64,
    boxes: &[f32],
    scores: &[f32],
    class_ids: &[i64],
    classes: usize,
    conf: f32,
    out: &mut Vec<Detection>,
) -> usize {
    let k = (num.max(0) as usize).min(boxes.len() / 4).min(scores.len()).min(class_ids.len());
    (0..k)
        .map(|i| {
            let b = [boxes[i * 4], boxes[i * 4 + 1], boxes[i * 4 + 2], boxes[i * 4 + 3]];
            push_checked(b, scores[i], class_ids[i] as f32, classes, conf, out)
        })
        .sum()
}

/// Pushes one embedded-NMS row if it is a plausible candidate; 1 if it was dropped, else 0.
fn push_checked(b: [f32; 4], score: f32, class: f32, classes: usize, conf: f32, out: &mut Vec<Detection>) -> usize {
    if !candidate(score, conf) {
        return 0;
    }
    let valid_class = class.is_finite() && class >= 0.0 && (class as usize) < classes && class.fract() == 0.0;
    if !valid_class || !plausible(&b, score) {
        return 1;
    }
    out.push(Detection { class_id: class as usize, score, bbox: b });
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_yields_every_class_above_threshold() {
        // Two anchors, three classes. Anchor 0 scores 0.9 and 0.3 (both > 0.25); anchor 1 nothing.
        let boxes = [10.0, 20.0, 30.0, 40.0, 0.0, 0.0, 5.0, 5.0];
        let scores = [0.9, 0.1, 0.3, 0.2, 0.25, 0.0];
        let mut out = Vec::new();
        yolo_nas_raw(&boxes, &scores, 3, 0.25, &mut out);
        assert_eq!(
            out,
            vec![
                Detection { class_id: 0, score: 0.9, bbox: [10.0, 20.0, 30.0, 40.0] },
                Detection { class_id: 2, score: 0.3, bbox: [10.0, 20.0, 30.0, 40.0] },
            ]
        );
    }

    #[test]
    fn ultralytics_takes_best_class_and_converts_centre_size() {
        // Channel-major [4 + 2, 2]: anchor 0 = (cx 50, cy 40, w 20, h 10), scores (0.2, 0.7).
        let out0 = [50.0, 1.0, 40.0, 1.0, 20.0, 1.0, 10.0, 1.0, 0.2, 0.1, 0.7, 0.1];
        let mut out = Vec::new();
        ultralytics(&out0, 6, 2, 0.25, &mut out);
        assert_eq!(out, vec![Detection { class_id: 1, score: 0.7, bbox: [40.0, 35.0, 60.0, 45.0] }]);
    }

    #[test]
    fn flat_reads_image_zero_and_filters() {
        let rows = [
            0.0, 1.0, 2.0, 3.0, 4.0, 0.8, 5.0, // kept
            1.0, 1.0, 2.0, 3.0, 4.0, 0.9, 5.0, // other image
            0.0, 1.0, 2.0, 3.0, 4.0, 0.1, 2.0, // below conf
            0.0, 1.0, 2.0, 3.0, 4.0, 0.9, 99.0, // class out of range
        ];
        let mut out = Vec::new();
        yolo_nas_flat(&rows, 80, 0.25, &mut out);
        assert_eq!(out, vec![Detection { class_id: 5, score: 0.8, bbox: [1.0, 2.0, 3.0, 4.0] }]);
    }

    #[test]
    fn batch_reads_num_predictions_only() {
        let boxes = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.0, 0.0, 1.0, 1.0];
        let scores = [0.9, 0.5, 0.99];
        let classes = [3, 7, 1];
        let mut out = Vec::new();
        yolo_nas_batch(2, &boxes, &scores, &classes, 80, 0.25, &mut out);
        assert_eq!(
            out,
            vec![
                Detection { class_id: 3, score: 0.9, bbox: [1.0, 2.0, 3.0, 4.0] },
                Detection { class_id: 7, score: 0.5, bbox: [5.0, 6.0, 7.0, 8.0] },
            ]
        );
        // A num_predictions beyond the tensors is bounded by them.
        out.clear();
        yolo_nas_batch(1000, &boxes, &scores, &classes, 80, 0.25, &mut out);
        assert_eq!(out.len(), 3);
    }

    /// Scores with ties, NaNs, values on the threshold and out of [0, 1], from a fixed seed.
    fn awkward_scores(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                match (x >> 33) % 16 {
                    0 => f32::NAN,
                    1 => 0.25,
                    2 => 0.7,
                    3 => 1.5,
                    4..=6 => ((x >> 40) % 100) as f32 / 100.0,
                    _ => ((x >> 40) % 20) as f32 / 100.0,
                }
            })
            .collect()
    }

    #[test]
    fn branch_free_scans_equal_the_per_anchor_loops() {
        // The straightforward loops the scans replaced: per anchor, early exit / stride by `anchors`.
        fn raw_reference(boxes: &[f32], scores: &[f32], classes: usize, conf: f32) -> (Vec<Detection>, usize) {
            let (mut out, mut dropped) = (Vec::new(), 0);
            for a in 0..(boxes.len() / 4).min(scores.len() / classes) {
                let bbox = [boxes[a * 4], boxes[a * 4 + 1], boxes[a * 4 + 2], boxes[a * 4 + 3]];
                for c in 0..classes {
                    let s = scores[a * classes + c];
                    if s > conf || s.is_nan() {
                        if plausible(&bbox, s) {
                            out.push(Detection { class_id: c, score: s, bbox });
                        } else {
                            dropped += 1;
                        }
                    }
                }
            }
            (out, dropped)
        }
        fn ultralytics_reference(out0: &[f32], channels: usize, anchors: usize, conf: f32) -> (Vec<Detection>, usize) {
            let (mut out, mut dropped) = (Vec::new(), 0);
            for a in 0..anchors {
                let (mut best, mut best_score) = (0, f32::NEG_INFINITY);
                for c in 0..channels - 4 {
                    let s = out0[(4 + c) * anchors + a];
                    if s > best_score || s.is_nan() {
                        (best, best_score) = (c, s);
                    }
                }
                if !(best_score > conf || best_score.is_nan()) {
                    continue;
                }
                let [cx, cy, w, h] = [0, 1, 2, 3].map(|c| out0[c * anchors + a]);
                let bbox = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
                if plausible(&bbox, best_score) {
                    out.push(Detection { class_id: best, score: best_score, bbox });
                } else {
                    dropped += 1;
                }
            }
            (out, dropped)
        }
        // Anchor counts below, at and across the 64-anchor block, class counts odd and even.
        let mut seen = (0, 0);
        for (anchors, classes, seed) in [(1, 1, 1), (63, 3, 2), (64, 80, 3), (65, 7, 4), (200, 80, 5)] {
            let boxes: Vec<f32> = awkward_scores(anchors * 4, seed).iter().map(|v| v * 100.0).collect();
            let scores = awkward_scores(anchors * classes, seed + 100);
            let mut out = Vec::new();
            let dropped = yolo_nas_raw(&boxes, &scores, classes, 0.25, &mut out);
            let (want, want_dropped) = raw_reference(&boxes, &scores, classes, 0.25);
            assert_eq!((format!("{out:?}"), dropped), (format!("{want:?}"), want_dropped), "raw {anchors}x{classes}");
            seen.0 += want.len();
            seen.1 += want_dropped;

            let mut out0 = awkward_scores((4 + classes) * anchors, seed + 200);
            out0[..4 * anchors].iter_mut().for_each(|v| *v *= 100.0);
            out.clear();
            let dropped = ultralytics(&out0, 4 + classes, anchors, 0.25, &mut out);
            let (want, want_dropped) = ultralytics_reference(&out0, 4 + classes, anchors, 0.25);
            // Debug strings: NaN scores compare unequal, their text does not.
            assert_eq!(
                (format!("{out:?}"), dropped),
                (format!("{want:?}"), want_dropped),
                "ultralytics {anchors}x{classes}"
            );
            seen.0 += want.len();
            seen.1 += want_dropped;
        }
        assert!(seen.0 > 100 && seen.1 > 10, "the data has candidates and implausible ones: {seen:?}");
    }

    #[test]
    fn implausible_candidates_are_dropped_and_counted() {
        let mut out = Vec::new();
        assert_eq!(yolo_nas_raw(&[f32::NAN, 0.0, 1.0, 1.0], &[0.9], 1, 0.25, &mut out), 1);
        assert_eq!(yolo_nas_raw(&[0.0, 0.0, 1.0, 1.0], &[f32::NAN], 1, 0.25, &mut out), 1);
        assert_eq!(ultralytics(&[0.0, 0.0, f32::INFINITY, 1.0, 0.9], 5, 1, 0.25, &mut out), 1);
        // Inverted (x1 > x2), empty (y1 == y2), score above 1: each dropped once per candidate class.
        assert_eq!(yolo_nas_raw(&[5.0, 0.0, 1.0, 1.0], &[0.9, 0.8], 2, 0.25, &mut out), 2);
        assert_eq!(yolo_nas_raw(&[0.0, 3.0, 1.0, 3.0], &[0.9], 1, 0.25, &mut out), 1);
        assert_eq!(yolo_nas_raw(&[0.0, 0.0, 1.0, 1.0], &[1.5, 0.1], 2, 0.25, &mut out), 1);
        // A negative width in centre-size form is an inverted box.
        assert_eq!(ultralytics(&[10.0, 10.0, -4.0, 4.0, 0.9], 5, 1, 0.25, &mut out), 1);
        // Below the threshold is not dropped, just not a candidate.
        assert_eq!(yolo_nas_raw(&[5.0, 0.0, 1.0, 1.0], &[0.1], 1, 0.25, &mut out), 0);
        let rows = [0.0, 1.0, 2.0, 3.0, 4.0, 0.9, 99.0, 0.0, 3.0, 2.0, 1.0, 4.0, 0.9, 1.0];
        assert_eq!(yolo_nas_flat(&rows, 80, 0.25, &mut out), 2);
        assert!(out.is_empty());
        assert!(plausible(&[0.0, 0.0, 1.0, 1.0], 1.0) && plausible(&[0.0, 0.0, 1.0, 1.0], 0.0));
    }
}
