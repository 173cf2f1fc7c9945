//! Which camera mode to open (capture thread, at open): one pure function over the modes a camera offers.

use anyhow::bail;
use nokhwa::utils::{CameraFormat, FrameFormat};

use crate::source::CameraRequest;

/// The default mode is the largest one up to this size that runs live.
pub const DEFAULT_MAX_SIZE: (u32, u32) = (1920, 1080);
/// Below this rate a mode is a slide show, not a live view.
pub const LIVE_FPS: u32 = 24;
/// Rates above this are not worth more pixels or bandwidth for detection.
pub const USEFUL_FPS: u32 = 60;

/// `--pixel-format` names: the first of each row is the one nasview prints.
const PIXEL_FORMATS: [(FrameFormat, &[&str]); 6] = [
    (FrameFormat::MJPEG, &["mjpeg", "mjpg"]),
    (FrameFormat::YUYV, &["yuyv", "yuy2", "yuyv422"]),
    (FrameFormat::NV12, &["nv12"]),
    (FrameFormat::GRAY, &["gray", "grey", "y8"]),
    (FrameFormat::RAWRGB, &["rgb24", "rgb", "rgb3"]),
    (FrameFormat::RAWBGR, &["bgr24", "bgr", "bgr3"]),
];

/// `--pixel-format` value to a format; the error lists the names nasview knows.
pub fn parse_pixel_format(name: &str) -> anyhow::Result<FrameFormat> {
    let lower = name.to_ascii_lowercase();
    PIXEL_FORMATS.iter().find(|(_, names)| names.contains(&lower.as_str())).map(|(f, _)| *f).ok_or_else(|| {
        let known: Vec<&str> = PIXEL_FORMATS.iter().map(|(_, n)| n[0]).collect();
        anyhow::anyhow!("unknown --pixel-format {name:?}: use one of {}", known.join(", "))
    })
}

/// The `--pixel-format` name of a format.
pub fn pixel_format_name(f: FrameFormat) -> &'static str {
    PIXEL_FORMATS.iter().find(|(g, _)| *g == f).map_or("?", |(_, n)| n[0])
}

/// Preference between formats at equal size and rate: MJPEG (least USB bandwidth), then YUYV, then the rest.
pub fn format_rank(f: FrameFormat) -> u8 {
    match f {
        FrameFormat::MJPEG => 0,
        FrameFormat::YUYV => 1,
        FrameFormat::NV12 => 2,
        FrameFormat::RAWRGB => 3,
        FrameFormat::RAWBGR => 4,
        FrameFormat::GRAY => 5,
    }
}

/// A rate of 0 or 1 fps is what backends report when they cannot express the real one (fractional rates on
/// Windows, nokhwa #110/#144; ranges on Linux): unknown, not slow.
pub fn rate_known(fps: u32) -> bool {
    fps > 1
}

/// `1920x1080 MJPEG @ 30 fps`.
pub fn describe(f: &CameraFormat) -> String {
    let rate = if rate_known(f.frame_rate()) { format!("{} fps", f.frame_rate()) } else { "rate not reported".into() };
    format!("{}x{} {} @ {rate}", f.width(), f.height(), pixel_format_name(f.format()).to_uppercase())
}

/// The mode to open for `request`, from the modes the camera offers.
///
/// `--pixel-format` keeps that format only (an error lists what the camera has). `--resolution` keeps the exact
/// size when offered, else the nearest one: aspect ratio first, then area. `--fps` keeps the nearest rate. What
/// is left is decided by the default rule: the largest size up to 1920x1080 at >= 24 fps; at equal size the higher
/// rate (up to 60), then MJPEG before YUYV before the rest. When no mode reaches 24 fps, the fastest one (at that
/// rate, the largest size).
pub fn choose_format(offered: &[CameraFormat], request: &CameraRequest) -> anyhow::Result<CameraFormat> {
    if offered.is_empty() {
        bail!("the camera lists no mode nasview can read (MJPEG, YUYV, NV12, GRAY, RGB24)");
    }
    let mut modes = offered.to_vec();
    if let Some(name) = &request.pixel_format {
        let want = parse_pixel_format(name)?;
        modes.retain(|m| m.format() == want);
        if modes.is_empty() {
            bail!(
                "the camera has no {} mode; it offers {}: pass one of these to --pixel-format",
                pixel_format_name(want),
                formats_of(offered).join(", ")
            );
        }
    }
    if let Some(asked) = request.resolution {
        let size = nearest_size(&modes, asked);
        modes.retain(|m| (m.width(), m.height()) == size);
    }
    if let Some(fps) = request.fps {
        let best = modes.iter().map(|m| m.frame_rate().abs_diff(fps)).min().unwrap_or(0);
        modes.retain(|m| m.frame_rate().abs_diff(fps) == best);
    }
    Ok(default_pick(&modes))
}

/// The formats in a mode list, preferred first, by their `--pixel-format` names.
pub fn formats_of(modes: &[CameraFormat]) -> Vec<&'static str> {
    let mut fs: Vec<FrameFormat> = modes.iter().map(|m| m.format()).collect();
    fs.sort_by_key(|f| format_rank(*f));
    fs.dedup();
    fs.into_iter().map(pixel_format_name).collect()
}

fn area(m: &CameraFormat) -> u64 {
    m.width() as u64 * m.height() as u64
}

/// Fits in 1920x1080 either way round (portrait cameras exist).
fn within_default_size(m: &CameraFormat) -> bool {
    let (long, short) = (m.width().max(m.height()), m.width().min(m.height()));
    long <= DEFAULT_MAX_SIZE.0 && short <= DEFAULT_MAX_SIZE.1
}

/// The offered size nearest to `asked`: exact, else the closest aspect ratio (in 2 % steps, so 854x480 counts as
/// 16:9), then the closest area (by ratio), then the larger one.
fn nearest_size(modes: &[CameraFormat], asked: (u32, u32)) -> (u32, u32) {
    let sizes = modes.iter().map(|m| (m.width(), m.height()));
    if let Some(exact) = sizes.clone().find(|s| *s == asked) {
        return exact;
    }
    let ln_ratio = |a: f64, b: f64| (a / b).ln().abs();
    let (aw, ah) = (asked.0.max(1) as f64, asked.1.max(1) as f64);
    sizes
        .min_by_key(|&(w, h)| {
            let (w, h) = (w.max(1) as f64, h.max(1) as f64);
            let aspect_steps = (ln_ratio(w / h, aw / ah) / 0.02).round() as u64;
            let area_distance = (ln_ratio(w * h, aw * ah) * 1000.0).round() as u64;
            (aspect_steps, area_distance, std::cmp::Reverse((w * h) as u64))
        })
        .unwrap_or(asked)
}

/// The default rule on a non-empty list (see `choose_format`).
fn default_pick(modes: &[CameraFormat]) -> CameraFormat {
    // When no rate is known, every mode counts as live and size decides.
    let rates_unknown = modes.iter().all(|m| !rate_known(m.frame_rate()));
    let live = |m: &&CameraFormat| rates_unknown || m.frame_rate() >= LIVE_FPS;
    let rate = |m: &CameraFormat| m.frame_rate().min(USEFUL_FPS);
    // At equal size and useful rate: MJPEG first, then the lower real rate (60 rather than 120).
    let tie = |m: &CameraFormat| (std::cmp::Reverse(format_rank(m.format())), std::cmp::Reverse(m.frame_rate()));
    let small_live = modes.iter().filter(live).filter(|m| within_default_size(m));
    if let Some(best) = small_live.max_by_key(|m| (area(m), rate(m), tie(m))) {
        return *best;
    }
    // Live only above 1920x1080 (a 4K-only camera): the smallest of those.
    if let Some(best) = modes.iter().filter(live).min_by_key(|m| (area(m), std::cmp::Reverse((rate(m), tie(m))))) {
        return *best;
    }
    // Nothing is live: the fastest, at that rate the largest.
    *modes.iter().max_by_key(|m| (m.frame_rate(), area(m), tie(m))).unwrap_or(&modes[0])
}

/// The line printed when the mode differs from what was asked for, e.g.
/// "asked 1280x700, camera offers 1280x720 MJPEG @ 30 fps: using it".
pub fn adjustment_note(request: &CameraRequest, chosen: &CameraFormat) -> Option<String> {
    let mut asked = Vec::new();
    if let Some((w, h)) = request.resolution.filter(|r| *r != (chosen.width(), chosen.height())) {
        asked.push(format!("{w}x{h}"));
    }
    if let Some(fps) = request.fps.filter(|f| *f != chosen.frame_rate()) {
        asked.push(format!("{fps} fps"));
    }
    let slow = rate_known(chosen.frame_rate()) && chosen.frame_rate() < LIVE_FPS;
    if asked.is_empty() && !slow {
        return None;
    }
    let mut line = if asked.is_empty() {
        format!("camera mode {}", describe(chosen))
    } else {
        format!("asked {}, camera offers {}: using it", asked.join(" @ "), describe(chosen))
    };
    if slow {
        line +=
            &format!(" (only {} fps: expect a slide show; `nasview cameras` lists faster modes)", chosen.frame_rate());
    }
    Some(line)
}

/// `nasview cameras` for one camera: modes grouped by format, one line per size with its rates, the arguments
/// that select it, and the default marked.
pub fn mode_table(offered: &[CameraFormat]) -> String {
    let default = choose_format(offered, &CameraRequest::default()).ok();
    let mut out = String::new();
    let mut formats: Vec<FrameFormat> = offered.iter().map(|m| m.format()).collect();
    formats.sort_by_key(|f| format_rank(*f));
    formats.dedup();
    for f in formats {
        out += &format!("  {} (--pixel-format {})\n", pixel_format_name(f).to_uppercase(), pixel_format_name(f));
        let mut sizes: Vec<(u32, u32)> =
            offered.iter().filter(|m| m.format() == f).map(|m| (m.width(), m.height())).collect();
        sizes.sort_by_key(|&(w, h)| std::cmp::Reverse(w as u64 * h as u64));
        sizes.dedup();
        for (w, h) in sizes {
            let mut rates: Vec<u32> = offered
                .iter()
                .filter(|m| m.format() == f && (m.width(), m.height()) == (w, h))
                .map(|m| m.frame_rate())
                .collect();
            rates.sort_unstable_by(|a, b| b.cmp(a));
            rates.dedup();
            let shown: Vec<String> = rates.iter().map(|r| r.to_string()).collect();
            let is_default = default.is_some_and(|d| d.format() == f && (d.width(), d.height()) == (w, h));
            let mut args = format!("--pixel-format {} --resolution {w}x{h}", pixel_format_name(f));
            if let Some(r) = rates.first().filter(|r| rate_known(**r)) {
                args += &format!(" --fps {r}");
            }
            out += &format!(
                "    {:>9}  {:<22} {args}{}\n",
                format!("{w}x{h}"),
                format!("{} fps", shown.join(", ")),
                if is_default { "   <- default" } else { "" }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(w: u32, h: u32, f: FrameFormat, fps: u32) -> CameraFormat {
        CameraFormat::new_from(w, h, f, fps)
    }

    fn req(res: Option<(u32, u32)>, fps: Option<u32>, fmt: Option<&str>) -> CameraRequest {
        CameraRequest { resolution: res, fps, pixel_format: fmt.map(str::to_string), ..Default::default() }
    }

    /// The C920 in brief: YUYV to 2304x1536 at 2 fps, MJPEG to 1920x1080 at 30.
    fn c920ish() -> Vec<CameraFormat> {
        use FrameFormat::*;
        vec![
            m(640, 480, YUYV, 30),
            m(1280, 720, YUYV, 10),
            m(1920, 1080, YUYV, 5),
            m(2304, 1536, YUYV, 2),
            m(640, 480, MJPEG, 30),
            m(1280, 720, MJPEG, 30),
            m(1920, 1080, MJPEG, 30),
            m(1920, 1080, MJPEG, 24),
        ]
    }

    #[test]
    fn default_is_the_largest_live_mode_up_to_1080p() {
        assert_eq!(
            choose_format(&c920ish(), &CameraRequest::default()).unwrap(),
            m(1920, 1080, FrameFormat::MJPEG, 30)
        );
    }

    #[test]
    fn a_size_the_camera_lacks_gets_the_nearest_and_says_so() {
        let r = req(Some((1280, 700)), None, None);
        let chosen = choose_format(&c920ish(), &r).unwrap();
        assert_eq!(chosen, m(1280, 720, FrameFormat::MJPEG, 30));
        assert_eq!(
            adjustment_note(&r, &chosen).unwrap(),
            "asked 1280x700, camera offers 1280x720 MJPEG @ 30 fps: using it"
        );
        // Aspect ratio first: 1000x1000 is nearer in area to 1280x720 than to 640x480, but 4:3 is squarer.
        assert_eq!(choose_format(&c920ish(), &req(Some((1000, 1000)), None, None)).unwrap().width(), 640);
    }

    #[test]
    fn pixel_format_and_fps_narrow_the_choice() {
        let yuyv = choose_format(&c920ish(), &req(None, None, Some("yuy2"))).unwrap();
        assert_eq!(yuyv, m(640, 480, FrameFormat::YUYV, 30));
        let slow = choose_format(&c920ish(), &req(None, Some(5), None)).unwrap();
        assert_eq!(slow, m(1920, 1080, FrameFormat::YUYV, 5));
        let err = choose_format(&c920ish(), &req(None, None, Some("nv12"))).unwrap_err().to_string();
        assert_eq!(err, "the camera has no nv12 mode; it offers mjpeg, yuyv: pass one of these to --pixel-format");
        assert!(parse_pixel_format("h264").unwrap_err().to_string().contains("mjpeg, yuyv, nv12, gray, rgb24"));
    }

    #[test]
    fn slow_modes_are_chosen_only_when_nothing_is_live() {
        use FrameFormat::*;
        let slow = [m(640, 480, YUYV, 15), m(1280, 720, YUYV, 15), m(1920, 1080, YUYV, 5)];
        assert_eq!(default_pick(&slow), m(1280, 720, YUYV, 15));
        // A 4K-only live camera: the smallest live mode above 1080p.
        let big = [m(3840, 2160, MJPEG, 30), m(2560, 1440, MJPEG, 30), m(1920, 1080, YUYV, 5)];
        assert_eq!(default_pick(&big), m(2560, 1440, MJPEG, 30));
        // 120 fps counts as 60; then MJPEG, then the lower real rate.
        let fast = [m(640, 480, MJPEG, 120), m(640, 480, MJPEG, 60), m(640, 480, YUYV, 60)];
        assert_eq!(default_pick(&fast), m(640, 480, MJPEG, 60));
        // Rates the backend could not report (0/1 fps): size decides.
        let unknown = [m(640, 480, YUYV, 0), m(1920, 1080, YUYV, 1), m(2592, 1944, YUYV, 1)];
        assert_eq!(default_pick(&unknown), m(1920, 1080, YUYV, 1));
    }

    #[test]
    fn an_empty_list_is_an_error() {
        assert!(choose_format(&[], &CameraRequest::default()).unwrap_err().to_string().contains("no mode"));
    }

    #[test]
    fn the_table_groups_by_format_and_marks_the_default() {
        let t = mode_table(&c920ish());
        let mjpeg = t.find("MJPEG (--pixel-format mjpeg)").unwrap();
        let yuyv = t.find("YUYV (--pixel-format yuyv)").unwrap();
        assert!(mjpeg < yuyv, "{t}");
        let line = t.lines().find(|l| l.contains("<- default")).unwrap();
        assert!(line.contains("1920x1080") && line.contains("30, 24 fps"), "{line}");
        assert!(line.contains("--pixel-format mjpeg --resolution 1920x1080 --fps 30"), "{line}");
        assert_eq!(t.matches("<- default").count(), 1);
    }
}
