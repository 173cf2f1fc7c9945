//! Camera pixel formats to RGB (capture thread): MJPEG through libjpeg-turbo (mozjpeg), YUV with BT.601 integers.

use anyhow::{bail, Context};
use image::RgbImage;
use nokhwa::utils::FrameFormat;

/// Largest side accepted from a camera or a raw file: sizes come from outside and are checked before allocating.
pub const MAX_SIDE: u32 = 16384;

/// Bytes a frame of this format and size takes, or an error for sizes the format cannot have.
pub fn frame_bytes(format: FrameFormat, width: u32, height: u32) -> anyhow::Result<usize> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        bail!("frame size {width}x{height} is out of range (1..={MAX_SIDE} per side)");
    }
    let px = width as usize * height as usize;
    Ok(match format {
        FrameFormat::YUYV if !width.is_multiple_of(2) => bail!("YUYV needs an even width, got {width}"),
        FrameFormat::NV12 if !width.is_multiple_of(2) || !height.is_multiple_of(2) => {
            bail!("NV12 needs an even width and height, got {width}x{height}")
        }
        FrameFormat::YUYV => px * 2,
        FrameFormat::NV12 => px * 3 / 2,
        FrameFormat::GRAY => px,
        FrameFormat::RAWRGB | FrameFormat::RAWBGR => px * 3,
        // Compressed: any length; the decoder checks it.
        FrameFormat::MJPEG => 0,
    })
}

/// Decodes one camera frame of `width` x `height` to RGB. Raw formats must hold at least a whole frame (drivers
/// may pad the buffer); an MJPEG frame must decode to the size the camera was opened with.
pub fn to_rgb(format: FrameFormat, width: u32, height: u32, data: &[u8]) -> anyhow::Result<RgbImage> {
    let need = frame_bytes(format, width, height)?;
    if data.len() < need {
        bail!("{format} frame too short: {} bytes, {width}x{height} needs {need}", data.len());
    }
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![0u8; w * h * 3];
    match format {
        FrameFormat::MJPEG => decode_jpeg(data, width, height, &mut out)?,
        FrameFormat::YUYV => {
            for (src, dst) in data[..need].chunks_exact(4).zip(out.chunks_exact_mut(6)) {
                let (u, v) = (src[1], src[3]);
                dst[..3].copy_from_slice(&yuv_to_rgb(src[0], u, v));
                dst[3..].copy_from_slice(&yuv_to_rgb(src[2], u, v));
            }
        }
        FrameFormat::NV12 => {
            let (luma, chroma) = data[..need].split_at(w * h);
            for (row, dst_row) in out.chunks_exact_mut(w * 3).enumerate() {
                let y_row = &luma[row * w..(row + 1) * w];
                let uv_row = &chroma[(row / 2) * w..(row / 2 + 1) * w];
                for ((ys, uv), dst) in
                    y_row.chunks_exact(2).zip(uv_row.chunks_exact(2)).zip(dst_row.chunks_exact_mut(6))
                {
                    dst[..3].copy_from_slice(&yuv_to_rgb(ys[0], uv[0], uv[1]));
                    dst[3..].copy_from_slice(&yuv_to_rgb(ys[1], uv[0], uv[1]));
                }
            }
        }
        // Infrared and other monochrome cameras: full-range luma, shown as grey.
        FrameFormat::GRAY => {
            for (&y, dst) in data[..need].iter().zip(out.chunks_exact_mut(3)) {
                dst.fill(y);
            }
        }
        FrameFormat::RAWRGB => out.copy_from_slice(&data[..need]),
        FrameFormat::RAWBGR => {
            for (src, dst) in data[..need].chunks_exact(3).zip(out.chunks_exact_mut(3)) {
                dst.copy_from_slice(&[src[2], src[1], src[0]]);
            }
        }
    }
    RgbImage::from_raw(width, height, out).context("RGB buffer size")
}

/// BT.601 limited-range YCbCr to RGB in 8.8 fixed point (what cameras send and what ffmpeg assumes by default).
#[inline]
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = (y as i32 - 16) * 298;
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [clamp(c + 409 * e), clamp(c - 100 * d - 208 * e), clamp(c + 516 * d)]
}

/// MJPEG through libjpeg-turbo (the mozjpeg crate nokhwa uses): the same decoder as OpenCV and PIL. libjpeg
/// reports a corrupt stream by unwinding (the mozjpeg crate's error manager), so that is caught here: a broken
/// frame from a camera is an error, not the end of the capture thread.
fn decode_jpeg(data: &[u8], width: u32, height: u32, out: &mut [u8]) -> anyhow::Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_jpeg_unguarded(data, width, height, out)))
        .unwrap_or_else(|_| bail!("corrupt MJPEG frame ({} bytes)", data.len()))
}

fn decode_jpeg_unguarded(data: &[u8], width: u32, height: u32, out: &mut [u8]) -> anyhow::Result<()> {
    let d = mozjpeg::Decompress::new_mem(data).context("not a JPEG frame")?;
    let (w, h) = d.size();
    if (w, h) != (width as usize, height as usize) {
        bail!("MJPEG frame is {w}x{h}, the camera was opened at {width}x{height}");
    }
    let mut started = d.rgb().context("cannot start decoding an MJPEG frame")?;
    started.read_scanlines_into::<u8>(out).context("corrupt MJPEG frame")?;
    started.finish().context("corrupt MJPEG frame")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bt601_reference_colours() {
        // Black, white and the saturated primaries of BT.601 limited range.
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(yuv_to_rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(yuv_to_rgb(81, 90, 240), [255, 0, 0]);
        // The 8-bit primaries are rounded, so pure green comes back with blue 1.
        assert_eq!(yuv_to_rgb(145, 54, 34), [0, 255, 1]);
        assert_eq!(yuv_to_rgb(41, 240, 110), [0, 0, 255]);
    }

    #[test]
    fn yuyv_pairs_share_chroma_and_nv12_blocks_share_it() {
        // Two pixels: black and white, grey chroma.
        let img = to_rgb(FrameFormat::YUYV, 2, 1, &[16, 128, 235, 128]).unwrap();
        assert_eq!(img.as_raw(), &[0, 0, 0, 255, 255, 255]);
        // 2x2 NV12: four luma values, one red-ish chroma pair.
        let img = to_rgb(FrameFormat::NV12, 2, 2, &[81, 81, 81, 81, 90, 240]).unwrap();
        assert!(img.pixels().all(|p| p.0 == [255, 0, 0]));
        let img = to_rgb(FrameFormat::GRAY, 3, 1, &[0, 128, 255]).unwrap();
        assert_eq!(img.as_raw(), &[0, 0, 0, 128, 128, 128, 255, 255, 255]);
        let img = to_rgb(FrameFormat::RAWBGR, 1, 1, &[1, 2, 3]).unwrap();
        assert_eq!(img.as_raw(), &[3, 2, 1]);
    }

    #[test]
    fn hostile_sizes_are_refused_before_allocating() {
        assert!(to_rgb(FrameFormat::YUYV, 4, 2, &[0; 15]).unwrap_err().to_string().contains("too short"));
        assert!(to_rgb(FrameFormat::YUYV, 3, 2, &[0; 12]).is_err());
        assert!(to_rgb(FrameFormat::NV12, 4, 3, &[0; 18]).is_err());
        assert!(to_rgb(FrameFormat::RAWRGB, 100_000, 100_000, &[]).unwrap_err().to_string().contains("out of range"));
        assert!(to_rgb(FrameFormat::MJPEG, 4, 4, b"not a jpeg").is_err());
        // A padded buffer is fine: the frame is its first bytes.
        assert!(to_rgb(FrameFormat::GRAY, 2, 2, &[7; 10]).is_ok());
    }
}
