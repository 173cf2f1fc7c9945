//! nasview's entry point: arguments -> configuration -> the chosen command; errors printed once.

use std::process::ExitCode;

use clap::Parser;

use nasview::config::{self, Cli, Command};
use nasview::detector::{labels, Detector, Thresholds};
use nasview::{commands, runtime};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("NASVIEW_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("nasview: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let opts = cli.model.validate()?;
    if let Some(Command::Cameras) = cli.command {
        print!("{}", nasview::source::camera::list()?);
        return Ok(0);
    }
    runtime::init(cli.model.ort_lib.as_deref())?;
    let thresholds = Thresholds { conf: cli.model.conf, iou: cli.model.iou };
    match &cli.command {
        Some(Command::Bench(args)) => {
            let models =
                if cli.model.model.is_empty() { vec![config::resolve_model(None)?] } else { cli.model.model.clone() };
            commands::bench::run(args, &models, &opts, &thresholds)
        }
        Some(Command::Detect(args)) => {
            let mut detector = Detector::load(&cli.model.single_model()?, &opts)?;
            if let Some(spec) = &cli.model.classes {
                detector.class_filter = Some(labels::parse_class_filter(spec, &detector.info.labels)?);
            }
            eprintln!("nasview: {}", detector.info.summary());
            commands::detect::run(args, &mut detector, &thresholds)
        }
        // The live viewer loads the model on its inference thread; class names are checked there too.
        _ => commands::live::run(&cli.live, cli.model.single_model()?, opts, cli.model.classes.clone(), thresholds),
    }
}
