//! Video file source: demuxes H.264 from MP4 (plain or fragmented) and decodes it with openh264, on the caller's thread.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use image::RgbImage;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use self::demux::{Codec, DemuxError, Sample};

pub mod demux;

const SUPPORTED: &str = "nasview reads MP4 files with H.264 (avc1) video, plain or fragmented, such as its own \
                         recordings or `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`";
/// Give up after this many undecodable samples in a row (one bad sample is skipped, a broken stream is not).
const MAX_ERRORS_IN_A_ROW: u32 = 25;

/// Reads the first H.264 video track of an MP4 file frame by frame.
pub struct Mp4Video {
    path: PathBuf,
    file: File,
    samples: Vec<Sample>,
    next: usize,
    timescale: u32,
    size: (u32, u32),
    fps: Option<f32>,
    nal_length_size: usize,
    decoder: Decoder,
    /// Presentation times of samples fed to the decoder whose pictures are still inside it, ascending. Pictures
    /// come out in presentation order (B-frames reorder), so each takes the smallest.
    pending: Vec<i64>,
    /// Pictures the decoder gave at the end of the stream (flush), with their times.
    flushed: Option<VecDeque<(RgbImage, Duration)>>,
    errors_in_a_row: u32,
    sample_buf: Vec<u8>,
    annexb: Vec<u8>,
}

impl Mp4Video {
    /// Clear error if the file is missing, not MP4, or has no H.264 video track (says what is supported).
    pub fn open(path: &Path) -> anyhow::Result<Mp4Video> {
        let mut file = File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => anyhow!("no such video file: {}; check the path", path.display()),
            _ => anyhow!("cannot open the video {}: {e}", path.display()),
        })?;
        let len = file.metadata().with_context(|| format!("cannot read {}", path.display()))?.len();
        if len == 0 {
            bail!("{} is empty; {SUPPORTED}", path.display());
        }
        let mut track = match demux::read_video_track(&mut file, len) {
            Ok(track) => track,
            Err(DemuxError::Other(e)) => bail!("cannot read {}: {e:#}; {SUPPORTED}", path.display()),
            Err(e) => bail!("{} is {e}; {SUPPORTED}", path.display()),
        };
        let avc = match (track.codec, track.avc.take()) {
            (Codec::H264, Some(avc)) => avc,
            (codec, _) => {
                bail!("the video track of {} is {codec}, which nasview cannot decode; {SUPPORTED}", path.display())
            }
        };
        if track.truncated {
            tracing::warn!("{} is cut short: reading its first {} frames", path.display(), track.samples.len());
        }
        let mut samples = track.samples;
        // Start at 0 whatever the edit list or B-frame delay says.
        let first = samples.iter().map(|s| s.pts).min().unwrap_or(0);
        samples.iter_mut().for_each(|s| s.pts = s.pts.saturating_sub(first));

        let timescale = track.timescale;
        let span = samples.iter().map(|s| s.pts).max().unwrap_or(0);
        let fps = (samples.len() >= 2 && span > 0)
            .then(|| ((samples.len() - 1) as f64 * f64::from(timescale) / span as f64) as f32);

        // openh264 decodes 8-bit 4:2:0 only; say so rather than fail on the first frame with an error code.
        if !matches!(avc.profile, 66 | 77 | 88 | 100) {
            bail!(
                "{} uses H.264 profile {} (High 10, 4:2:2 or 4:4:4), which the decoder does not support; \
                 convert it with `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`",
                path.display(),
                avc.profile
            );
        }
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let mut decoder =
            Decoder::with_api_config(OpenH264API::from_source(), config).context("cannot create the H.264 decoder")?;
        // The decoder needs the SPS/PPS (kept in avcC, not in the samples) before the first picture.
        let mut params = Vec::new();
        for nal in &avc.parameter_sets {
            params.extend_from_slice(&[0, 0, 0, 1]);
            params.extend_from_slice(nal);
        }
        decoder
            .decode(&params)
            .with_context(|| format!("cannot decode the H.264 parameters (SPS/PPS) of {}", path.display()))?;
        tracing::debug!(path = %path.display(), samples = samples.len(), timescale, ?fps, "video opened");

        Ok(Mp4Video {
            path: path.to_path_buf(),
            file,
            samples,
            next: 0,
            timescale,
            size: (track.width, track.height),
            fps,
            nal_length_size: avc.nal_length_size,
            decoder,
            pending: Vec::new(),
            flushed: None,
            errors_in_a_row: 0,
            sample_buf: Vec::new(),
            annexb: Vec::new(),
        })
    }

    /// Frame size from the MP4 header.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Mean frame rate over the file; None with fewer than two frames.
    pub fn fps(&self) -> Option<f32> {
        self.fps
    }

    /// Next decoded frame (RGB) and its presentation time; Ok(None) at the end.
    pub fn next_frame(&mut self) -> anyhow::Result<Option<(RgbImage, Duration)>> {
        while let Some(sample) = self.samples.get(self.next).copied() {
            self.next += 1;
            self.read_sample(sample)?;
            let at = self.pending.partition_point(|&p| p < sample.pts);
            self.pending.insert(at, sample.pts);
            match self.decoder.decode(&self.annexb) {
                Ok(Some(yuv)) => {
                    self.errors_in_a_row = 0;
                    let image = to_rgb(&yuv);
                    let pts = self.pending.remove(0);
                    return Ok(Some((image, ticks_to_duration(pts, self.timescale))));
                }
                Ok(None) => self.errors_in_a_row = 0,
                Err(e) => {
                    // Drop this sample's time too, or every later frame would get the time of the one before.
                    self.pending.remove(at);
                    self.errors_in_a_row += 1;
                    if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW {
                        bail!(
                            "{} cannot be decoded ({} bad H.264 frames in a row): {e}",
                            self.path.display(),
                            self.errors_in_a_row
                        );
                    }
                    tracing::warn!("skipping an undecodable frame of {}: {e}", self.path.display());
                }
            }
        }
        if self.flushed.is_none() {
            // End of the samples: the decoder may still hold pictures (B-frame reordering delay).
            let timescale = self.timescale;
            let mut pending = std::mem::take(&mut self.pending).into_iter();
            let pictures = self.decoder.flush_remaining().unwrap_or_else(|e| {
                tracing::warn!("cannot flush the last frames of {}: {e}", self.path.display());
                Vec::new()
            });
            let frames =
                pictures.iter().zip(&mut pending).map(|(yuv, pts)| (to_rgb(yuv), ticks_to_duration(pts, timescale)));
            self.flushed = Some(frames.collect());
        }
        Ok(self.flushed.as_mut().and_then(VecDeque::pop_front))
    }

    /// Reads one sample and rewrites it from MP4's length-prefixed NAL units to Annex-B start codes for openh264.
    fn read_sample(&mut self, sample: Sample) -> anyhow::Result<()> {
        self.sample_buf.resize(sample.size as usize, 0);
        self.file
            .seek(SeekFrom::Start(sample.offset))
            .and_then(|_| self.file.read_exact(&mut self.sample_buf))
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        self.annexb.clear();
        let mut rest = self.sample_buf.as_slice();
        while rest.len() >= self.nal_length_size {
            let (prefix, tail) = rest.split_at(self.nal_length_size);
            let len = prefix.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
            let Some(nal) = tail.get(..len) else {
                tracing::warn!("a NAL unit in {} overruns its sample; cut short", self.path.display());
                break;
            };
            self.annexb.extend_from_slice(&[0, 0, 0, 1]);
            self.annexb.extend_from_slice(nal);
            rest = &tail[len..];
        }
        Ok(())
    }
}

fn to_rgb(yuv: &DecodedYUV<'_>) -> RgbImage {
    let (w, h) = yuv.dimensions();
    let mut image = RgbImage::new(w as u32, h as u32);
    yuv.write_rgb8(&mut image);
    image
}

fn ticks_to_duration(ticks: i64, timescale: u32) -> Duration {
    let nanos = u128::from(ticks.max(0).unsigned_abs()) * 1_000_000_000 / u128::from(timescale);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{frame, record, square_at, temp_dir, truncated_recording, BACKGROUND, SIDE, SQUARE};
    use std::process::Command;

    /// Mean colour of a rectangle.
    fn mean(image: &RgbImage, x0: u32, y0: u32, w: u32, h: u32) -> [f64; 3] {
        let mut sum = [0f64; 3];
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                let p = image.get_pixel(x, y).0;
                (0..3).for_each(|c| sum[c] += f64::from(p[c]));
            }
        }
        sum.map(|s| s / f64::from(w * h))
    }

    fn close(got: [f64; 3], want: [u8; 3], tolerance: f64) -> bool {
        (0..3).all(|c| (got[c] - f64::from(want[c])).abs() <= tolerance)
    }

    fn read_all(path: &Path) -> Vec<(RgbImage, Duration)> {
        let mut video = Mp4Video::open(path).expect("open");
        std::iter::from_fn(|| video.next_frame().expect("next_frame")).collect()
    }

    fn ffmpeg(args: &[&str], out: &Path) {
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2"])
            .args(args)
            .arg(out)
            .status()
            .expect("ffmpeg not found: install ffmpeg (make setup does)");
        assert!(status.success(), "ffmpeg {args:?} failed");
    }

    #[test]
    fn reads_back_what_the_recorder_wrote() {
        let dir = temp_dir("video-roundtrip");
        for (w, h) in [(320, 240), (321, 241)] {
            let path = dir.join(format!("{w}x{h}.mp4"));
            record(&path, w, h, 30).finish().expect("finish");
            let video = Mp4Video::open(&path).expect("open");
            assert_eq!(video.size(), (320, 240));
            assert!((video.fps().unwrap_or(0.0) - 10.0).abs() < 0.01, "{:?}", video.fps());
            let frames = read_all(&path);
            assert_eq!(frames.len(), 30);
            for (i, (image, pts)) in frames.iter().enumerate() {
                assert_eq!(image.dimensions(), (320, 240));
                assert_eq!(*pts, Duration::from_millis(100 * i as u64), "frame {i}");
                // Inside the square, away from its edges (H.264 blurs them).
                let (x, y) = square_at(i as u32);
                let square = mean(image, x + 8, y + 8, SIDE - 16, SIDE - 16);
                assert!(close(square, SQUARE, 20.0), "frame {i}: square {square:?}, wrote {SQUARE:?}");
                let corner = mean(image, 0, 200, 8, 8);
                assert!(close(corner, BACKGROUND, 20.0), "frame {i}: background {corner:?}");
            }
            // The reader and the synthetic frame agree on where the square is.
            assert_eq!(frame(w, h, 3).get_pixel(square_at(3).0 + 1, square_at(3).1 + 1).0, SQUARE);
        }
    }

    #[test]
    fn variable_frame_rate_keeps_real_timestamps() {
        let path = temp_dir("video-vfr").join("vfr.mp4");
        let rec = crate::record::Recorder::start(&path, 320, 240, 30.0).expect("start");
        let gaps = [33, 47, 29, 120, 35, 61, 33, 250, 40];
        let times: Vec<Duration> = (0..60u64)
            .scan(Duration::from_millis(500), |t, i| {
                *t += Duration::from_millis(gaps[i as usize % gaps.len()]);
                Some(*t)
            })
            .collect();
        for (i, &t) in times.iter().enumerate() {
            assert!(rec.push(std::sync::Arc::new(frame(320, 240, i as u32 % 30)), t));
            while rec.frames() + rec.dropped() < i as u64 + 1 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        rec.finish().expect("finish");
        let frames = read_all(&path);
        assert_eq!(frames.len(), times.len());
        for (i, ((_, pts), t)) in frames.iter().zip(&times).enumerate() {
            // The first frame is time 0; the rest keep their real spacing, across fragment boundaries too.
            let want = *t - times[0];
            let error = pts.abs_diff(want);
            assert!(error < Duration::from_millis(1), "frame {i}: {pts:?}, pushed at {want:?}");
        }
    }

    #[test]
    fn reads_the_complete_fragments_of_a_truncated_recording() {
        let path = truncated_recording("video-trunc");
        let frames = read_all(&path);
        assert!((10..30).contains(&frames.len()), "{} frames", frames.len());
        assert!(frames.windows(2).all(|w| w[0].1 < w[1].1));
    }

    #[test]
    fn reads_ffmpeg_libx264_files_plain_and_fragmented() {
        let dir = temp_dir("video-ffmpeg");
        let x264 = "-c:v libx264 -pix_fmt yuv420p";
        let cases = [
            ("high-bframes", x264.to_string(), (320, 240)),
            ("baseline", format!("{x264} -profile:v baseline"), (320, 240)),
            ("faststart", format!("{x264} -movflags +faststart"), (320, 240)),
            ("fragmented", format!("{x264} -movflags frag_keyframe+empty_moov"), (320, 240)),
            // 180 is not a multiple of 16: the SPS crops the coded picture.
            ("cropped", format!("{x264} -vf scale=320:180"), (320, 180)),
        ];
        for (name, args, (w, h)) in cases {
            let path = dir.join(format!("x264-{name}.mp4"));
            ffmpeg(&args.split(' ').collect::<Vec<_>>(), &path);
            let video = Mp4Video::open(&path).expect("open");
            assert_eq!(video.size(), (w, h), "{name}");
            assert!((video.fps().unwrap_or(0.0) - 10.0).abs() < 0.01, "{name}: {:?}", video.fps());
            let frames = read_all(&path);
            assert_eq!(frames.len(), 20, "{name}");
            // ffmpeg's own decode, to check the pictures come out in presentation order (B-frames).
            let reference = Command::new("ffmpeg")
                .args(["-v", "error", "-i"])
                .arg(&path)
                .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
                .output()
                .expect("ffmpeg decode")
                .stdout;
            let frame_len = (w * h * 3) as usize;
            assert_eq!(reference.len(), 20 * frame_len, "{name}");
            for (i, ((image, pts), want)) in frames.iter().zip(reference.chunks(frame_len)).enumerate() {
                assert_eq!(image.dimensions(), (w, h), "{name}");
                assert_eq!(*pts, Duration::from_millis(100 * i as u64), "{name} frame {i}");
                let diff: u64 = image.as_raw().iter().zip(want).map(|(&a, &b)| u64::from(a.abs_diff(b))).sum();
                let diff = diff as f64 / frame_len as f64;
                // About 0.4 (colour conversions differ); a neighbouring frame is about 1.5 away.
                assert!(diff < 1.0, "{name} frame {i}: mean difference {diff:.2} from ffmpeg's decode");
            }
        }
    }

    #[test]
    fn open_errors_say_what_is_supported() {
        let dir = temp_dir("video-errors");
        let err = |path: &Path| format!("{:#}", Mp4Video::open(path).err().expect("open must fail"));

        let missing = dir.join("missing.mp4");
        assert!(err(&missing).contains("no such video file"), "{}", err(&missing));

        let text = dir.join("notes.mp4");
        std::fs::write(&text, "not a video at all, just text").expect("write");
        assert!(err(&text).contains("not an MP4 file") && err(&text).contains("H.264"), "{}", err(&text));

        // A plain MP4 cut short has its moov (written last) missing.
        let cut = dir.join("cut.mp4");
        ffmpeg(&["-c:v", "libx264"], &cut);
        let bytes = std::fs::read(&cut).expect("read");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("truncate");
        assert!(err(&cut).contains("incomplete MP4 file"), "{}", err(&cut));

        let mpeg4 = dir.join("mpeg4.mp4");
        ffmpeg(&["-c:v", "mpeg4"], &mpeg4);
        assert!(err(&mpeg4).contains("is MPEG-4 Part 2") && err(&mpeg4).contains("libx264"), "{}", err(&mpeg4));
    }

    #[test]
    fn other_codecs_are_named() {
        let dir = temp_dir("video-codecs");
        let cases = [
            ("hvc1", "-c:v libx265 -tag:v hvc1 -x265-params log-level=none", "H.265 (HEVC)"),
            ("hev1", "-c:v libx265 -tag:v hev1 -x265-params log-level=none", "H.265 (HEVC)"),
            ("vp9", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8", "VP9"),
            ("av1", "-c:v libsvtav1 -preset 12", "AV1"),
            ("mjpeg", "-c:v mjpeg", "Motion JPEG"),
        ];
        for (name, args, codec) in cases {
            let path = dir.join(format!("{name}.mp4"));
            ffmpeg(&args.split(' ').chain(["-frames:v", "3"]).collect::<Vec<_>>(), &path);
            let err = format!("{:#}", Mp4Video::open(&path).err().expect("open must fail"));
            assert!(err.contains(&format!("is {codec}, which nasview cannot decode")), "{name}: {err}");
            assert!(err.contains("H.264") && err.contains("libx264"), "{name}: {err}");
        }
    }
}
