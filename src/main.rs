//! nasview's entry point: arguments -> configuration -> the chosen command; errors printed once.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use nasview::config::{self, Cli, Command};
use nasview::detector::{labels, Detector, Thresholds};
use nasview::{commands, runtime};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NASVIEW_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
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
        anyhow::bail!("camera listing arrives with the live viewer");
    }
    runtime::init(cli.model.ort_lib.as_deref())?;
    let model = config::resolve_model(cli.model.model.as_deref())?;
    let mut detector = Detector::load(&model, &opts)?;
    if let Some(spec) = &cli.model.classes {
        detector.class_filter = Some(labels::parse_class_filter(spec, &detector.info.labels)?);
    }
    eprintln!("nasview: {}", detector.info.summary());
    let thresholds = Thresholds {
        conf: cli.model.conf,
        iou: cli.model.iou,
    };
    match &cli.command {
        Some(Command::Detect(args)) => commands::detect::run(args, &mut detector, &thresholds),
        _ => Err(anyhow::anyhow!(
            "the live viewer is not built yet; use `nasview detect PATH`"
        ))
        .context("no command"),
    }
}
