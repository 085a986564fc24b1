//! The trigger function: an ALB interface event (CloudTrail via EventBridge) to StartExecution.

use std::process::ExitCode;

use albsync_aws::{Clients, SfnExecutions, load_sdk_config};
use albsync_functions::config::{ProcessEnv, TriggerConfig};
use albsync_functions::handlers::trigger::{Deps, handle};
use albsync_functions::startup::{config_failure, finish, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};

const NAME: &str = "albsync-trigger";

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let config = match TriggerConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => return config_failure(NAME, e),
    };
    let clients = Clients::new(&load_sdk_config().await);
    let deps = &Deps {
        executions: SfnExecutions::new(clients.sfn),
        state_machine_arn: config.state_machine_arn,
        bindings: config.bindings,
    };
    finish(
        NAME,
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| handle(deps, e.payload))).await,
    )
}
