//! The register function: adds a plan's new addresses to the target group.

use std::process::ExitCode;

use albsync_aws::{Clients, Ec2NetworkInterfaces, load_sdk_config};
use albsync_functions::handlers::register::{Deps, handle};
use albsync_functions::startup::{config_failure, finish, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};

const NAME: &str = "albsync-register";

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let sdk = load_sdk_config().await;
    let interfaces = match Ec2NetworkInterfaces::new(&sdk) {
        Ok(i) => i,
        Err(e) => return config_failure(NAME, e),
    };
    let clients = Clients::new(&sdk);
    let deps = &Deps { targets: clients.target_group(), interfaces };
    finish(
        NAME,
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| handle(deps, e.payload))).await,
    )
}
