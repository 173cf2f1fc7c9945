//! Events out of the tracking step (main thread): a line crossed, a zone entered or left, a long dwell; as JSON
//! lines (`--events`), annotated snapshots (`--event-snapshots`) and MQTT messages (`--mqtt`).

pub mod config;
pub mod mqtt;

pub use config::EventsConfig;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use image::RgbImage;
use serde::Serialize;

use crate::detector::Detection;
use crate::messages;
use crate::outputs::JsonDetection;

/// One event, as written: `{"event":"zone_entered","time_ms":1200.0,"frame":36,"track_id":3,"class_id":0,
/// "label":"person","score":0.87,"box":[..],"zone":"door"}`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Event {
    /// `line_crossed`, `zone_entered`, `zone_left` or `dwell_alert`.
    pub event: &'static str,
    pub time_ms: f64,
    pub frame: u64,
    pub track_id: u64,
    pub class_id: usize,
    pub label: String,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// `in` or `out` (line crossings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Time inside the zone (zone_left, dwell_alert), seconds of source time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dwell_s: Option<f64>,
}

impl Event {
    /// An event about a track seen as `det` at `time` in frame `frame`.
    pub fn new(event: &'static str, time: Duration, frame: u64, id: u64, det: &Detection, names: &[String]) -> Event {
        // Rounded as every detection nasview prints.
        let JsonDetection { class_id, label, score, bbox, .. } =
            crate::outputs::to_json(std::slice::from_ref(det), names).remove(0);
        Event {
            event,
            time_ms: (time.as_secs_f64() * 1e4).round() / 10.0,
            frame,
            track_id: id,
            class_id,
            label,
            score,
            bbox,
            direction: None,
            zone: None,
            dwell_s: None,
        }
    }
}

/// The open outputs.
pub struct EventOutputs {
    file: Option<Box<dyn Write>>,
    snapshots: Option<PathBuf>,
    pub mqtt: Option<mqtt::Mqtt>,
    pub written: u64,
    failed: bool,
}

impl EventOutputs {
    pub fn open(cfg: &EventsConfig) -> anyhow::Result<EventOutputs> {
        let file: Option<Box<dyn Write>> = match &cfg.file {
            Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
            Some(p) => {
                let f = open_log(p)?;
                Some(Box::new(BufWriter::new(f)))
            }
            None => None,
        };
        if let Some(dir) = &cfg.snapshots {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create --event-snapshots folder {}; pass a folder you can write", dir.display())
            })?;
        }
        let mqtt = cfg.mqtt.as_ref().map(mqtt::Mqtt::start).transpose()?;
        Ok(EventOutputs { file, snapshots: cfg.snapshots.clone(), mqtt, written: 0, failed: false })
    }

    /// Writes one event everywhere; `annotated` draws the frame for a snapshot (only called when one is asked
    /// for). A failing output is said once and the others go on.
    pub fn emit(&mut self, event: &Event, annotated: &mut dyn FnMut() -> RgbImage) {
        let json = match serde_json::to_string(event) {
            Ok(j) => j,
            Err(_) => return,
        };
        if let Some(f) = &mut self.file {
            if let Err(e) = writeln!(f, "{json}").and_then(|_| f.flush()) {
                if !self.failed {
                    messages::warn(&format!("cannot write the events file ({e}); events go on over the other outputs"));
                    self.failed = true;
                }
            }
        }
        if let Some(dir) = &self.snapshots {
            let path = snapshot_path(dir, event);
            if let Err(e) = crate::outputs::save_new(&annotated(), &path) {
                messages::warn(&format!("cannot save the event snapshot {}: {e}", path.display()));
            }
        }
        if let Some(m) = &self.mqtt {
            m.publish_event(json);
        }
        self.written += 1;
    }

    /// The counts and zone occupancy, retained on MQTT when they change.
    pub fn state(&mut self, counts: &serde_json::Value) {
        if let Some(m) = &mut self.mqtt {
            m.retain("counts", counts.to_string());
        }
    }

    /// Flushes and closes; the closing summary lines.
    pub fn finish(&mut self) -> Vec<String> {
        let mut lines = vec![format!("{} event(s) written", self.written)];
        if let Some(f) = &mut self.file {
            let _ = f.flush();
        }
        if let Some(m) = &mut self.mqtt {
            lines.push(m.finish(Duration::from_secs(2)));
        }
        lines
    }
}

/// The events log, appended to: earlier events are kept (nothing the user owns is overwritten).
fn open_log(path: &Path) -> anyhow::Result<File> {
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            anyhow::bail!(
                "--events {}: not a regular file; pass a file path (or - for standard output)",
                path.display()
            );
        }
        messages::note(&format!("appending events to {}", path.display()));
    }
    std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| {
        format!("cannot open --events {}; pass a file you can write (or - for standard output)", path.display())
    })
}

/// `event-000036-zone_entered-3.png`, numbered on when the name is taken (never over an earlier snapshot).
fn snapshot_path(dir: &Path, e: &Event) -> PathBuf {
    let base = format!("event-{:06}-{}-{}", e.frame, e.event, e.track_id);
    let mut path = dir.join(format!("{base}.png"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{base}-{n}.png"));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_only_their_fields() {
        let names = vec!["person".to_string()];
        let det = Detection { class_id: 0, score: 0.87654, bbox: [1.234, 2.0, 30.0, 40.0] };
        let mut e = Event::new("zone_left", Duration::from_millis(1234), 37, 3, &det, &names);
        e.zone = Some("door".into());
        e.dwell_s = Some(2.5);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"zone_left","time_ms":1234.0,"frame":37,"track_id":3,"class_id":0,"label":"person","score":0.8765,"box":[1.23,2.0,30.0,40.0],"zone":"door","dwell_s":2.5}"#
        );
    }

    #[test]
    fn the_log_is_appended_and_snapshots_never_replace_a_file() {
        let dir = crate::testing::temp_dir("events-log");
        let log = dir.join("events.jsonl");
        std::fs::write(&log, "{\"earlier\":1}\n").unwrap();
        let cfg = EventsConfig { file: Some(log.clone()), snapshots: Some(dir.join("snaps")), mqtt: None };
        let mut out = EventOutputs::open(&cfg).unwrap();
        let det = Detection { class_id: 0, score: 0.5, bbox: [0.0, 0.0, 4.0, 4.0] };
        let e = Event::new("line_crossed", Duration::ZERO, 5, 1, &det, &[]);
        out.emit(&e, &mut || RgbImage::new(4, 4));
        out.emit(&e, &mut || RgbImage::new(4, 4));
        out.finish();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("{\"earlier\":1}\n") && text.lines().count() == 3, "{text}");
        let snaps: Vec<_> = std::fs::read_dir(dir.join("snaps")).unwrap().collect();
        assert_eq!(snaps.len(), 2, "a second event of the same frame gets its own file");
    }
}
