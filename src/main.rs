//! nasview's entry point: arguments -> validated configuration -> the chosen command; errors printed once.

use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use nasview::cli::Cli;
use nasview::config::{Command, Config};
use nasview::{commands, messages, runtime};

fn main() -> ExitCode {
    messages::init_logging();
    match run(Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())) {
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
    match &config.command {
        Command::Cameras => {
            print!("{}", nasview::source::camera::list()?);
            return Ok(0);
        }
        Command::Completions(shell) => {
            clap_complete::generate(*shell, &mut Cli::command(), "nasview", &mut std::io::stdout());
            return Ok(0);
        }
        Command::Manpage(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            return Ok(0);
        }
        _ => {}
    }
    runtime::init(config.ort_lib.as_deref())?;
    match config.command {
        Command::Bench(cfg) => commands::bench::run(&cfg),
        Command::Detect(cfg) => commands::detect::run(&cfg),
        Command::Live(cfg) => commands::live::run(*cfg),
        Command::Cameras | Command::Completions(_) | Command::Manpage(_) => Ok(0),
    }
}
