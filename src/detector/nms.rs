//! Class-aware non-maximum suppression and the confidence / class filter (inference and UI threads).

use super::Detection;

/// Intersection over union of two `[x1, y1, x2, y2]` boxes; 0 for disjoint or empty boxes. Computed in f64: areas of
/// boxes with coordinates near f32's maximum overflow f32 (inf / inf is NaN, and duplicates would never merge).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let [a, b] = [a, b].map(|r| r.map(f64::from));
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f64; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(&a) + area(&b) - inter;
    if union > 0.0 {
        (inter / union) as f32
    } else {
        0.0
    }
}

/// Sorts by descending score (ties keep their order, like a stable `torch.topk` would not promise,
/// but reproducibly).
pub fn sort_by_score(dets: &mut [Detection]) {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
}

/// Greedy NMS within each class over score-sorted `dets`: a box is dropped when its IoU with a kept box
/// of the same class is *above* `iou_threshold` (torchvision's rule). Keeps at most `max_keep`.
pub fn nms_sorted(dets: &[Detection], iou_threshold: f32, max_keep: usize, out: &mut Vec<Detection>) {
    out.clear();
    for d in dets {
        if out.len() >= max_keep {
            break;
        }
        let suppressed = out.iter().any(|k| k.class_id == d.class_id && iou(&k.bbox, &d.bbox) > iou_threshold);
        if !suppressed {
            out.push(*d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class_id: usize, score: f32, bbox: [f32; 4]) -> Detection {
        Detection { class_id, score, bbox }
    }

    #[test]
    fn iou_by_hand() {
        // (0,0,5,5) and (1,1,6,6): intersection 4x4 = 16, union 25 + 25 - 16 = 34.
        assert!((iou(&[0.0, 0.0, 5.0, 5.0], &[1.0, 1.0, 6.0, 6.0]) - 16.0 / 34.0).abs() < 1e-6);
        // Disjoint boxes have IoU 0, not 1 (the unclamped-intersection bug).
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[5.0, 5.0, 6.0, 6.0]), 0.0);
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[0.0, 0.0, 2.0, 2.0]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 0.0]), 0.0);
        // Areas of 1e76 overflow f32 but not f64: identical huge boxes overlap fully.
        assert_eq!(iou(&[0.0, 0.0, 1e38, 1e38], &[0.0, 0.0, 1e38, 1e38]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 3.4e38, 3.4e38], &[0.0, 0.0, 1.7e38, 3.4e38]), 0.5);
    }

    #[test]
    fn keeps_higher_score_of_overlapping_same_class() {
        let mut dets = vec![det(0, 0.6, [1.0, 1.0, 6.0, 6.0]), det(0, 0.9, [0.0, 0.0, 5.0, 5.0])];
        sort_by_score(&mut dets);
        let mut out = Vec::new();
        nms_sorted(&dets, 0.4, 300, &mut out);
        assert_eq!(out, vec![det(0, 0.9, [0.0, 0.0, 5.0, 5.0])]);
        // IoU 16/34 = 0.47 is not above 0.5: both stay.
        nms_sorted(&dets, 0.5, 300, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn keeps_both_when_classes_differ() {
        let dets = vec![det(0, 0.9, [0.0, 0.0, 5.0, 5.0]), det(1, 0.8, [0.0, 0.0, 5.0, 5.0])];
        let mut out = Vec::new();
        nms_sorted(&dets, 0.5, 300, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn stops_at_max_keep() {
        let dets: Vec<_> = (0..10)
            .map(|i| det(0, 1.0 - i as f32 * 0.01, [i as f32 * 10.0, 0.0, i as f32 * 10.0 + 5.0, 5.0]))
            .collect();
        let mut out = Vec::new();
        nms_sorted(&dets, 0.5, 3, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].score, 0.98);
    }
}
