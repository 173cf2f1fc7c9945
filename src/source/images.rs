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
}

impl Images {
    /// `fps` sets how long each image stays (default: one per second).
    pub fn open(path: &Path, fps: Option<u32>) -> anyhow::Result<Images> {
        let files = expand_paths(&[path.to_path_buf()])?;
        let interval = Duration::from_secs_f64(1.0 / fps.unwrap_or(1).max(1) as f64);
        Ok(Images { files, next: 0, interval })
    }
}

impl Source for Images {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        Ok(Some(super::image_file::open(path)?))
    }

    fn describe(&self) -> String {
        format!("{} image(s)", self.files.len())
    }

    /// A slideshow: image k is shown at k times the interval.
    fn next_timed(&mut self) -> anyhow::Result<Option<(RgbImage, Option<Duration>)>> {
        let at = self.interval.saturating_mul(u32::try_from(self.next).unwrap_or(u32::MAX));
        Ok(self.next_frame()?.map(|image| (image, Some(at))))
    }
}
