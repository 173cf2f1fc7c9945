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

/// More classes than any detector has: a class id above this in metadata is a broken or hostile file.
pub const MAX_CLASSES: usize = 100_000;

/// Reads one label per line (blank lines at the end ignored).
pub fn from_file(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read labels file {} (one class name per line)", path.display()))?;
    let labels: Vec<String> = text.trim_end().lines().map(|l| l.trim().to_string()).collect();
    if labels.is_empty() || labels.iter().all(|l| l.is_empty()) {
        bail!("labels file {} is empty: put one class name per line", path.display());
    }
    if labels.len() > MAX_CLASSES {
        bail!(
            "labels file {} has {} lines, more than {MAX_CLASSES} classes: is it a labels file?",
            path.display(),
            labels.len()
        );
    }
    Ok(labels)
}

/// Parses a Python dict literal `{0: 'person', 1: "bicycle"}` as Ultralytics (and our export script)
/// write into the ONNX `names` metadata. `Ok(None)` when it is not one; an error when its class ids are not
/// exactly 0 to n-1 (dense, each once) below [`MAX_CLASSES`], so a hostile id never sizes an allocation.
pub fn parse_names_metadata(text: &str) -> anyhow::Result<Option<Vec<String>>> {
    let Some(pairs) = parse_dict(text) else {
        return Ok(None);
    };
    let mut ids = Vec::with_capacity(pairs.len());
    for (id, name) in pairs {
        let Ok(id) = id.parse::<u64>() else {
            bail!("class id {id:?} is not a whole number");
        };
        if id >= MAX_CLASSES as u64 {
            bail!("class id {id} is above the limit of {MAX_CLASSES} classes");
        }
        ids.push((id as usize, name));
    }
    ids.sort_by_key(|(id, _)| *id);
    for (i, (id, _)) in ids.iter().enumerate() {
        if *id != i {
            let problem = if *id < i { "appears twice" } else { "is missing" };
            bail!("class ids must run from 0 to {} without gaps, but {} {problem}", ids.len() - 1, id.min(&i));
        }
    }
    Ok(Some(ids.into_iter().map(|(_, name)| name.to_string()).collect()))
}

/// The `(id, name)` pairs of a dict literal, ids unparsed; `None` when it is not one or is empty.
fn parse_dict(text: &str) -> Option<Vec<(&str, &str)>> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut pairs = Vec::new();
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let colon = rest.find(':')?;
        let id = rest[..colon].trim();
        let after = rest[colon + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let end = after[1..].find(quote)? + 1;
        pairs.push((id, &after[1..end]));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// Labels against the model's class count (when its outputs say it): a mismatch is an error naming both.
pub fn check_count(labels: &[String], model_classes: Option<usize>, from: &str) -> anyhow::Result<()> {
    match model_classes {
        Some(n) if n != labels.len() => {
            bail!("{from} has {} class names, but the model outputs {n} classes", labels.len())
        }
        _ => Ok(()),
    }
}

/// The class a command-line entry names: an id below the class count, or a name (case ignored). `Err` is the list
/// of what is valid, for the caller's message.
pub fn find(labels: &[String], name_or_id: &str) -> Result<usize, String> {
    let found = match name_or_id.parse::<usize>() {
        Ok(id) => (id < labels.len()).then_some(id),
        Err(_) => labels.iter().position(|l| l.eq_ignore_ascii_case(name_or_id)),
    };
    found.ok_or_else(|| {
        let known: Vec<&str> = labels.iter().map(String::as_str).take(12).collect();
        format!(
            "this model has {} classes: ids 0..{} or names ({}{})",
            labels.len(),
            labels.len().saturating_sub(1),
            known.join(", "),
            if labels.len() > 12 { ", ..." } else { "" }
        )
    })
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
        let names = parse_names_metadata("{0: 'person', 1: \"bicycle\", 2: 'traffic light'}").unwrap().unwrap();
        assert_eq!(names, vec!["person", "bicycle", "traffic light"]);
        assert_eq!(parse_names_metadata("{1: 'b', 0: 'a'}").unwrap().unwrap(), vec!["a", "b"]);
        assert_eq!(parse_names_metadata("not a dict").unwrap(), None);
        assert_eq!(parse_names_metadata("{}").unwrap(), None);
    }

    #[test]
    fn hostile_class_ids_are_refused_before_any_allocation() {
        let err = |text: &str| parse_names_metadata(text).unwrap_err().to_string();
        // 2^64 - 1 used to panic, 4e9 to abort on a 96 GB allocation, 99,999,999 to take 18 s and 5 GB.
        for id in ["18446744073709551615", "4000000000", "99999999", "100000"] {
            let e = err(&format!("{{0: 'a', {id}: 'b'}}"));
            assert_eq!(e, format!("class id {id} is above the limit of 100000 classes"));
        }
        assert_eq!(
            err("{0: 'a', 18446744073709551616: 'b'}"),
            "class id \"18446744073709551616\" is not a whole number"
        );
        assert_eq!(err("{0: 'a', -1: 'b'}"), "class id \"-1\" is not a whole number");
        assert_eq!(err("{0: 'a', 2: 'c'}"), "class ids must run from 0 to 1 without gaps, but 1 is missing");
        assert_eq!(err("{0: 'a', 0: 'b'}"), "class ids must run from 0 to 1 without gaps, but 0 appears twice");
        assert!(parse_names_metadata("{99999: 'x'}").unwrap_err().to_string().contains("0 is missing"));
    }

    #[test]
    fn label_count_must_match_the_model() {
        let labels: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert!(check_count(&labels, Some(3), "x").is_ok());
        assert!(check_count(&labels, None, "x").is_ok());
        let e = check_count(&labels, Some(80), "labels file l.txt").unwrap_err().to_string();
        assert_eq!(e, "labels file l.txt has 3 class names, but the model outputs 80 classes");
    }
}
