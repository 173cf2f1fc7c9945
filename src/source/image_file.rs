//! Image files decoded by content: the format from the magic bytes, JPEG by libjpeg-turbo as PIL and OpenCV decode it.
//!
//! super-gradients' `predict` reads photos with PIL, which decodes JPEG with libjpeg-turbo; the `image` crate's
//! JPEG decoder differs by a level here and there, enough to change INT8 detections. nokhwa already builds
//! mozjpeg (libjpeg-turbo's fork, same decoder) for camera MJPEG, so files use it too. A truncated or corrupt file
//! is an error even when libjpeg could draw part of it: its objects would silently vanish otherwise.

use std::cell::RefCell;
use std::io::Cursor;
use std::os::raw::c_int;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use image::{ImageFormat, ImageReader, Limits, RgbImage};
use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr};

/// Largest picture decoded: 100 megapixels (300 MB as RGB), above any phone camera.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Largest file read into memory.
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Formats recognised by their first bytes (the `image` crate's features), JPEG aside.
const OTHER_FORMATS: [(ImageFormat, &str); 5] = [
    (ImageFormat::Png, "PNG"),
    (ImageFormat::Bmp, "BMP"),
    (ImageFormat::WebP, "WebP"),
    (ImageFormat::Gif, "GIF"),
    (ImageFormat::Tiff, "TIFF"),
];

/// Reads and decodes one image file to RGB. Errors start with the path and say why (truncated, corrupt, too
/// large with its size and the limit, or not an image), whatever the file's extension.
pub fn open(path: &Path) -> anyhow::Result<RgbImage> {
    let len = std::fs::metadata(path).with_context(|| format!("{}: cannot read it", path.display()))?.len();
    if len > MAX_FILE_BYTES {
        bail!("{}: the file is {len} bytes, more than the {MAX_FILE_BYTES} bytes nasview reads", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read it", path.display()))?;
    decode(&bytes).map_err(|e| anyhow!("{}: {e:#}", path.display()))
}

/// Decodes image bytes by their content.
pub fn decode(bytes: &[u8]) -> anyhow::Result<RgbImage> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return decode_jpeg(bytes);
    }
    let guess = image::guess_format(bytes).ok();
    let Some(&(format, name)) = OTHER_FORMATS.iter().find(|(f, _)| Some(*f) == guess) else {
        bail!("not a readable image (by its content, not JPEG, PNG, BMP, WebP, GIF or TIFF)");
    };
    let corrupt = |e: image::ImageError| anyhow!("truncated or corrupt {name} file ({e})");
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(corrupt)?;
    check_size(w as usize, h as usize)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8); // RGBA at 16 bits per channel
    reader.limits(limits);
    let image = reader.decode().map_err(corrupt)?;
    Ok(image.to_rgb8())
}

/// A well-formed image nasview does not take: what it is and the way out, not "corrupt".
#[derive(Debug, thiserror::Error)]
pub enum Unsupported {
    #[error(
        "the image is {w}x{h} ({} megapixels), above nasview's limit of {} megapixels; downscale it first \
         (e.g. `convert IN -resize 50% OUT`)",
        *w as u64 * *h as u64 / 1_000_000,
        MAX_PIXELS / 1_000_000
    )]
    TooLarge { w: usize, h: usize },
    #[error("a CMYK JPEG, which nasview does not convert; save it as RGB first")]
    Cmyk,
}

fn check_size(w: usize, h: usize) -> Result<(), Unsupported> {
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(Unsupported::TooLarge { w, h });
    }
    Ok(())
}

thread_local! {
    /// libjpeg's warnings during the current decode on this thread (corrupt or missing data).
    static JPEG_WARNINGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// libjpeg-turbo with its defaults, as PIL and OpenCV call it: accurate integer IDCT, fancy upsampling, RGB.
fn decode_jpeg(bytes: &[u8]) -> anyhow::Result<RgbImage> {
    JPEG_WARNINGS.with(|w| w.borrow_mut().clear());
    // libjpeg reports fatal errors by unwinding out of the C code (mozjpeg's "unwinding" build): caught here.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> anyhow::Result<RgbImage> {
        let header = mozjpeg::Decompress::builder().with_err(error_manager()).from_mem(bytes)?;
        let (w, h) = header.size();
        check_size(w, h)?;
        if header.components().len() == 4 {
            return Err(Unsupported::Cmyk.into());
        }
        let mut started = header.rgb()?;
        let pixels: Vec<u8> = started.read_scanlines()?;
        started.finish()?;
        RgbImage::from_raw(w as u32, h as u32, pixels).ok_or_else(|| anyhow!("fewer rows than the header says"))
    }));
    let warnings = JPEG_WARNINGS.with(|w| std::mem::take(&mut *w.borrow_mut()));
    let image = match decoded {
        Ok(Err(e)) if e.is::<Unsupported>() => return Err(e),
        Ok(result) => result.map_err(|e| anyhow!("truncated or corrupt JPEG ({e:#})"))?,
        Err(payload) => {
            let message = payload.downcast_ref::<String>().map_or("libjpeg failed", String::as_str);
            bail!("corrupt JPEG ({message})");
        }
    };
    if let Some(first) = warnings.first() {
        bail!("truncated or corrupt JPEG ({first}; {} libjpeg warning(s))", warnings.len());
    }
    Ok(image)
}

/// libjpeg's error manager with its own message texts, but errors that unwind instead of exiting the process and
/// warnings collected instead of printed.
fn error_manager() -> jpeg_error_mgr {
    // SAFETY: jpeg_std_error fills every field of a zeroed jpeg_error_mgr (as libjpeg's examples do).
    let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { mozjpeg_sys::jpeg_std_error(&mut err) };
    err.error_exit = Some(unwind_on_error);
    err.emit_message = Some(collect_warning);
    err
}

/// libjpeg's text for its current message code.
fn message(cinfo: &mut jpeg_common_struct) -> String {
    // JMSG_LENGTH_MAX is 200 in libjpeg-turbo; the binding's type says 80, so pass a buffer large enough for either.
    let mut buffer = [0u8; 256];
    // SAFETY: cinfo.err points to the error manager libjpeg is using; format_message writes a NUL-terminated
    // string of at most JMSG_LENGTH_MAX bytes into the buffer.
    let format = unsafe { cinfo.err.as_ref().and_then(|e| e.format_message) };
    if let Some(format) = format {
        unsafe { format(cinfo, &*(buffer.as_mut_ptr() as *const [u8; 80])) };
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

unsafe extern "C-unwind" fn unwind_on_error(cinfo: &mut jpeg_common_struct) {
    std::panic::resume_unwind(Box::new(message(cinfo)));
}

unsafe extern "C-unwind" fn collect_warning(cinfo: &mut jpeg_common_struct, level: c_int) {
    // Level -1 is a warning (corrupt data, premature end); levels 0 and up are trace messages.
    if level < 0 {
        let text = message(cinfo);
        JPEG_WARNINGS.with(|w| w.borrow_mut().push(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(name: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos").join(name)).expect("photo")
    }

    #[test]
    fn format_comes_from_the_bytes_not_the_name() {
        let png = decode(&photo("chelsea.png")).expect("png");
        assert_eq!(png.dimensions(), (451, 300));
        let jpeg = decode(&photo("person.jpg")).expect("jpeg");
        assert_eq!(jpeg.dimensions(), (640, 424));
        // A GIF header for a 1x1 picture, and nothing after it.
        let err = decode(b"GIF87a\x01\x00\x01\x00").unwrap_err().to_string();
        assert!(err.starts_with("truncated or corrupt GIF file"), "{err}");
        let err = decode(b"plain text").unwrap_err().to_string();
        assert!(err.starts_with("not a readable image (by its content"), "{err}");
    }

    #[test]
    fn truncated_and_corrupt_jpegs_are_errors() {
        let bytes = photo("kite.jpg");
        let err = decode(&bytes[..bytes.len() / 2]).unwrap_err().to_string();
        assert!(err.contains("truncated or corrupt JPEG (Premature end of JPEG file"), "{err}");
        // Garbage in the entropy-coded data after the headers: libjpeg warns and draws on.
        let mut corrupt = bytes.clone();
        let n = corrupt.len();
        corrupt[n / 2..n / 2 + 64].fill(0xff);
        let err = decode(&corrupt).unwrap_err().to_string();
        assert!(err.contains("truncated or corrupt JPEG (Corrupt JPEG data"), "{err}");
        // Cut inside the headers: a fatal libjpeg error, caught.
        let err = decode(&bytes[..200]).unwrap_err().to_string();
        assert!(err.contains("JPEG"), "{err}");
        // The next decode on this thread starts clean.
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    fn too_large_says_size_and_limit() {
        // person.jpg with its frame header (SOF0) claiming 14000x14000: refused before any pixel is decoded.
        let mut bytes = photo("person.jpg");
        let sof = bytes.windows(2).position(|w| w == [0xff, 0xc0]).expect("SOF0");
        bytes[sof + 5..sof + 9].copy_from_slice(&[0x36, 0xb0, 0x36, 0xb0]);
        let err = decode(&bytes).unwrap_err().to_string();
        assert!(err.contains("14000x14000 (196 megapixels), above nasview's limit of 100 megapixels"), "{err}");
    }
}
