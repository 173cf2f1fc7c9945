//! The H.264 encoder (openh264) with the recording's settings: used by the recorder thread and timed by `bench`.

use anyhow::{bail, Context};
use image::RgbImage;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::{RGB8Source, RGBSource, YUVBuffer};
use openh264::{OpenH264API, Timestamp};

/// 3 Mbit/s at 1280x720, scaled by pixel count: openh264's default bitrate smears motion.
const BITS_PER_PIXEL_SECOND: f64 = 3_000_000.0 / (1280.0 * 720.0);
const MIN_BITRATE: f64 = 200_000.0;

/// Encodes RGB frames of one size to H.264 Annex-B access units.
pub struct H264Encoder {
    encoder: Encoder,
    yuv: YUVBuffer,
    size: (u32, u32),
}

/// Frame sizes the encoder takes (even sizes are made by dropping the last odd row or column).
pub fn check_size(width: u32, height: u32) -> anyhow::Result<()> {
    let (w, h) = (width & !1, height & !1);
    if w < 16 || h < 16 || w > 3840 || h > 3840 || w.min(h) > 2160 {
        bail!("cannot record {width}x{height} frames: the H.264 encoder takes 16x16 up to 3840x2160");
    }
    Ok(())
}

impl H264Encoder {
    /// `fps` is the nominal rate for rate control; frames keep their own times.
    pub fn new(width: u32, height: u32, fps: f32) -> anyhow::Result<H264Encoder> {
        check_size(width, height)?;
        let fps = if fps.is_finite() && fps > 0.0 { fps } else { 30.0 };
        let pixels = f64::from((width & !1) * (height & !1));
        let bps = (pixels * BITS_PER_PIXEL_SECOND).max(MIN_BITRATE) as u32;
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bps))
            .rate_control_mode(RateControlMode::Bitrate)
            .max_frame_rate(FrameRate::from_hz(fps))
            // Every frame is kept (a skipped frame would be a dropped frame); the bitrate stays on target anyway.
            .skip_frames(false)
            .usage_type(UsageType::CameraVideoRealTime)
            // Keyframes are forced by time (the recorder's KEYFRAME_EVERY), which works with a variable frame rate.
            .intra_frame_period(IntraFramePeriod::auto())
            // One thread: the detector needs the other cores more than the encoder (a second one gains ~10 %).
            .num_threads(1)
            // openh264's RGB->YUV conversion is BT.601 limited range; say so, or players assume BT.709 for HD.
            .vui(VuiConfig::bt601());
        let encoder =
            Encoder::with_api_config(OpenH264API::from_source(), config).context("cannot create the H.264 encoder")?;
        let yuv = YUVBuffer::new((width & !1) as usize, (height & !1) as usize);
        Ok(H264Encoder { encoder, yuv, size: (width, height) })
    }

    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Encodes one frame shown at `at_ms` into `annexb` (cleared first). Returns whether it is a keyframe, or
    /// None when the encoder skipped it. `keyframe` forces one.
    pub fn encode(
        &mut self,
        frame: &RgbImage,
        at_ms: u64,
        keyframe: bool,
        annexb: &mut Vec<u8>,
    ) -> anyhow::Result<Option<bool>> {
        if frame.dimensions() != self.size {
            let (w, h) = frame.dimensions();
            bail!("cannot encode a {w}x{h} frame with an encoder made for {}x{}", self.size.0, self.size.1);
        }
        if keyframe {
            self.encoder.force_intra_frame();
        }
        self.yuv.read_rgb8(EvenRgb(frame));
        let bitstream =
            self.encoder.encode_at(&self.yuv, Timestamp::from_millis(at_ms)).context("the H.264 encoder failed")?;
        let key = match bitstream.frame_type() {
            FrameType::IDR => true,
            FrameType::I | FrameType::P | FrameType::IPMixed => false,
            // Rate control skipped the frame (skipping is off, so this should not happen).
            FrameType::Skip | FrameType::Invalid => return Ok(None),
        };
        annexb.clear();
        bitstream.write_vec(annexb);
        Ok(Some(key))
    }
}

/// The largest even-sized top-left part of an RGB image, without copying (openh264 needs even sizes).
struct EvenRgb<'a>(&'a RgbImage);

impl RGBSource for EvenRgb<'_> {
    fn dimensions(&self) -> (usize, usize) {
        ((self.0.width() & !1) as usize, (self.0.height() & !1) as usize)
    }

    fn pixel_f32(&self, x: usize, y: usize) -> (f32, f32, f32) {
        let [r, g, b] = self.0.get_pixel(x as u32, y as u32).0;
        (r.into(), g.into(), b.into())
    }
}

impl RGB8Source for EvenRgb<'_> {
    fn dimensions_padded(&self) -> (usize, usize) {
        (self.0.width() as usize, self.0.height() as usize)
    }

    fn rgb8_data(&self) -> &[u8] {
        self.0.as_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::frame;

    #[test]
    fn encodes_a_keyframe_first_and_refuses_other_sizes() {
        let mut encoder = H264Encoder::new(321, 241, 30.0).expect("encoder");
        let mut annexb = Vec::new();
        assert_eq!(encoder.encode(&frame(321, 241, 0), 0, false, &mut annexb).expect("encode"), Some(true));
        assert!(annexb.starts_with(&[0, 0, 0, 1]), "Annex-B start code");
        assert_eq!(encoder.encode(&frame(321, 241, 1), 33, false, &mut annexb).expect("encode"), Some(false));
        assert_eq!(encoder.encode(&frame(321, 241, 2), 66, true, &mut annexb).expect("encode"), Some(true));
        assert!(encoder.encode(&frame(320, 240, 0), 99, false, &mut annexb).is_err());
        assert!(H264Encoder::new(8, 8, 30.0).is_err());
    }
}
