//! Messages to the user (any thread): one path and one look for notes, warnings and the final error.
//!
//! A note says what happened (`nasview: saved out.mp4 ...`), a warning what went wrong while the run goes on,
//! the error why it stopped (printed once, by `main`). Library code that logs with `tracing::warn!` is printed
//! in the same form by `init_logging`, so a warning looks the same wherever it starts.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

pub const PREFIX: &str = "nasview";

pub fn note_line(msg: &str) -> String {
    format!("{PREFIX}: {msg}")
}

pub fn warn_line(msg: &str) -> String {
    format!("{PREFIX}: warning: {msg}")
}

pub fn error_line(e: &anyhow::Error) -> String {
    format!("{PREFIX}: error: {e:#}")
}

/// What happened, for the user (stderr; stdout is for results).
pub fn note(msg: &str) {
    eprintln!("{}", note_line(msg));
}

/// Something went wrong and the run goes on.
pub fn warn(msg: &str) {
    eprintln!("{}", warn_line(msg));
}

/// Why the run stopped; `main` calls this once.
pub fn error(e: &anyhow::Error) {
    eprintln!("{}", error_line(e));
}

/// Warnings and errors logged through `tracing` look like `warn`; other levels (NASVIEW_LOG=info, debug,
/// trace) keep level and module, for whoever debugs.
struct Format;

impl<S, N> FormatEvent<S, N> for Format
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: format::Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        match *meta.level() {
            Level::ERROR | Level::WARN => write!(w, "{PREFIX}: warning: ")?,
            level => write!(w, "{level} {}: ", meta.target())?,
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Sets up `tracing` for the binary: NASVIEW_LOG filters (default: warnings), messages go to stderr.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NASVIEW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).event_format(Format).init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_per_kind() {
        assert_eq!(note_line("saved a.mp4"), "nasview: saved a.mp4");
        assert_eq!(warn_line("recording stopped"), "nasview: warning: recording stopped");
        let e = anyhow::anyhow!("injected failure").context("source failed");
        assert_eq!(error_line(&e), "nasview: error: source failed: injected failure");
    }
}
