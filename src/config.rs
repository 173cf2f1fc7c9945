//! Clap arguments -> one validated `Config` (main thread, at start-up): every value is checked here, once,
//! and run-time code never sees a clap type.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::cli::{self, Cli};
use crate::detector::tiles::PassSettings;
use crate::detector::{LoadOptions, SpinSetting, Thresholds};
use crate::events::config::EventsConfig;
use crate::events::mqtt::MqttTarget;
use crate::messages;
use crate::record::naming::{numbered, RecordTarget};
use crate::source::images::expand_paths;
use crate::source::video::address::RtspTransport;
use crate::source::{CameraRequest, Spec};
use crate::track::line::LineSpec;
use crate::track::zones::ZoneSpec;

/// Confidence thresholds accepted by `--conf` and reached by the window's slider.
pub const CONF_RANGE: RangeInclusive<f32> = 0.01..=0.99;
/// IoU thresholds accepted by `--iou` and reached by the window's slider.
pub const IOU_RANGE: RangeInclusive<f32> = 0.05..=0.95;
/// Lowest confidence the window's slider reaches by default; candidates are kept down to it.
pub const CONF_FLOOR: f32 = 0.05;
/// `--fps` values that make sense for a camera, the demo or a slideshow.
pub const FPS_RANGE: RangeInclusive<u32> = 1..=240;

/// Most frames `bench --frames` measures: a million frames of a few milliseconds is already hours per model, and
/// every frame's stage times are kept for the medians (48 MB a model at this count).
pub const MAX_BENCH_FRAMES: usize = 1_000_000;

/// Said on stderr and shown in the HUD when no `--source` is given and no camera is found.
pub const NO_CAMERA_DEMO: &str = "no camera found; showing the demo clip — pass --source to choose";

/// What to run, fully checked.
#[derive(Debug)]
pub struct Config {
    /// `--ort-lib`: the ONNX Runtime library (None: $ORT_DYLIB_PATH, then the set-up venv).
    pub ort_lib: Option<PathBuf>,
    pub command: Command,
}

#[derive(Debug)]
pub enum Command {
    Live(Box<LiveConfig>),
    Detect(DetectConfig),
    Bench(BenchConfig),
    Cameras,
    /// A shell completion script on stdout.
    Completions(clap_complete::Shell),
    /// The man pages, written into this folder.
    Manpage(PathBuf),
}

/// The model and how its detections are chosen.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub path: PathBuf,
    pub load: LoadOptions,
    /// `--classes`, checked for form here and against the model's labels once it has loaded.
    pub classes: Option<ClassSpec>,
    /// `--conf`'s classes (`person=0.5`), checked the same way.
    pub class_conf: crate::class_conf::ClassConfSpec,
    pub thresholds: Thresholds,
    /// `--tiles` and `--region`: the passes run on each frame besides the full frame.
    pub passes: PassSettings,
}

#[derive(Debug)]
pub struct LiveConfig {
    pub model: ModelConfig,
    pub source: Spec,
    pub headless: bool,
    pub max_frames: Option<u64>,
    pub record: Option<RecordTarget>,
    pub overwrite: bool,
    pub record_hud: bool,
    pub save_frames: Option<PathBuf>,
    /// The encoder's nominal rate (rate control only; frames keep their own times).
    pub fps_hint: f32,
    /// Tracking on at the start (`--no-track` turns it off).
    pub track: bool,
    /// `--line`: the counting line.
    pub line: Option<LineSpec>,
    /// `--display`: every captured frame in the window, or the processed ones (headless: always processed).
    pub display: crate::cli::DisplayMode,
    /// `--zone`s and `--dwell-alert`.
    pub zones: Vec<ZoneSpec>,
    pub dwell_alert: Option<std::time::Duration>,
    /// `--events`, `--event-snapshots`, `--mqtt`.
    pub events: EventsConfig,
    /// `--blur`, checked against the model's labels once it has loaded.
    pub blur: Option<ClassSpec>,
    pub heatmap_out: Option<PathBuf>,
}

#[derive(Debug)]
pub struct DetectConfig {
    pub model: ModelConfig,
    /// Every image, in order, without repeats.
    pub files: Vec<PathBuf>,
    pub out: Option<OutDir>,
    pub json: bool,
}

/// Where `detect --out` writes: the folder, and each input's target inside it (sub-folders mirrored).
#[derive(Debug)]
pub struct OutDir {
    pub dir: PathBuf,
    /// Same order as `DetectConfig::files`.
    pub targets: Vec<PathBuf>,
    pub overwrite: bool,
}

#[derive(Debug)]
pub struct BenchConfig {
    pub models: Vec<PathBuf>,
    /// `--tiles` / `--region`: each model is measured on the full frame and, when given, with these passes.
    pub passes: PassSettings,
    pub load: LoadOptions,
    pub thresholds: Thresholds,
    pub source: Spec,
    pub source_name: String,
    pub frames: usize,
    pub json: bool,
}

/// One entry of `--classes`: a class id or a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassRef {
    Id(usize),
    Name(String),
}

/// `--classes person,cup,15`, checked for form; `resolve` checks it against a model's labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassSpec(pub Vec<ClassRef>);

impl ClassSpec {
    pub fn parse(spec: &str) -> anyhow::Result<ClassSpec> {
        ClassSpec::parse_for("--classes", spec)
    }

    /// As `parse`, the error naming `flag`.
    pub fn parse_for(flag: &str, spec: &str) -> anyhow::Result<ClassSpec> {
        let items: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if items.is_empty() {
            bail!("{flag} {spec:?} names no class: give names or ids, e.g. {flag} person,cup or {flag} 0,41");
        }
        Ok(ClassSpec(
            items
                .into_iter()
                .map(|i| i.parse::<usize>().map(ClassRef::Id).unwrap_or_else(|_| ClassRef::Name(i.to_string())))
                .collect(),
        ))
    }

    /// Sorted class ids; an unknown name or an id the model does not have is an error that lists what is valid.
    pub fn resolve(&self, labels: &[String]) -> anyhow::Result<Vec<usize>> {
        self.resolve_for("--classes", labels)
    }

    /// As `resolve`, the errors naming `flag` (`--blur` takes classes the same way).
    pub fn resolve_for(&self, flag: &str, labels: &[String]) -> anyhow::Result<Vec<usize>> {
        let mut ids = Vec::new();
        for item in &self.0 {
            let (text, shown) = match item {
                ClassRef::Id(id) => (id.to_string(), id.to_string()),
                ClassRef::Name(name) => (name.clone(), format!("{name:?}")),
            };
            let kind = if matches!(item, ClassRef::Id(_)) { "no such class id" } else { "no such class" };
            ids.push(
                crate::detector::labels::find(labels, &text)
                    .map_err(|valid| anyhow::anyhow!("{flag} {shown}: {kind}; {valid}"))?,
            );
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

fn check_range<T: PartialOrd + std::fmt::Display>(flag: &str, v: T, range: &RangeInclusive<T>) -> anyhow::Result<()> {
    if !range.contains(&v) {
        bail!("{flag} {v} is outside {}..{}: give a value in that range", range.start(), range.end());
    }
    Ok(())
}

impl Config {
    /// Checks every argument once and builds the configuration of the chosen command.
    pub fn from_cli(cli: Cli) -> anyhow::Result<Config> {
        let Cli { command, model, live, live_before_command } = cli;
        if let Some(cmd) = &command {
            check_no_live_options(cmd, &live_before_command)?;
        }
        let ort_lib = model.ort_lib.clone();
        let command = match command {
            Some(cli::Command::Cameras) => Command::Cameras,
            Some(cli::Command::Completions { shell }) => Command::Completions(shell),
            Some(cli::Command::Manpage { dir }) => Command::Manpage(dir),
            Some(cli::Command::Bench(args)) => {
                let (load, thresholds) = load_options(&model)?;
                let models = if model.model.is_empty() { vec![resolve_model(None)?] } else { model.model.clone() };
                if args.frames == 0 {
                    bail!("--frames 0: bench needs at least 1 frame");
                }
                if args.frames > MAX_BENCH_FRAMES {
                    bail!(
                        "--frames {}: bench measures at most {MAX_BENCH_FRAMES} frames (hours per model, and each \
                         frame's times are kept for the medians); give fewer",
                        args.frames
                    );
                }
                let source = Spec::parse(&args.source, &CameraRequest::default(), None)?;
                if !source.every_frame_matters() {
                    bail!("bench needs a repeatable source: demo, an image, a folder of images or a video file");
                }
                Command::Bench(BenchConfig {
                    models,
                    passes: PassSettings { tiling: model.tiles, region: model.region },
                    load,
                    thresholds,
                    source,
                    source_name: args.source,
                    frames: args.frames,
                    json: args.json,
                })
            }
            Some(cli::Command::Detect(args)) => Command::Detect(detect_config(&model, args)?),
            None => Command::Live(Box::new(live_config(&model, live)?)),
        };
        Ok(Config { ort_lib, command })
    }
}

/// Options of the live viewer given before a command (`nasview --source clip.mp4 bench`) would be dropped without
/// a word: clap takes them as the viewer's, and the command never reads them. Refused, naming where they go.
fn check_no_live_options(cmd: &cli::Command, given: &[String]) -> anyhow::Result<()> {
    let (name, own): (&str, &[&str]) = match cmd {
        cli::Command::Detect(_) => ("detect", &["--overwrite"]),
        cli::Command::Bench(_) => ("bench", &["--source"]),
        cli::Command::Cameras => ("cameras", &[]),
        cli::Command::Completions { .. } | cli::Command::Manpage { .. } => return Ok(()),
    };
    let Some(flag) = given.first().map(String::as_str) else {
        return Ok(());
    };
    if own.contains(&flag) {
        bail!("{flag} is given before `{name}`, where it belongs to the live viewer and `{name}` would ignore it; put it after the command: nasview {name} {flag} ...");
    }
    let instead = match (name, flag) {
        ("detect", "--record" | "--save-frames") => "; `nasview detect` writes annotated images with --out DIR",
        ("bench", _) => "; `nasview bench` takes --source, --frames and --json (see `nasview bench --help`)",
        _ => "",
    };
    bail!(
        "{flag} is an option of the live viewer (nasview without a command), not of `{name}`, which would ignore \
         it; leave it out, or run the live viewer without `{name}`{instead}"
    )
}

fn load_options(m: &cli::ModelArgs) -> anyhow::Result<(LoadOptions, Thresholds)> {
    let (conf, _) = crate::class_conf::parse(&m.conf, &CONF_RANGE)?;
    check_range("--iou", m.iou, &IOU_RANGE)?;
    if let Some(f) = &m.labels {
        if !f.is_file() {
            bail!("labels file {} not found: pass a text file with one class name per line", f.display());
        }
    }
    let threads = match m.threads {
        Some(0) => bail!("--threads 0: give at least 1 (or leave it out to use every core)"),
        Some(n) => n,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let load = LoadOptions {
        device: m.device.clone(),
        strict_device: m.strict_device,
        threads,
        labels_file: m.labels.clone(),
        // "auto" leaves the choice to the command.
        spin: m.spin.parse().map_or(SpinSetting::Unset, SpinSetting::Fixed),
    };
    Ok((load, Thresholds { conf, iou: m.iou }))
}

fn model_config(m: &cli::ModelArgs) -> anyhow::Result<ModelConfig> {
    let (load, thresholds) = load_options(m)?;
    let path = match &m.model[..] {
        [] => resolve_model(None)?,
        [one] => one.clone(),
        _ => bail!("--model is given {} times; only `nasview bench` compares several models", m.model.len()),
    };
    let classes = m.classes.as_deref().map(ClassSpec::parse).transpose()?;
    let (_, class_conf) = crate::class_conf::parse(&m.conf, &CONF_RANGE)?;
    let passes = PassSettings { tiling: m.tiles, region: m.region };
    Ok(ModelConfig { path, load, classes, class_conf, thresholds, passes })
}

fn live_config(m: &cli::ModelArgs, live: cli::LiveArgs) -> anyhow::Result<LiveConfig> {
    let model = model_config(m)?;
    if live.max_frames == Some(0) {
        bail!("--max-frames 0: give at least 1 (or leave it out to run until the source ends)");
    }
    if let Some(fps) = live.fps {
        check_range("--fps", fps, &FPS_RANGE)?;
    }
    if let Some(f) = &live.pixel_format {
        crate::source::camera::format::parse_pixel_format(f)?;
    }
    let resolution = live.resolution.as_deref().map(parse_resolution).transpose()?;
    let rtsp_transport = live.rtsp_transport.as_deref().map(RtspTransport::parse).transpose()?.unwrap_or_default();
    let camera = CameraRequest { resolution, fps: live.fps, pixel_format: live.pixel_format.clone(), rtsp_transport };
    let source = match &live.source {
        Some(given) => Spec::parse(given, &camera, live.fps)?,
        // Nothing asked for: camera 0, or, on a machine without a camera, the demo clip instead of a dead end.
        None if !crate::source::camera::any_camera() => {
            messages::warn(NO_CAMERA_DEMO);
            Spec::Demo {
                fps: live.fps.unwrap_or(30),
                fault: None,
                outage: Default::default(),
                note: Some(NO_CAMERA_DEMO),
            }
        }
        None => Spec::parse("0", &camera, live.fps)?,
    };
    let source_arg = live.source.as_deref().unwrap_or("0");
    // Options that do not apply to this source are said, not silently ignored.
    if !matches!(source, Spec::Camera { .. }) {
        for (flag, given) in
            [("--resolution", live.resolution.is_some()), ("--pixel-format", live.pixel_format.is_some())]
        {
            if given {
                messages::warn(&format!("{flag} applies to cameras only; ignored for --source {source_arg}"));
            }
        }
    }
    if live.rtsp_transport.is_some() && !matches!(&source, Spec::Stream(u) if u.scheme().starts_with("rtsp")) {
        messages::warn(&format!("--rtsp-transport applies to rtsp:// sources only; ignored for --source {source_arg}"));
    }
    if live.fps.is_some() {
        match source {
            Spec::Video(_) => messages::warn("--fps is ignored for a video file: it plays at its own frame rate"),
            Spec::Stream(_) => messages::warn("--fps is ignored for a stream: it plays at the rate it is sent"),
            _ => {}
        }
    }
    if matches!(source, Spec::RawFrame(_)) && live.fps.is_some() {
        messages::warn(&format!("--fps is ignored for --source {source_arg}: a raw frame is one still picture"));
    }
    if live.no_track && live.line.is_some() {
        bail!("--line counts tracked objects: it cannot be used with --no-track (leave one of them out)");
    }
    let line = live.line.as_deref().map(LineSpec::parse).transpose()?;
    let zones = live.zone.iter().map(|z| ZoneSpec::parse(z)).collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(dup) = zones.iter().enumerate().find(|(i, z)| zones[..*i].iter().any(|o| o.name == z.name)) {
        bail!("--zone {} is given twice: give each zone its own name", dup.1.name);
    }
    if live.no_track && !zones.is_empty() {
        bail!("--zone watches tracked objects: it cannot be used with --no-track (leave one of them out)");
    }
    let dwell_alert = match live.dwell_alert {
        Some(s) if s.is_finite() && (0.1..=86_400.0).contains(&s) => Some(std::time::Duration::from_secs_f64(s)),
        Some(s) => bail!("--dwell-alert {s}: give seconds from 0.1 to 86400"),
        None => None,
    };
    if dwell_alert.is_some() && zones.is_empty() {
        bail!("--dwell-alert times objects inside a zone: give at least one --zone");
    }
    let events = EventsConfig {
        file: live.events.clone(),
        snapshots: live.event_snapshots.clone(),
        mqtt: live.mqtt.as_deref().map(MqttTarget::parse).transpose()?,
    };
    let blur = live.blur.as_deref().map(|b| ClassSpec::parse_for("--blur", b)).transpose()?;
    if let Some(path) = &live.heatmap_out {
        if path.symlink_metadata().is_ok() {
            bail!(
                "--heatmap-out {}: the file exists; give a new name (nothing you own is overwritten)",
                path.display()
            );
        }
        if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
            bail!("--heatmap-out {}: give a .png file name", path.display());
        }
        if live.no_track {
            bail!("--heatmap-out draws where tracks went: it cannot be used with --no-track");
        }
    }
    if events.any() && live.no_track {
        bail!("--events, --event-snapshots and --mqtt report tracked objects: they cannot be used with --no-track");
    }
    if events.file.as_deref().is_some_and(|f| f.as_os_str() == "-") && live.headless {
        messages::note("--events - and --headless both write to stdout: event lines carry an \"event\" key");
    }
    let record = live.record.as_deref().map(RecordTarget::from_arg).transpose()?;
    if let Some(RecordTarget::File(path)) = &record {
        check_not_an_input(path, &source, source_arg)?;
    }
    if let Some(dir) = &live.save_frames {
        check_frames_folder(dir)?;
    }
    let fps_hint = match &source {
        Spec::Demo { fps, .. } => *fps as f32,
        _ => live.fps.unwrap_or(30) as f32,
    };
    Ok(LiveConfig {
        model,
        source,
        headless: live.headless,
        max_frames: live.max_frames,
        record,
        overwrite: live.overwrite,
        record_hud: live.record_hud,
        save_frames: live.save_frames,
        fps_hint,
        track: !live.no_track,
        line,
        display: live.display,
        zones,
        dwell_alert,
        events,
        blur,
        heatmap_out: live.heatmap_out,
    })
}

/// `--record FILE` must not be a file the source reads: recording over it (with --overwrite it is truncated
/// while it is read) destroys the input. Refused whether or not --overwrite is given.
fn check_not_an_input(record: &Path, source: &Spec, source_arg: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = std::fs::metadata(record) else {
        return Ok(()); // A new file cannot be an input.
    };
    let inputs = match source {
        Spec::Video(p) | Spec::RawFrame(p) => vec![p.clone()],
        Spec::Images { path, .. } => expand_paths(std::slice::from_ref(path)).unwrap_or_default(),
        Spec::Demo { .. } | Spec::Camera { .. } | Spec::Stream(_) | Spec::Screen { .. } => Vec::new(),
    };
    // The same file under any name (a symlink, a hard link, another spelling): same device and inode.
    let same = |p: &PathBuf| std::fs::metadata(p).is_ok_and(|m| (m.dev(), m.ino()) == (target.dev(), target.ino()));
    if inputs.iter().any(same) {
        bail!(
            "--record {} is an input of --source {source_arg}: recording there would destroy it while it is read; \
             record to another file, e.g. --record {}",
            record.display(),
            crate::record::naming::numbered_path(
                &record.with_file_name(format!(
                    "{}-annotated.mp4",
                    record.file_stem().unwrap_or_default().to_string_lossy()
                ))
            )
            .display()
        );
    }
    Ok(())
}

/// `--save-frames DIR`: created when missing; one holding frames of an earlier run is refused, since the new
/// frames would replace them.
fn check_frames_folder(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("--save-frames {} is a file, not a folder: pass a new or empty folder", dir.display());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create --save-frames folder {}; pass a writable folder", dir.display()))?;
    let earlier = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read --save-frames folder {}", dir.display()))?
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("frame_"));
    if earlier {
        bail!(
            "--save-frames {} already holds frame_*.png files of an earlier run, which new frames would replace; \
             pass a new or empty folder",
            dir.display()
        );
    }
    Ok(())
}

fn detect_config(m: &cli::ModelArgs, args: cli::DetectArgs) -> anyhow::Result<DetectConfig> {
    let model = model_config(m)?;
    let mut files = expand_paths(&args.paths)?;
    // The same file given twice (or through two paths) is run once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    let out = match args.out {
        Some(dir) => {
            let targets = plan_outputs(&files, &dir)?;
            Some(OutDir { dir, targets, overwrite: args.overwrite })
        }
        None => None,
    };
    Ok(DetectConfig { model, files, out, json: args.json })
}

/// The annotated copy of each input inside `out`, at its path relative to the inputs' common folder (so
/// `a/x.jpg` and `b/x.jpg` stay apart). An `out` that would put a copy on an input (it is the inputs'
/// folder) is refused with advice.
pub fn plan_outputs(files: &[PathBuf], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if out.exists() && !out.is_dir() {
        bail!("--out {} is a file, not a folder: pass a folder for the annotated copies", out.display());
    }
    let absolute: Vec<PathBuf> = files
        .iter()
        .map(|f| std::fs::canonicalize(f).with_context(|| format!("cannot find {}", f.display())))
        .collect::<anyhow::Result<_>>()?;
    let common = absolute
        .iter()
        .filter_map(|f| f.parent())
        .fold(None::<PathBuf>, |acc, dir| match acc {
            None => Some(dir.to_path_buf()),
            Some(a) => Some(a.ancestors().find(|c| dir.starts_with(c)).unwrap_or(Path::new("/")).to_path_buf()),
        })
        .unwrap_or_default();
    let out_abs = absolute_path(out)?;
    let mut targets: Vec<PathBuf> =
        absolute.iter().map(|f| out.join(annotated_name(f.strip_prefix(&common).unwrap_or(f)))).collect();
    // `x.bmp` and `x.bmp.png` both want `x.bmp.png`: the later one is numbered, to a name no other copy of this
    // run wants, so copies of one run never replace each other (with --overwrite too).
    let wanted: std::collections::HashSet<PathBuf> = targets.iter().cloned().collect();
    let mut planned = std::collections::HashSet::new();
    for t in &mut targets {
        if !planned.insert(t.clone()) {
            let free = (1u64..).map(|n| numbered(t, n)).find(|p| !wanted.contains(p) && !planned.contains(p));
            *t = free.unwrap_or_else(|| t.clone());
            planned.insert(t.clone());
        }
    }
    let hits_input = targets.iter().any(|t| absolute_path(t).is_ok_and(|t| absolute.contains(&t)));
    if out_abs == common || hits_input {
        let name = out.display().to_string();
        let name = name.trim_end_matches('/');
        bail!(
            "--out {name} is the folder of the input images: the annotated copies would replace them; \
             pass another folder, e.g. --out {name}/annotated or --out {name}-annotated"
        );
    }
    Ok(targets)
}

/// An absolute path without resolving a last part that does not exist yet.
fn absolute_path(p: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Ok(c);
    }
    let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
        return Ok(std::env::current_dir()?.join(p));
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    Ok(absolute_path(parent)?.join(name))
}

/// `photo.jpg` -> `photo.jpg` (same name, so the out folder mirrors the input), PNG for other formats.
pub fn annotated_name(path: &Path) -> PathBuf {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("jpg" | "jpeg" | "png") => path.to_path_buf(),
        _ => {
            let mut name = path.as_os_str().to_owned();
            name.push(".png");
            PathBuf::from(name)
        }
    }
}

pub fn parse_resolution(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X']).with_context(|| format!("--resolution {s:?}: use WxH, e.g. 1280x720"))?;
    match (w.parse(), h.parse()) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => bail!("--resolution {s:?}: use WxH, e.g. 1280x720"),
    }
}

/// Project folders searched for the default model, in order.
const DEFAULT_MODELS: [&str; 8] = [
    "yolo_nas_s_int8.onnx",
    "yolo_nas_m_int8.onnx",
    "yolo_nas_l_int8.onnx",
    "yolo_nas_s.onnx",
    "yolo_nas_m.onnx",
    "yolo_nas_l.onnx",
    "yolov12n_int8.onnx",
    "yolov12n.onnx",
];

fn models_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("models"), Path::new(env!("CARGO_MANIFEST_DIR")).join("models")];
    dirs.dedup();
    dirs
}

/// `--model`, then `$NASVIEW_MODEL`, then the first default found under models/.
pub fn resolve_model(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("NASVIEW_MODEL").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    for name in DEFAULT_MODELS {
        for dir in models_dirs() {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "no model found in models/ (looked for {}); run `make setup` to fetch the default model, or pass --model FILE",
        DEFAULT_MODELS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::labels::COCO80;

    fn coco() -> Vec<String> {
        COCO80.iter().map(|s| s.to_string()).collect()
    }

    fn config(args: &[&str]) -> anyhow::Result<Config> {
        let mut argv = vec!["nasview", "--model", "m.onnx"];
        argv.extend_from_slice(args);
        Config::from_cli(Cli::try_parse_args(argv)?)
    }

    fn error(args: &[&str]) -> String {
        format!("{:#}", config(args).expect_err("must be refused"))
    }

    #[test]
    fn class_filter_by_name_or_id_with_the_valid_range() {
        let spec = ClassSpec::parse("cup, person,0").unwrap();
        assert_eq!(spec.resolve(&coco()).unwrap(), vec![0, 41]);
        let err = ClassSpec::parse("unicorn").unwrap().resolve(&coco()).unwrap_err().to_string();
        assert!(err.contains("\"unicorn\": no such class") && err.contains("ids 0..79") && err.contains("person"));
        let err = ClassSpec::parse("999").unwrap().resolve(&coco()).unwrap_err().to_string();
        assert!(err.contains("--classes 999: no such class id") && err.contains("80 classes: ids 0..79"), "{err}");
        for empty in ["", " , "] {
            assert!(ClassSpec::parse(empty).unwrap_err().to_string().contains("names no class"));
        }
    }

    #[test]
    fn each_bad_flag_is_refused_with_what_is_allowed() {
        assert!(error(&["--source", "demo", "--max-frames", "0"]).contains("--max-frames 0: give at least 1"));
        assert!(error(&["--source", "demo", "--fps", "0"]).contains("--fps 0 is outside 1..240"));
        assert!(error(&["--source", "demo", "--pixel-format", "bogus"]).contains("use one of mjpeg, yuyv, nv12, gray"));
        assert!(error(&["--source", "demo", "--conf", "1.5"]).contains("--conf 1.5 is outside 0.01..0.99"));
        assert!(error(&["--source", "demo", "--iou", "0.99"]).contains("--iou 0.99 is outside 0.05..0.95"));
        assert!(error(&["--source", "demo", "--classes", ""]).contains("names no class"));
        assert!(error(&["--source", "demo", "--threads", "0"]).contains("--threads 0"));
        assert!(error(&["--source", "demo", "--resolution", "12x"]).contains("use WxH"));
        assert!(error(&["--source", "demo", "--record", "/dev/null"]).contains("not a regular file"));
        assert!(error(&["--source", "demo", "--save-frames", "Cargo.toml"]).contains("is a file, not a folder"));
        assert!(error(&["bench", "--frames", "0"]).contains("--frames 0"));
        // Before: a panic ("capacity overflow") and an abort on a 40 GB allocation.
        for huge in ["18446744073709551615", "1000000000"] {
            assert!(error(&["bench", "--frames", huge]).contains("bench measures at most 1000000 frames"), "{huge}");
        }
        // Inside the ranges: accepted, the same for the window and headless.
        let ok = config(&["--source", "demo", "--conf", "0.01", "--iou", "0.95", "--fps", "5"]).unwrap();
        let Command::Live(live) = ok.command else { panic!("live") };
        assert_eq!(live.model.thresholds, Thresholds { conf: 0.01, iou: 0.95 });
        assert!(matches!(live.source, Spec::Demo { fps: 5, .. }));
    }

    #[test]
    fn live_options_before_a_command_are_refused_with_where_they_go() {
        // Before: dropped without a word (bench measured the demo, nothing was recorded).
        let err = error(&["--source", "clip.mp4", "bench"]);
        assert!(err.contains("--source is given before `bench`") && err.contains("nasview bench --source"), "{err}");
        let err = error(&["--record", "x.mp4", "detect", "Cargo.toml"]);
        assert!(err.contains("--record is an option of the live viewer") && err.contains("--out DIR"), "{err}");
        let err = error(&["--headless", "cameras"]);
        assert!(err.contains("--headless is an option of the live viewer") && err.contains("`cameras`"), "{err}");
        // Options added later are covered too (the list comes from clap).
        let err = error(&["--rtsp-transport", "tcp", "bench"]);
        assert!(err.contains("--rtsp-transport is an option of the live viewer"), "{err}");
        let err = error(&["--display", "processed", "detect", "Cargo.toml"]);
        assert!(err.contains("--display is an option of the live viewer"), "{err}");
        let err = error(&["--overwrite", "detect", "Cargo.toml"]);
        assert!(err.contains("put it after the command: nasview detect --overwrite"), "{err}");
        // After the command, or the model options anywhere (they are global): fine.
        assert!(config(&["bench", "--source", "demo"]).is_ok());
        assert!(config(&["--conf", "0.3", "bench"]).is_ok());
    }

    #[test]
    fn record_never_goes_over_an_input() {
        let dir = crate::testing::temp_dir("record-over-input");
        let clip = dir.join("a.mp4");
        std::fs::write(&clip, b"the input").unwrap();
        std::os::unix::fs::symlink(&clip, dir.join("link.mp4")).unwrap();
        std::fs::hard_link(&clip, dir.join("hard.mp4")).unwrap();
        let c = clip.to_str().unwrap();
        // Before: `--record a.mp4 --overwrite` truncated the clip while it was read (45 frames -> 3).
        for record in ["a.mp4", "link.mp4", "hard.mp4"] {
            let target = dir.join(record);
            for extra in [&["--overwrite"][..], &[]] {
                let mut args = vec!["--source", c, "--record", target.to_str().unwrap()];
                args.extend_from_slice(extra);
                let err = error(&args);
                assert!(
                    err.contains("is an input of --source") && err.contains("a-annotated.mp4")
                        || err.contains("-annotated.mp4"),
                    "{err}"
                );
            }
        }
        assert_eq!(std::fs::read(&clip).unwrap(), b"the input");
        // An image folder's files are inputs too; another file is fine.
        let photos = dir.join("photos");
        std::fs::create_dir(&photos).unwrap();
        std::fs::write(photos.join("x.png"), b"png").unwrap();
        let png = photos.join("x.png");
        let on_photo = ["--source", photos.to_str().unwrap(), "--record", png.to_str().unwrap(), "--overwrite"];
        assert!(error(&on_photo).contains("is an input"));
        assert!(config(&["--source", c, "--record", dir.join("out.mp4").to_str().unwrap(), "--overwrite"]).is_ok());
    }

    #[test]
    fn out_mirrors_sub_folders_and_refuses_the_input_folder() {
        let dir = crate::testing::temp_dir("plan-outputs");
        for sub in ["a", "b"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::write(dir.join(sub).join("x.jpg"), b"x").unwrap();
        }
        std::fs::write(dir.join("a").join("y.gif"), b"y").unwrap();
        let files = [dir.join("a/x.jpg"), dir.join("b/x.jpg"), dir.join("a/y.gif")];
        let out = dir.join("out");
        assert_eq!(
            plan_outputs(&files, &out).unwrap(),
            [out.join("a/x.jpg"), out.join("b/x.jpg"), out.join("a/y.gif.png")]
        );
        // One folder of inputs: its files land directly in --out.
        let a = [dir.join("a/x.jpg")];
        assert_eq!(plan_outputs(&a, &out).unwrap(), [out.join("x.jpg")]);
        // --out is the inputs' folder (also when spelled differently): refused.
        for same in [dir.join("a"), dir.join("b/../a")] {
            let err = plan_outputs(&a, &same).unwrap_err().to_string();
            assert!(err.contains("would replace them") && err.contains("annotated"), "{err}");
        }
        // The folder holding both input folders is their common folder: the copies would be the inputs.
        assert!(plan_outputs(&files[..2], &dir).is_err());
        // A folder that contains the input folder is fine: no copy lands on an input.
        assert_eq!(plan_outputs(&a, &dir).unwrap(), [dir.join("x.jpg")]);
        // `y.gif` and `y.gif.png` both want `y.gif.png`, and `y.gif-1.png` is an input's own name: the second
        // copy takes the next name no copy of this run wants.
        for name in ["y.gif.png", "y.gif-1.png"] {
            std::fs::write(dir.join("a").join(name), b"p").unwrap();
        }
        let clash = [dir.join("a/y.gif"), dir.join("a/y.gif.png"), dir.join("a/y.gif-1.png")];
        assert_eq!(
            plan_outputs(&clash, &out).unwrap(),
            [out.join("y.gif.png"), out.join("y.gif-2.png"), out.join("y.gif-1.png")]
        );
    }
}
