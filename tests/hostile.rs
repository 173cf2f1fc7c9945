//! Hostile inputs: mutated and crafted MP4s read through FFmpeg in a child process under a memory cap, models with bad metadata
//! and outputs, truncated, mislabelled and oversized images.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use nasview::source::video::{Input, Video};

use crate::common::{data, nasview, photo, scratch};

/// A field of /proc/self/status in bytes (VmRSS, VmHWM). FFmpeg allocates with C's malloc, out of sight of a Rust
/// allocator, so the reader's memory is measured as the process's resident set: the child reads alone.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim_start_matches(':').split_whitespace().next()?.parse().ok());
    kb.unwrap_or(0usize) * 1024
}

/// Resets the process's peak resident set (VmHWM) to what it uses now.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

// ---------------------------------------------------------------------------------------------------------------
// MP4 files: the child process and its parent
// ---------------------------------------------------------------------------------------------------------------

/// Address space of the child that reads MP4s: the 96 GB allocation and the 6 GB loop of the old reader die here.
const CHILD_MEMORY_CAP_KB: u64 = 1 << 20;
const SEED: u64 = 0x6e61_7376_6965_7721;

/// What reading one file to the end did.
#[derive(Debug, Clone, PartialEq)]
struct Report {
    kind: String,
    len: usize,
    /// `end` (read to the end), `open_error`, `read_error` or `panic`.
    outcome: String,
    frames: usize,
    /// Peak resident memory above the level before the file was opened.
    peak: usize,
    micros: u64,
    /// Largest decoded picture, in pixels.
    pixels: usize,
    error: String,
}

/// Reads a file with the video reader to its end, catching panics.
fn read_to_end(path: &Path) -> (String, usize, usize, String) {
    let read = std::panic::catch_unwind(|| {
        let mut video = match Video::open(&Input::File(path.to_path_buf())) {
            Ok(v) => v,
            Err(e) => return ("open_error", 0, 0, format!("{e:#}")),
        };
        let (mut frames, mut pixels) = (0, 0);
        loop {
            match video.next_frame() {
                Ok(Some((image, _))) => {
                    frames += 1;
                    pixels = pixels.max(image.width() as usize * image.height() as usize);
                }
                Ok(None) => return ("end", frames, pixels, String::new()),
                Err(e) => return ("read_error", frames, pixels, format!("{e:#}")),
            }
        }
    });
    match read {
        Ok((outcome, frames, pixels, error)) => (outcome.to_string(), frames, pixels, error),
        Err(_) => ("panic".to_string(), 0, 0, "panicked".to_string()),
    }
}

/// Deterministic generator (splitmix64), so every variant can be made again from its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Boxes whose fields are counts, sizes and offsets: the places a crafted file attacks.
const KINDS: [&[u8; 4]; 24] = [
    b"moov", b"trak", b"tkhd", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl", b"stsd", b"avc1", b"avcC", b"stts",
    b"ctts", b"stsc", b"stsz", b"stco", b"co64", b"mvex", b"trex", b"moof", b"traf", b"tfhd", b"tfdt", b"trun",
];
const HOSTILE_U32: [u32; 12] =
    [0, 1, 2, 7, 8, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0x0100_0000];
const MUTATIONS: [&str; 4] = ["truncate", "flip", "field", "splice"];

/// A file to mutate and the offsets of the box types in KINDS within it.
struct Base {
    bytes: Vec<u8>,
    spots: Vec<usize>,
}

impl Base {
    fn new(bytes: Vec<u8>) -> Base {
        let spots =
            (4..bytes.len().saturating_sub(4)).filter(|&p| KINDS.iter().any(|k| &bytes[p..p + 4] == *k)).collect();
        Base { bytes, spots }
    }
}

/// Variant `i` of one of `bases`: the mutation kind and the mutated bytes.
fn variant(bases: &[Base], i: usize) -> (&'static str, Vec<u8>) {
    let Base { bytes: base, spots } = &bases[i % bases.len()];
    let kind = MUTATIONS[i / bases.len() % MUTATIONS.len()];
    let mut rng = Rng(SEED ^ (i as u64).wrapping_mul(0x1000_0000_01b3));
    let mut bytes = base.clone();
    match kind {
        "truncate" => bytes.truncate(rng.below(base.len())),
        "flip" => {
            for _ in 0..1 + rng.below(16) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
        }
        "field" => {
            // A u32 in the header or the first fields of a box: its size, version and flags, counts, offsets.
            for _ in 0..1 + rng.below(2) {
                let at = (spots[rng.below(spots.len())] - 4 + 4 * rng.below(8)).min(bytes.len() - 4);
                let pick = rng.below(HOSTILE_U32.len() + 1);
                let value = HOSTILE_U32.get(pick).copied().unwrap_or(rng.next() as u32);
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        _ => {
            // Delete, repeat or insert random bytes in a range: shifts every offset after it.
            let at = rng.below(bytes.len());
            let n = (1 + rng.below(64)).min(bytes.len() - at);
            match rng.below(3) {
                0 => drop(bytes.drain(at..at + n)),
                1 => {
                    let copy = bytes[at..at + n].to_vec();
                    bytes.splice(at..at, copy);
                }
                _ => {
                    let noise: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    bytes.splice(at..at, noise);
                }
            }
        }
    }
    (kind, bytes)
}

/// The child's work, run by the parent tests through `read_mp4s_in_child`: reads each file named in
/// NASVIEW_MP4_CHILD (or, with a variant count, that many mutations of them) and prints one report line each.
#[test]
#[ignore = "the child of the MP4 tests, started by them under a memory cap"]
fn mp4_reader_child() {
    let spec = std::env::var("NASVIEW_MP4_CHILD").expect("run by read_mp4s_in_child");
    let mut parts = spec.split('\n');
    let variants: usize = parts.next().and_then(|n| n.parse().ok()).expect("variant count");
    let work = PathBuf::from(parts.next().expect("work folder"));
    let files: Vec<PathBuf> = parts.map(PathBuf::from).collect();
    let bases: Vec<Base> = files.iter().map(|f| Base::new(std::fs::read(f).expect("read base"))).collect();
    // Panics are expected to be caught and reported, not printed by the hook for each of them.
    std::panic::set_hook(Box::new(|_| {}));
    let count = if variants == 0 { files.len() } else { variants };
    let out = std::io::stdout();
    // NASVIEW_MP4_ONLY=N reads variant N alone, to look at one the campaign reported.
    let only: Option<usize> = std::env::var("NASVIEW_MP4_ONLY").ok().and_then(|n| n.parse().ok());
    for i in (0..count).filter(|i| only.is_none_or(|n| n == *i)) {
        let (kind, path) = match files.get(i).filter(|_| variants == 0) {
            Some(file) => ("crafted", file.clone()),
            None => {
                let (kind, bytes) = variant(&bases, i);
                let path = work.join("variant.mp4");
                std::fs::write(&path, bytes).expect("write variant");
                (kind, path)
            }
        };
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        writeln!(out.lock(), "mp4child start {i}").and_then(|_| out.lock().flush()).expect("stdout");
        reset_peak();
        let base = status_bytes("VmRSS");
        let t = Instant::now();
        let (outcome, frames, pixels, error) = read_to_end(&path);
        let micros = t.elapsed().as_micros();
        let peak = status_bytes("VmHWM").saturating_sub(base);
        let error = error.replace('\n', " ");
        let line = format!("mp4child done {i} {kind} {len} {outcome} {frames} {peak} {micros} {pixels} {error}");
        writeln!(out.lock(), "{line}").and_then(|_| out.lock().flush()).expect("stdout");
    }
}

/// Runs `mp4_reader_child` in a child process with its address space capped; a crash, an abort or a hang fails
/// with the number of the file being read. Returns one report per file or variant.
fn read_mp4s_in_child(files: &[PathBuf], variants: usize, timeout: Duration) -> Vec<Report> {
    // One folder per call: tests run in parallel, and `scratch` empties a folder of the same name, which would
    // pull the variant file from under another test's child.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let work = scratch(&format!("mp4-child-{}", CALLS.fetch_add(1, Relaxed)));
    let mut spec = format!("{variants}\n{}", work.display());
    files.iter().for_each(|f| spec.push_str(&format!("\n{}", f.display())));
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {CHILD_MEMORY_CAP_KB} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["hostile::mp4_reader_child", "--exact", "--ignored", "--nocapture", "--test-threads", "1"])
        .env("NASVIEW_MP4_CHILD", spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("stdout");
    let lines = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    // Read as it comes: the reader warns about each corrupt file, and a full pipe would stall the child.
    let stderr = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if t.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines = lines.join().expect("reader thread");
    let stderr = stderr.join().expect("stderr reader");
    // The harness prints "test NAME ... " with no newline before the child's first line: find, not strip_prefix.
    let after = |l: &'_ str, tag: &str| l.find(tag).map(|at| l[at + tag.len()..].to_string());
    let last_started = lines.iter().rev().find_map(|l| after(l, "mp4child start "));
    let tail = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
    match status {
        None => panic!("the reader hung: no end after {timeout:?}, at file {last_started:?} (seed {SEED:#x})"),
        Some(s) if !s.success() => {
            panic!("the reader crashed ({s}) at file {last_started:?} (seed {SEED:#x}); stderr: {tail}")
        }
        Some(_) => {}
    }
    let reports: Vec<Report> = lines
        .iter()
        .filter_map(|l| after(l, "mp4child done "))
        .map(|l| {
            let f: Vec<&str> = l.splitn(9, ' ').collect();
            Report {
                kind: f[1].to_string(),
                len: f[2].parse().unwrap(),
                outcome: f[3].to_string(),
                frames: f[4].parse().unwrap(),
                peak: f[5].parse().unwrap(),
                micros: f[6].parse().unwrap(),
                pixels: f[7].parse().unwrap(),
                error: f.get(8).unwrap_or(&"").to_string(),
            }
        })
        .collect();
    assert_eq!(reports.len(), if variants == 0 { files.len() } else { variants }, "stderr: {tail}");
    reports
}

/// FFmpeg's fixed cost plus what it may size from a file's claims: decoder contexts and frame pools for one frame
/// thread per core plus one and the filter graph take 5-16 MB on clean files here; libavformat sizes some index
/// tables by the counts a file declares (after its own sanity checks), 69 MB at worst for a 6 KB variant in
/// this campaign. The bound sits above that, and far below the child's 1 GB address-space cap, which the old
/// reader's 96 GB allocation hit.
const FIXED_COST: usize = 128 << 20;

/// Memory a reader may take for a file: the fixed cost, a small multiple of the file, the pictures in flight.
fn memory_bound(r: &Report) -> usize {
    FIXED_COST + 16 * r.len + 16 * 3 * r.pixels
}

fn ffmpeg_clip(path: &Path, extra: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(extra)
        .arg(path)
        .status()
        .expect("ffmpeg runs (install ffmpeg: `make setup` does)");
    assert!(status.success(), "ffmpeg failed for {}", path.display());
}

/// nasview's own fragmented recording: 20 frames of a moving square, 100 ms apart.
fn recording(path: &Path) {
    let rec = nasview::record::Recorder::start(path, 160, 120, 10.0).expect("recorder");
    for i in 0..20u32 {
        let frame = RgbImage::from_fn(160, 120, |x, y| {
            let inside = (i * 5..i * 5 + 60).contains(&x) && (30..90).contains(&y);
            image::Rgb(if inside { [200, 60, 30] } else { [40, 40, (x + y) as u8] })
        });
        assert!(rec.push(Arc::new(frame), Duration::from_millis(100 * u64::from(i))));
        let t = Instant::now();
        while rec.frames() + rec.dropped() < u64::from(i + 1) {
            assert!(t.elapsed() < Duration::from_secs(10), "encoder stuck");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    rec.finish().expect("finish");
}

/// The three real files the campaign mutates: fragmented (nasview), moov first and moov last (ffmpeg).
fn base_mp4s(dir: &Path) -> Vec<PathBuf> {
    let files = [dir.join("recording.mp4"), dir.join("moov-first.mp4"), dir.join("moov-last.mp4")];
    recording(&files[0]);
    ffmpeg_clip(&files[1], &["-movflags", "+faststart"]);
    ffmpeg_clip(&files[2], &[]);
    files.to_vec()
}

#[test]
fn mp4_mutation_campaign() {
    let dir = scratch("mp4-campaign");
    let bases = base_mp4s(&dir);
    // The unmutated files read completely, so the mutations start from working input.
    let clean = read_mp4s_in_child(&bases, 0, Duration::from_secs(60));
    for (file, r) in bases.iter().zip(&clean) {
        assert_eq!((r.outcome.as_str(), r.frames), ("end", 20), "{}: {r:?}", file.display());
    }
    let variants = 2400;
    let reports = read_mp4s_in_child(&bases, variants, Duration::from_secs(240));

    let mut outcomes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        *outcomes.entry((&r.kind, &r.outcome)).or_default() += 1;
        if !r.error.is_empty() {
            // Group messages by their text without the file name, numbers and the list of what is supported.
            let text = r.error.split("; nasview reads").next().unwrap_or_default();
            let text = text.rsplit("variant.mp4").next().unwrap_or_default();
            *errors.entry(text.chars().filter(|c| !c.is_ascii_digit()).collect()).or_default() += 1;
        }
    }
    // Memory beyond FFmpeg's fixed cost and the pictures, per byte of the file; tiny files (a truncation to 10
    // bytes) say nothing, so files of 4 KB and more.
    let ratio = |r: &Report| r.peak.saturating_sub(FIXED_COST + 16 * 3 * r.pixels) as f64 / r.len as f64;
    let worst = reports.iter().filter(|r| r.len >= 4096).max_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let slowest = reports.iter().map(|r| r.micros).max().unwrap_or(0);
    let peak = reports.iter().map(|r| r.peak).max().unwrap_or(0);
    println!("{variants} variants of {} files (seed {SEED:#x}), outcomes by mutation:", bases.len());
    for ((kind, outcome), n) in &outcomes {
        println!("  {kind:<9} {outcome:<11} {n}");
    }
    println!("most frequent error messages:");
    let mut by_count: Vec<_> = errors.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1));
    by_count.iter().take(12).for_each(|(e, n)| println!("  {n:>5}  {e}"));
    let worst =
        worst.map(|w| format!("{:.2}x ({} bytes, {} pixels, a {}-byte file)", ratio(w), w.peak, w.pixels, w.len));
    println!(
        "peak memory per file: max {peak} bytes; beyond the fixed cost, at most {worst:?} the file; slowest {slowest} us"
    );

    assert!(
        reports.iter().all(|r| r.outcome != "panic"),
        "panics: {:?}",
        reports.iter().find(|r| r.outcome == "panic")
    );
    for (i, r) in reports.iter().enumerate() {
        assert!(r.peak <= memory_bound(r), "variant {i}: peak memory {} above {} ({r:?})", r.peak, memory_bound(r));
        // Errors are sentences that name the file, not codes.
        if r.outcome.ends_with("error") {
            assert!(r.error.contains("variant.mp4"), "variant {i}: {r:?}");
        }
    }
    // Each kind of mutation both breaks some files and leaves some readable, so the campaign reaches deep.
    for kind in MUTATIONS {
        let n = |outcome| outcomes.get(&(kind, outcome)).copied().unwrap_or(0);
        assert!(n("end") > 0 && n("open_error") > 0, "{kind}: {outcomes:?}");
    }
}

/// Offset of the first `kind` box's four-character code in `bytes`.
fn find_box(bytes: &[u8], kind: &[u8; 4]) -> usize {
    bytes.windows(4).position(|w| w == kind).unwrap_or_else(|| panic!("no {} box", kind.escape_ascii()))
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

#[test]
fn stsz_with_a_fixed_size_and_four_billion_samples() {
    // Used to ask for a 96 GB Vec::with_capacity (SIGABRT).
    let dir = scratch("mp4-stsz");
    let path = dir.join("stsz.mp4");
    ffmpeg_clip(&path, &["-movflags", "+faststart"]);
    let mut bytes = std::fs::read(&path).unwrap();
    let stsz = find_box(&bytes, b"stsz");
    put_u32(&mut bytes, stsz + 8, 1000); // sample size: fixed
    put_u32(&mut bytes, stsz + 12, u32::MAX); // sample count
                                              // And the chunk table and times agree: one chunk of 4 billion samples, each 1 tick long.
    let stsc = find_box(&bytes, b"stsc");
    put_u32(&mut bytes, stsc + 8, 1);
    put_u32(&mut bytes, stsc + 16, u32::MAX);
    let stts = find_box(&bytes, b"stts");
    put_u32(&mut bytes, stts + 8, 1);
    put_u32(&mut bytes, stts + 12, u32::MAX);
    std::fs::write(&path, &bytes).unwrap();
    let [r] = &read_mp4s_in_child(&[path], 0, Duration::from_secs(30))[..] else { unreachable!() };
    assert!(r.peak <= memory_bound(r) && r.micros < 5_000_000, "{r:?}");
    // Samples stop where the file's bytes do: at most len / 1000 of them.
    assert!(r.outcome == "end" || r.error.contains("cannot be decoded"), "{r:?}");
    assert!(r.frames <= r.len / 1000, "{r:?}");
}

#[test]
fn trun_with_a_huge_count_and_zero_size_samples() {
    // Used to loop while memory grew past 6 GB.
    let dir = scratch("mp4-trun");
    let path = dir.join("trun.mp4");
    recording(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    let trex = find_box(&bytes, b"trex");
    put_u32(&mut bytes, trex + 20, 0); // default sample size
    let tfhd = find_box(&bytes, b"tfhd");
    put_u32(&mut bytes, tfhd + 4, 0x0002_0000); // default-base-is-moof only: no default size here either
    let trun = find_box(&bytes, b"trun");
    put_u32(&mut bytes, trun + 4, 0x0000_0001); // data offset only: no per-sample table backs the count
    put_u32(&mut bytes, trun + 8, u32::MAX);
    std::fs::write(&path, &bytes).unwrap();
    let [r] = &read_mp4s_in_child(&[path], 0, Duration::from_secs(30))[..] else { unreachable!() };
    assert!(r.peak <= memory_bound(r) && r.micros < 5_000_000, "{r:?}");
    // FFmpeg refuses the fragment at open; a reader that walked the count would run out of memory or time above.
    assert!(r.outcome != "panic" && r.frames < 20, "the first fragment's samples have no bytes: {r:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------

/// Appends a metadata entry to an ONNX file: field 14 of ModelProto (metadata_props), a repeated
/// StringStringEntryProto {key = 1, value = 2}. Protobuf fields may come in any order.
fn with_metadata(model: &[u8], key: &str, value: &str) -> Vec<u8> {
    fn varint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push(n as u8 | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    let mut entry = Vec::new();
    for (tag, text) in [(0x0a, key), (0x12, value)] {
        entry.push(tag);
        varint(text.len(), &mut entry);
        entry.extend_from_slice(text.as_bytes());
    }
    let mut out = model.to_vec();
    out.push(0x72);
    varint(entry.len(), &mut out);
    out.extend(entry);
    out
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = nasview(args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn names_metadata_with_huge_class_ids_refuses_the_model() {
    let dir = scratch("bad-names");
    let model = std::fs::read(data("hostile_flat.onnx")).unwrap();
    let person = photo("person.jpg");
    // 2^64-1 used to panic, 4e9 to abort on a 96 GB allocation, 99,999,999 to take 18 s and 5 GB.
    for id in ["18446744073709551615", "4000000000", "99999999"] {
        let path = dir.join(format!("names-{id}.onnx"));
        std::fs::write(&path, with_metadata(&model, "names", &format!("{{0: 'person', {id}: 'x'}}"))).unwrap();
        let t = Instant::now();
        let (code, _, stderr) = run(&["detect", "--model", path.to_str().unwrap(), person.to_str().unwrap()]);
        assert!(t.elapsed() < Duration::from_secs(10), "{id}: {:?}", t.elapsed());
        assert_eq!(code, 2, "{id}: {stderr}");
        let want = format!("its names metadata is not usable (class id {id} is above the limit of 100000 classes)");
        assert!(stderr.contains(&want) && stderr.contains("--labels FILE"), "{id}: {stderr}");
    }
    // Ids with a gap are refused too; dense ones are used.
    let path = dir.join("gap.onnx");
    std::fs::write(&path, with_metadata(&model, "names", "{0: 'a', 2: 'c'}")).unwrap();
    let (code, _, stderr) = run(&["detect", "--model", path.to_str().unwrap(), person.to_str().unwrap()]);
    assert!(code == 2 && stderr.contains("without gaps, but 1 is missing"), "{stderr}");
    let path = dir.join("dense.onnx");
    std::fs::write(&path, with_metadata(&model, "names", "{0: 'widget'}")).unwrap();
    let (code, stdout, stderr) =
        run(&["detect", "--json", "--model", path.to_str().unwrap(), person.to_str().unwrap()]);
    assert!(code == 0 && stdout.contains("\"label\":\"widget\""), "{stdout} {stderr}");
}

#[test]
fn labels_file_must_match_the_model_class_count() {
    let dir = scratch("bad-labels");
    let labels = dir.join("three.txt");
    std::fs::write(&labels, "a\nb\nc\n").unwrap();
    let model = data("hostile_raw.onnx");
    let person = photo("person.jpg");
    let args = ["detect", "--model", model.to_str().unwrap(), "--labels", labels.to_str().unwrap()];
    let (code, _, stderr) = run(&[&args[..], &[person.to_str().unwrap()]].concat());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("three.txt has 3 class names, but the model outputs 5 classes"), "{stderr}");
}

#[test]
fn broken_flat_outputs_are_dropped_counted_and_warned_once() {
    let model = data("hostile_flat.onnx");
    let (a, b) = (photo("person.jpg"), photo("chelsea.png"));
    let (code, stdout, stderr) =
        run(&["detect", "--json", "--model", model.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let dets = line["detections"].as_array().unwrap();
        // Only the valid row survives: inverted, empty, score 1.5, NaN and class 99999 are gone.
        assert_eq!(dets.len(), 1, "{line}");
        assert_eq!(dets[0]["class_id"], 0);
        assert_eq!(dets[0]["score"], 0.9);
    }
    assert_eq!(stderr.matches("implausible").count(), 1, "one warning per run: {stderr}");
    assert!(stderr.contains("model hostile_flat.onnx gave 5 implausible boxes"), "{stderr}");
}

#[test]
fn broken_raw_outputs_cannot_defeat_nms() {
    let model = data("hostile_raw.onnx");
    // 1352x900: scale 636/1352, so 3.4e38 in model pixels overflows to infinity in the photo's.
    let kite = photo("kite.jpg");
    let (code, stdout, stderr) = run(&["detect", "--json", "--model", model.to_str().unwrap(), kite.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let dets = line["detections"].as_array().unwrap();
    let classes: Vec<u64> = dets.iter().map(|d| d["class_id"].as_u64().unwrap()).collect();
    // Class 1: two duplicates at 1e38 merged into one (their f32 areas overflow); class 3: the valid box. Not
    // the 300 inverted boxes (class 0), not the box beyond f32 (class 2), not the score of 1.5 (class 4).
    assert_eq!(classes, vec![1, 3], "{line}");
    assert_eq!(dets[0]["box"], serde_json::json!([0.0, 0.0, 1352.0, 900.0]));
    assert!(stderr.contains("model hostile_raw.onnx gave 302 implausible boxes"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn images_are_read_by_content_and_broken_ones_fail_the_run() {
    let dir = scratch("bad-images");
    let half = dir.join("half.jpg");
    let kite = std::fs::read(photo("kite.jpg")).unwrap();
    std::fs::write(&half, &kite[..kite.len() / 2]).unwrap();
    let png_named_jpg = dir.join("chelsea.jpg");
    std::fs::copy(photo("chelsea.png"), &png_named_jpg).unwrap();
    let jpg_named_png = dir.join("person.png");
    std::fs::copy(photo("person.jpg"), &jpg_named_png).unwrap();
    let huge = dir.join("huge.jpg");
    let mut bytes = std::fs::read(photo("person.jpg")).unwrap();
    let sof = bytes.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    bytes[sof + 5..sof + 9].copy_from_slice(&14000u16.to_be_bytes().repeat(2));
    std::fs::write(&huge, bytes).unwrap();

    let cmyk = dir.join("cmyk.jpg");
    let status = Command::new("convert").arg(photo("person.jpg")).args(["-colorspace", "CMYK"]).arg(&cmyk).status();
    assert!(status.expect("ImageMagick's convert runs (make setup installs it)").success());

    let model = data("hostile_flat.onnx");
    let files = [&half, &png_named_jpg, &jpg_named_png, &huge, &cmyk].map(|p| p.to_str().unwrap().to_string());
    let mut args = vec!["detect", "--json", "--model", model.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 1, "a broken input fails the run: {stderr}");
    let sizes: Vec<(String, u64, u64)> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            (v["image"].as_str().unwrap().to_string(), v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(sizes, vec![(files[1].clone(), 451, 300), (files[2].clone(), 640, 424)]);
    let want_half = format!("nasview: warning: {}: truncated or corrupt JPEG (Premature end of JPEG file", files[0]);
    assert!(stderr.contains(&want_half), "{stderr}");
    let want_huge = format!("{}: the image is 14000x14000 (196 megapixels), above nasview's limit of 100", files[3]);
    assert!(stderr.contains(&want_huge), "{stderr}");
    let want_cmyk = format!("{}: a CMYK JPEG, which nasview does not convert; save it as RGB first", files[4]);
    assert!(stderr.contains(&want_cmyk), "{stderr}");
    assert!(stderr.contains("3 of 5 images were skipped"), "{stderr}");
}
