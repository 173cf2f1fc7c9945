//! ONNX Runtime: finds and loads its shared library once per process (main thread, before any session).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found (looked for {looked}); run `make setup` to install it into .venv, \
         or pass --ort-lib PATH (or set ORT_DYLIB_PATH) to a libonnxruntime.so of version 1.31 or newer"
    )]
    NotFound { looked: String },
    #[error(
        "cannot load ONNX Runtime from {path} (given by {origin}): {reason}; nasview needs ONNX Runtime 1.31 or \
         newer: run `make setup` (installs 1.32 into .venv), or pass --ort-lib PATH to another libonnxruntime.so"
    )]
    Load { path: PathBuf, origin: &'static str, reason: String },
}

/// Where `make setup` puts the library: the onnxruntime wheel inside the project's `.venv`.
fn setup_locations() -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    if let Ok(exe) = std::env::current_exe() {
        // target/release/nasview -> project root, for a moved checkout.
        roots.extend(exe.ancestors().skip(1).take(3).map(Path::to_path_buf));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    let mut found = Vec::new();
    for root in roots {
        let Ok(pythons) = std::fs::read_dir(root.join(".venv/lib")) else {
            continue;
        };
        for py in pythons.flatten() {
            let capi = py.path().join("site-packages/onnxruntime/capi");
            let Ok(files) = std::fs::read_dir(&capi) else {
                continue;
            };
            let mut libs: Vec<PathBuf> = files
                .flatten()
                .map(|f| f.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
                .collect();
            libs.sort();
            found.extend(libs);
        }
    }
    found
}

/// The library to load and who asked for it: `--ort-lib`, then `ORT_DYLIB_PATH`, then the set-up venv.
pub fn locate(explicit: Option<&Path>) -> Result<(PathBuf, &'static str), RuntimeError> {
    if let Some(p) = explicit {
        return Ok((p.to_path_buf(), "--ort-lib"));
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Ok((PathBuf::from(p), "ORT_DYLIB_PATH"));
    }
    setup_locations().into_iter().next().map(|p| (p, "the set-up venv")).ok_or_else(|| RuntimeError::NotFound {
        looked: "--ort-lib, ORT_DYLIB_PATH, .venv/lib/python3*/site-packages/onnxruntime/capi".into(),
    })
}

/// Loads ONNX Runtime and creates the process's one environment; later calls return the same one.
pub fn init(explicit: Option<&Path>) -> Result<&'static Environment, RuntimeError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let (path, origin) = locate(explicit)?;
    if !path.is_file() {
        return Err(RuntimeError::Load { path, origin, reason: "no such file".into() });
    }
    let load_err = |reason: String| RuntimeError::Load { path: path.clone(), origin, reason };
    let builder = ort::init_from(&path).map_err(|e| load_err(e.to_string()))?;
    // ONNX Runtime's own log lines go through `tracing` at debug level (NASVIEW_LOG=debug shows them), not straight
    // to stderr: a run still going when the process exits (a 100 MP photo in tiles, cut short by Ctrl-C) logged
    // its kernel's failure after nasview's last line. Every failure that matters reaches nasview as an error,
    // said once.
    let logger: ort::logging::LoggerFunction = std::sync::Arc::new(|level, category, _id, location, message| {
        tracing::debug!(target: "onnxruntime", "{level:?} {category} {location}: {message}");
    });
    let env = builder.with_name("nasview").with_logger(logger).build().map_err(|e| load_err(e.to_string()))?;
    // The custom logger starts at verbose: back to ONNX Runtime's own default, so nothing is formatted in vain.
    env.set_log_level(ort::logging::LogLevel::Warning);
    tracing::debug!("ONNX Runtime loaded from {}", path.display());
    Ok(ENVIRONMENT.get_or_init(|| env))
}
