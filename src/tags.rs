//! Where each box's tag goes (pure, any thread): greedy, best box first, so tags do not cover each other, the
//! HUD or the REC badge while a free place is near their box.

/// A rectangle `[x, y, w, h]` in image pixels.
pub type Rect = [i32; 4];

/// Area shared by two rectangles.
pub fn overlap(a: &Rect, b: &Rect) -> i64 {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    if w <= 0 || h <= 0 {
        0
    } else {
        w as i64 * h as i64
    }
}

/// A tag of `size` with its top-left corner at `x, y`, moved to stay inside an `img` sized image (as
/// `canvas::draw_tag` moves it).
fn inside((x, y): (i32, i32), size: (i32, i32), img: (i32, i32)) -> Rect {
    [x.min(img.0 - size.0).max(0), y.min(img.1 - size.1).max(0), size.0, size.1]
}

/// The places tried for the tag of `b` (`[x1, y1, x2, y2]`), in order: above the box, below it, inside its top
/// edge, inside its bottom edge, then the same at its right end.
fn candidates(b: [i32; 4], size: (i32, i32), img: (i32, i32)) -> [Rect; 8] {
    let (tw, th) = size;
    let [x1, y1, x2, y2] = b;
    let rows = [y1 - th, y2, y1, y2 - th];
    std::array::from_fn(|i| {
        let x = if i < 4 { x1 } else { x2 - tw };
        inside((x, rows[i % 4]), size, img)
    })
}

/// The old rule, for comparison: above the box, inside its top edge when there is no room above.
pub fn above(boxes: &[[i32; 4]], sizes: &[(i32, i32)], img: (i32, i32)) -> Vec<Rect> {
    boxes
        .iter()
        .zip(sizes)
        .map(|(b, &s)| inside((b[0], if b[1] - s.1 >= 0 { b[1] - s.1 } else { b[1] }), s, img))
        .collect()
}

/// Tags for `boxes` (best first, image pixels) of `sizes`, in an `img` sized image: each takes the first
/// place that covers neither a tag placed before it nor anything in `avoid`; when every place covers
/// something, the one that covers least.
pub fn place(boxes: &[[i32; 4]], sizes: &[(i32, i32)], img: (i32, i32), avoid: &[Rect]) -> Vec<Rect> {
    let mut placed: Vec<Rect> = Vec::with_capacity(boxes.len());
    for (b, &s) in boxes.iter().zip(sizes) {
        let covered = |r: &Rect| placed.iter().chain(avoid).map(|o| overlap(r, o)).sum::<i64>();
        let options = candidates(*b, s, img);
        let best = options.iter().find(|r| covered(r) == 0).copied().unwrap_or_else(|| {
            // Ties go to the earlier place: above the box when all are equal.
            *options.iter().min_by_key(|r| covered(r)).unwrap_or(&options[0])
        });
        placed.push(best);
    }
    placed
}

/// Pairs of tags that overlap.
pub fn overlapping_pairs(tags: &[Rect]) -> usize {
    (0..tags.len()).map(|i| (i + 1..tags.len()).filter(|&j| overlap(&tags[i], &tags[j]) > 0).count()).sum()
}

/// Whether tag `i` of a placement had a free place: one of its places covers no earlier tag and nothing in
/// `avoid` (a placement with an overlap is right only when this is false for the later tag of the pair).
pub fn had_free_place(i: usize, boxes: &[[i32; 4]], tags: &[Rect], img: (i32, i32), avoid: &[Rect]) -> bool {
    let size = (tags[i][2], tags[i][3]);
    candidates(boxes[i], size, img).iter().any(|r| tags[..i].iter().chain(avoid).all(|o| overlap(r, o) == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_tags_take_turns_above_and_below() {
        // Two people side by side, 10 px apart, tags 60x16 (wider than the boxes): above both, the second
        // tag would cover the first, so it goes below its box.
        let boxes = [[100, 100, 140, 200], [150, 100, 190, 200]];
        let sizes = [(60, 16), (60, 16)];
        let old = above(&boxes, &sizes, (640, 480));
        assert_eq!(old, [[100, 84, 60, 16], [150, 84, 60, 16]]);
        assert_eq!(overlapping_pairs(&old), 1);
        let new = place(&boxes, &sizes, (640, 480), &[]);
        assert_eq!(new, [[100, 84, 60, 16], [150, 200, 60, 16]]);
        assert_eq!(overlapping_pairs(&new), 0);
        // The HUD over the first box's tag place: that tag goes below its box instead.
        let hud = [0, 0, 400, 90];
        let new = place(&boxes, &sizes, (640, 480), &[hud]);
        assert_eq!(new[0], [100, 200, 60, 16]);
        assert!(new.iter().all(|t| overlap(t, &hud) == 0) && overlapping_pairs(&new) == 0, "{new:?}");
    }

    #[test]
    fn with_no_free_place_the_least_covered_one_is_taken() {
        // Three tags for one tiny box in a 64x20 image: the image holds one 60x16 tag, so every place overlaps.
        let boxes = [[2, 2, 10, 10]; 3];
        let tags = place(&boxes, &[(60, 16); 3], (64, 20), &[]);
        assert!(tags.iter().all(|t| t[0] >= 0 && t[1] >= 0 && t[0] + 60 <= 64 && t[1] + 16 <= 20), "{tags:?}");
        assert!(!had_free_place(1, &boxes, &tags, (64, 20), &[]));
        assert!(had_free_place(0, &boxes, &tags, (64, 20), &[]));
        assert_eq!(overlap(&[0, 0, 10, 10], &[5, 5, 10, 10]), 25);
        assert_eq!(overlap(&[0, 0, 10, 10], &[10, 0, 10, 10]), 0, "touching is not overlapping");
    }
}
