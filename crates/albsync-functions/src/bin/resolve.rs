//! The resolve function: a binding's DNS name to its current addresses.

use std::process::ExitCode;

use albsync_aws::EmfMetrics;
use albsync_functions::config::{ProcessEnv, ResolveConfig};
use albsync_functions::handlers::resolve::{Deps, deadline_from_epoch_ms, handle_until};
use albsync_functions::startup::{config_failure, finish, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};

const NAME: &str = "albsync-resolve";

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let config = match ResolveConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => return config_failure(NAME, e),
    };
    // The config checked both values already; this only repeats the check where the type needs it.
    let metrics = match EmfMetrics::stdout(&config.metrics.namespace, &config.metrics.deployment) {
        Ok(m) => m,
        Err(e) => return config_failure(NAME, e),
    };
    let deps = &Deps { metrics, dns_server: config.dns_server };
    finish(
        NAME,
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| {
            // The resolver stops with margin before the invocation's deadline instead of being killed.
            let deadline = deadline_from_epoch_ms(e.context.deadline);
            handle_until(deps, e.payload, Some(deadline))
        }))
        .await,
    )
}
