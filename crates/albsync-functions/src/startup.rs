//! What every function does before serving: logging, configuration, clients.

use std::fmt::Display;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// JSON logs on stdout (CloudWatch Logs reads them as structured fields). The level comes from Lambda's
/// `AWS_LAMBDA_LOG_LEVEL` (set by the deployment), else `RUST_LOG`, else `info`.
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_ansi(false)
        .init();
}

/// Prints one line naming what is wrong with the configuration and returns the exit code to stop with.
pub fn config_failure(function: &str, error: impl Display) -> ExitCode {
    eprintln!("{function}: configuration error: {error}");
    ExitCode::FAILURE
}

/// Turns the runtime's result into an exit code, logging why it stopped.
pub fn finish(function: &str, result: Result<(), lambda_runtime::Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{function}: runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
