//! The demo clip: the bundled photos, panned and zoomed so that objects move and change size (capture thread).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use image::RgbImage;

use super::Source;
use crate::detector::preprocess::{resize_rgb, ResizeScratch};

/// Output size of the clip (16:9, like a webcam).
pub const DEMO_SIZE: (u32, u32) = (960, 540);
/// Seconds each photo is shown.
pub const SHOT_SECONDS: f64 = 6.0;

static PHOTOS: [(&str, &[u8]); 5] = [
    ("astronaut", include_bytes!("../../assets/photos/astronaut.png")),
    ("kite", include_bytes!("../../assets/photos/kite.jpg")),
    ("dog", include_bytes!("../../assets/photos/dog.jpg")),
    ("horses", include_bytes!("../../assets/photos/horses.jpg")),
    ("coffee", include_bytes!("../../assets/photos/coffee.png")),
];

pub struct Demo {
    photos: Vec<RgbImage>,
    frame: u64,
    fps: u32,
    scratch: ResizeScratch,
    fault: Option<Fault>,
    outage: Outage,
    /// As a fake camera: frames come at the clip's rate from this instant, as a camera's hardware paces them.
    paced_from: Option<Instant>,
    /// Why the demo plays, said with its description (e.g. no camera was found).
    note: Option<&'static str>,
}

/// A failure injected into the demo clip: `demo?fail-after=N` (an error), `demo?stall-after=N` (a read that never
/// returns), `&camera` to be treated like a camera (read on a watched thread, reopened with back-off), and
/// `&back-after=S` for a camera that is gone (cannot be opened) for S seconds from the fault, like one unplugged
/// and plugged in again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub after: u64,
    pub stall: bool,
    pub as_camera: bool,
    pub back_after: Option<Duration>,
}

/// The fake camera's fault, shared by every reopening of one source: "gone for S seconds" spans them, and once
/// the camera is back the fault has happened (a camera that comes back works again).
#[derive(Clone, Debug, Default)]
pub struct Outage(Arc<Mutex<OutageState>>);

#[derive(Debug, Default)]
struct OutageState {
    /// When the fault struck, until the camera is opened again.
    since: Option<Instant>,
    over: bool,
}

impl Outage {
    fn state(&self) -> std::sync::MutexGuard<'_, OutageState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Fault {
    pub fn parse(query: &str) -> anyhow::Result<Option<Fault>> {
        if query.is_empty() {
            return Ok(None);
        }
        const FORMS: &str = "the demo source takes demo?camera, demo?fail-after=N or demo?stall-after=N (N frames), \
                             each with &camera to act as a camera, and &back-after=SECONDS with camera and a fault";
        let refuse = |why: String| anyhow::anyhow!("--source demo?{query}: {why}; {FORMS}");
        // `camera` alone: a demo that behaves like a camera (paced, never lossless) and never fails.
        let mut fault = Fault { after: u64::MAX, stall: false, as_camera: false, back_after: None };
        let mut seen: Vec<&str> = Vec::new();
        for item in query.split('&') {
            let (k, v) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            // A second fault, or the same option twice, would silently replace the first.
            let kind = if k == "stall-after" { "fail-after" } else { k };
            if seen.contains(&kind) {
                return Err(refuse(format!("{k} is given after {kind} already was; give one fault, once")));
            }
            seen.push(kind);
            match (k, v) {
                ("fail-after" | "stall-after", Some(v)) => {
                    fault.after = v.parse().map_err(|_| refuse(format!("{k} needs a frame count, not {v:?}")))?;
                    fault.stall = k == "stall-after";
                }
                ("back-after", Some(v)) => {
                    let secs: f64 = v.parse().map_err(|_| refuse(format!("back-after needs seconds, not {v:?}")))?;
                    if !(0.0..=3600.0).contains(&secs) {
                        return Err(refuse("back-after must be 0..=3600 seconds".into()));
                    }
                    fault.back_after = Some(Duration::from_secs_f64(secs));
                }
                ("camera", None) => fault.as_camera = true,
                ("camera", Some(v)) => return Err(refuse(format!("camera takes no value (camera={v} was given)"))),
                ("fail-after" | "stall-after" | "back-after", None) => {
                    return Err(refuse(format!("{k} needs a value ({k}=...)")))
                }
                _ => return Err(refuse(format!("unknown option {k:?}"))),
            }
        }
        if fault.back_after.is_some() && (fault.after == u64::MAX || !fault.as_camera) {
            return Err(refuse("back-after says when a failed camera comes back: it needs camera and a fault".into()));
        }
        Ok(Some(fault))
    }
}

/// The crop of a photo shown at time `t` seconds into its shot: `[x, y, w, h]` in photo pixels.
/// It starts on the whole photo (letterboxed to 16:9 by cropping height) and zooms in to 70 % while
/// panning from left to right, so boxes shift and grow.
pub fn crop_at(photo_w: u32, photo_h: u32, t: f64) -> [u32; 4] {
    let (dw, dh) = (DEMO_SIZE.0 as f64, DEMO_SIZE.1 as f64);
    let (pw, ph) = (photo_w as f64, photo_h as f64);
    // Largest 16:9 window that fits the photo.
    let (full_w, full_h) = if pw / ph > dw / dh { (ph * dw / dh, ph) } else { (pw, pw * dh / dw) };
    let p = (t / SHOT_SECONDS).clamp(0.0, 1.0);
    // Ease in and out so the motion is smooth at both ends.
    let e = 0.5 - 0.5 * (std::f64::consts::PI * p).cos();
    let zoom = 1.0 - 0.3 * e;
    let w = ((full_w * zoom).max(2.0) as u32).min(photo_w);
    let h = ((full_h * zoom).max(2.0) as u32).min(photo_h);
    // Integer sizes first, so the pan ends exactly on the right edge.
    let x = ((photo_w - w) as f64 * e).round() as u32;
    let y = (photo_h - h) / 2;
    [x, y, w, h]
}

impl Demo {
    pub fn new(fps: u32) -> anyhow::Result<Demo> {
        let photos = PHOTOS
            .iter()
            .map(|(name, bytes)| {
                image::load_from_memory(bytes).map(|i| i.to_rgb8()).with_context(|| format!("bundled {name}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Demo {
            photos,
            frame: 0,
            fps: fps.max(1),
            scratch: ResizeScratch::default(),
            fault: None,
            outage: Outage::default(),
            paced_from: None,
            note: None,
        })
    }

    pub fn with_fault(mut self, fault: Option<Fault>) -> Demo {
        self.fault = fault;
        self
    }

    pub fn with_note(mut self, note: Option<&'static str>) -> Demo {
        self.note = note;
        self
    }

    /// Opens the demo as the fake camera of `fault`: refused while the camera is "unplugged".
    pub fn open_fake(fps: u32, fault: Option<Fault>, outage: &Outage) -> anyhow::Result<Demo> {
        let mut state = outage.state();
        if let Some(t) = state.since {
            if fault.and_then(|f| f.back_after).is_some_and(|back| t.elapsed() < back) {
                anyhow::bail!("cannot open the fake camera: unplugged {:.1} s ago", t.elapsed().as_secs_f64());
            }
            state.since = None;
            state.over = true;
        }
        let mut demo = Demo::new(fps)?.with_fault(if state.over { None } else { fault });
        demo.outage = outage.clone();
        demo.paced_from = Some(Instant::now());
        Ok(demo)
    }
}

impl Source for Demo {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        if let Some(f) = self.fault.filter(|f| self.frame >= f.after) {
            self.outage.state().since.get_or_insert_with(Instant::now);
            if f.stall {
                // A camera that stops answering: block until the process ends.
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            anyhow::bail!("injected failure after {} frames", f.after);
        }
        let t = self.frame as f64 / self.fps as f64;
        if let Some(start) = self.paced_from {
            std::thread::sleep((start + Duration::from_secs_f64(t)).saturating_duration_since(Instant::now()));
        }
        self.frame += 1;
        let shot = (t / SHOT_SECONDS) as usize % self.photos.len();
        let photo = &self.photos[shot];
        let [x, y, w, h] = crop_at(photo.width(), photo.height(), t % SHOT_SECONDS);
        let row = photo.width() as usize * 3;
        let mut crop = Vec::with_capacity(w as usize * h as usize * 3);
        for r in y..y + h {
            let start = r as usize * row + x as usize * 3;
            crop.extend_from_slice(&photo.as_raw()[start..start + w as usize * 3]);
        }
        let (dw, dh) = DEMO_SIZE;
        let mut out = vec![0u8; (dw * dh * 3) as usize];
        resize_rgb(
            &crop,
            w as usize,
            h as usize,
            &mut out,
            dw as usize,
            dh as usize,
            dw as usize * 3,
            &mut self.scratch,
        );
        Ok(RgbImage::from_raw(dw, dh, out))
    }

    fn describe(&self) -> String {
        let clip = format!("demo clip {}x{} @ {} fps", DEMO_SIZE.0, DEMO_SIZE.1, self.fps);
        match self.note {
            Some(note) => format!("{note} ({clip})"),
            None => clip,
        }
    }

    /// The clip's own time: frame k is shown at k / fps, however fast it is read.
    fn next_timed(&mut self) -> anyhow::Result<Option<(RgbImage, Option<Duration>)>> {
        let at = Duration::from_secs_f64(self.frame as f64 / self.fps as f64);
        Ok(self.next_frame()?.map(|image| (image, Some(at))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_zooms_and_pans_inside_the_photo() {
        // 1352x900 is wider than 16:9 allows at full height? 1352/900 = 1.50 < 1.78: full width, height 760.5.
        let start = crop_at(1352, 900, 0.0);
        assert_eq!(start, [0, 70, 1352, 760]);
        let end = crop_at(1352, 900, SHOT_SECONDS);
        assert_eq!((end[2], end[3]), (946, 532));
        assert_eq!(end[0] + end[2], 1352, "ends panned to the right edge");
        for t in [0.0, 1.0, 3.0, 5.9] {
            let [x, y, w, h] = crop_at(512, 512, t);
            assert!(x + w <= 512 && y + h <= 512);
        }
    }

    #[test]
    fn parses_faults() {
        assert_eq!(Fault::parse("").unwrap(), None);
        let f = Fault::parse("fail-after=30&camera").unwrap().unwrap();
        assert_eq!(f, Fault { after: 30, stall: false, as_camera: true, back_after: None });
        let f = Fault::parse("stall-after=5&back-after=2.5&camera").unwrap().unwrap();
        assert_eq!(f.back_after, Some(Duration::from_millis(2500)));
        assert!(Fault::parse("back-after=-1").is_err());
        assert!(Fault::parse("stall-after=5").unwrap().unwrap().stall);
        assert_eq!(Fault::parse("camera").unwrap().unwrap().after, u64::MAX);
        assert!(Fault::parse("explode=1").is_err());
        // Silently reinterpreted before: a value for camera, a second fault, back-after with nothing to come back from.
        for (bad, why) in [
            ("camera=0", "camera takes no value"),
            ("fail-after=3&fail-after=100", "give one fault, once"),
            ("fail-after=3&stall-after=100", "give one fault, once"),
            ("back-after=5", "it needs camera and a fault"),
            ("fail-after=3&back-after=5", "it needs camera and a fault"),
            ("camera&back-after=5", "it needs camera and a fault"),
            ("fail-after", "fail-after needs a value"),
        ] {
            let err = Fault::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("demo?fail-after=N"), "{bad}: {err}");
        }
    }

    #[test]
    fn injected_failure_comes_after_n_frames() {
        let mut demo = Demo::new(30).unwrap().with_fault(Fault::parse("fail-after=2").unwrap());
        assert!(demo.next_frame().unwrap().is_some());
        assert!(demo.next_frame().unwrap().is_some());
        assert!(demo.next_frame().unwrap_err().to_string().contains("after 2 frames"));
    }

    #[test]
    fn an_unplugged_fake_camera_cannot_be_opened_until_it_is_back() {
        let fault = Fault::parse("fail-after=1&back-after=0.3&camera").unwrap();
        let outage = Outage::default();
        let mut cam = Demo::open_fake(30, fault, &outage).unwrap();
        assert!(cam.next_frame().unwrap().is_some());
        assert!(cam.next_frame().is_err());
        let err = Demo::open_fake(30, fault, &outage).err().unwrap().to_string();
        assert!(err.contains("unplugged"), "{err}");
        std::thread::sleep(Duration::from_millis(350));
        let mut back = Demo::open_fake(30, fault, &outage).unwrap();
        for _ in 0..3 {
            assert!(back.next_frame().unwrap().is_some(), "once back, it works");
        }
    }

    #[test]
    fn frames_have_the_demo_size_and_change() {
        let mut demo = Demo::new(30).unwrap();
        let a = demo.next_frame().unwrap().unwrap();
        for _ in 0..29 {
            demo.next_frame().unwrap();
        }
        let b = demo.next_frame().unwrap().unwrap();
        assert_eq!(a.dimensions(), DEMO_SIZE);
        assert_ne!(a.as_raw(), b.as_raw(), "one second later the view has moved");
    }
}
