//! Per-class thresholds: `detect --conf 0.25,person=0.9` on the bundled photos against `--conf 0.25`.

use crate::common::{model, nasview, root};

/// (image, label, score, box) of every detection `detect --json` prints with these arguments.
fn detections(conf: &str) -> Vec<(String, String, f64, Vec<f64>)> {
    let photos = root().join("assets/photos");
    let m = model("yolov12n_int8.onnx");
    let out = nasview(&["detect", "--json", "--conf", conf, "--model", m.to_str().unwrap(), photos.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut all = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        for d in j["detections"].as_array().unwrap() {
            let b = d["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let image = j["image"].as_str().unwrap().to_string();
            all.push((image, d["label"].as_str().unwrap().to_string(), d["score"].as_f64().unwrap(), b));
        }
    }
    all
}

#[test]
fn detect_cuts_people_at_their_own_threshold_and_keeps_the_rest() {
    let base = detections("0.25");
    let per_class = detections("0.25,person=0.9");
    let (people, others): (Vec<_>, Vec<_>) = base.iter().cloned().partition(|d| d.1 == "person");
    let kept_people: Vec<_> = people.iter().filter(|d| d.2 > 0.9).cloned().collect();
    assert!(people.len() > kept_people.len(), "some people below 0.9 to drop: {people:?}");
    assert!(others.iter().any(|d| d.2 < 0.5), "other classes down near 0.25: {others:?}");
    let (got_people, got_others): (Vec<_>, Vec<_>) = per_class.into_iter().partition(|d| d.1 == "person");
    assert_eq!(got_people, kept_people, "people above 0.9 only");
    assert_eq!(got_others, others, "every other class as at --conf 0.25");
    // A class the model does not have is refused with the valid names.
    let out =
        nasview(&["detect", "--conf", "0.25,unicorn=0.5", root().join("assets/photos/dog.jpg").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--conf unicorn=0.5: no such class") && err.contains("person"), "{err}");
}
