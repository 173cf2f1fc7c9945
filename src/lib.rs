//! nasview: live object detection with quantized YOLO-NAS; the library behind the binary and its tests.

pub mod commands;
pub mod config;
pub mod detector;
pub mod overlay;
pub mod runtime;
