//! The register function: adds a plan's new addresses to the target group.

use std::process::ExitCode;

use albsync_aws::{Clients, load_sdk_config};
use albsync_functions::handlers::register::{Deps, handle};
use albsync_functions::startup::{finish, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let clients = Clients::new(&load_sdk_config().await);
    let deps = &Deps { targets: clients.target_group() };
    finish(
        "albsync-register",
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| handle(deps, e.payload))).await,
    )
}
