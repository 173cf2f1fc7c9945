//! nasview's resize must give OpenCV's pixels exactly (references made by tests/data/make_opencv_refs.py).

use nasview::detector::preprocess::{resize_rgb, ResizeScratch};

use crate::common::{data, photo};

fn check(src: &image::RgbImage, reference: &str) {
    let want = image::open(data(&format!("opencv/{reference}"))).expect("reference PNG").to_rgb8();
    let (w, h) = (want.width() as usize, want.height() as usize);
    let mut got = vec![0u8; w * h * 3];
    let mut scratch = ResizeScratch::default();
    resize_rgb(src.as_raw(), src.width() as usize, src.height() as usize, &mut got, w, h, w * 3, &mut scratch);
    let diffs = got.iter().zip(want.as_raw()).filter(|(a, b)| a != b).count();
    assert_eq!(diffs, 0, "{reference}: {diffs} of {} bytes differ from OpenCV", got.len());
}

#[test]
fn photos_match_opencv_inter_linear() {
    let chelsea = image::open(photo("chelsea.png")).unwrap().to_rgb8();
    check(&chelsea, "chelsea_636x423.png");
    check(&chelsea, "chelsea_640x426.png");
    let astronaut = image::open(photo("astronaut.png")).unwrap().to_rgb8();
    check(&astronaut, "astronaut_636x636.png");
    check(&astronaut, "astronaut_317x317.png");
}

#[test]
fn synthetic_pattern_matches_opencv_at_odd_sizes() {
    let src = image::open(data("opencv/synthetic_97x61.png")).unwrap().to_rgb8();
    for size in ["40x25", "194x122", "13x200", "96x60", "97x61"] {
        check(&src, &format!("synthetic_to_{size}.png"));
    }
}
