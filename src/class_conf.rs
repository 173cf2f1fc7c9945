//! Per-class confidence thresholds and hidden classes (`--conf 0.25,person=0.5`, the window's class legend):
//! parsed, resolved against a model's labels, and applied on top of the selection at the default threshold.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::detector::{Candidates, Detection, Thresholds};

/// `--conf 0.25,person=0.5,2=0.4`: the default for every other class, then classes by name or id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassConfSpec(pub Vec<(String, f32)>);

/// Splits `--conf`: the bare number (the default, 0.25 when only classes are given) and the classes'
/// own thresholds, checked for form; `range` is what any threshold may be.
pub fn parse(arg: &str, range: &std::ops::RangeInclusive<f32>) -> anyhow::Result<(f32, ClassConfSpec)> {
    let mut default = None;
    let mut classes = Vec::new();
    for item in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (class, value) = match item.split_once('=') {
            Some((c, v)) => (Some(c.trim()), v.trim()),
            None => (None, item),
        };
        let v: f32 = value.parse().map_err(|_| {
            anyhow::anyhow!(
                "--conf {arg:?}: {value:?} is not a number; give e.g. --conf 0.25 or --conf 0.25,person=0.5"
            )
        })?;
        if !range.contains(&v) {
            let what = class.map(|c| format!("{c}=")).unwrap_or_default();
            bail!("--conf {what}{v} is outside {}..{}: give a value in that range", range.start(), range.end());
        }
        match class {
            None if default.is_some() => bail!("--conf {arg:?}: two defaults; give one bare number, then CLASS=VALUE"),
            None => default = Some(v),
            Some("") => bail!("--conf {arg:?}: a class name or id is missing before `=`"),
            Some(c) => classes.push((c.to_string(), v)),
        }
    }
    if default.is_none() && classes.is_empty() {
        bail!("--conf {arg:?} gives no threshold; e.g. --conf 0.25 or --conf 0.25,person=0.5");
    }
    Ok((default.unwrap_or(0.25), ClassConfSpec(classes)))
}

impl ClassConfSpec {
    /// Class ids against a model's labels (an unknown name or id is an error listing the valid ones).
    pub fn resolve(&self, labels: &[String]) -> anyhow::Result<ClassConf> {
        let mut per_class = BTreeMap::new();
        for (class, v) in &self.0 {
            let id = crate::detector::labels::find(labels, class)
                .map_err(|valid| anyhow::anyhow!("--conf {class}={v}: no such class; {valid}"))?;
            per_class.insert(id, *v);
        }
        Ok(ClassConf { per_class, hidden: BTreeSet::new() })
    }
}

/// Thresholds of single classes (the rest take `Thresholds::conf`) and classes not shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassConf {
    pub per_class: BTreeMap<usize, f32>,
    pub hidden: BTreeSet<usize>,
}

impl ClassConf {
    /// The confidence of `class` when the others take `default`.
    pub fn conf(&self, class: usize, default: f32) -> f32 {
        self.per_class.get(&class).copied().unwrap_or(default)
    }

    /// The lowest threshold in use: what candidates must be kept down to.
    pub fn floor(&self, default: f32) -> f32 {
        self.per_class.values().copied().fold(default, f32::min)
    }

    /// The detections of `c` at `t` with each class at its own threshold, hidden classes left out. Selected at
    /// the lowest threshold, then each class cut at its own: NMS is class-aware, so a box below its class's
    /// threshold only ever suppresses lower boxes of its class, which the cut drops anyway.
    pub fn select(&self, c: &Candidates, t: &Thresholds) -> Vec<Detection> {
        if self.per_class.is_empty() && self.hidden.is_empty() {
            return c.select(t);
        }
        let low = Thresholds { conf: self.floor(t.conf), iou: t.iou };
        let mut dets = c.select(&low);
        dets.retain(|d| !self.hidden.contains(&d.class_id) && d.score > self.conf(d.class_id, t.conf));
        dets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["person", "bicycle", "car"].map(String::from).to_vec()
    }

    #[test]
    fn parses_a_default_and_classes_by_name_or_id() {
        let range = 0.01..=0.99;
        let (d, spec) = parse("0.25,person=0.5, 2=0.4", &range).unwrap();
        assert_eq!(d, 0.25);
        let cc = spec.resolve(&labels()).unwrap();
        assert_eq!(cc.per_class, BTreeMap::from([(0, 0.5), (2, 0.4)]));
        assert_eq!((cc.conf(0, 0.25), cc.conf(1, 0.25), cc.floor(0.25)), (0.5, 0.25, 0.25));
        assert_eq!(parse("0.3", &range).unwrap(), (0.3, ClassConfSpec::default()));
        for bad in ["", "x", "0.2,0.3", "person=2", "=0.3", "0.25,person=abc"] {
            assert!(parse(bad, &range).is_err(), "{bad:?}");
        }
        let e = parse("0.25,horse=0.5", &range).unwrap().1.resolve(&labels()).unwrap_err();
        assert!(format!("{e:#}").contains("--conf") && format!("{e:#}").contains("person"), "{e:#}");
    }

    #[test]
    fn each_class_is_cut_at_its_own_threshold_and_hidden_ones_go() {
        let det = |class_id, score, x| Detection { class_id, score, bbox: [x, 0.0, x + 10.0, 10.0] };
        let c = Candidates {
            dets: vec![det(0, 0.8, 0.0), det(2, 0.3, 20.0), det(0, 0.4, 40.0), det(1, 0.3, 60.0), det(2, 0.15, 80.0)],
            frame_w: 100,
            frame_h: 20,
            needs_nms: true,
            limits: None,
            passes: 1,
            cut: Vec::new(),
        };
        let t = Thresholds { conf: 0.25, iou: 0.7 };
        // person at 0.5: the 0.4 person goes; car at 0.1: the 0.15 car stays; bicycle at the default.
        let mut cc = ClassConf { per_class: BTreeMap::from([(0, 0.5), (2, 0.1)]), hidden: BTreeSet::new() };
        let scores = |d: Vec<Detection>| d.iter().map(|d| (d.class_id, d.score)).collect::<Vec<_>>();
        assert_eq!(scores(cc.select(&c, &t)), [(0, 0.8), (2, 0.3), (1, 0.3), (2, 0.15)]);
        cc.hidden.insert(2);
        assert_eq!(scores(cc.select(&c, &t)), [(0, 0.8), (1, 0.3)]);
        assert_eq!(ClassConf::default().select(&c, &t), c.select(&t));
    }
}
