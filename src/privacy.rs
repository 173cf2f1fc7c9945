//! Blurring chosen classes (pure; wherever a scene is drawn): boxes pixelated into coarse blocks before any tag
//! is drawn, so a face or a body in them cannot be recognised in the window or in anything written.
//!
//! Pixelation, not a Gaussian: each block becomes the mean of at least 12 x 12 pixels and of a sixth of the box's
//! shorter side, so a face (about a seventh of a standing person's height) falls into one or two flat blocks and
//! no feature survives; it costs one pass over the box (a Gaussian strong enough for that needs a radius of
//! tens of pixels), and unlike a blur it cannot be sharpened back.

use image::RgbImage;

/// Side of the blocks a `w` x `h` box is pixelated with.
pub fn block_size(w: u32, h: u32) -> u32 {
    (w.min(h) / 6).max(12)
}

/// Pixelates `bbox` (image pixels, clipped to the image) in place.
pub fn pixelate(img: &mut RgbImage, bbox: [f32; 4]) {
    let (iw, ih) = img.dimensions();
    let clip = |v: f32, max: u32| (v.max(0.0).min(max as f32)) as u32;
    // Outward rounding: a box's edge pixels are blurred too.
    let (x1, y1) = (clip(bbox[0].floor(), iw), clip(bbox[1].floor(), ih));
    let (x2, y2) = (clip(bbox[2].ceil(), iw), clip(bbox[3].ceil(), ih));
    if x2 <= x1 || y2 <= y1 {
        return;
    }
    let block = block_size(x2 - x1, y2 - y1);
    let mut by = y1;
    while by < y2 {
        let bh = block.min(y2 - by);
        let mut bx = x1;
        while bx < x2 {
            let bw = block.min(x2 - bx);
            let mut sum = [0u64; 3];
            for y in by..by + bh {
                for x in bx..bx + bw {
                    let p = img.get_pixel(x, y).0;
                    (0..3).for_each(|c| sum[c] += u64::from(p[c]));
                }
            }
            let n = u64::from(bw * bh);
            let mean = image::Rgb(sum.map(|s| ((s + n / 2) / n) as u8));
            for y in by..by + bh {
                for x in bx..bx + bw {
                    img.put_pixel(x, y, mean);
                }
            }
            bx += bw;
        }
        by += bh;
    }
}

/// Variance of the Laplacian of the grey image inside `bbox`: a measure of detail (edges), high on a sharp
/// face, near zero on flat blocks. Used by the tests and the bench to show the blur works.
pub fn detail(img: &RgbImage, bbox: [u32; 4]) -> f64 {
    let [x1, y1, x2, y2] = bbox;
    let grey = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let mut values = Vec::new();
    for y in y1 + 1..y2.saturating_sub(1) {
        for x in x1 + 1..x2.saturating_sub(1) {
            values.push(grey(x - 1, y) + grey(x + 1, y) + grey(x, y - 1) + grey(x, y + 1) - 4.0 * grey(x, y));
        }
    }
    if values.is_empty() {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_means_and_nothing_outside_changes() {
        // A 24x24 checkerboard of 1-pixel squares inside a 40x40 image: one 12-pixel block is half black, half white.
        let mut img = RgbImage::from_fn(40, 40, |x, y| image::Rgb(if (x + y) % 2 == 0 { [0; 3] } else { [255; 3] }));
        let before = img.clone();
        pixelate(&mut img, [8.0, 8.0, 32.0, 32.0]);
        assert_eq!(img.get_pixel(8, 8).0, [128; 3], "mean of 72 black and 72 white pixels, rounded");
        assert_eq!(img.get_pixel(31, 31).0, [128; 3]);
        for (x, y, p) in img.enumerate_pixels() {
            if !(8..32).contains(&x) || !(8..32).contains(&y) {
                assert_eq!(p, before.get_pixel(x, y), "outside the box at {x},{y}");
            }
        }
        assert!(detail(&before, [8, 8, 32, 32]) > 10_000.0);
        assert_eq!(detail(&img, [8, 8, 32, 32]), 0.0);
        // A box reaching outside the image is clipped; an empty one does nothing.
        pixelate(&mut img, [-100.0, -100.0, 1e9, 4.0]);
        pixelate(&mut img, [10.0, 10.0, 10.0, 30.0]);
        assert_eq!(block_size(600, 300), 50);
        assert_eq!(block_size(30, 30), 12);
    }
}
