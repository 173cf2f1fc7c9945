//! Tag placement on real detections: the bundled photos and frames of the demo clip, tags placed the old
//! way (above each box) against the greedy placement; no two tags overlap unless one had no free place.

use nasview::detector::{Detection, Detector, Thresholds};
use nasview::source::Source;
use nasview::tags;

use crate::common::{cpu_options, model, photo, PHOTOS};

/// Overlapping tag pairs of one image, placed above the boxes and greedily; checks the greedy placement.
fn pairs(name: &str, img: (u32, u32), dets: &[Detection], labels: &[String]) -> (usize, usize) {
    let (_, boxes, placed) = nasview::overlay::tag_layout(img, dets, &[], labels, &[]);
    let sizes: Vec<(i32, i32)> = placed.iter().map(|t| (t[2], t[3])).collect();
    let old = tags::above(&boxes, &sizes, (img.0 as i32, img.1 as i32));
    for i in 0..placed.len() {
        for j in i + 1..placed.len() {
            if tags::overlap(&placed[i], &placed[j]) > 0 {
                assert!(
                    !tags::had_free_place(j, &boxes, &placed, (img.0 as i32, img.1 as i32), &[]),
                    "{name}: tag {j} covers tag {i} although it had a free place: {placed:?}"
                );
            }
        }
        let t = placed[i];
        assert!(t[0] >= 0 && t[1] >= 0 && t[0] + t[2] <= img.0 as i32 && t[1] + t[3] <= img.1 as i32, "{name}: {t:?}");
    }
    (tags::overlapping_pairs(&old), tags::overlapping_pairs(&placed))
}

#[test]
fn tags_of_one_frame_do_not_overlap_on_the_photos_and_the_demo() {
    nasview::runtime::init(None).expect("ONNX Runtime from `make setup`");
    let mut det = Detector::load(&model("yolov12n_int8.onnx"), &cpu_options()).unwrap();
    let labels = det.info.labels.clone();
    let t = Thresholds { conf: 0.25, iou: 0.7 };
    let (mut photos_old, mut photos_new, mut tags_seen) = (0, 0, 0);
    for name in PHOTOS {
        let img = image::open(photo(name)).unwrap().to_rgb8();
        let dets = det.detect(&img, t.conf).unwrap().0.select(&t);
        tags_seen += dets.len();
        let (old, new) = pairs(name, img.dimensions(), &dets, &labels);
        println!("{name}: {} tags, overlapping pairs {old} -> {new}", dets.len());
        (photos_old, photos_new) = (photos_old + old, photos_new + new);
    }
    // The demo clip: one frame a second for 30 s (every shot, the kites and the horses among them).
    let mut demo = nasview::source::demo::Demo::new(30).unwrap();
    let (mut demo_old, mut demo_new) = (0, 0);
    for k in 0..900 {
        let img = demo.next_frame().unwrap().expect("the demo never ends");
        if k % 30 == 0 {
            let dets = det.detect(&img, t.conf).unwrap().0.select(&t);
            let (old, new) = pairs(&format!("demo frame {k}"), img.dimensions(), &dets, &labels);
            (demo_old, demo_new) = (demo_old + old, demo_new + new);
        }
    }
    println!("overlapping tag pairs: photos {photos_old} -> {photos_new}, demo (30 frames) {demo_old} -> {demo_new}");
    assert!(tags_seen > 20, "{tags_seen} tags on the photos");
    assert!(photos_old > photos_new, "the photos had overlapping tags above their boxes ({photos_old})");
}
