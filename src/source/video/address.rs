//! What a `--source` names for FFmpeg (a file, a network stream, the screen), credentials masked, and open errors
//! turned into advice (pure).

use std::fmt;

/// Transport of RTSP's media: TCP (interleaved on the control connection) passes firewalls and NAT and loses
/// nothing, so it is the default; UDP has less delay on a clean network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RtspTransport {
    #[default]
    Tcp,
    Udp,
}

impl RtspTransport {
    pub fn parse(s: &str) -> anyhow::Result<RtspTransport> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(RtspTransport::Tcp),
            "udp" => Ok(RtspTransport::Udp),
            _ => anyhow::bail!("--rtsp-transport {s}: use tcp (the default) or udp"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
        }
    }
}

/// A network source: a URL with a scheme (`rtsp://`, `http://`, `udp://`, ...).
#[derive(Clone, PartialEq, Eq)]
pub struct StreamUrl {
    url: String,
    pub transport: RtspTransport,
}

/// Never prints the password: Debug is the masked URL too, so a `{:?}` in a log cannot leak it.
impl fmt::Debug for StreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamUrl({})", self.masked())
    }
}

impl StreamUrl {
    /// `Some` when `source` is a URL (letters, digits, `+-.` then `://`); the scheme is checked by FFmpeg on
    /// opening, which says what it supports.
    pub fn parse(source: &str, transport: RtspTransport) -> Option<StreamUrl> {
        let (scheme, rest) = source.split_once("://")?;
        let valid = scheme.len() >= 2
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        (valid && !rest.is_empty()).then(|| StreamUrl { url: source.to_string(), transport })
    }

    /// The URL as FFmpeg needs it, password included: never print this.
    pub fn secret(&self) -> &str {
        &self.url
    }

    pub fn scheme(&self) -> String {
        self.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default()
    }

    /// The URL with the password replaced by `***` (the user name is kept: it helps to see which account).
    pub fn masked(&self) -> String {
        mask(&self.url)
    }

    /// `host:port` (or just the host), for advice.
    pub fn host(&self) -> String {
        let rest = self.url.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        authority.rsplit_once('@').map_or(authority, |(_, h)| h).to_string()
    }

    /// The path after the host, for advice about a 404.
    pub fn path(&self) -> String {
        let rest = self.url.split_once("://").map_or("", |(_, r)| r);
        rest.find('/').map_or("/".to_string(), |at| rest[at..].to_string())
    }

    pub fn has_credentials(&self) -> bool {
        let rest = self.url.split_once("://").map_or("", |(_, r)| r);
        rest.split(['/', '?', '#']).next().is_some_and(|a| a.contains('@'))
    }
}

/// Replaces the password of every `scheme://user:password@` in `text` with `***`: used on anything printed
/// that may hold a URL (FFmpeg's own messages repeat it).
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', '?', '#', ' ', '"', '\'']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(amp) => {
                let user = &authority[..amp];
                match user.split_once(':') {
                    Some((name, _)) => out.push_str(&format!("{name}:***")),
                    None => out.push_str(user),
                }
                out.push_str(&authority[amp..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Why an open failed, from FFmpeg's error code: what the advice depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenFailure {
    Refused,
    Unauthorized,
    Forbidden,
    NotFound,
    TimedOut,
    NoProtocol,
    Unreachable,
    Other,
}

/// Advice for a network source that could not be opened. `detail` is FFmpeg's own text for the error.
pub fn stream_advice(url: &StreamUrl, failure: OpenFailure, detail: &str, timeout_s: f64) -> String {
    let (masked, host) = (url.masked(), url.host());
    match failure {
        OpenFailure::Refused => format!(
            "cannot open {masked}: connection refused by {host}; check the host and port, and that the camera or \
             server is on and serving"
        ),
        OpenFailure::Unauthorized if url.has_credentials() => format!(
            "cannot open {masked}: the server refused the user name or password (401 Unauthorized); check them \
             in the URL"
        ),
        OpenFailure::Unauthorized => format!(
            "cannot open {masked}: the server asks for a user name and password (401 Unauthorized); put them in \
             the URL: {}://USER:PASSWORD@{host}{}",
            url.scheme(),
            url.path()
        ),
        OpenFailure::Forbidden => {
            format!("cannot open {masked}: the server forbids this account that path (403 Forbidden); check the user's rights")
        }
        OpenFailure::NotFound => format!(
            "cannot open {masked}: the server has no stream at {} (404 Not Found); check the path (the camera's \
             manual or web page gives it, e.g. /stream1 or /h264)",
            url.path()
        ),
        OpenFailure::TimedOut => format!(
            "cannot open {masked}: no answer from {host} within {timeout_s:.0} s; check the address and that this \
             machine can reach it"
        ),
        OpenFailure::NoProtocol => format!(
            "cannot open {masked}: the linked FFmpeg cannot open {}:// URLs; use rtsp://, rtmp://, http(s)://, \
             udp:// or srt:// (what `ffmpeg -protocols` lists)",
            url.scheme()
        ),
        OpenFailure::Unreachable => {
            format!("cannot open {masked}: {host} is unreachable ({detail}); check the address and the network")
        }
        OpenFailure::Other => format!("cannot open {masked}: {}", mask(detail)),
    }
}

/// A rectangle of the screen, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScreenRegion {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// `screen` or `screen?region=x,y,w,h`; None when `source` is not about the screen.
pub fn parse_screen(source: &str) -> Option<anyhow::Result<Option<ScreenRegion>>> {
    let rest = source.strip_prefix("screen")?;
    if rest.is_empty() {
        return Some(Ok(None));
    }
    let query = rest.strip_prefix('?')?;
    let parse = || -> anyhow::Result<Option<ScreenRegion>> {
        let value = query.strip_prefix("region=").ok_or_else(|| {
            anyhow::anyhow!(
                "--source {source}: the screen takes one option, region=X,Y,W,H (e.g. screen?region=0,0,1280,720)"
            )
        })?;
        let n: Vec<u32> = value
            .split(',')
            .map(|v| v.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow::anyhow!("--source {source}: region=X,Y,W,H takes four whole numbers of pixels"))?;
        match n[..] {
            [x, y, w, h] if w >= 16 && h >= 16 && w <= 16384 && h <= 16384 => Ok(Some(ScreenRegion { x, y, w, h })),
            [_, _, _, _] => anyhow::bail!("--source {source}: the region's width and height must be 16..16384 pixels"),
            _ => anyhow::bail!("--source {source}: region=X,Y,W,H takes four numbers, got {}", n.len()),
        }
    };
    Some(parse())
}

/// What libavformat is asked to open: an input format (a grabber) or None to probe, a URL or file name, options.
#[derive(Debug)]
pub struct OpenArgs {
    pub format: Option<&'static str>,
    pub url: String,
    pub options: Vec<(&'static str, String)>,
}

/// How libavdevice grabs the screen on each system: input format, its "file name", and options.
pub fn screen_input(
    os: &str,
    display: Option<&str>,
    region: Option<ScreenRegion>,
    fps: u32,
) -> anyhow::Result<OpenArgs> {
    let mut options = vec![("framerate", fps.to_string())];
    let size = |r: ScreenRegion| ("video_size", format!("{}x{}", r.w, r.h));
    match os {
        "linux" | "freebsd" | "openbsd" | "netbsd" => {
            let display = display.filter(|d| !d.is_empty()).ok_or_else(|| {
                anyhow::anyhow!(
                    "--source screen needs an X11 display and DISPLAY is not set; run it inside the desktop session \
                     (Wayland sessions give X11 programs their XWayland screen)"
                )
            })?;
            let name = match region {
                Some(r) => {
                    options.push(size(r));
                    format!("{display}+{},{}", r.x, r.y)
                }
                None => display.to_string(),
            };
            Ok(OpenArgs { format: Some("x11grab"), url: name, options })
        }
        "windows" => {
            if let Some(r) = region {
                options.extend([size(r), ("offset_x", r.x.to_string()), ("offset_y", r.y.to_string())]);
            }
            Ok(OpenArgs { format: Some("gdigrab"), url: "desktop".into(), options })
        }
        "macos" => {
            if region.is_some() {
                anyhow::bail!("--source screen?region= is not available on macOS: grab the whole screen");
            }
            options.push(("capture_cursor", "1".into()));
            Ok(OpenArgs { format: Some("avfoundation"), url: "Capture screen 0".into(), options })
        }
        other => anyhow::bail!("--source screen is not available on {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_files_and_cameras() {
        let t = RtspTransport::Tcp;
        assert!(StreamUrl::parse("rtsp://cam.local:554/stream1", t).is_some());
        assert!(StreamUrl::parse("http://10.0.0.5/mjpeg", t).is_some());
        assert!(StreamUrl::parse("srt://host:9000?mode=caller", t).is_some());
        for not_url in ["clip.mp4", "0", "Logitech C920", "c:/videos/x.mp4", "://x", "rtsp://", "1a://x"] {
            assert!(StreamUrl::parse(not_url, t).is_none(), "{not_url}");
        }
    }

    #[test]
    fn passwords_are_masked_everywhere_in_a_text() {
        assert_eq!(mask("rtsp://admin:hunter2@10.0.0.9:554/s1"), "rtsp://admin:***@10.0.0.9:554/s1");
        assert_eq!(mask("rtsp://admin@10.0.0.9/s1"), "rtsp://admin@10.0.0.9/s1");
        assert_eq!(mask("rtsp://10.0.0.9/s1"), "rtsp://10.0.0.9/s1");
        // Twice in one message, and a password holding ':' and '@'-free punctuation.
        assert_eq!(mask("a http://u:p:q@h/x then rtsp://v:w@k"), "a http://u:***@h/x then rtsp://v:***@k");
        let url = StreamUrl::parse("rtsp://admin:hunter2@cam:8554/live?x=1", RtspTransport::Tcp).unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.host(), "cam:8554");
        assert_eq!(url.path(), "/live?x=1");
        assert!(url.has_credentials());
        assert_eq!(url.scheme(), "rtsp");
    }

    #[test]
    fn advice_names_what_to_check_without_the_password() {
        let url = StreamUrl::parse("rtsp://admin:hunter2@cam:8554/live", RtspTransport::Tcp).unwrap();
        let cases = [
            (OpenFailure::Refused, "check the host and port"),
            (OpenFailure::Unauthorized, "user name or password"),
            (OpenFailure::NotFound, "no stream at /live"),
            (OpenFailure::TimedOut, "within 8 s"),
            (OpenFailure::NoProtocol, "cannot open rtsp:// URLs"),
        ];
        for (failure, want) in cases {
            let advice = stream_advice(&url, failure, "rtsp://admin:hunter2@cam", 8.0);
            assert!(advice.contains(want), "{failure:?}: {advice}");
            assert!(!advice.contains("hunter2"), "{failure:?}: {advice}");
        }
        let bare = StreamUrl::parse("rtsp://cam/live", RtspTransport::Tcp).unwrap();
        let advice = stream_advice(&bare, OpenFailure::Unauthorized, "", 8.0);
        assert!(advice.contains("rtsp://USER:PASSWORD@cam/live"), "{advice}");
    }

    #[test]
    fn screen_sources_per_system() {
        assert_eq!(parse_screen("screen").map(|r| r.unwrap()), Some(None));
        let region = ScreenRegion { x: 10, y: 20, w: 640, h: 480 };
        assert_eq!(parse_screen("screen?region=10,20,640,480").map(|r| r.unwrap()), Some(Some(region)));
        assert!(parse_screen("screen?region=10,20,640").unwrap().is_err());
        assert!(parse_screen("screen?region=1,2,3,x").unwrap().is_err());
        assert!(parse_screen("screen?size=1").unwrap().is_err());
        assert!(parse_screen("screens").is_none() && parse_screen("demo").is_none());

        let x11 = screen_input("linux", Some(":99"), Some(region), 30).unwrap();
        assert_eq!((x11.format, x11.url.as_str()), (Some("x11grab"), ":99+10,20"));
        assert!(x11.options.contains(&("video_size", "640x480".into())));
        assert!(screen_input("linux", None, None, 30).unwrap_err().to_string().contains("DISPLAY"));
        let gdi = screen_input("windows", None, Some(region), 30).unwrap();
        assert_eq!((gdi.format, gdi.url.as_str()), (Some("gdigrab"), "desktop"));
        assert!(gdi.options.contains(&("offset_y", "20".into())));
        assert_eq!(screen_input("macos", None, None, 30).unwrap().format, Some("avfoundation"));
    }
}
