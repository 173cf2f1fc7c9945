//! Command line as clap parses it: the low-level arguments, turned into a validated `Config` by `config.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::detector::provider::Device;
use crate::detector::tiles::{Region, Tiling};

#[derive(Parser, Debug)]
#[command(
    name = "nasview",
    version,
    about = "Live object detection with quantized YOLO-NAS (and YOLOv8-v12) on a webcam, video or images",
    after_help = "Without a command, nasview opens the live window on --source (camera 0 by default).\n\
                  Keys: Up/Down conf, Left/Right IoU, Space pause, R record, S snapshot, T tracking, Y trails,\n\
                  L + mouse drag counting line, C reset counts, G tiles, Z + mouse drag zoom region, H help, Q/Esc quit."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    /// The live viewer's options given before a command (`nasview --source clip.mp4 bench`), by their long
    /// names: clap takes them as the viewer's and the command never reads them, so `config` refuses them.
    #[arg(skip)]
    pub live_before_command: Vec<String>,
}

impl Cli {
    /// Parses a command line, noting the live viewer's options given before a command.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if matches.subcommand().is_some() {
            // Every option of LiveArgs, however many are added: those given on the command line before the
            // command are in the top level's matches.
            let live = LiveArgs::augment_args(clap::Command::new("live"));
            cli.live_before_command = live
                .get_arguments()
                .filter(|a| matches.value_source(a.get_id().as_str()) == Some(clap::parser::ValueSource::CommandLine))
                .map(|a| format!("--{}", a.get_long().unwrap_or(a.get_id().as_str())))
                .collect();
        }
        Ok(cli)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Detect objects in image files or folders (like super-gradients' `model.predict(img)`)
    Detect(DetectArgs),
    /// List cameras and their modes
    Cameras,
    /// Measure every pipeline stage on N frames, per model (give --model twice to compare, e.g. FP32 vs INT8)
    Bench(BenchArgs),
    /// Print a shell completion script, e.g. `nasview completions bash > ~/.local/share/bash-completion/completions/nasview`
    Completions {
        /// bash, zsh, fish, powershell or elvish
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (nasview.1 and one per command) into a folder (`make` does, `make install` installs them)
    #[command(hide = true)]
    Manpage {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Model and threshold options, shared by every command.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// ONNX model [default: $NASVIEW_MODEL, else the first of models/yolo_nas_{s,m,l}_int8.onnx,
    /// models/yolo_nas_{s,m,l}.onnx, models/yolov12n_int8.onnx, models/yolov12n.onnx]; `bench` takes several
    #[arg(long, global = true, value_name = "FILE")]
    pub model: Vec<PathBuf>,
    /// Confidence threshold, and classes' own: `0.25,person=0.5,car=0.4` (names or ids; the bare number is
    /// the rest's). For exports with embedded NMS this only filters what the graph returns
    #[arg(long, global = true, default_value = "0.25", value_name = "0..1[,CLASS=0..1]")]
    pub conf: String,
    /// IoU threshold of NMS. Exports with embedded NMS keep the IoU baked in at export time
    #[arg(long, global = true, default_value_t = 0.7, value_name = "0..1")]
    pub iou: f32,
    /// Only these classes, by name or id: `person,cup` or `0,41`
    #[arg(long, global = true, value_name = "LIST")]
    pub classes: Option<String>,
    /// Class names, one per line (default: the model's metadata, else COCO-80)
    #[arg(long, global = true, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Execution provider: auto (TensorRT, then CUDA, then CPU: the first that loads), cpu, cuda[:N] or
    /// tensorrt[:N]; an explicit GPU falls back to CPU loudly when unavailable
    #[arg(long, global = true, default_value = "auto", value_name = "DEVICE")]
    pub device: Device,
    /// Exit (code 2) instead of falling back to CPU when --device is unavailable
    #[arg(long, global = true)]
    pub strict_device: bool,
    /// Inference threads [default: the machine's cores]
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// ONNX Runtime's thread spinning: on, off, run (only inside a run), or auto: each command's measured
    /// choice (detect: on, bench: run, when the cores are idle; off under load and in the live viewer)
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "on", "off", "run"])]
    pub spin: String,
    /// ONNX Runtime library (default: $ORT_DYLIB_PATH, else the one `make setup` installs in .venv)
    #[arg(long, global = true, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Small objects: also run tiles of the frame at native resolution and merge them with the full frame.
    /// `auto`: tiles of the model's input size overlapping by 20 % or more (none on frames smaller than
    /// one); `CxR`: a fixed grid, e.g. 3x2; `off`
    #[arg(long, global = true, default_value = "off", value_name = "auto|CxR|off")]
    pub tiles: Tiling,
    /// Zoom region x1,y1,x2,y2 (frame pixels): also run that part of the frame at native resolution (tiled
    /// when larger than the model's input); replaces --tiles while set
    #[arg(long, global = true, value_name = "X1,Y1,X2,Y2")]
    pub region: Option<Region>,
}

#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Image files or folders of images
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write annotated copies into this folder, mirroring the inputs' sub-folders; never over an input
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace annotated copies left in --out by an earlier run instead of numbering new ones
    #[arg(long)]
    pub overwrite: bool,
    /// Print one JSON object per image per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Frames to measure: demo, an image, a folder of images or a video file (its decoding is timed too)
    #[arg(long, default_value = "demo")]
    pub source: String,
    /// Frames measured per model (after a 5-frame warm-up)
    #[arg(long, default_value_t = 100)]
    pub frames: usize,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

/// Options of the live viewer (the default command).
#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    /// Camera index or name substring, `demo`, an image file or folder, a video file (any container and codec
    /// FFmpeg reads), a stream URL (rtsp://, rtmp://, http(s):// MJPEG or HLS, udp://, srt://), `screen` or
    /// `screen?region=X,Y,W,H`, or a raw camera frame `NAME.WxH.FORMAT` [default: camera 0; the demo clip
    /// when no camera is found]. `demo?fail-after=N`, `demo?stall-after=N`, `&back-after=SECONDS` and
    /// `demo?camera` inject faults
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// How an rtsp:// source carries its media: tcp (default; passes firewalls, loses nothing) or udp
    #[arg(long, value_name = "tcp|udp")]
    pub rtsp_transport: Option<String>,
    /// Camera resolution, e.g. 1280x720
    #[arg(long, value_name = "WxH")]
    pub resolution: Option<String>,
    /// Frame rate of a camera, the demo clip or an image slideshow (video files play at their own rate)
    #[arg(long, value_name = "N")]
    pub fps: Option<u32>,
    /// Camera pixel format: mjpeg, yuyv, nv12, gray, rgb24 or bgr24 (default: the camera's best live mode)
    #[arg(long, value_name = "FORMAT")]
    pub pixel_format: Option<String>,
    /// Record annotated video (H.264 MP4) from the start; a folder gets a numbered nasview-N.mp4
    #[arg(long, value_name = "FILE.mp4|DIR")]
    pub record: Option<PathBuf>,
    /// Replace an existing recording (or annotated copy of `detect --out`) instead of numbering a new one
    #[arg(long)]
    pub overwrite: bool,
    /// Draw the HUD into the recording too
    #[arg(long)]
    pub record_hud: bool,
    /// Write each annotated frame as a PNG into this folder (new or without earlier frames)
    #[arg(long, value_name = "DIR")]
    pub save_frames: Option<PathBuf>,
    /// No window: print one JSON object per processed frame
    #[arg(long)]
    pub headless: bool,
    /// Stop after this many processed frames
    #[arg(long, value_name = "N")]
    pub max_frames: Option<u64>,
    /// Counting line: pixels of the source frame (`480,0,480,540`) or fractions of it (`0.5,0,0.5,1`).
    /// Tracks crossing it count once per class and direction: `in` is left to right over a line drawn top to
    /// bottom, bottom to top over one drawn left to right (the arrow x1,y1 -> x2,y2 turned a quarter
    /// counter-clockwise on screen); `out` is the other way
    #[arg(long, value_name = "X1,Y1,X2,Y2")]
    pub line: Option<String>,
    /// No tracking: no track IDs, trails or line counts (T turns it on in the window)
    #[arg(long)]
    pub no_track: bool,
    /// A zone watched for tracked objects, inside when their box's bottom centre (their feet) is: NAME then at
    /// least three corners in pixels or fractions of the frame, e.g. door:0.1,0.5,0.4,0.5,0.4,1,0.1,1;
    /// may be given several times
    #[arg(long, value_name = "NAME:X1,Y1,X2,Y2,X3,Y3[,...]")]
    pub zone: Vec<String>,
    /// An event when an object stays in a zone longer than this many seconds (source time)
    #[arg(long, value_name = "SECONDS")]
    pub dwell_alert: Option<f64>,
    /// Events (line crossed, zone entered / left, dwell alert) as JSON lines appended to FILE, or `-` for stdout
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
    /// The annotated frame of each event saved as a PNG into this folder (never over an earlier file)
    #[arg(long, value_name = "DIR")]
    pub event_snapshots: Option<PathBuf>,
    /// Events to PREFIX/events (QoS 1), counts and zone occupancy retained on PREFIX/counts, online / offline
    /// on PREFIX/status: mqtt://[USER:PASSWORD@]HOST[:PORT]/PREFIX
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// Pixelate these classes (names or ids, e.g. person) in the window and in everything written: recordings,
    /// saved frames, snapshots; with tracking on, also where the detector missed them (B: off in the window only)
    #[arg(long, value_name = "CLASSES")]
    pub blur: Option<String>,
    /// At the end (also on Q and Ctrl-C), write where the tracks went, as a heatmap over the last frame (PNG)
    #[arg(long, value_name = "FILE.png")]
    pub heatmap_out: Option<PathBuf>,
    /// What the window shows: `every` captured frame, with the newest boxes moved to it by the tracker, or
    /// only the `processed` frames, with exactly the boxes found on each (the recording holds the same)
    #[arg(long, default_value = "every", value_name = "every|processed")]
    pub display: DisplayMode,
}

/// Which frames the window shows (`--display`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DisplayMode {
    /// Every captured frame (newest wins), with the newest result's boxes moved to its capture time.
    #[default]
    Every,
    /// Only the frames that went through inference, with exactly the boxes computed on them.
    Processed,
}

impl std::str::FromStr for DisplayMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "every" => Ok(DisplayMode::Every),
            "processed" => Ok(DisplayMode::Processed),
            _ => Err(format!("--display {s}: give `every` (each captured frame) or `processed`")),
        }
    }
}
