//! One raw camera frame from a file, `NAME.WxH.FORMAT` (e.g. `desk.1920x1080.yuyv`), decoded like a camera's
//! (capture thread): a still for the viewer and the fixture `nasview bench` times the `decode` stage on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use image::RgbImage;
use nokhwa::utils::FrameFormat;

use super::camera::{convert, format};
use super::Source;

/// Raw frames above this are refused before reading (a 4K RGB24 frame is 25 MB).
const MAX_FILE_BYTES: u64 = 64 << 20;

pub struct RawFrame {
    path: PathBuf,
    format: FrameFormat,
    size: (u32, u32),
    done: bool,
    decode: Option<Duration>,
    /// The frame was damaged (a cut or corrupt MJPEG frame): shown as decoded, said, and the run exits 1.
    damaged: bool,
}

/// `NAME.WxH.FORMAT` to its size and format; None when the name is not of that form.
pub fn parse_name(path: &Path) -> Option<((u32, u32), FrameFormat)> {
    let name = path.file_name()?.to_str()?;
    let mut parts = name.rsplitn(3, '.');
    let fmt = format::parse_pixel_format(parts.next()?).ok()?;
    let (w, h) = parts.next()?.split_once('x')?;
    let (w, h) = (w.parse().ok()?, h.parse().ok()?);
    (w > 0 && h > 0).then_some(((w, h), fmt))
}

/// Why a name that looks meant as a raw frame (`NAME.<size>.FORMAT` with a pixel format at the end and something
/// size-like before it) is not one; None for every other name (a video called `clip.mjpeg` stays a video).
pub fn misnamed(path: &Path) -> Option<String> {
    if parse_name(path).is_some() {
        return None;
    }
    let name = path.file_name()?.to_str()?;
    let mut parts = name.rsplitn(3, '.');
    let fmt = parts.next()?;
    format::parse_pixel_format(fmt).ok()?;
    let size = parts.next()?;
    parts.next()?;
    let size_like = size.contains(['x', 'X']) && size.chars().all(|c| c.is_ascii_digit() || "xX-+".contains(c));
    size_like.then(|| {
        format!(
            "{}: a raw camera frame is named NAME.WxH.FORMAT with the size as two whole numbers above 0 and a \
             lowercase x (e.g. frame.640x480.{fmt}); `{size}` is not such a size",
            path.display()
        )
    })
}

impl RawFrame {
    pub fn open(path: &Path) -> anyhow::Result<RawFrame> {
        let (size, format) = parse_name(path).with_context(|| {
            format!("{}: a raw frame is named NAME.WxH.FORMAT, e.g. x.1920x1080.yuyv", path.display())
        })?;
        Ok(RawFrame { path: path.to_path_buf(), format, size, done: false, decode: None, damaged: false })
    }

    /// The file's bytes, size-checked before reading.
    pub fn bytes(&self) -> anyhow::Result<Vec<u8>> {
        let len = std::fs::metadata(&self.path).with_context(|| format!("cannot read {}", self.path.display()))?.len();
        if len > MAX_FILE_BYTES {
            anyhow::bail!("{} is {len} bytes: too large for one raw frame", self.path.display());
        }
        std::fs::read(&self.path).with_context(|| format!("cannot read {}", self.path.display()))
    }

    /// Decodes the frame `n` times; the time of each decode in milliseconds (`nasview bench`'s `decode` stage).
    pub fn time_decodes(&self, n: usize) -> anyhow::Result<Vec<f64>> {
        let data = self.bytes()?;
        let (w, h) = self.size;
        (0..n)
            .map(|_| {
                let t = Instant::now();
                convert::to_rgb(self.format, w, h, &data)?;
                Ok(t.elapsed().as_secs_f64() * 1e3)
            })
            .collect()
    }
}

impl Source for RawFrame {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(None);
        }
        let data = self.bytes()?;
        let t = Instant::now();
        let image = convert::to_rgb(self.format, self.size.0, self.size.1, &data).with_context(|| {
            format!("{} is not a {} frame", self.path.display(), format::pixel_format_name(self.format))
        })?;
        self.decode = Some(t.elapsed());
        // libjpeg draws what it has of a cut frame and greys the rest; from a camera that is one bad frame among
        // many, but a file is all there is: said, as for a truncated photo, and the run exits 1.
        if self.format == FrameFormat::MJPEG {
            if let Err(e) = super::image_file::decode(&data) {
                tracing::warn!("{}: {e:#}; its missing part is grey", self.path.display());
                self.damaged = true;
            }
        }
        Ok(Some(image))
    }

    fn skipped(&self) -> u64 {
        u64::from(self.damaged)
    }

    fn describe(&self) -> String {
        format!("raw {} frame {}x{}", format::pixel_format_name(self.format), self.size.0, self.size.1)
    }

    fn decode_time(&self) -> Option<Duration> {
        self.decode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_size_and_format() {
        assert_eq!(parse_name(Path::new("a/desk.1920x1080.yuyv")), Some(((1920, 1080), FrameFormat::YUYV)));
        assert_eq!(parse_name(Path::new("x.640x480.mjpeg")), Some(((640, 480), FrameFormat::MJPEG)));
        assert_eq!(parse_name(Path::new("photo.jpg")), None);
        assert_eq!(parse_name(Path::new("x.big.nv12")), None);
        assert_eq!(parse_name(Path::new("x.0x480.gray")), None);
    }

    #[test]
    fn a_misnamed_raw_frame_says_why() {
        for bad in ["x.640X480.gray", "x.-640x480.gray", "x.0x480.yuyv", "x.640x.nv12"] {
            let why = misnamed(Path::new(bad)).unwrap_or_else(|| panic!("{bad} must be explained"));
            assert!(why.contains("NAME.WxH.FORMAT") && why.contains(bad), "{why}");
        }
        // Names that are not meant as raw frames stay videos or images.
        for fine in ["x.640x480.gray", "clip.mjpeg", "holiday.mp4", "a.b.mjpeg", "x.big.nv12"] {
            assert_eq!(misnamed(Path::new(fine)), None, "{fine}");
        }
    }

    #[test]
    fn a_raw_frame_decodes_once_then_ends() {
        let dir = std::env::temp_dir().join(format!("nasview-raw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("grey.4x2.gray");
        std::fs::write(&path, [0, 50, 100, 150, 200, 250, 255, 1]).unwrap();
        let mut src = RawFrame::open(&path).unwrap();
        let img = src.next_frame().unwrap().unwrap();
        assert_eq!((img.dimensions(), img.get_pixel(1, 0).0), ((4, 2), [50, 50, 50]));
        assert!(src.decode_time().is_some());
        assert!(src.next_frame().unwrap().is_none());
        assert_eq!(src.time_decodes(3).unwrap().len(), 3);
        // An MJPEG frame cut to a third: decoded (grey below the cut), but counted against the exit code.
        let jpeg = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos/dog.jpg")).unwrap();
        let cut = dir.join("cut.768x576.mjpeg");
        std::fs::write(&cut, &jpeg[..jpeg.len() / 3]).unwrap();
        let mut src = RawFrame::open(&cut).unwrap();
        assert_eq!(src.next_frame().unwrap().unwrap().dimensions(), (768, 576));
        assert_eq!(src.skipped(), 1, "a cut frame counts");
        let whole = dir.join("whole.768x576.mjpeg");
        std::fs::write(&whole, &jpeg).unwrap();
        let mut src = RawFrame::open(&whole).unwrap();
        assert!(src.next_frame().unwrap().is_some());
        assert_eq!(src.skipped(), 0);
        std::fs::write(&path, [0; 3]).unwrap();
        assert!(RawFrame::open(&path).unwrap().next_frame().unwrap_err().to_string().contains("not a gray frame"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
