//! Real photos through real models and the real ONNX Runtime, checked against hand-measured boxes.

use nasview::detector::nms::iou;
use nasview::detector::{Detection, Detector, Precision, Thresholds};

use crate::common::{cpu_options, data, model, photo};

fn load(path: &std::path::Path) -> Detector {
    nasview::runtime::init(None).expect("ONNX Runtime from `make setup`");
    let opts = cpu_options();
    Detector::load(path, &opts).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

fn detect(det: &mut Detector, name: &str) -> Vec<Detection> {
    let img = image::open(photo(name)).unwrap().to_rgb8();
    let (cands, _) = det.detect(&img, 0.25).unwrap();
    cands.select(&Thresholds { conf: 0.25, iou: 0.7 })
}

/// Boxes measured by eye on the photos: (photo, COCO class, class name, box).
const HAND_BOXES: [(&str, usize, &str, [f32; 4]); 3] = [
    ("astronaut.png", 0, "person", [18.0, 14.0, 365.0, 512.0]),
    ("chelsea.png", 15, "cat", [0.0, 0.0, 400.0, 300.0]),
    ("coffee.png", 41, "cup", [172.0, 18.0, 410.0, 280.0]),
];

fn finds_hand_measured_objects(det: &mut Detector) {
    for (name, class, label, hand) in HAND_BOXES {
        let dets = detect(det, name);
        let best = dets.iter().filter(|d| d.class_id == class).map(|d| iou(&d.bbox, &hand)).fold(0.0f32, f32::max);
        assert!(best >= 0.5, "{}: no {label} box with IoU >= 0.5 against {hand:?}; got {dets:?}", det.info.file_name);
        assert_eq!(det.info.labels[class], label);
    }
}

#[test]
fn yolov12n_fp32_finds_person_cat_cup() {
    let mut det = load(&model("yolov12n.onnx"));
    assert_eq!(det.info.precision, Precision::Fp32);
    finds_hand_measured_objects(&mut det);
}

#[test]
fn yolov12n_int8_finds_the_same_objects() {
    let mut det = load(&model("yolov12n_int8.onnx"));
    assert_eq!(det.info.precision, Precision::Int8);
    finds_hand_measured_objects(&mut det);
}

#[test]
fn yolo_nas_fixture_decodes_its_memorised_photos() {
    // A structurally real super-gradients YOLO-NAS S export (INT8), fine-tuned on the bundled photos.
    let mut det = load(&data("yolo_nas_s_fixture_int8.onnx"));
    assert!(det.info.family.name().starts_with("YOLO-NAS"), "{}", det.info.family.name());
    assert_eq!(det.info.precision, Precision::Int8);
    finds_hand_measured_objects(&mut det);
}

#[test]
fn boxes_stay_inside_the_image_and_are_sorted() {
    let mut det = load(&model("yolov12n.onnx"));
    let img = image::open(photo("kite.jpg")).unwrap().to_rgb8();
    let (cands, _) = det.detect(&img, 0.05).unwrap();
    let dets = cands.select(&Thresholds { conf: 0.05, iou: 0.7 });
    assert!(dets.len() > 10, "kite.jpg has many objects at conf 0.05: {}", dets.len());
    for d in &dets {
        let [x1, y1, x2, y2] = d.bbox;
        assert!(0.0 <= x1 && x1 <= x2 && x2 <= 1352.0 && 0.0 <= y1 && y1 <= y2 && y2 <= 900.0, "{d:?}");
    }
    assert!(dets.windows(2).all(|w| w[0].score >= w[1].score));
    // Raising the threshold on the same candidates only removes detections.
    let fewer = cands.select(&Thresholds { conf: 0.5, iou: 0.7 });
    assert!(fewer.len() < dets.len() && fewer.iter().all(|d| d.score > 0.5));
}

#[test]
fn yolo_nas_640x384_export_letterboxes_to_its_own_shape() {
    // The same fixture weights exported at 640x384 (super-gradients, any multiple of 32).
    let mut wide = load(&data("yolo_nas_s_fixture_640x384_int8.onnx"));
    assert_eq!((wide.info.input.width, wide.info.input.height), (640, 384));
    // Photos of other shapes still fit inside it (the cat and the cup are memorised well enough).
    for (name, class, _, hand) in &HAND_BOXES[1..] {
        let dets = detect(&mut wide, name);
        let best = dets.iter().filter(|d| d.class_id == *class).map(|d| iou(&d.bbox, hand)).fold(0.0f32, f32::max);
        assert!(best >= 0.5, "{name}: {dets:?}");
    }
    // A 16:9 frame sits at the same scale in 640x640 and 640x384 (636/960 either way): both find the astronaut.
    let mut square = load(&data("yolo_nas_s_fixture_int8.onnx"));
    let spec = nasview::source::Spec::parse("demo", &Default::default(), None).unwrap();
    let frame = spec.open().unwrap().next_frame().unwrap().unwrap();
    assert_eq!(frame.dimensions(), (960, 540));
    let person = |det: &mut Detector| {
        let (cands, _) = det.detect(&frame, 0.25).unwrap();
        let dets = cands.select(&Thresholds { conf: 0.25, iou: 0.7 });
        dets.into_iter().find(|d| d.class_id == 0 && d.score > 0.8).unwrap_or_else(|| panic!("no person"))
    };
    let (a, b) = (person(&mut square), person(&mut wide));
    assert!(iou(&a.bbox, &b.bbox) > 0.9, "{a:?} vs {b:?}");
}
