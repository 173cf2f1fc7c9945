//! A progress bar on stderr for long `detect` and `bench` runs (main thread), drawn only when stderr is a terminal.
//!
//! Piped or redirected stderr gets no bar, so logs and tests see the same lines as before. While the bar is up,
//! messages go through [`Progress::say`], which lifts the bar, prints, and draws it again.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar, or nothing when stderr is not a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// `len` steps of `unit` (e.g. "images"). The elapsed time ticks on its own, so one long step (a 100 MP
    /// photo in tiles) still shows that the run is alive.
    pub fn new(len: u64, unit: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let style = ProgressStyle::with_template(&format!(
            "{{spinner}} {{bar:30}} {{pos}}/{{len}} {unit}, {{elapsed}} (eta {{eta}}) {{wide_msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    /// What is being worked on now (shown after the counts).
    pub fn working_on(&self, what: &str) {
        if let Some(b) = &self.0 {
            b.set_message(what.to_string());
        }
    }

    pub fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    /// Runs `print` (a message on stderr) with the bar lifted, so the two do not mix.
    pub fn say(&self, print: impl FnOnce()) {
        match &self.0 {
            Some(b) => b.suspend(print),
            None => print(),
        }
    }
}

impl Drop for Progress {
    /// The bar leaves no trace: the run's own lines follow.
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
