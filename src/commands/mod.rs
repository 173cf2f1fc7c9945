//! One module per subcommand; each returns the process exit code.

pub mod bench;
pub mod detect;
pub mod live;
