//! The deregister function: removes addresses whose grace ran out, within the safety rails.

use std::process::ExitCode;

use albsync_aws::{Clients, ElbTargetGroup, load_sdk_config};
use albsync_functions::handlers::deregister::{Deps, handle};
use albsync_functions::startup::{finish, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let clients = Clients::new(&load_sdk_config().await);
    let deps = &Deps { targets: ElbTargetGroup::new(clients.elb) };
    finish(
        "albsync-deregister",
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| handle(deps, e.payload))).await,
    )
}
