//! A source opened and read on a reader thread of its own (capture side): a read that hangs becomes a stall error
//! within `STALL_AFTER`, and the stuck thread is abandoned instead of waited for.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use image::RgbImage;

use super::Source;

/// A camera that delivers nothing for this long is reported stalled (then the capture loop reopens it).
pub const STALL_AFTER: Duration = Duration::from_secs(3);
/// Opening may take longer (USB enumeration, the macOS permission prompt), but not forever.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// The consumer side of a source that lives on its reader thread.
pub struct Watched {
    /// Each read with the time its frame took to decode.
    frames: Receiver<(anyhow::Result<Option<RgbImage>>, Option<Duration>)>,
    decode: Option<Duration>,
    desc: String,
    stall_after: Duration,
}

impl Watched {
    /// Opens a source with `open` on a new thread called `name` and reads it there: the source never leaves that
    /// thread (nokhwa cameras cannot). When this value is dropped the thread ends after its current read, or, if
    /// that read never returns (nokhwa's V4L2 backend polls without a timeout), stays parked without holding
    /// anything else back.
    pub fn start<F>(name: &str, open: F, stall_after: Duration) -> anyhow::Result<Watched>
    where
        F: FnOnce() -> anyhow::Result<Box<dyn Source>> + Send + 'static,
    {
        let (ready_tx, ready_rx) = bounded(1);
        // One frame in flight: the reader waits for the capture loop, which never waits for anyone.
        let (tx, frames) = bounded(1);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut source = match open() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if ready_tx.send(Ok(source.describe())).is_err() {
                    return;
                }
                loop {
                    let read = source.next_frame();
                    let more = matches!(read, Ok(Some(_)));
                    if tx.send((read, source.decode_time())).is_err() || !more {
                        return;
                    }
                }
            })
            .with_context(|| format!("cannot start the {name} thread"))?;
        match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(desc)) => Ok(Watched { frames, decode: None, desc, stall_after }),
            Ok(Err(e)) => Err(e),
            Err(RecvTimeoutError::Timeout) => {
                bail!("the camera did not open within {} s (is another program using it?)", OPEN_TIMEOUT.as_secs())
            }
            Err(RecvTimeoutError::Disconnected) => Err(anyhow!("the {name} thread stopped while opening")),
        }
    }
}

impl Source for Watched {
    fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
        match self.frames.recv_timeout(self.stall_after) {
            Ok((read, decode)) => {
                self.decode = decode;
                read
            }
            Err(RecvTimeoutError::Timeout) => {
                bail!("camera stalled: no frame for {:.1} s", self.stall_after.as_secs_f64())
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the camera reader stopped"),
        }
    }

    fn describe(&self) -> String {
        self.desc.clone()
    }

    fn decode_time(&self) -> Option<Duration> {
        self.decode
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Gives `n` frames, then blocks for `block` (a camera that stops sending).
    struct Hangs {
        left: u32,
        block: Duration,
    }

    impl Source for Hangs {
        fn next_frame(&mut self) -> anyhow::Result<Option<RgbImage>> {
            if self.left == 0 {
                std::thread::sleep(self.block);
            }
            self.left = self.left.saturating_sub(1);
            Ok(Some(RgbImage::new(2, 2)))
        }

        fn describe(&self) -> String {
            "hangs".into()
        }
    }

    #[test]
    fn a_hanging_read_becomes_a_stall_error_in_time() {
        let stall = Duration::from_millis(300);
        let mut w = Watched::start(
            "test-reader",
            || Ok(Box::new(Hangs { left: 2, block: Duration::from_secs(3600) }) as _),
            stall,
        )
        .unwrap();
        assert_eq!(w.describe(), "hangs");
        assert!(w.next_frame().unwrap().is_some());
        assert!(w.next_frame().unwrap().is_some());
        let t0 = Instant::now();
        let err = w.next_frame().unwrap_err().to_string();
        assert_eq!(err, "camera stalled: no frame for 0.3 s");
        assert!(t0.elapsed() < Duration::from_secs(2), "the stuck read is not waited for");
    }

    #[test]
    fn open_errors_come_back_to_the_caller() {
        let err = Watched::start("test-open", || Err(anyhow!("no such camera")), STALL_AFTER).err().unwrap();
        assert_eq!(err.to_string(), "no such camera");
    }
}
