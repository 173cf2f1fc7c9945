//! nasview's JPEG decoding and resize must give OpenCV's pixels exactly (references made by tests/data/make_opencv_refs.py).

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

/// (SHA-256 of the RGB pixels, file name, WxH) per bundled JPEG, as cv2.imread decodes it.
fn opencv_jpeg_hashes() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(data("opencv/jpeg_rgb.sha256")).expect("jpeg_rgb.sha256");
    let line = |l: &str| {
        let mut parts = l.split_whitespace().map(String::from);
        (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
    };
    text.lines().map(line).collect()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn jpeg_pixels_equal_opencv_imread() {
    let hashes = opencv_jpeg_hashes();
    assert_eq!(hashes.len(), 6, "one line per bundled JPEG");
    let mut image_crate_differs = 0;
    for (want, name, size) in &hashes {
        let ours = nasview::source::image_file::open(&photo(name)).expect("decode");
        assert_eq!(&format!("{}x{}", ours.width(), ours.height()), size, "{name}");
        assert_eq!(&sha256(ours.as_raw()), want, "{name}: pixels differ from cv2.imread's (make_opencv_refs.py)");
        // The reason for libjpeg-turbo: the `image` crate's own JPEG decoder gives other pixels.
        let other = image::load_from_memory(&std::fs::read(photo(name)).unwrap()).unwrap().to_rgb8();
        image_crate_differs += usize::from(&sha256(other.as_raw()) != want);
        let pairs = || ours.as_raw().iter().zip(other.as_raw());
        let (differ, max) = (pairs().filter(|(a, b)| a != b).count(), pairs().map(|(a, b)| a.abs_diff(*b)).max());
        println!("{name}: the image crate differs in {differ} of {} bytes, by up to {max:?}", ours.as_raw().len());
    }
    assert!(
        image_crate_differs > 0,
        "the image crate now decodes like libjpeg-turbo: the test no longer discriminates"
    );
    println!(
        "the image crate's JPEG decoder differs from cv2.imread on {image_crate_differs} of {} photos",
        hashes.len()
    );
}
