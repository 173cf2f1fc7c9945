//! Still images as a source: each image of a file or folder in turn, paced for viewing (capture thread).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use image::RgbImage;

use super::Source;

/// Collects image files from files and folders (folders: supported extensions, sorted, not recursive).
pub fn expand_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot list folder {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_image_name(f))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("folder {} has no images (.jpg, .jpeg, .png, .bmp, .webp, .gif, .tif)", p.display());
            }
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            bail!("{} does not exist: pass image files or folders of images", p.display());
        }
    }
    Ok(out)
}

pub fn is_image_name(p: &Path) -> bool {
    let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png" | "bmp" | "webp" | "gif" | "tif" | "tiff"))
}

pub struct Images {
    files: Vec<PathBuf>,
    next: usize,
    interval: Duration,
    /// Files that could not be read (each said once, then skipped).
    skipped: u64,
}

impl Images {
    /// `fps` sets how long each image stays (default: one per second).
    pub fn open(path: &Path, fps: Option<u32>) -> anyhow::Result<Images> {
        let files = expand_paths(&[path.to_path_buf()])?;
        let interval = Duration::from_secs_f64(1.0 / fps.unwrap_or(1).max(1) as f64);
        Ok(Images { files, next: 0, interval, skipped: 0 })
    }
}

impl Source for Images {
    /// The next readable image; an unreadable one is said and skipped, like `detect` does.
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        while let Some(path) = self.files.get(self.next) {
            self.next += 1;
            match super::image_file::open(path) {
                Ok(img) => return Ok(Some(img)),
                Err(e) => {
                    // Said as `detect` says it (the error names the file and why), then skipped.
                    self.skipped += 1;
                    tracing::warn!("{e:#}; skipped");
                }
            }
        }
        Ok(None)
    }

    fn describe(&self) -> String {
        format!("{} image(s)", self.files.len())
    }

    /// A slideshow: image k is shown at k times the interval.
    fn next_timed(&mut self) -> anyhow::Result<Option<(RgbImage, Option<Duration>)>> {
        let image = self.next_frame()?;
        // Timed by its place in the list (a skipped file keeps its slot), so times follow the files.
        let at = self.interval.saturating_mul(u32::try_from(self.next.saturating_sub(1)).unwrap_or(u32::MAX));
        Ok(image.map(|image| (image, Some(at))))
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }
}
