//! Class names: COCO-80 by default, the model's `names` metadata when present, or a user's file.

use std::path::Path;

use anyhow::{bail, Context};

pub const COCO80: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// Reads one label per line (blank lines at the end ignored).
pub fn from_file(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read labels file {} (one class name per line)", path.display()))?;
    let labels: Vec<String> = text.trim_end().lines().map(|l| l.trim().to_string()).collect();
    if labels.is_empty() || labels.iter().all(|l| l.is_empty()) {
        bail!("labels file {} is empty: put one class name per line", path.display());
    }
    Ok(labels)
}

/// Parses a Python dict literal `{0: 'person', 1: "bicycle"}` as Ultralytics (and our export script)
/// write into the ONNX `names` metadata. Returns `None` when it is not one.
pub fn parse_names_metadata(text: &str) -> Option<Vec<String>> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut pairs = Vec::new();
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let colon = rest.find(':')?;
        let id: usize = rest[..colon].trim().parse().ok()?;
        let after = rest[colon + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let end = after[1..].find(quote)? + 1;
        pairs.push((id, after[1..end].to_string()));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    let n = pairs.iter().map(|(i, _)| i + 1).max()?;
    let mut names: Vec<String> = (0..n).map(|i| format!("class{i}")).collect();
    for (i, name) in pairs {
        names[i] = name;
    }
    Some(names)
}

/// The name of a class id, or `class<N>` when the list is shorter than the model's outputs.
pub fn name(labels: &[String], class_id: usize) -> String {
    labels.get(class_id).cloned().unwrap_or_else(|| format!("class{class_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ultralytics_names() {
        let names = parse_names_metadata("{0: 'person', 1: \"bicycle\", 2: 'traffic light'}").unwrap();
        assert_eq!(names, vec!["person", "bicycle", "traffic light"]);
        assert_eq!(parse_names_metadata("{1: 'b'}").unwrap(), vec!["class0", "b"]);
        assert_eq!(parse_names_metadata("not a dict"), None);
        assert_eq!(parse_names_metadata("{}"), None);
    }
}
