//! Image files decoded by content: the format from the magic bytes, JPEG by libjpeg-turbo as PIL and OpenCV decode it.
//!
//! super-gradients' `predict` reads photos with PIL, which decodes JPEG with libjpeg-turbo; the `image` crate's
//! JPEG decoder differs by a level here and there, enough to change INT8 detections. nokhwa already builds
//! mozjpeg (libjpeg-turbo's fork, same decoder) for camera MJPEG, so files use it too. A truncated or corrupt file
//! is an error even when libjpeg could draw part of it: its objects would silently vanish otherwise.

use std::cell::RefCell;
use std::io::{Cursor, Read};
use std::os::raw::c_int;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
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
    let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read it", path.display()))?;
    // A pipe would block the run forever and a device (/dev/zero) never ends: only regular files are read.
    if let Some(kind) = special_kind(&meta) {
        bail!("{}: {kind}, not an image file", path.display());
    }
    let len = meta.len();
    if len > MAX_FILE_BYTES {
        bail!("{}: the file is {len} bytes, more than the {MAX_FILE_BYTES} bytes nasview reads", path.display());
    }
    // Bounded even if the file grows while it is read.
    let mut bytes = Vec::with_capacity(len as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("{}: cannot read it", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!("{}: the file grew past the {MAX_FILE_BYTES} bytes nasview reads while it was read", path.display());
    }
    decode(&bytes).map_err(|e| anyhow!("{}: {e:#}", path.display()))
}

/// What a path that is not a regular file is (after symlinks), in words; None for a regular file.
pub fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    Some(if t.is_file() {
        return None;
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a special file"
    })
}

/// Decodes image bytes by their content, turned upright by their EXIF orientation (as OpenCV, Ultralytics and
/// every viewer show a phone photo; the model was trained on upright objects).
pub fn decode(bytes: &[u8]) -> anyhow::Result<RgbImage> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        let image = decode_jpeg(bytes)?;
        let orientation = jpeg_exif(bytes).and_then(Orientation::from_exif_chunk);
        return Ok(upright(image, orientation.unwrap_or(Orientation::NoTransforms)));
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
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // An unreadable EXIF block is no reason to refuse the pixels: they are shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok(upright(image.to_rgb8(), orientation))
}

/// The picture as it is meant to be seen: rotated and mirrored as its EXIF orientation says.
fn upright(image: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return image;
    }
    let mut dynamic = DynamicImage::ImageRgb8(image);
    dynamic.apply_orientation(orientation);
    dynamic.into_rgb8()
}

/// The EXIF block of a JPEG (its APP1 `Exif` segment, without the `Exif\0\0` header), if it has one before
/// the image data.
fn jpeg_exif(bytes: &[u8]) -> Option<&[u8]> {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xff {
            return None;
        }
        let marker = bytes[at + 1];
        // Fill bytes, then markers without a length.
        if marker == 0xff {
            at += 1;
            continue;
        }
        if marker == 0xda || marker == 0xd9 {
            return None; // Start of scan or end of image: no EXIF before the image data.
        }
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        let segment = bytes.get(at + 4..at + 2 + len.max(2))?;
        if marker == 0xe1 {
            if let Some(exif) = segment.strip_prefix(b"Exif\0\0") {
                return Some(exif);
            }
        }
        at += 2 + len.max(2);
    }
    None
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
    fn exif_orientation_turns_the_picture_upright() {
        let bytes = photo("person.jpg");
        let stored = decode(&bytes).unwrap();
        // 6: stored turned a quarter counter-clockwise, viewed turned back clockwise; 3: upside down.
        let turned = decode(&crate::testing::with_exif_orientation(&bytes, 6)).unwrap();
        assert_eq!(turned, image::imageops::rotate90(&stored));
        let flipped = decode(&crate::testing::with_exif_orientation(&bytes, 3)).unwrap();
        assert_eq!(flipped, image::imageops::rotate180(&stored));
        assert_eq!(decode(&crate::testing::with_exif_orientation(&bytes, 1)).unwrap(), stored);
    }

    #[test]
    fn pipes_and_devices_are_refused_without_reading() {
        // /dev/zero never ends: refused by its kind, at once, not read until memory runs out.
        let err = open(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(err, "/dev/zero: a device, not an image file");
        let dir = crate::testing::temp_dir("special-files");
        let fifo = dir.join("p.jpg");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // Opening a FIFO for reading would block until a writer comes: it is never opened.
        let err = open(&fifo).unwrap_err().to_string();
        assert!(err.ends_with("p.jpg: a named pipe (FIFO), not an image file"), "{err}");
        assert!(open(&dir).unwrap_err().to_string().ends_with("a folder, not an image file"));
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
