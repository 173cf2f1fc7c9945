//! Recording file names: `--record` checked at start-up, a numbered name per take, never over an existing file.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};

use crate::messages;

/// Where takes are recorded, from `--record`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordTarget {
    /// A file name: the first take uses it when free (or with --overwrite), later ones are numbered.
    File(PathBuf),
    /// An existing folder: each take is a new `nasview-N.mp4` inside it.
    Folder(PathBuf),
}

impl RecordTarget {
    /// Checks `--record`: a folder takes numbered files, a device or other special file is refused, a name
    /// without `.mp4` is warned about (the file is MP4 whatever its name).
    pub fn from_arg(path: &Path) -> anyhow::Result<RecordTarget> {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                return Ok(RecordTarget::Folder(path.to_path_buf()));
            }
            if !meta.is_file() {
                bail!(
                    "--record {} is not a regular file (a device, pipe or socket): give a file name such as \
                     out.mp4, or a folder",
                    path.display()
                );
            }
        }
        let is_mp4 = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
        if !is_mp4 {
            messages::warn(&format!(
                "--record {}: the recording is an MP4 file whatever its name; name it .mp4 so players recognise it",
                path.display()
            ));
        }
        Ok(RecordTarget::File(path.to_path_buf()))
    }

    /// The file of take `take` (0 first): never an existing file, except the named file of the first take
    /// with `overwrite`.
    pub fn take_path(target: Option<&RecordTarget>, take: u32, overwrite: bool) -> PathBuf {
        match target {
            Some(RecordTarget::File(p)) if overwrite && take == 0 => p.clone(),
            Some(RecordTarget::File(p)) => numbered_path(p),
            Some(RecordTarget::Folder(dir)) => numbered_from_one(&dir.join("nasview.mp4")),
            // R in the window without --record: in the working folder.
            None => numbered_path(Path::new("nasview.mp4")),
        }
    }
}

/// Whether something is at `p`; a dangling symlink counts (creating through it could write elsewhere).
fn taken(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

/// out.mp4, 3 -> out-3.mp4.
pub fn numbered(path: &Path, n: u64) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}-{n}{ext}"))
}

/// Next free numbered name: out.mp4 -> out.mp4 if absent, else out-1.mp4, out-2.mp4 ... (never overwrites).
pub fn numbered_path(path: &Path) -> PathBuf {
    if !taken(path) {
        return path.to_path_buf();
    }
    numbered_from_one(path)
}

/// out.mp4 -> the first free of out-1.mp4, out-2.mp4 ...
pub fn numbered_from_one(path: &Path) -> PathBuf {
    (1u64..).map(|n| numbered(path, n)).find(|p| !taken(p)).unwrap_or_else(|| path.to_path_buf())
}

/// Turns a failed `File::create` into a message that says what to do.
pub fn create_error(path: &Path, e: io::Error) -> anyhow::Error {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
        _ => ".".to_string(),
    };
    let advice = match e.kind() {
        io::ErrorKind::NotFound => format!("the folder {dir} does not exist: create it or record elsewhere"),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            format!("the folder {dir} is not writable: record into a writable folder")
        }
        io::ErrorKind::NotADirectory => format!("{dir} is a file, not a folder: record into a folder"),
        io::ErrorKind::IsADirectory => "that is a folder: give a file name such as out.mp4".to_string(),
        _ => "check the path and the free space".to_string(),
    };
    anyhow!("cannot create the recording {}: {e}; {advice}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::temp_dir;

    #[test]
    fn numbered_path_never_overwrites() {
        let dir = temp_dir("rec-numbered");
        let out = dir.join("out.mp4");
        assert_eq!(numbered_path(&out), out);
        std::fs::write(&out, b"").expect("write");
        assert_eq!(numbered_path(&out), dir.join("out-1.mp4"));
        std::fs::write(dir.join("out-1.mp4"), b"").expect("write");
        assert_eq!(numbered_path(&out), dir.join("out-2.mp4"));
        std::fs::write(dir.join("clip"), b"").expect("write");
        assert_eq!(numbered_path(&dir.join("clip")), dir.join("clip-1"));
    }

    #[test]
    fn a_folder_gets_numbered_takes_a_device_is_refused() {
        let dir = temp_dir("rec-target");
        let target = RecordTarget::from_arg(&dir).expect("folder");
        assert_eq!(target, RecordTarget::Folder(dir.clone()));
        assert_eq!(RecordTarget::take_path(Some(&target), 0, true), dir.join("nasview-1.mp4"));
        std::fs::write(dir.join("nasview-1.mp4"), b"").expect("write");
        assert_eq!(RecordTarget::take_path(Some(&target), 1, false), dir.join("nasview-2.mp4"));
        for special in ["/dev/full", "/dev/null"] {
            let err = RecordTarget::from_arg(Path::new(special)).unwrap_err().to_string();
            assert!(err.contains(special) && err.contains("not a regular file"), "{err}");
        }
        // A file: used when free, numbered when taken unless --overwrite on the first take.
        let file = RecordTarget::from_arg(&dir.join("take.mp4")).expect("file");
        assert_eq!(RecordTarget::take_path(Some(&file), 0, false), dir.join("take.mp4"));
        std::fs::write(dir.join("take.mp4"), b"").expect("write");
        assert_eq!(RecordTarget::take_path(Some(&file), 0, false), dir.join("take-1.mp4"));
        assert_eq!(RecordTarget::take_path(Some(&file), 0, true), dir.join("take.mp4"));
        assert_eq!(RecordTarget::take_path(Some(&file), 1, true), dir.join("take-1.mp4"));
    }
}
