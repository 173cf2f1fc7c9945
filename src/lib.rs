//! nasview: live object detection with quantized YOLO-NAS; the library behind the binary and its tests.
//!
//! Stages, in the order a frame meets them: `source` (capture thread) -> `detector` (inference thread, run by
//! `pipeline`) -> `consumer` (main thread: selection, per-frame steps) -> `outputs` (recording via `record`,
//! PNG frames, JSON lines) and a presenter (`ui` window or headless). `cli` and `config` turn the command
//! line into one validated `Config`; `messages` is the one path for what the user is told.

pub mod canvas;
pub mod channel;
pub mod class_conf;
pub mod cli;
pub mod commands;
pub mod config;
pub mod consumer;
pub mod detector;
pub mod events;
pub mod messages;
pub mod outputs;
pub mod overlay;
pub mod pipeline;
pub mod privacy;
pub mod progress;
pub mod record;
pub mod runtime;
pub mod source;
pub mod step;
pub mod tags;
#[doc(hidden)]
pub mod testing;
pub mod track;
pub mod ui;
pub mod view;
