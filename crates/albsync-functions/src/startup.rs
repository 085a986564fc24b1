//! What every function does before serving: logging, configuration, clients.

use std::fmt::Display;
use std::process::ExitCode;

/// Logging as the Lambda runtime crate sets it up (`lambda_runtime::tracing::init_default_subscriber`): JSON
/// lines when Lambda's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`, set by the deployment), the level from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`. Unlike a hand-built subscriber it keeps the runtime's
/// per-invocation span, so every line carries the request id.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
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
