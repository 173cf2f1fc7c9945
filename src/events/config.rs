//! Where events go, as the command line gives it (below the configuration and the event outputs alike).

use std::path::PathBuf;

use super::mqtt::MqttTarget;

/// Where events go, from the command line.
#[derive(Clone, Debug, Default)]
pub struct EventsConfig {
    /// `--events FILE` (appended to: an event log grows) or `-` (stdout).
    pub file: Option<PathBuf>,
    pub snapshots: Option<PathBuf>,
    pub mqtt: Option<MqttTarget>,
}

impl EventsConfig {
    pub fn any(&self) -> bool {
        self.file.is_some() || self.snapshots.is_some() || self.mqtt.is_some()
    }
}
