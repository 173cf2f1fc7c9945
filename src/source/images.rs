//! Still images as a source: each image of a file or folder in turn, paced for viewing (capture thread).

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::RgbImage;

use super::Source;

pub struct Images {
    files: Vec<PathBuf>,
    next: usize,
    interval: Duration,
}

impl Images {
    /// `fps` sets how long each image stays (default: one per second).
    pub fn open(path: &Path, fps: Option<u32>) -> anyhow::Result<Images> {
        let files = crate::config::expand_paths(&[path.to_path_buf()])?;
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
