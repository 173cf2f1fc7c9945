//! Video through FFmpeg's libraries, on the capture thread: files of any container and codec, network streams and
//! the screen, each frame the RGB picture `ffmpeg -i IN frame%04d.png` gives, with its own timestamp.

use std::ffi::{c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use ff::ffi;
use ffmpeg_next as ff;
use image::RgbImage;

pub mod address;
pub mod rotation;

use address::{OpenArgs, OpenFailure, ScreenRegion, StreamUrl};

/// A network open (connect, handshake, probe) that takes longer is given up, with advice.
pub const STREAM_OPEN_TIMEOUT: Duration = Duration::from_secs(8);
/// A stream that sends nothing for this long is lost (and opened again by the capture loop).
pub const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Give up on a file after this many undecodable packets in a row (one bad packet is skipped, as ffmpeg does).
const MAX_ERRORS_IN_A_ROW: u32 = 100;
/// Largest picture accepted from a stream, in pixels (16K x 16K), checked before a buffer is made for it.
const MAX_PIXELS: u64 = 16384 * 16384;

/// What to open.
#[derive(Clone, Debug)]
pub enum Input {
    File(PathBuf),
    Stream(StreamUrl),
    Screen { region: Option<ScreenRegion>, fps: u32 },
}

impl Input {
    /// How the input is named in messages: the path, the URL without its password, or "the screen".
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stream(url) => url.masked(),
            Input::Screen { .. } => "the screen".into(),
        }
    }

    fn is_live(&self) -> bool {
        !matches!(self, Input::File(_))
    }
}

/// The deadline FFmpeg's blocking calls are held to, read by its interrupt callback (so a dead network read
/// returns instead of blocking the capture thread and the reopen).
struct Deadline {
    base: Instant,
    /// Milliseconds after `base`; 0: no deadline.
    at_ms: AtomicU64,
}

impl Deadline {
    fn new() -> Deadline {
        Deadline { base: Instant::now(), at_ms: AtomicU64::new(0) }
    }

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64 + 1
    }

    fn arm(&self, within: Option<Duration>) {
        let at = within.map_or(0, |d| self.now_ms() + d.as_millis() as u64);
        self.at_ms.store(at, Ordering::Relaxed);
    }

    fn passed(&self) -> bool {
        let at = self.at_ms.load(Ordering::Relaxed);
        at != 0 && self.now_ms() >= at
    }
}

extern "C" fn interrupt(opaque: *mut c_void) -> c_int {
    // SAFETY: `opaque` is the `Deadline` boxed in `Video`, which outlives its format context (field order).
    let deadline = unsafe { &*(opaque as *const Deadline) };
    c_int::from(deadline.passed())
}

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = ff::init();
        // FFmpeg's own log lines would repeat URLs with their passwords and flood stderr on a corrupt file:
        // errors reach the user through the messages below instead. NASVIEW_FFMPEG_LOG=1 shows them for debugging.
        let level = if std::env::var_os("NASVIEW_FFMPEG_LOG").is_some() {
            ff::util::log::Level::Warning
        } else {
            ff::util::log::Level::Quiet
        };
        ff::util::log::set_level(level);
    });
}

/// The linked FFmpeg's version, as said in messages ("5.1.6-0+deb12u1").
pub fn ffmpeg_version() -> String {
    // SAFETY: av_version_info returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(ffi::av_version_info()) }.to_string_lossy().into_owned()
}

/// One decoded video stream of an input, converted to RGB frame by frame.
pub struct Video {
    // Field order is drop order: the decoder and filters go before the input, the input before its deadline.
    decoder: ff::decoder::Video,
    convert: Option<Converter>,
    input: ff::format::context::Input,
    deadline: Box<Deadline>,
    what: Input,
    stream_index: usize,
    time_base: ff::Rational,
    /// The first frame's timestamp: times are from it.
    origin: Option<i64>,
    /// Filters that turn the picture upright (display rotation), if any.
    upright: Option<String>,
    fps: Option<f64>,
    codec: String,
    /// The duration is known: a file, or a finite file over HTTP (ends rather than reconnects).
    finite: bool,
    decoded: ff::frame::Video,
    packet: ff::Packet,
    eof_sent: bool,
    errors_in_a_row: u32,
    /// Packets the decoder refused (corrupt data), said once at the end.
    skipped_packets: u64,
    last_decode: Option<Duration>,
}

impl Video {
    pub fn open(what: &Input) -> anyhow::Result<Video> {
        init();
        let deadline = Box::new(Deadline::new());
        let name = what.name();
        let args = open_arguments(what)?;
        deadline.arm(what.is_live().then_some(STREAM_OPEN_TIMEOUT));
        let input = open_input(&args, &deadline).map_err(|e| open_error(what, e))?;
        deadline.arm(None);

        let stream = input.streams().best(ff::media::Type::Video).ok_or_else(|| match what {
            Input::File(p) => {
                anyhow!(
                    "{} has no video stream (audio only?); pass a video file, an image folder or a camera",
                    p.display()
                )
            }
            _ => anyhow!("{name} sends no video stream"),
        })?;
        let stream_index = stream.index();
        let time_base = stream.time_base();
        let avg = stream.avg_frame_rate();
        let fps = (avg.numerator() > 0 && avg.denominator() > 0).then(|| f64::from(avg));
        // SAFETY: the stream pointer is valid while `input` lives; the side data is 9 i32s when its size says so.
        let upright = unsafe {
            let mut size = 0usize;
            let data = ffi::av_stream_get_side_data(
                stream.as_ptr(),
                ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
                ptr::addr_of_mut!(size).cast(),
            );
            (!data.is_null() && size >= 36).then(|| {
                let mut m = [0i32; 9];
                for (i, v) in m.iter_mut().enumerate() {
                    *v =
                        i32::from_ne_bytes(std::slice::from_raw_parts(data.add(4 * i), 4).try_into().unwrap_or([0; 4]));
                }
                m
            })
        };
        let upright = rotation::upright_filters(upright.as_ref());

        let parameters = stream.parameters();
        let codec_id = parameters.id();
        let codec = match codec_id {
            ff::codec::Id::None => "of an unknown codec".to_string(),
            id => id.name().to_string(),
        };
        let mut context = ff::codec::Context::from_parameters(parameters)
            .map_err(|e| anyhow!("cannot read the video stream of {name}: {e}"))?;
        // Files: all cores (frame threads, as ffmpeg). Live sources: slice threads only, since frame threads hold
        // back one frame per thread and add that much delay.
        let kind = if what.is_live() { ff::threading::Type::Slice } else { ff::threading::Type::Frame };
        context.set_threading(ff::threading::Config { kind, count: 0, ..Default::default() });
        let mut decoder = context.decoder();
        decoder.set_packet_time_base(time_base);
        if what.is_live() {
            // SAFETY: setting a flag field of an unopened codec context.
            unsafe { (*decoder.as_mut_ptr()).flags |= ffi::AV_CODEC_FLAG_LOW_DELAY as c_int };
        }
        let decoder = match decoder.video() {
            Ok(d) => d,
            Err(ff::Error::DecoderNotFound) | Err(ff::Error::InvalidData) if ff::decoder::find(codec_id).is_none() => {
                bail!(
                    "the video of {name} is {codec}, which the linked FFmpeg {} cannot decode; convert it with \
                     `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`, or install an FFmpeg with that decoder",
                    ffmpeg_version()
                )
            }
            Err(e) => bail!("cannot start the {codec} decoder for {name}: {e}"),
        };
        // SAFETY: reading the duration field of an open context.
        let duration = unsafe { (*input.as_ptr()).duration };
        let finite = !what.is_live() || (duration > 0 && duration != ffi::AV_NOPTS_VALUE && !is_live_format(&input));
        tracing::debug!(input = %name, codec, ?fps, ?upright, finite, "video opened");
        Ok(Video {
            decoder,
            convert: None,
            input,
            deadline,
            what: what.clone(),
            stream_index,
            time_base,
            origin: None,
            upright,
            fps,
            codec,
            finite,
            decoded: ff::frame::Video::empty(),
            packet: ff::Packet::empty(),
            eof_sent: false,
            errors_in_a_row: 0,
            skipped_packets: 0,
            last_decode: None,
        })
    }

    /// Mean frame rate from the container, when it says.
    pub fn fps(&self) -> Option<f64> {
        self.fps
    }

    /// Whether the input ends (files, finite files over HTTP) rather than streams on.
    pub fn is_finite(&self) -> bool {
        self.finite
    }

    /// How long the last frame took to read, decode and convert.
    pub fn last_decode(&self) -> Option<Duration> {
        self.last_decode
    }

    pub fn describe(&self) -> String {
        let size = self.convert.as_ref().map(|c| format!(" {}x{}", c.out_size.0, c.out_size.1)).unwrap_or_default();
        let rate = self.fps.map(|f| format!(" @ {f:.1} fps")).unwrap_or_default();
        let turned = if self.upright.is_some() { ", rotated upright" } else { "" };
        match &self.what {
            Input::File(_) => format!("video {}{size}{rate}{turned}", self.codec),
            Input::Stream(url) => format!("stream {} {}{size}{rate}", url.masked(), self.codec),
            Input::Screen { .. } => format!("screen{size}{rate}"),
        }
    }

    /// The next frame (RGB, upright) and its time from the first frame; Ok(None) at the end of a finite input.
    pub fn next_frame(&mut self) -> anyhow::Result<Option<(RgbImage, Duration)>> {
        let started = Instant::now();
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => {
                    self.errors_in_a_row = 0;
                    // Before converting: the filter graph takes the frame's data and leaves it blank.
                    let time = self.time_of_frame();
                    let image = self.convert_frame()?;
                    self.last_decode = Some(started.elapsed());
                    return Ok(Some((image, time)));
                }
                Err(ff::Error::Eof) => return self.ended(),
                Err(ff::Error::Other { errno }) if errno == libc_eagain() => {}
                // A frame that failed inside a frame thread: skipped, as ffmpeg does.
                Err(e) => self.bad_packet(e)?,
            }
            if self.eof_sent {
                return self.ended();
            }
            self.deadline.arm(self.what.is_live().then_some(STREAM_READ_TIMEOUT));
            let read = self.packet.read(&mut self.input);
            self.deadline.arm(None);
            match read {
                Ok(()) if self.packet.stream() != self.stream_index => continue,
                Ok(()) => match self.decoder.send_packet(&self.packet) {
                    Ok(()) => {}
                    Err(ff::Error::Other { errno }) if errno == libc_eagain() => {}
                    Err(e) => self.bad_packet(e)?,
                },
                Err(ff::Error::Other { errno }) if errno == libc_eagain() => {}
                Err(ff::Error::Eof) if self.finite => self.send_eof(),
                Err(e) if self.finite => {
                    // A file that cannot be read further ends there, as it does for ffmpeg; what was decoded stands.
                    tracing::warn!("{} cannot be read past this point ({e}); stopping there", self.what.name());
                    self.send_eof();
                }
                Err(ff::Error::Exit) => {
                    bail!("{}: no data for {:.0} s", self.what.name(), STREAM_READ_TIMEOUT.as_secs_f64())
                }
                Err(ff::Error::Eof) => bail!("{} ended (the server closed the stream)", self.what.name()),
                Err(e) => bail!("{}: {}", self.what.name(), address::mask(&e.to_string())),
            }
        }
    }

    fn send_eof(&mut self) {
        self.eof_sent = true;
        if let Err(e) = self.decoder.send_eof() {
            tracing::debug!("flushing the decoder: {e}");
        }
    }

    fn ended(&mut self) -> anyhow::Result<Option<(RgbImage, Duration)>> {
        if self.skipped_packets > 0 {
            let n = std::mem::take(&mut self.skipped_packets);
            crate::messages::warn(&format!(
                "{}: {n} packet(s) of corrupt data could not be decoded and were skipped (as ffmpeg skips them)",
                self.what.name()
            ));
        }
        Ok(None)
    }

    fn bad_packet(&mut self, e: ff::Error) -> anyhow::Result<()> {
        self.skipped_packets += 1;
        self.errors_in_a_row += 1;
        if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW {
            bail!("{} cannot be decoded ({} bad packets in a row): {e}", self.what.name(), self.errors_in_a_row);
        }
        tracing::debug!("skipping an undecodable packet of {}: {e}", self.what.name());
        Ok(())
    }

    fn time_of_frame(&mut self) -> Duration {
        let Some(ts) = self.decoded.timestamp() else {
            return Duration::ZERO;
        };
        let origin = *self.origin.get_or_insert(ts);
        let ticks = i128::from(ts) - i128::from(origin);
        let (num, den) = (i128::from(self.time_base.numerator()), i128::from(self.time_base.denominator()));
        if ticks <= 0 || num <= 0 || den <= 0 {
            return Duration::ZERO;
        }
        let nanos = ticks.saturating_mul(num).saturating_mul(1_000_000_000) / den;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn convert_frame(&mut self) -> anyhow::Result<RgbImage> {
        let frame = &self.decoded;
        let key = (frame.width(), frame.height(), frame.format());
        if u64::from(key.0) * u64::from(key.1) > MAX_PIXELS || key.0 == 0 || key.1 == 0 {
            bail!("{} has a {}x{} picture, beyond what nasview takes (16384x16384)", self.what.name(), key.0, key.1);
        }
        if self.convert.as_ref().is_none_or(|c| c.key != key) {
            let sar = frame.aspect_ratio();
            self.convert = Some(
                Converter::new(key, self.time_base, sar, self.upright.as_deref())
                    .map_err(|e| anyhow!("cannot convert the pictures of {} to RGB: {e}", self.what.name()))?,
            );
        }
        let convert = self.convert.as_mut().expect("just made");
        convert.run(frame).map_err(|e| anyhow!("cannot convert a picture of {} to RGB: {e}", self.what.name()))
    }
}

fn libc_eagain() -> c_int {
    ffi::EAGAIN
}

/// A live format (RTSP, MJPEG over HTTP, a grabber) has no end, even when a duration is guessed.
fn is_live_format(input: &ff::format::context::Input) -> bool {
    let name = input.format().name().to_string();
    ["rtsp", "mpjpeg", "x11grab", "gdigrab", "avfoundation", "rtp", "sdp"].iter().any(|n| name.contains(n))
}

/// The filter graph that turns decoded pictures upright and into RGB24: FFmpeg's own filters with the CLI's
/// scaler flags, so the pixels are those of `ffmpeg -i IN frame%04d.png` (colour matrix and range from each
/// frame). Made again when the picture's size or format changes mid-stream.
struct Converter {
    key: (u32, u32, ff::format::Pixel),
    graph: ff::filter::Graph,
    out: ff::frame::Video,
    out_size: (u32, u32),
}

impl Converter {
    fn new(
        key: (u32, u32, ff::format::Pixel),
        time_base: ff::Rational,
        sar: ff::Rational,
        upright: Option<&str>,
    ) -> Result<Converter, ff::Error> {
        let (w, h, format) = key;
        let mut graph = ff::filter::Graph::new();
        let sar = if sar.numerator() > 0 && sar.denominator() > 0 { sar } else { ff::Rational::new(1, 1) };
        let tb = if time_base.numerator() > 0 && time_base.denominator() > 0 {
            time_base
        } else {
            ff::Rational::new(1, 90000)
        };
        let args = format!(
            "video_size={w}x{h}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
            ffi::AVPixelFormat::from(format) as c_int,
            tb.numerator(),
            tb.denominator(),
            sar.numerator(),
            sar.denominator()
        );
        let buffer = ff::filter::find("buffer").ok_or(ff::Error::FilterNotFound)?;
        let sink = ff::filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?;
        graph.add(&buffer, "in", &args)?;
        graph.add(&sink, "out", "")?;
        graph.get("out").ok_or(ff::Error::FilterNotFound)?.set_pixel_format(ff::format::Pixel::RGB24);
        // The CLI's scaler options for the conversion it inserts (`-sws_flags` defaults to bicubic).
        let flags = CString::new("flags=bicubic").expect("no NUL");
        // SAFETY: the graph owns the string (av_strdup) and frees it with itself.
        unsafe { (*graph.as_mut_ptr()).scale_sws_opts = ffi::av_strdup(flags.as_ptr()) };
        graph.output("in", 0)?.input("out", 0)?.parse(upright.unwrap_or("null"))?;
        graph.validate()?;
        Ok(Converter { key, graph, out: ff::frame::Video::empty(), out_size: (0, 0) })
    }

    fn run(&mut self, frame: &ff::frame::Video) -> Result<RgbImage, ff::Error> {
        self.graph.get("in").ok_or(ff::Error::FilterNotFound)?.source().add(frame)?;
        self.graph.get("out").ok_or(ff::Error::FilterNotFound)?.sink().frame(&mut self.out)?;
        let (w, h) = (self.out.width(), self.out.height());
        self.out_size = (w, h);
        let stride = self.out.stride(0);
        let data = self.out.data(0);
        let row = w as usize * 3;
        let mut rgb = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            rgb.extend_from_slice(&data[y * stride..y * stride + row]);
        }
        RgbImage::from_raw(w, h, rgb).ok_or(ff::Error::Bug)
    }
}

/// Input format, URL and options for each kind of input.
fn open_arguments(what: &Input) -> anyhow::Result<OpenArgs> {
    Ok(match what {
        Input::File(path) => OpenArgs { format: None, url: path_string(path)?, options: Vec::new() },
        Input::Stream(url) => {
            // Low delay: no buffering beyond decoding, a short probe (a live camera sends a key frame every
            // second or two), and timeouts on every socket so a dead peer is noticed.
            let mut options = vec![
                ("fflags", "nobuffer".to_string()),
                ("flags", "low_delay".to_string()),
                ("probesize", "1000000".to_string()),
                ("analyzeduration", "2000000".to_string()),
                ("rw_timeout", STREAM_OPEN_TIMEOUT.as_micros().to_string()),
            ];
            match url.scheme().as_str() {
                "rtsp" | "rtsps" => {
                    options.push(("rtsp_transport", url.transport.as_str().to_string()));
                    options.push(("timeout", STREAM_OPEN_TIMEOUT.as_micros().to_string()));
                }
                "http" | "https" => options.push(("timeout", STREAM_OPEN_TIMEOUT.as_micros().to_string())),
                _ => {}
            }
            OpenArgs { format: None, url: url.secret().to_string(), options }
        }
        Input::Screen { region, fps } => {
            let display = std::env::var("DISPLAY").ok();
            address::screen_input(std::env::consts::OS, display.as_deref(), *region, *fps)?
        }
    })
}

fn path_string(path: &Path) -> anyhow::Result<String> {
    let s = path.to_str().ok_or_else(|| anyhow!("{} is not a UTF-8 path; rename the file", path.display()))?;
    // A name with a colon would be read as a protocol ("a:b.mp4"): `file:` makes it a file whatever it holds.
    Ok(format!("file:{s}"))
}

/// Opens an input with an interrupt callback held to `deadline`, an optional input format (a grabber) and options.
fn open_input(args: &OpenArgs, deadline: &Deadline) -> Result<ff::format::context::Input, ff::Error> {
    let url = CString::new(args.url.as_str()).map_err(|_| ff::Error::InvalidData)?;
    let mut dict = ff::Dictionary::new();
    for (k, v) in &args.options {
        dict.set(k, v);
    }
    // SAFETY: standard libavformat open sequence; on failure avformat_open_input frees the context itself.
    unsafe {
        let fmt = match args.format {
            Some(name) => {
                let name = CString::new(name).map_err(|_| ff::Error::InvalidData)?;
                let f = ffi::av_find_input_format(name.as_ptr());
                if f.is_null() {
                    return Err(ff::Error::DemuxerNotFound);
                }
                f
            }
            None => ptr::null(),
        };
        let mut ctx = ffi::avformat_alloc_context();
        if ctx.is_null() {
            return Err(ff::Error::Other { errno: ffi::ENOMEM });
        }
        (*ctx).interrupt_callback =
            ffi::AVIOInterruptCB { callback: Some(interrupt), opaque: deadline as *const Deadline as *mut c_void };
        let mut opts = dict.disown();
        let r = ffi::avformat_open_input(&mut ctx, url.as_ptr(), fmt as _, &mut opts);
        ff::Dictionary::own(opts);
        if r < 0 {
            return Err(ff::Error::from(r));
        }
        let r = ffi::avformat_find_stream_info(ctx, ptr::null_mut());
        if r < 0 {
            ffi::avformat_close_input(&mut ctx);
            return Err(ff::Error::from(r));
        }
        Ok(ff::format::context::Input::wrap(ctx))
    }
}

/// FFmpeg's error for an open, as a sentence that says what to do.
fn open_error(what: &Input, e: ff::Error) -> anyhow::Error {
    let detail = e.to_string();
    match what {
        Input::File(path) => match e {
            ff::Error::InvalidData | ff::Error::DemuxerNotFound => anyhow!(
                "{} is not a video nasview can read (the linked FFmpeg {} recognises no container in it, or finds it \
                 damaged); pass a video file (MP4, MKV, MOV, WebM, AVI, TS, ...), an image folder or a camera",
                path.display(),
                ffmpeg_version()
            ),
            ff::Error::Eof => anyhow!("{} is empty or cut off before its first frame", path.display()),
            _ => anyhow!("cannot open the video {}: {detail}", path.display()),
        },
        Input::Stream(url) => {
            let failure = classify(&e);
            anyhow!(address::stream_advice(url, failure, &detail, STREAM_OPEN_TIMEOUT.as_secs_f64()))
        }
        Input::Screen { .. } => {
            anyhow!("cannot grab the screen: {detail}; check that DISPLAY names a running X server this user may open")
        }
    }
}

fn classify(e: &ff::Error) -> OpenFailure {
    match *e {
        ff::Error::HttpUnauthorized => OpenFailure::Unauthorized,
        ff::Error::HttpForbidden => OpenFailure::Forbidden,
        ff::Error::HttpNotFound => OpenFailure::NotFound,
        ff::Error::ProtocolNotFound => OpenFailure::NoProtocol,
        ff::Error::Exit => OpenFailure::TimedOut,
        ff::Error::Other { errno } if errno == ffi::ECONNREFUSED => OpenFailure::Refused,
        ff::Error::Other { errno } if errno == ffi::ETIMEDOUT => OpenFailure::TimedOut,
        ff::Error::Other { errno } if errno == ffi::EHOSTUNREACH || errno == ffi::ENETUNREACH => {
            OpenFailure::Unreachable
        }
        _ => OpenFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{frame, record, square_at, temp_dir, truncated_recording, BACKGROUND, SIDE, SQUARE};

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
        let mut video = Video::open(&Input::File(path.to_path_buf())).expect("open");
        std::iter::from_fn(|| video.next_frame().expect("next_frame")).collect()
    }

    #[test]
    fn reads_back_what_the_recorder_wrote() {
        let dir = temp_dir("video-roundtrip");
        for (w, h) in [(320, 240), (321, 241)] {
            let path = dir.join(format!("{w}x{h}.mp4"));
            record(&path, w, h, 30).finish().expect("finish");
            let video = Video::open(&Input::File(path.clone())).expect("open");
            assert!((video.fps().unwrap_or(0.0) - 10.0).abs() < 0.01, "{:?}", video.fps());
            let frames = read_all(&path);
            assert_eq!(frames.len(), 30);
            for (i, (image, pts)) in frames.iter().enumerate() {
                // The recorder encodes even sizes: 321x241 is cut to 320x240.
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
    fn open_errors_say_what_to_do() {
        let dir = temp_dir("video-errors");
        let err =
            |path: &Path| format!("{:#}", Video::open(&Input::File(path.to_path_buf())).err().expect("must fail"));
        let text = dir.join("notes.mp4");
        std::fs::write(&text, "not a video at all, just text").expect("write");
        let e = err(&text);
        assert!(e.contains("notes.mp4 is not a video nasview can read") && e.contains("FFmpeg"), "{e}");
        let empty = dir.join("empty.mkv");
        std::fs::write(&empty, "").expect("write");
        assert!(err(&empty).contains("empty.mkv"), "{}", err(&empty));
        // A name with a colon is a file, not a protocol.
        let colon = dir.join("a:b.mp4");
        record(&colon, 64, 48, 3).finish().expect("finish");
        assert_eq!(read_all(&colon).len(), 3);
    }
}
