//! Webcam frames through nokhwa (capture thread); a missing camera is a clear start-up error.

use anyhow::{anyhow, bail, Context};
use image::RgbImage;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};

use super::{CameraRequest, Source};

const NO_CAMERA_HINT: &str =
    "pass --source demo, a video file, an image folder, or a camera index (see `nasview cameras`)";

pub struct Camera {
    cam: nokhwa::Camera,
    buf: Vec<u8>,
    mode: String,
}

/// `0` is an index; anything else is matched against camera names.
fn index_of(spec: &str) -> anyhow::Result<CameraIndex> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(CameraIndex::Index(n));
    }
    let cams = nokhwa::query(ApiBackend::Auto).unwrap_or_default();
    cams.iter()
        .find(|c| c.human_name().to_lowercase().contains(&spec.to_lowercase()))
        .map(|c| c.index().clone())
        .ok_or_else(|| anyhow!("no camera named like {spec:?} ({} cameras found); {NO_CAMERA_HINT}", cams.len()))
}

fn frame_format(name: &str) -> anyhow::Result<FrameFormat> {
    match name.to_ascii_lowercase().as_str() {
        "mjpeg" | "mjpg" => Ok(FrameFormat::MJPEG),
        "yuyv" | "yuy2" => Ok(FrameFormat::YUYV),
        other => bail!("unknown --pixel-format {other:?}: use mjpeg or yuyv"),
    }
}

impl Camera {
    pub fn open(spec: &str, req: &CameraRequest) -> anyhow::Result<Box<dyn Source>> {
        let index = index_of(spec)?;
        // Ask for the highest resolution by default: cameras otherwise often stay at 640x480.
        let requested = match (req.resolution, req.fps, &req.pixel_format) {
            (None, None, None) => RequestedFormatType::AbsoluteHighestResolution,
            (res, fps, fmt) => {
                let (w, h) = res.unwrap_or((1280, 720));
                let fmt = fmt.as_deref().map(frame_format).transpose()?.unwrap_or(FrameFormat::MJPEG);
                RequestedFormatType::Closest(CameraFormat::new(Resolution::new(w, h), fmt, fps.unwrap_or(30)))
            }
        };
        let mut cam = nokhwa::Camera::new(index.clone(), RequestedFormat::new::<RgbFormat>(requested))
            .map_err(|e| anyhow!("cannot open camera {index} ({e}); {NO_CAMERA_HINT}"))?;
        cam.open_stream().map_err(|e| anyhow!("camera {index} would not start streaming ({e}); {NO_CAMERA_HINT}"))?;
        let f = cam.camera_format();
        let mode = format!(
            "camera {} {}x{} {} @ {} fps",
            cam.info().human_name(),
            f.width(),
            f.height(),
            f.format(),
            f.frame_rate()
        );
        Ok(Box::new(Camera { cam, buf: Vec::new(), mode }))
    }
}

impl Source for Camera {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        let frame = self.cam.frame().context("camera stopped delivering frames")?;
        let res = frame.resolution();
        self.buf.resize((res.width() * res.height() * 3) as usize, 0);
        frame.decode_image_to_buffer::<RgbFormat>(&mut self.buf).context("cannot decode a camera frame")?;
        let image = RgbImage::from_raw(res.width(), res.height(), std::mem::take(&mut self.buf))
            .ok_or_else(|| anyhow!("camera frame has the wrong size"))?;
        Ok(Some(image))
    }

    fn describe(&self) -> String {
        self.mode.clone()
    }
}

/// `nasview cameras`: every camera with its modes.
pub fn list() -> anyhow::Result<String> {
    let cams = nokhwa::query(ApiBackend::Auto).map_err(|e| anyhow!("cannot list cameras: {e}"))?;
    if cams.is_empty() {
        return Ok("no cameras found; use --source demo, a video file, or an image folder instead\n".to_string());
    }
    let mut out = String::new();
    for info in cams {
        out += &format!("{}: {} ({})\n", info.index(), info.human_name(), info.description());
        let modes =
            nokhwa::Camera::new(info.index().clone(), RequestedFormat::new::<RgbFormat>(RequestedFormatType::None))
                .and_then(|mut c| c.compatible_camera_formats());
        match modes {
            Ok(mut modes) => {
                modes.sort_by_key(|m| {
                    (m.format().to_string(), std::cmp::Reverse(m.width() * m.height()), m.frame_rate())
                });
                for m in modes {
                    out += &format!("    {}x{} {} @ {} fps\n", m.width(), m.height(), m.format(), m.frame_rate());
                }
            }
            Err(e) => out += &format!("    (modes unavailable: {e})\n"),
        }
    }
    Ok(out)
}
