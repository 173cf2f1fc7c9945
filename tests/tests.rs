//! nasview's one integration-test binary: real ONNX Runtime, real models, the real binary.

/// Cameras without a camera: mode choice on six real mode lists, pixel formats against ffmpeg, a fake camera
/// that stalls, is unplugged and comes back.
mod camera;
/// Per-class thresholds: `detect --conf 0.25,person=0.9` on the photos.
mod class_conf;
/// Bad input at the command line: clear one-line errors, non-zero exits, no panics.
mod cli_errors;
/// Shared paths and helpers.
mod common;
/// The consumer loop end to end: source time to recordings and JSON, exit codes, rejected flags.
mod consumer;
/// Real models through the real ONNX Runtime: YOLOv12n FP32/INT8 and the YOLO-NAS fixture.
mod detect;
/// `detect --out`: inputs never overwritten, sub-folders mirrored.
mod detect_out;
/// Zones and events: the events file against the frames, MQTT to a real broker that goes away and comes back.
mod events;
/// The fault table: failing and stalled sources, bad record paths, full disk, signals, old runtime.
mod faults;
/// Hostile input: mutated and crafted MP4s under a memory cap, models with broken metadata and outputs, broken images.
mod hostile;
/// Shell completions, man pages and `make install`.
mod install;
/// Imports run one way: the cycle check of `make lint` passes on src/ and fails on a cycle made on purpose.
mod layers;
/// Issue 19's hostile round: special files, colliding copies, stdout closed early, phone photos, misplaced options,
/// odd geometry, signals, progress.
mod nothing_lost;
/// The threads and channels with a source faster than inference.
mod pipeline;
/// JPEG decoding and the bilinear resize against OpenCV's own output.
mod preprocess;
/// `--blur` on the photos and on a missed detection; `--heatmap-out` on SIGTERM and Q.
mod privacy;
/// Decoders and selection fed arbitrary tensors: no panic, no box outside the image.
mod properties;
/// Soak: memory flat and queues bounded over a long recorded run (SOAK_SECONDS, default 60).
mod soak;
/// Network cameras on the loopback (RTSP, HTTP MJPEG, HLS, files over HTTP) and the screen under Xvfb.
mod streams;
/// Tag placement on the photos and the demo: overlapping pairs before and after.
mod tags;
/// Small objects: tiled inference and its merge on mosaics of the bundled photos.
mod tiles;
/// Tracking and the counting line on a synthetic clip made from the bundled photos.
mod track;
/// The tracker's hard cases (occlusions, crossings on the line, flicker) with their measured upper bounds.
mod track_hard;
/// Videos of every common container and codec through FFmpeg, against ffmpeg's own decode.
mod videos;
/// The live window for real under Xvfb, driven with xdotool.
mod window;
