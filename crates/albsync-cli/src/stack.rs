//! A deployment as the CDK construct publishes it: the SSM parameter `/albsync/<deployment>` (cdk/lib/config.ts)
//! with the state machine, its log group, the state bucket and prefix, and every binding. `--stack NAME` reads
//! it; without `--stack`, the only deployment in the region is used. Explicit flags (`--state-machine`,
//! `--state-bucket`, `--bindings-file`, `--input`) always win over it.

use albsync_aws::AwsError;
use albsync_core::Binding;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::bindings;
use crate::cli::{BindingArgs, Global, StateMachineArgs};
use crate::error::{CliError, service_error};
use crate::express::{self, LogSettings};
use crate::session::Session;

/// Prefix of the parameters the construct writes (cdk/lib/config.ts `CONFIG_PARAMETER_PREFIX`).
pub const PARAMETER_PREFIX: &str = "/albsync/";

/// The published configuration of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfig {
    /// Version of this document; only 1 is known.
    pub schema_version: u32,
    /// The deployment's name (the stack name unless the construct was given another).
    pub deployment: String,
    /// ARN of the state machine.
    pub state_machine_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub workflow_type: String,
    /// The state machine's log group.
    pub workflow_log_group: String,
    /// Bucket of the state documents.
    pub state_bucket: String,
    /// Key prefix of the state documents.
    pub state_prefix: String,
    /// Every binding, exactly as its schedule sends it (validated when one is selected).
    pub bindings: Vec<Value>,
}

impl DeploymentConfig {
    /// Parses the parameter's value; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<DeploymentConfig, CliError> {
        let config: DeploymentConfig = serde_json::from_str(text)
            .map_err(|e| CliError::Usage(format!("{origin}: not an albsync deployment configuration: {e}")))?;
        if config.schema_version != 1 {
            return Err(CliError::Usage(format!(
                "{origin}: schemaVersion {} is not known to this albsync (1); update the CLI",
                config.schema_version
            )));
        }
        Ok(config)
    }

    /// Whether the state machine is an Express one.
    pub fn is_express(&self) -> bool {
        self.workflow_type.eq_ignore_ascii_case("EXPRESS")
    }

    /// The binding `name` (or the only one).
    pub fn binding(&self, name: Option<&str>) -> Result<Binding, CliError> {
        let text = Value::Array(self.bindings.clone()).to_string();
        bindings::from_file_text(&text, &format!("deployment {}", self.deployment), name)
    }
}

fn ssm_error(session: &Session, what: &str, err: &AwsError) -> CliError {
    match err.code.as_deref() {
        Some("ParameterNotFound") => CliError::NotFound(format!(
            "no albsync deployment {what}: SSM parameter {PARAMETER_PREFIX}{what} does not exist in {} (is the stack deployed there?)",
            session.endpoints.region
        )),
        Some(code) if code.starts_with("AccessDenied") => {
            CliError::Aws(format!("reading SSM parameter {PARAMETER_PREFIX}{what} was denied: {}", err.message))
        }
        Some(_) => CliError::Aws(format!("reading SSM parameter {PARAMETER_PREFIX}{what} failed: {}", err.message)),
        None => service_error(session.ssm.endpoint(), "SSM", err),
    }
}

/// Reads deployment `name`, or the only one in the region.
pub async fn load(session: &Session, name: Option<&str>) -> Result<DeploymentConfig, CliError> {
    let ssm = &session.ssm;
    if let Some(name) = name {
        let parameter = format!("{PARAMETER_PREFIX}{name}");
        let found = ssm.get_parameter(&parameter).await.map_err(|e| ssm_error(session, name, &e))?;
        return DeploymentConfig::parse(&found.value, &format!("SSM parameter {parameter}"));
    }
    let found = ssm.parameters_by_path(PARAMETER_PREFIX.trim_end_matches('/')).await;
    match found.map_err(|e| ssm_error(session, "*", &e))?.as_slice() {
        [] => Err(CliError::Usage(format!(
            "which deployment? no SSM parameter {PARAMETER_PREFIX}* in {}: deploy the CDK construct, give --stack NAME \
             (and --region), or give --state-machine/--state-bucket/--bindings-file",
            session.endpoints.region
        ))),
        [only] => DeploymentConfig::parse(&only.value, &format!("SSM parameter {}", only.name)),
        many => Err(CliError::Usage(format!(
            "which deployment? {} in {}: {}; choose one with --stack NAME",
            many.len(),
            session.endpoints.region,
            many.iter().map(|p| p.name.trim_start_matches(PARAMETER_PREFIX)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// What a command needs, resolved from its flags first and from the deployment when a flag is absent. The
/// session and the deployment are fetched once, when first needed.
#[derive(Debug)]
pub struct Context<'a> {
    global: &'a Global,
    session: OnceCell<Session>,
    deployment: OnceCell<DeploymentConfig>,
}

impl<'a> Context<'a> {
    /// A context for one command.
    pub fn new(global: &'a Global) -> Context<'a> {
        Context { global, session: OnceCell::new(), deployment: OnceCell::new() }
    }

    /// The AWS session (connects on first use).
    pub async fn session(&self) -> Result<&Session, CliError> {
        self.session.get_or_try_init(|| Session::connect(self.global)).await
    }

    /// The deployment (`--stack`, or the only one).
    pub async fn deployment(&self) -> Result<&DeploymentConfig, CliError> {
        let session = self.session().await?;
        self.deployment.get_or_try_init(|| load(session, self.global.stack.as_deref())).await
    }

    /// The binding: `--input`, else `--bindings-file`, else the deployment's (by `--binding`, or its only one).
    pub async fn binding(&self, args: &BindingArgs) -> Result<Binding, CliError> {
        if args.input.is_some() || args.bindings_file.is_some() {
            return bindings::select(args);
        }
        self.deployment().await?.binding(args.binding.as_deref())
    }

    /// The state machine: `--state-machine` (or ALBSYNC_STATE_MACHINE_ARN), else the deployment's.
    pub async fn state_machine(&self, args: &StateMachineArgs) -> Result<String, CliError> {
        match explicit(args) {
            Some(arn) => Ok(arn.to_owned()),
            None => Ok(self.deployment().await?.state_machine_arn.clone()),
        }
    }

    /// The state bucket and prefix: the flags, else the deployment's.
    pub async fn state_store(&self, bucket: Option<&str>, prefix: Option<&str>) -> Result<(String, String), CliError> {
        if let Some(bucket) = bucket.filter(|b| !b.trim().is_empty()) {
            return Ok((bucket.to_owned(), prefix.unwrap_or("albsync/").to_owned()));
        }
        let d = self.deployment().await?;
        Ok((d.state_bucket.clone(), prefix.map(str::to_owned).unwrap_or_else(|| d.state_prefix.clone())))
    }

    /// How to read the executions of `state_machine`: `None` for Standard (Step Functions' history), else the
    /// Express state machine's log settings. With a deployment its workflow type decides; with only
    /// `--state-machine`, DescribeStateMachine does.
    pub async fn express(&self, args: &StateMachineArgs, state_machine: &str) -> Result<Option<LogSettings>, CliError> {
        let session = self.session().await?;
        if explicit(args).is_some() {
            return express::logging(session, state_machine, None, false).await;
        }
        match self.deployment().await? {
            d if d.is_express() => express::logging(session, state_machine, Some(&d.workflow_log_group), true).await,
            _ => Ok(None),
        }
    }

    /// The execution an ARN or a name means, and where its history is.
    pub async fn execution(&self, name_or_arn: &str, args: &StateMachineArgs) -> Result<Execution, CliError> {
        if name_or_arn.starts_with("arn:") && name_or_arn.contains(":express:") {
            let Some((state_machine, _)) = express::split_execution_arn(name_or_arn) else {
                return Err(CliError::Usage(format!("{name_or_arn:?} is not an execution ARN")));
            };
            let session = self.session().await?;
            // Declared Express by its ARN: `logging` gives settings or an error saying why there are none.
            let Some(logs) = express::logging(session, &state_machine, None, true).await? else {
                return Err(CliError::Usage(format!("{state_machine} keeps no log of its executions")));
            };
            return Ok(Execution::Express { arn: name_or_arn.to_owned(), state_machine, logs });
        }
        if name_or_arn.starts_with("arn:") {
            return Ok(Execution::Standard(name_or_arn.to_owned()));
        }
        let state_machine = self.state_machine(args).await?;
        match self.express(args, &state_machine).await? {
            Some(logs) => {
                let arn =
                    express::find_by_name(self.session().await?, &logs.group, &state_machine, name_or_arn).await?;
                Ok(Execution::Express { arn, state_machine, logs })
            }
            None => Ok(Execution::Standard(execution_arn_for(&state_machine, name_or_arn)?)),
        }
    }
}

/// `--state-machine`, when given and not blank.
fn explicit(args: &StateMachineArgs) -> Option<&str> {
    args.arn.as_deref().map(str::trim).filter(|a| !a.is_empty())
}

/// An execution and where its history is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// A Standard execution: Step Functions has its history.
    Standard(String),
    /// An Express execution: its history is only in the state machine's log group.
    Express {
        /// Its ARN.
        arn: String,
        /// Its state machine.
        state_machine: String,
        /// Where its records are.
        logs: LogSettings,
    },
}

/// Exit code of `run` when Ctrl-C stopped the following (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// What `run` prints on Ctrl-C: the execution is not stopped, and how to follow it.
pub fn interrupted_note(global: &Global, execution: &str) -> String {
    let stack = global.stack.as_deref().map(|s| format!(" --stack {s}")).unwrap_or_default();
    format!(
        "albsync: stopped following; execution {execution} goes on in Step Functions. Follow it with: \
         albsync{stack} history {execution}"
    )
}

/// `arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME` and an execution name -> the execution's ARN
/// (`...:execution:NAME:EXECUTION`; Express executions are `...:express:NAME:EXECUTION:ID` and have no name-only
/// form). https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
pub fn execution_arn_for(state_machine_arn: &str, name: &str) -> Result<String, CliError> {
    let parts: Vec<&str> = state_machine_arn.splitn(7, ':').collect();
    if parts.len() != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" {
        return Err(CliError::Usage(format!("{state_machine_arn:?} is not a state machine ARN")));
    }
    if name.is_empty() || name.len() > 80 || name.contains(':') {
        return Err(CliError::Usage(format!(
            "{name:?} is neither an execution ARN nor an execution name (1-80 characters, no ':')"
        )));
    }
    Ok(format!("{}:{}:{}:{}:{}:execution:{}:{name}", parts[0], parts[1], parts[2], parts[3], parts[4], parts[6]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:albsync-15db0275";

    fn config(bindings: &str) -> String {
        format!(
            r#"{{"schemaVersion":1,"deployment":"web","stateMachineArn":"{SM}","workflowType":"STANDARD",
            "workflowLogGroup":"/aws/vendedlogs/states/x","stateBucket":"b","statePrefix":"albsync/",
            "metricNamespace":"AlbSync","alarmTopicArn":"arn:aws:sns:us-east-1:123456789012:t","bindings":{bindings}}}"#
        )
    }

    const BINDING: &str = r#"{"name":"api","dnsName":"alb.test","port":443,"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef","vpcCidrs":[]}"#;

    #[test]
    fn a_published_configuration_gives_its_bindings_by_name() {
        let c = DeploymentConfig::parse(&config(&format!("[{BINDING}]")), "p").expect("parses");
        assert_eq!(c.state_machine_arn, SM);
        assert!(!c.is_express());
        assert_eq!(c.binding(Some("api")).expect("found").port, 443);
        assert_eq!(c.binding(None).expect("the only one").name, "api");
        let err = c.binding(Some("db")).expect_err("unknown");
        assert_eq!(err.to_string(), "unknown binding \"db\": deployment web has api");
    }

    #[test]
    fn an_unknown_schema_version_or_a_foreign_document_is_refused() {
        let text = config("[]").replace("\"schemaVersion\":1", "\"schemaVersion\":2");
        assert!(DeploymentConfig::parse(&text, "p").expect_err("v2").to_string().contains("schemaVersion 2"));
        let err = DeploymentConfig::parse("{\"hello\":1}", "SSM parameter /albsync/x").expect_err("foreign");
        assert!(
            err.to_string().starts_with("SSM parameter /albsync/x: not an albsync deployment configuration"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn an_execution_name_becomes_the_execution_arn_of_the_state_machine() {
        assert_eq!(
            execution_arn_for(SM, "cli-web-1").expect("arn"),
            "arn:aws:states:us-east-1:123456789012:execution:albsync-15db0275:cli-web-1"
        );
        assert!(execution_arn_for(SM, "a:b").is_err());
        assert!(execution_arn_for("arn:aws:s3:::bucket", "x").is_err());
    }
}
