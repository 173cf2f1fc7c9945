//! nasview: live object detection with quantized YOLO-NAS; the library behind the binary and its tests.

pub mod channel;
pub mod commands;
pub mod config;
pub mod detector;
pub mod overlay;
pub mod pipeline;
pub mod record;
pub mod runtime;
pub mod source;
pub mod ui;
