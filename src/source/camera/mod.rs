//! Webcam frames through nokhwa (camera reader thread): the mode chosen by `format::choose_format`, every common
//! pixel format decoded by `convert`, and `nasview cameras`.

pub mod convert;
pub mod format;

use std::time::Duration;

use anyhow::{anyhow, Context};
use image::RgbImage;
use nokhwa::utils::{frame_formats, ApiBackend, CameraFormat, CameraIndex, RequestedFormat, RequestedFormatType};

use super::{CameraRequest, Source};

pub const NO_CAMERA_HINT: &str =
    "pass --source demo, a video file, an image folder, or a camera index (see `nasview cameras`)";

pub struct Camera {
    cam: nokhwa::Camera,
    format: CameraFormat,
    mode: String,
    decode: Option<Duration>,
}

/// Asks for camera access where the platform needs it (macOS shows its permission prompt only after nokhwa's
/// initialisation) and says clearly when it is refused. Elsewhere this returns at once.
pub fn initialize() -> anyhow::Result<()> {
    if nokhwa::nokhwa_check() {
        return Ok(());
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    nokhwa::nokhwa_initialize(move |granted| {
        let _ = tx.try_send(granted);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(anyhow!(
            "camera access was denied: allow your terminal (or nasview) under System Settings > Privacy & Security \
             > Camera, then start again; or {NO_CAMERA_HINT}"
        )),
        Err(_) => Err(anyhow!("no answer to the camera permission request within 60 s; {NO_CAMERA_HINT}")),
    }
}

/// The cameras nokhwa finds; an error from the backend counts as none.
pub fn query() -> Vec<nokhwa::utils::CameraInfo> {
    nokhwa::query(ApiBackend::Auto).unwrap_or_default()
}

/// Whether any camera can be asked for (access granted where that is needed, and at least one device listed).
pub fn any_camera() -> bool {
    initialize().is_ok() && !query().is_empty()
}

/// `0` is an index; anything else is matched against camera names.
fn index_of(spec: &str) -> anyhow::Result<CameraIndex> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(CameraIndex::Index(n));
    }
    let cams = query();
    cams.iter()
        .find(|c| c.human_name().to_lowercase().contains(&spec.to_lowercase()))
        .map(|c| c.index().clone())
        .ok_or_else(|| anyhow!("no camera named like {spec:?} ({} cameras found); {NO_CAMERA_HINT}", cams.len()))
}

/// Opens a camera on the device's first mode (every format accepted), to read the modes it offers.
fn open_any(index: &CameraIndex) -> Result<nokhwa::Camera, nokhwa::NokhwaError> {
    nokhwa::Camera::new(index.clone(), RequestedFormat::with_formats(RequestedFormatType::None, frame_formats()))
}

/// What was asked for, as the HUD shows it next to what the camera gave.
fn asked(req: &CameraRequest) -> String {
    let mut parts = Vec::new();
    if let Some((w, h)) = req.resolution {
        parts.push(format!("{w}x{h}"));
    }
    if let Some(f) = &req.pixel_format {
        parts.push(f.clone());
    }
    if let Some(fps) = req.fps {
        parts.push(format!("{fps} fps"));
    }
    if parts.is_empty() {
        "default mode".into()
    } else {
        format!("asked {}", parts.join(" "))
    }
}

impl Camera {
    /// Opens the camera `spec` (index or name) in the mode `choose_format` picks for `req`, exactly that mode.
    pub fn open(spec: &str, req: &CameraRequest) -> anyhow::Result<Box<dyn Source>> {
        initialize()?;
        let index = index_of(spec)?;
        let mut cam = open_any(&index).map_err(|e| anyhow!("cannot open camera {index} ({e}); {NO_CAMERA_HINT}"))?;
        let offered = cam.compatible_camera_formats().map_err(|e| anyhow!("camera {index} lists no modes ({e})"))?;
        let chosen = format::choose_format(&offered, req).with_context(|| format!("camera {index}"))?;
        if let Some(note) = format::adjustment_note(req, &chosen) {
            eprintln!("nasview: {note}");
        }
        let exact = RequestedFormat::with_formats(RequestedFormatType::Exact(chosen), frame_formats());
        cam.set_camera_requset(exact)
            .map_err(|e| anyhow!("camera {index} refused {} ({e})", format::describe(&chosen)))?;
        cam.open_stream().map_err(|e| anyhow!("camera {index} would not start streaming ({e}); {NO_CAMERA_HINT}"))?;
        let format = cam.camera_format();
        let mut mode = format!("camera {}: {} ({})", cam.info().human_name(), format::describe(&format), asked(req));
        if !format::rate_known(format.frame_rate()) {
            mode += "; the capture rate is measured";
        }
        Ok(Box::new(Camera { cam, format, mode, decode: None }))
    }
}

impl Source for Camera {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        let raw = self.cam.frame_raw().context("camera stopped delivering frames")?;
        let f = self.format;
        let t = std::time::Instant::now();
        let image = convert::to_rgb(f.format(), f.width(), f.height(), &raw).context("cannot decode a camera frame")?;
        self.decode = Some(t.elapsed());
        Ok(Some(image))
    }

    fn describe(&self) -> String {
        self.mode.clone()
    }

    fn decode_time(&self) -> Option<Duration> {
        self.decode
    }
}

/// `nasview cameras`: every camera that can capture, with its modes grouped by format, the arguments that select
/// each, and the default marked. Nodes without a capture mode (UVC metadata nodes, nokhwa #171) are skipped.
pub fn list() -> anyhow::Result<String> {
    initialize()?;
    let cams = nokhwa::query(ApiBackend::Auto).map_err(|e| anyhow!("cannot list cameras: {e}"))?;
    let mut out = String::new();
    let mut skipped = 0;
    for info in &cams {
        let modes = open_any(info.index()).and_then(|mut c| c.compatible_camera_formats());
        match modes {
            Ok(modes) if !modes.is_empty() => {
                out += &format!("--source {}: {} ({})\n", info.index(), info.human_name(), info.description());
                out += &format::mode_table(&modes);
            }
            _ => skipped += 1,
        }
    }
    if out.is_empty() {
        out = "no cameras found; pass --source demo, a video file or an image folder instead\n".to_string();
    }
    if skipped > 0 {
        out += &format!("({skipped} video node(s) without a capture mode skipped)\n");
    }
    Ok(out)
}
