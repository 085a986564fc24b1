//! The deregister function: removes addresses whose grace ran out, within the safety rails.

use std::process::ExitCode;

use albsync_aws::{Clients, Ec2NetworkInterfaces, S3StateStore, load_sdk_config};
use albsync_functions::config::{ProcessEnv, StateConfig};
use albsync_functions::handlers::deregister::{Deps, handle};
use albsync_functions::startup::{config_failure, finish, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};

const NAME: &str = "albsync-deregister";

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let config = match StateConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => return config_failure(NAME, e),
    };
    let sdk = load_sdk_config().await;
    let interfaces = match Ec2NetworkInterfaces::new(&sdk) {
        Ok(i) => i,
        Err(e) => return config_failure(NAME, e),
    };
    let clients = Clients::new(&sdk);
    let deps = &Deps {
        targets: clients.target_group(),
        store: S3StateStore::new(clients.s3, config.bucket),
        prefix: config.prefix,
        interfaces,
    };
    finish(
        NAME,
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| handle(deps, e.payload))).await,
    )
}
