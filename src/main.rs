//! nasview's entry point: arguments -> validated configuration -> the chosen command; errors printed once.

use std::process::ExitCode;

use clap::Parser;

use nasview::cli::Cli;
use nasview::config::{Command, Config};
use nasview::{commands, messages, runtime};

fn main() -> ExitCode {
    messages::init_logging();
    match run(Cli::parse()) {
        // 0: all done; 1: finished, but something asked for failed (a recording, an image).
        Ok(code) => ExitCode::from(code),
        // 2: could not run. The one place an error is printed.
        Err(e) => {
            messages::error(&e);
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let config = Config::from_cli(cli)?;
    if let Command::Cameras = config.command {
        print!("{}", nasview::source::camera::list()?);
        return Ok(0);
    }
    runtime::init(config.ort_lib.as_deref())?;
    match config.command {
        Command::Bench(cfg) => commands::bench::run(&cfg),
        Command::Detect(cfg) => commands::detect::run(&cfg),
        Command::Live(cfg) => commands::live::run(cfg),
        Command::Cameras => Ok(0),
    }
}
