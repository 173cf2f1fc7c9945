//! The fragmented MP4 writer of the recorder thread: ftyp+moov once, then a moof+mdat per GOP, written as it goes.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use muxide::codec::{annexb_to_avcc, extract_avc_config};
use muxide::fragmented::{FragmentConfig, FragmentedMuxer};

/// MP4 media timescale (90 kHz, the usual video clock).
pub const TIMESCALE: u64 = 90_000;

/// Writes H.264 access units into a fragmented MP4 file: a crash or a full disk leaves every fragment already
/// written playable, and memory stays bounded (muxide's plain MP4 muxer keeps every sample until it finishes).
pub struct FragmentWriter {
    path: PathBuf,
    file: File,
    size: (u32, u32),
    muxer: Option<FragmentedMuxer>,
    /// Time of the first frame of the fragment being built.
    fragment_start: Option<u64>,
    /// Frames handed to the muxer (for the message of a write error).
    frames: u64,
    /// Times of the last two frames added: the last one of a fragment lasts until the next fragment starts, the
    /// last one of the recording as long as the one before it.
    prev: Option<u64>,
    last: Option<u64>,
}

impl FragmentWriter {
    /// `size` is the encoded (even) frame size.
    pub fn new(path: &Path, file: File, size: (u32, u32)) -> FragmentWriter {
        FragmentWriter {
            path: path.to_path_buf(),
            file,
            size,
            muxer: None,
            fragment_start: None,
            frames: 0,
            prev: None,
            last: None,
        }
    }

    /// Adds one access unit at `ticks`. A keyframe closes the fragment before it (one fragment per GOP: each
    /// starts with a keyframe, so any prefix of fragments plays); the first one writes the init segment.
    pub fn add(&mut self, ticks: u64, annexb: &[u8], keyframe: bool) -> anyhow::Result<()> {
        if keyframe {
            if self.muxer.is_some() {
                self.flush_until(Some(ticks))?;
            } else {
                self.muxer = Some(self.start_file(annexb)?);
            }
        }
        let Some(m) = self.muxer.as_mut() else {
            anyhow::bail!("the H.264 encoder did not start with a keyframe");
        };
        m.write_video(ticks, ticks, &annexb_to_avcc(annexb), keyframe)
            .map_err(|e| anyhow!("cannot add a frame to the MP4 fragment: {e}"))?;
        self.fragment_start.get_or_insert(ticks);
        self.frames += 1;
        (self.prev, self.last) = (self.last, Some(ticks));
        Ok(())
    }

    /// Writes the last fragment, at the end of the recording.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.flush_until(None)
    }

    /// Writes the fragment being built; `next` is the time of the frame after it (None at the end).
    fn flush_until(&mut self, next: Option<u64>) -> anyhow::Result<()> {
        let Some(mut fragment) = self.muxer.as_mut().and_then(FragmentedMuxer::flush_segment) else {
            return Ok(());
        };
        if let Some(ticks) = self.fragment_start.take() {
            if !set_fragment_start(&mut fragment, ticks) {
                tracing::warn!("cannot find the tfdt box of a fragment: its times may be shifted");
            }
        }
        // muxide guesses the last frame's duration (1/30 s in a one-frame fragment): a slideshow at 1 fps, a
        // keyframe each frame, lost almost a second at its end (9.03 s for 10 images).
        let last_len = match (self.last, next, self.prev) {
            (Some(last), Some(next), _) => next.checked_sub(last),
            (Some(last), None, Some(prev)) => last.checked_sub(prev),
            _ => None,
        };
        if let Some(len) = last_len.and_then(|l| u32::try_from(l).ok()).filter(|l| *l > 0) {
            if !set_last_duration(&mut fragment, len) {
                tracing::warn!("cannot find the trun box of a fragment: its last frame keeps muxide's duration");
            }
        }
        self.write(&fragment)
    }

    /// Writes the init segment (ftyp+moov), which needs the SPS/PPS of the first keyframe.
    fn start_file(&mut self, keyframe: &[u8]) -> anyhow::Result<FragmentedMuxer> {
        let avc = extract_avc_config(keyframe).context("the first H.264 keyframe has no SPS/PPS")?;
        let mut config = FragmentConfig::new(self.size.0, self.size.1, TIMESCALE as u32);
        (config.sps, config.pps) = (avc.sps, avc.pps);
        let mut muxer = FragmentedMuxer::new(config).map_err(|e| anyhow!("cannot set up the MP4 muxer: {e}"))?;
        self.write(&muxer.init_segment())?;
        Ok(muxer)
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        // Straight to the file (no BufWriter): a fragment is one large write, and a crash loses at most the
        // fragment being built.
        self.file.write_all(bytes).map_err(|e| {
            let what = if e.kind() == io::ErrorKind::StorageFull { "disk full" } else { "write error" };
            anyhow!(
                "{what} while writing {}: {e}; the recording was stopped after {} frames (what was written \
                 before plays); free some space or record elsewhere",
                self.path.display(),
                self.frames
            )
        })
    }
}

/// muxide 0.5 starts each fragment (tfdt) at the previous one's last frame time plus its mean frame interval: with
/// a variable frame rate (or dropped frames) that shifts whole fragments. This puts the real time back.
pub fn set_fragment_start(fragment: &mut [u8], ticks: u64) -> bool {
    // moof > mfhd, traf > tfhd, tfdt: the tfdt box (size 20, version 1, 64-bit time) starts at byte 48.
    let head = &fragment[..fragment.len().min(128)];
    let Some(at) = head.windows(4).position(|w| w == b"tfdt").filter(|&at| at >= 4) else {
        return false;
    };
    if fragment[at - 4..at] != 20u32.to_be_bytes() || fragment.get(at + 4) != Some(&1) {
        return false;
    }
    match fragment.get_mut(at + 8..at + 16) {
        Some(time) => {
            time.copy_from_slice(&ticks.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Sets the duration of the last sample of a fragment's track run (muxide 0.5 writes one trun with duration,
/// size, flags and composition offset for each sample: flags 0x000f01).
pub fn set_last_duration(fragment: &mut [u8], ticks: u32) -> bool {
    let head = &fragment[..fragment.len().min(256)];
    let Some(at) = head.windows(4).position(|w| w == b"trun").filter(|&at| at >= 4) else {
        return false;
    };
    let field = |i: usize| fragment.get(at + 4 + 4 * i..at + 8 + 4 * i).map(|b| [b[0], b[1], b[2], b[3]]);
    let (Some(flags), Some(count)) = (field(0), field(1)) else {
        return false;
    };
    let count = u32::from_be_bytes(count) as usize;
    if flags[1..] != [0x00, 0x0f, 0x01] || count == 0 {
        return false;
    }
    let last = at + 4 + 12 + (count - 1) * 16;
    match fragment.get_mut(last..last + 4) {
        Some(d) => {
            d.copy_from_slice(&ticks.to_be_bytes());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_start_is_patched_in_the_tfdt_box() {
        // moof(8) mfhd(16) traf(8) tfhd(16) tfdt(20: size, "tfdt", version 1 + flags, 64-bit time).
        let mut bytes = vec![0u8; 48];
        bytes.extend_from_slice(&20u32.to_be_bytes());
        bytes.extend_from_slice(b"tfdt");
        bytes.extend_from_slice(&[1, 0, 0, 0]);
        bytes.extend_from_slice(&7u64.to_be_bytes());
        assert!(set_fragment_start(&mut bytes, 90_000));
        assert_eq!(bytes[60..68], 90_000u64.to_be_bytes());
        // A version-0 (32-bit) tfdt is left alone.
        bytes[56] = 0;
        assert!(!set_fragment_start(&mut bytes, 1));
        assert!(!set_fragment_start(&mut [0u8; 10], 1));
    }
}
