//! MP4 demuxing for the video source: the first video track's codec, parameters and samples (capture thread).
//!
//! Every count and size read from a box is checked against the bytes that remain before anything is allocated
//! or looped over, so a crafted file ends in an error that names the box and its byte offset, never in a huge
//! allocation, a panic or an endless loop.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use anyhow::anyhow;

/// One video sample: where its bytes are and when it is shown (ticks of the track timescale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub offset: u64,
    pub size: u32,
    pub pts: i64,
}

/// The video codec, from the sample entry's four-character code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
    Vp9,
    Av1,
    Mjpeg,
    Mpeg4Part2,
    Other([u8; 4]),
}

impl Codec {
    fn from_fourcc(code: [u8; 4]) -> Codec {
        match &code {
            b"avc1" | b"avc3" => Codec::H264,
            b"hvc1" | b"hev1" => Codec::H265,
            b"vp09" => Codec::Vp9,
            b"av01" => Codec::Av1,
            b"jpeg" | b"mjpa" | b"mjpb" | b"mjp2" => Codec::Mjpeg,
            b"mp4v" => Codec::Mpeg4Part2,
            _ => Codec::Other(code),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::H264 => f.write_str("H.264"),
            Codec::H265 => f.write_str("H.265 (HEVC)"),
            Codec::Vp9 => f.write_str("VP9"),
            Codec::Av1 => f.write_str("AV1"),
            Codec::Mjpeg => f.write_str("Motion JPEG"),
            Codec::Mpeg4Part2 => f.write_str("MPEG-4 Part 2"),
            Codec::Other(code) => write!(f, "an unknown codec ({})", code.escape_ascii()),
        }
    }
}

/// H.264 decoder configuration (the avcC box): profile, NAL length prefix size, SPS and PPS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvcConfig {
    pub profile: u8,
    pub nal_length_size: usize,
    pub parameter_sets: Vec<Vec<u8>>,
}

/// The first video track of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTrack {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub timescale: u32,
    /// Present for H.264.
    pub avc: Option<AvcConfig>,
    /// In file order; times start wherever the file says (the reader shifts them to 0).
    pub samples: Vec<Sample>,
    /// The file ends inside its last box or sample (crash, full disk): what comes before was kept.
    pub truncated: bool,
}

/// Why a file has no readable video track; `Other` errors name the box and the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum DemuxError {
    #[error("not an MP4 file")]
    NotMp4,
    #[error("an incomplete MP4 file (no moov box: cut short before it was finalised?)")]
    NoMoov,
    #[error("an MP4 file without a video track")]
    NoVideoTrack,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A video sample holds at least one length-prefixed NAL unit, so some bytes; more samples than the file has bytes
/// for, at this size, can only come from tables that point at the same bytes again and again.
const MIN_SAMPLE_BYTES: u64 = 4;

/// Bytes of a box body being read, with file offsets for error messages: of the box (its header) and of the body.
#[derive(Clone, Copy)]
struct Body<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    pos: usize,
    box_at: u64,
    at: u64,
}

impl<'a> Body<'a> {
    fn new(kind: [u8; 4], data: &'a [u8], box_at: u64, header: u64) -> Body<'a> {
        Body { kind, data, pos: 0, box_at, at: box_at + header }
    }

    fn error(&self, what: &str) -> anyhow::Error {
        anyhow!("bad {} box at byte {}: {what}", self.kind.escape_ascii(), self.box_at)
    }

    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        let rest = self.data.len() - self.pos;
        if n > rest {
            return Err(self.error(&format!("needs {n} more bytes at byte {}, has {rest}", self.at + self.pos as u64)));
        }
        self.pos += n;
        Ok(&self.data[self.pos - n..self.pos])
    }

    fn u8(&mut self) -> anyhow::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> anyhow::Result<u16> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into()?))
    }

    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into()?))
    }

    fn u64(&mut self) -> anyhow::Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into()?))
    }

    /// Version and flags of a full box.
    fn full_header(&mut self) -> anyhow::Result<(u8, u32)> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// A table's entry count, checked against the bytes left: `count * entry_bytes` must be there.
    fn count(&mut self, entry_bytes: usize) -> anyhow::Result<usize> {
        let count = self.u32()? as usize;
        let rest = self.data.len() - self.pos;
        if count.checked_mul(entry_bytes).is_none_or(|n| n > rest) {
            return Err(self.error(&format!("lists {count} entries of {entry_bytes} bytes in {rest} bytes")));
        }
        Ok(count)
    }

    /// The child boxes of the rest of this body.
    fn children(&self) -> Children<'a> {
        Children { data: &self.data[self.pos..], pos: 0, at: self.at + self.pos as u64 }
    }
}

/// Child boxes of a body held in memory. Yields an error (once) for a child that overruns its parent.
struct Children<'a> {
    data: &'a [u8],
    pos: usize,
    at: u64,
}

impl<'a> Iterator for Children<'a> {
    type Item = anyhow::Result<Body<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.data[self.pos..];
        if rest.len() < 8 {
            return None; // padding after the last child
        }
        let at = self.at + self.pos as u64;
        let kind: [u8; 4] = rest[4..8].try_into().ok()?;
        let (size, header) = match u32::from_be_bytes(rest[..4].try_into().ok()?) {
            0 => (rest.len() as u64, 8),
            1 if rest.len() >= 16 => (u64::from_be_bytes(rest[8..16].try_into().ok()?), 16),
            n => (u64::from(n), 8),
        };
        if size < header || size > rest.len() as u64 {
            self.pos = self.data.len();
            return Some(Err(anyhow!(
                "bad {} box at byte {at}: size {size}, but its parent has {} bytes left",
                kind.escape_ascii(),
                rest.len()
            )));
        }
        self.pos += size as usize;
        Some(Ok(Body::new(kind, &rest[header as usize..size as usize], at, header)))
    }
}

/// The first child of `kind`, if any.
fn child<'a>(body: &Body<'a>, kind: &[u8; 4]) -> anyhow::Result<Option<Body<'a>>> {
    for c in body.children() {
        let c = c?;
        if &c.kind == kind {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

fn required<'a>(body: &Body<'a>, kind: &[u8; 4]) -> anyhow::Result<Body<'a>> {
    child(body, kind)?.ok_or_else(|| body.error(&format!("has no {} box", kind.escape_ascii())))
}

/// A top-level box found by walking the file.
struct TopBox {
    kind: [u8; 4],
    at: u64,
    header: u64,
    size: u64,
}

/// Walks the top-level boxes: Ok(None) at the end, or at a box cut by the end of the file (sets `truncated`).
fn next_top_box(file: &mut File, pos: u64, len: u64, truncated: &mut bool) -> anyhow::Result<Option<TopBox>> {
    if pos + 8 > len {
        return Ok(None);
    }
    let mut head = [0u8; 16];
    file.seek(SeekFrom::Start(pos))?;
    file.read_exact(&mut head[..8])?;
    let kind: [u8; 4] = head[4..8].try_into()?;
    let (size, header) = match u32::from_be_bytes(head[..4].try_into()?) {
        0 => (len - pos, 8),
        1 if pos + 16 <= len => {
            file.read_exact(&mut head[8..])?;
            (u64::from_be_bytes(head[8..].try_into()?), 16)
        }
        n => (u64::from(n), 8),
    };
    let is_box = size >= header && kind.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    if pos == 0 && !(is_box && size <= len) {
        return Err(DemuxError::NotMp4.into());
    }
    if !is_box {
        tracing::warn!("bytes after the last box at byte {pos} are not a box: ignored");
        return Ok(None);
    }
    if size > len - pos {
        tracing::warn!("the file ends inside a {} box at byte {pos}: reading what comes before", kind.escape_ascii());
        *truncated = true;
        return Ok(None);
    }
    Ok(Some(TopBox { kind, at: pos, header, size }))
}

fn read_body(file: &mut File, b: &TopBox) -> anyhow::Result<Vec<u8>> {
    // size <= the file's length was checked, so this allocation is backed by bytes on disk.
    let mut data = vec![0u8; (b.size - b.header) as usize];
    file.seek(SeekFrom::Start(b.at + b.header))?;
    file.read_exact(&mut data)?;
    Ok(data)
}

/// Reads the first video track of an open MP4 file of `len` bytes.
pub fn read_video_track(file: &mut File, len: u64) -> Result<VideoTrack, DemuxError> {
    let mut truncated = false;
    let mut pos = 0;
    let mut track: Option<(VideoTrack, TrackTables)> = None;
    let mut saw_moov = false;
    // Boxes in file order: moov first (plain or fragmented) or last (plain, `ffmpeg` without +faststart).
    while let Some(b) = next_top_box(file, pos, len, &mut truncated)? {
        match &b.kind {
            b"moov" if !saw_moov => {
                saw_moov = true;
                let data = read_body(file, &b)?;
                track = parse_moov(&Body::new(b.kind, &data, b.at, b.header), len)?;
                if track.is_none() {
                    return Err(DemuxError::NoVideoTrack);
                }
            }
            b"moof" => {
                let Some((t, tables)) = track.as_mut() else {
                    tracing::warn!("a moof box at byte {} comes before the moov box: ignored", b.at);
                    pos += b.size;
                    continue;
                };
                let data = read_body(file, &b)?;
                let body = Body::new(b.kind, &data, b.at, b.header);
                if let Err(e) = fragment_samples(&body, b.at, tables, len, &mut t.samples) {
                    // A recording cut short can end in a half-written fragment: keep the ones before it.
                    tracing::warn!("{e:#}; reading the fragments before it");
                    truncated = true;
                    break;
                }
            }
            _ => {}
        }
        pos += b.size;
    }
    if !saw_moov {
        return Err(DemuxError::NoMoov);
    }
    let Some((mut track, _)) = track else { return Err(DemuxError::NoVideoTrack) };
    // A cut file ends inside an mdat: keep the samples whose bytes are all there.
    if let Some(cut) = track.samples.iter().position(|s| s.size == 0 || s.offset + u64::from(s.size) > len) {
        track.samples.truncate(cut);
        truncated = true;
    }
    track.truncated = truncated;
    Ok(track)
}

/// What fragments need from the moov: the track id and its defaults (trex).
#[derive(Debug, Default)]
struct TrackTables {
    track_id: u32,
    default_duration: u32,
    default_size: u32,
    /// Samples the whole file may hold (see MIN_SAMPLE_BYTES).
    max_samples: usize,
    /// Decode time where the next fragment continues when it has no tfdt.
    next_dts: i64,
}

/// The first video track of a moov, with its samples from the sample tables (none in a fragmented file).
fn parse_moov(moov: &Body<'_>, file_len: u64) -> anyhow::Result<Option<(VideoTrack, TrackTables)>> {
    let max_samples = usize::try_from(file_len / MIN_SAMPLE_BYTES).unwrap_or(usize::MAX);
    for trak in moov.children() {
        let trak = trak?;
        if &trak.kind != b"trak" {
            continue;
        }
        let mdia = required(&trak, b"mdia")?;
        let mut hdlr = required(&mdia, b"hdlr")?;
        hdlr.take(8)?; // version, flags, pre_defined
        if hdlr.take(4)? != b"vide" {
            continue;
        }
        let mut tkhd = required(&trak, b"tkhd")?;
        let (version, _) = tkhd.full_header()?;
        tkhd.take(if version == 1 { 16 } else { 8 })?; // creation and modification times
        let track_id = tkhd.u32()?;
        let mut mdhd = required(&mdia, b"mdhd")?;
        let (version, _) = mdhd.full_header()?;
        mdhd.take(if version == 1 { 16 } else { 8 })?;
        let timescale = mdhd.u32()?.max(1);
        let stbl = required(&required(&mdia, b"minf")?, b"stbl")?;
        let (codec, width, height, avc) = sample_entry(&required(&stbl, b"stsd")?)?;

        let mut tables = TrackTables { track_id, max_samples, ..TrackTables::default() };
        if let Some(mvex) = child(moov, b"mvex")? {
            for trex in mvex.children() {
                let mut trex = trex?;
                if &trex.kind != b"trex" {
                    continue;
                }
                trex.full_header()?;
                if trex.u32()? == track_id {
                    trex.u32()?; // sample description index
                    tables.default_duration = trex.u32()?;
                    tables.default_size = trex.u32()?;
                }
            }
        }
        let samples = table_samples(&stbl, file_len, max_samples, &mut tables.next_dts)?;
        let track = VideoTrack { codec, width, height, timescale, avc, samples, truncated: false };
        return Ok(Some((track, tables)));
    }
    Ok(None)
}

/// Codec, size and (H.264) decoder configuration from the first entry of the stsd box.
fn sample_entry(stsd: &Body<'_>) -> anyhow::Result<(Codec, u32, u32, Option<AvcConfig>)> {
    let mut stsd = *stsd;
    stsd.full_header()?;
    stsd.u32()?; // entry count: the first entry is the one used
    let mut entry = stsd.children().next().ok_or_else(|| stsd.error("has no sample entry"))??;
    // VisualSampleEntry: reserved and data reference (8), pre-defined and reserved (16), width, height, then
    // resolution, frame count, compressor name and depth (50) before the child boxes.
    let mut codec = Codec::from_fourcc(entry.kind);
    let size = (|| {
        entry.take(24)?;
        let size = (u32::from(entry.u16()?), u32::from(entry.u16()?));
        entry.take(50)?;
        anyhow::Ok(size)
    })();
    if codec == Codec::Mpeg4Part2 && size.is_ok() && esds_object_type(&entry) == Some(0x6c) {
        codec = Codec::Mjpeg; // how ffmpeg stores Motion JPEG in an .mp4
    }
    if codec != Codec::H264 {
        return Ok((codec, 0, 0, None)); // named in the error; nothing else is needed
    }
    let (width, height) = size?;
    let mut avcc = required(&entry, b"avcC")?;
    avcc.u8()?; // configuration version
    let profile = avcc.u8()?;
    avcc.take(2)?; // compatibility, level
    let nal_length_size = usize::from(avcc.u8()? & 3) + 1;
    let mut parameter_sets = Vec::new();
    for mask in [0x1f, 0xff] {
        // SPS count in the low 5 bits, then PPS count in a full byte; each set is a u16 length and its bytes.
        let count = avcc.u8()? & mask;
        for _ in 0..count {
            let len = usize::from(avcc.u16()?);
            parameter_sets.push(avcc.take(len)?.to_vec());
        }
    }
    Ok((codec, width, height, Some(AvcConfig { profile, nal_length_size, parameter_sets })))
}

/// The object type of an `mp4v` entry's elementary stream descriptor (0x20 MPEG-4 video, 0x6c JPEG).
fn esds_object_type(entry: &Body<'_>) -> Option<u8> {
    let mut esds = child(entry, b"esds").ok()??;
    esds.full_header().ok()?;
    (esds.u8().ok()? == 0x03).then_some(())?; // ES_Descriptor
    skip_descriptor_length(&mut esds)?;
    esds.u16().ok()?; // ES id
    let flags = esds.u8().ok()?;
    if flags & 0x80 != 0 {
        esds.u16().ok()?; // depends-on stream
    }
    if flags & 0x40 != 0 {
        let url = esds.u8().ok()?;
        esds.take(usize::from(url)).ok()?;
    }
    if flags & 0x20 != 0 {
        esds.u16().ok()?; // OCR stream
    }
    (esds.u8().ok()? == 0x04).then_some(())?; // DecoderConfigDescriptor
    skip_descriptor_length(&mut esds)?;
    esds.u8().ok()
}

/// Descriptor lengths take 1 to 4 bytes, 7 bits each, the high bit saying another byte follows.
fn skip_descriptor_length(b: &mut Body<'_>) -> Option<()> {
    for _ in 0..4 {
        if b.u8().ok()? & 0x80 == 0 {
            break;
        }
    }
    Some(())
}

/// A run-length table (stts, ctts) walked one sample at a time without expanding it.
struct RunLength<'a> {
    body: Body<'a>,
    left: usize,
    run: u32,
    value: u32,
}

impl<'a> RunLength<'a> {
    fn new(mut body: Body<'a>) -> anyhow::Result<RunLength<'a>> {
        body.full_header()?;
        let left = body.count(8)?;
        Ok(RunLength { body, left, run: 0, value: 0 })
    }

    /// The next sample's value; None past the table's end.
    fn next(&mut self) -> Option<u32> {
        while self.run == 0 {
            if self.left == 0 {
                return None;
            }
            self.left -= 1;
            // Both reads are backed: count() checked 8 bytes per entry.
            (self.run, self.value) = (self.body.u32().ok()?, self.body.u32().ok()?);
        }
        self.run -= 1;
        Some(self.value)
    }
}

/// Samples listed in a plain MP4's sample tables (stsz, stsc, stco/co64, stts, ctts).
fn table_samples(
    stbl: &Body<'_>,
    file_len: u64,
    max_samples: usize,
    next_dts: &mut i64,
) -> anyhow::Result<Vec<Sample>> {
    let mut stsz = required(stbl, b"stsz")?;
    stsz.full_header()?;
    let fixed_size = stsz.u32()?;
    let count = if fixed_size == 0 { stsz.count(4)? } else { stsz.u32()? as usize };
    if count == 0 {
        return Ok(Vec::new()); // a fragmented file: its samples are in the moofs
    }
    let mut stsc = required(stbl, b"stsc")?;
    stsc.full_header()?;
    let stsc_entries = stsc.count(12)?;
    let (mut chunks, wide) = match (child(stbl, b"stco")?, child(stbl, b"co64")?) {
        (Some(b), _) => (b, false),
        (None, Some(b)) => (b, true),
        (None, None) => return Err(stbl.error("has samples but no chunk offsets (stco or co64)")),
    };
    chunks.full_header()?;
    let chunk_count = chunks.count(if wide { 8 } else { 4 })?;
    let mut dts = RunLength::new(required(stbl, b"stts")?)?;
    let mut cts = child(stbl, b"ctts")?.map(RunLength::new).transpose()?;

    let mut samples = Vec::new();
    let (mut run_end, mut per_chunk, mut entries_left) = (0usize, 0u32, stsc_entries);
    let mut next_run: Option<(usize, u32)> = None;
    let mut time = 0i64;
    for chunk in 1..=chunk_count {
        // The stsc entry in force is the last one whose first chunk is at or before this one (1-based).
        loop {
            if next_run.is_none() && entries_left > 0 {
                entries_left -= 1;
                let first = stsc.u32()? as usize;
                let samples_per_chunk = stsc.u32()?;
                stsc.u32()?; // sample description index
                if first <= run_end {
                    return Err(stsc.error("first chunk numbers do not increase"));
                }
                next_run = Some((first, samples_per_chunk));
            }
            match next_run {
                Some((first, n)) if first <= chunk => {
                    (run_end, per_chunk, next_run) = (first, n, None);
                }
                _ => break,
            }
        }
        let mut offset = if wide { chunks.u64()? } else { u64::from(chunks.u32()?) };
        for _ in 0..per_chunk {
            let i = samples.len();
            if i == count {
                return Ok(samples);
            }
            if i == max_samples {
                return Err(stsz.error(&format!("lists more samples than the file has bytes for ({max_samples})")));
            }
            let size = if fixed_size == 0 { stsz.u32()? } else { fixed_size };
            let Some(delta) = dts.next() else {
                return Err(anyhow!("bad stts box: sample {i} has no time"));
            };
            let offset_cts = cts.as_mut().and_then(RunLength::next).map_or(0, |c| i64::from(c as i32));
            samples.push(Sample { offset, size, pts: time.saturating_add(offset_cts) });
            if offset.saturating_add(u64::from(size)) > file_len {
                return Ok(samples); // cut short inside the mdat: the caller drops this last sample
            }
            time = time.saturating_add(i64::from(delta));
            offset = offset.saturating_add(u64::from(size));
        }
    }
    *next_dts = time;
    Ok(samples)
}

/// Appends the samples of `tables.track_id` listed in one moof (traf: tfhd, tfdt, trun).
fn fragment_samples(
    moof: &Body<'_>,
    moof_at: u64,
    tables: &mut TrackTables,
    file_len: u64,
    samples: &mut Vec<Sample>,
) -> anyhow::Result<()> {
    for traf in moof.children() {
        let traf = traf?;
        if &traf.kind != b"traf" {
            continue;
        }
        let mut tfhd = required(&traf, b"tfhd")?;
        let (_, flags) = tfhd.full_header()?;
        if tfhd.u32()? != tables.track_id {
            continue;
        }
        // Data offsets count from the moof unless the tfhd gives a base (default-base-is-moof, as writers do).
        let base = if flags & 0x01 != 0 { tfhd.u64()? } else { moof_at };
        if flags & 0x02 != 0 {
            tfhd.u32()?; // sample description index
        }
        let duration = if flags & 0x08 != 0 { tfhd.u32()? } else { tables.default_duration };
        let default_size = if flags & 0x10 != 0 { tfhd.u32()? } else { tables.default_size };
        if let Some(mut tfdt) = child(&traf, b"tfdt")? {
            let (version, _) = tfdt.full_header()?;
            let t = if version == 1 { tfdt.u64()? } else { u64::from(tfdt.u32()?) };
            tables.next_dts = i64::try_from(t).unwrap_or(i64::MAX);
        }
        for trun in traf.children() {
            let mut trun = trun?;
            if &trun.kind != b"trun" {
                continue;
            }
            let (_, flags) = trun.full_header()?;
            let fields = [0x100, 0x200, 0x400, 0x800].map(|bit| flags & bit != 0);
            let entry_bytes = 4 * fields.iter().filter(|&&f| f).count();
            let count = trun.u32()? as usize;
            let data_offset = if flags & 0x01 != 0 { i64::from(trun.u32()? as i32) } else { 0 };
            if flags & 0x04 != 0 {
                trun.u32()?; // first sample flags
            }
            let rest = trun.data.len() - trun.pos;
            if count.checked_mul(entry_bytes).is_none_or(|n| n > rest) {
                return Err(trun.error(&format!("lists {count} samples of {entry_bytes} bytes in {rest} bytes")));
            }
            let mut offset = base.saturating_add_signed(data_offset);
            for _ in 0..count {
                let sample_duration = if fields[0] { trun.u32()? } else { duration };
                let size = if fields[1] { trun.u32()? } else { default_size };
                if fields[2] {
                    trun.u32()?; // sample flags
                }
                // Version 1 offsets are signed; version 0 ones never exceed i32::MAX in practice.
                let cts = if fields[3] { i64::from(trun.u32()? as i32) } else { 0 };
                // A sample with no bytes, or beyond the end of the file, ends the run: a count not backed by a
                // table (no per-sample fields) is bounded by the file's bytes, not trusted.
                if size == 0 || offset >= file_len {
                    break;
                }
                if samples.len() >= tables.max_samples {
                    return Err(
                        trun.error(&format!("lists more samples than the file has bytes for ({})", tables.max_samples))
                    );
                }
                samples.push(Sample { offset, size, pts: tables.next_dts.saturating_add(cts) });
                offset = offset.saturating_add(u64::from(size));
                tables.next_dts = tables.next_dts.saturating_add(i64::from(sample_duration));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box: 32-bit size, four-character code, body.
    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        [&(8 + body.len() as u32).to_be_bytes()[..], kind, body].concat()
    }

    /// Big-endian u32 fields after a full-box header (version 0, `flags`).
    fn full(flags: u32, fields: &[u32]) -> Vec<u8> {
        [flags].iter().chain(fields).flat_map(|v| v.to_be_bytes()).collect()
    }

    #[test]
    fn counts_are_checked_against_the_bytes_left() {
        let stts = full(0, &[u32::MAX, 1, 1]); // 4 billion entries of 8 bytes, in 8 bytes
        let err = RunLength::new(Body::new(*b"stts", &stts, 100, 8)).err().expect("must fail").to_string();
        assert_eq!(err, "bad stts box at byte 100: lists 4294967295 entries of 8 bytes in 8 bytes");
        let err = Body::new(*b"tkhd", &[0, 0], 7, 8).u32().unwrap_err().to_string();
        assert_eq!(err, "bad tkhd box at byte 7: needs 4 more bytes at byte 15, has 2");
        // A child that claims more than its parent holds.
        let parent = [bx(b"free", &[0; 4]), vec![0, 0, 1, 0, b's', b't', b's', b'z']].concat();
        let mut children = Body::new(*b"stbl", &parent, 42, 8).children();
        assert_eq!(children.next().unwrap().unwrap().kind, *b"free");
        let err = children.next().unwrap().err().unwrap().to_string();
        assert_eq!(err, "bad stsz box at byte 62: size 256, but its parent has 8 bytes left");
        assert!(children.next().is_none());
    }

    #[test]
    fn fixed_size_samples_stop_at_the_end_of_the_file() {
        // 4 billion samples of 100 bytes, all in one chunk at byte 0, each 1 tick long: a 1000-byte file holds 10.
        let stbl = [
            bx(b"stsz", &full(0, &[100, u32::MAX])),
            bx(b"stsc", &full(0, &[1, 1, u32::MAX, 1])),
            bx(b"stco", &full(0, &[1, 0])),
            bx(b"stts", &full(0, &[1, u32::MAX, 1])),
        ]
        .concat();
        let mut next_dts = 0;
        let samples = table_samples(&Body::new(*b"stbl", &stbl, 0, 8), 1000, 250, &mut next_dts).expect("samples");
        // The 11th overruns the file and is the last listed; the reader drops it as cut short.
        assert_eq!(samples.len(), 11);
        assert_eq!(samples[3], Sample { offset: 300, size: 100, pts: 3 });
        // Tables that reuse the same bytes cannot list more samples than the file has room for.
        let err = table_samples(&Body::new(*b"stbl", &stbl, 0, 8), 1_000_000, 5, &mut next_dts).unwrap_err();
        assert!(err.to_string().contains("lists more samples than the file has bytes for (5)"), "{err}");
    }

    #[test]
    fn a_trun_count_without_a_table_is_bounded_by_the_file() {
        // Data offsets only: the count of 4 billion is backed by no per-sample table.
        let traf = |default_size: Option<u32>| {
            let tfhd = match default_size {
                Some(size) => full(0x02_0010, &[1, size]),
                None => full(0x02_0000, &[1]),
            };
            bx(b"traf", &[bx(b"tfhd", &tfhd), bx(b"trun", &full(0x01, &[u32::MAX, 0]))].concat())
        };
        let mut tables = TrackTables { track_id: 1, max_samples: 1 << 20, ..TrackTables::default() };
        let mut samples = Vec::new();
        // Zero-size samples carry nothing: none listed, no loop.
        let moof = traf(None);
        fragment_samples(&Body::new(*b"moof", &moof, 0, 8), 0, &mut tables, 1000, &mut samples).expect("moof");
        assert!(samples.is_empty());
        // 100-byte samples from byte 0 of a 1000-byte file: 10 of them.
        let moof = traf(Some(100));
        fragment_samples(&Body::new(*b"moof", &moof, 0, 8), 0, &mut tables, 1000, &mut samples).expect("moof");
        assert_eq!(samples.len(), 10);
        assert_eq!(samples[9].offset, 900);
    }

    #[test]
    fn codecs_by_four_character_code() {
        let names: Vec<String> = [b"avc1", b"hvc1", b"hev1", b"vp09", b"av01", b"mjpa", b"xyz!"]
            .iter()
            .map(|c| Codec::from_fourcc(**c).to_string())
            .collect();
        let want = ["H.264", "H.265 (HEVC)", "H.265 (HEVC)", "VP9", "AV1", "Motion JPEG", "an unknown codec (xyz!)"];
        assert_eq!(names, want);
    }
}
