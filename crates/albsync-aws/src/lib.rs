//! Adapters between albsync and AWS: narrow traits for what the functions need, implemented for the SDK.
//!
//! The functions depend on the traits ([`TargetGroup`], [`StateStore`], [`Metrics`], [`NetworkInterfaces`],
//! [`Executions`]), not on the SDK, which
//! keeps handlers small and makes the contract with AWS explicit. Metrics are not an API call at all: they are
//! Embedded Metric Format lines on stdout ([`emf`]). The SDK configuration is loaded once and
//! every client is built in [`Clients::new`]; endpoints follow the SDK's standard settings
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, ...), which is how the local emulator is reached.

pub mod assume;
pub mod emf;
pub mod error;
pub mod interfaces;
pub mod logs;
pub mod signed;
pub mod ssm;

use std::future::Future;
use std::net::IpAddr;

use albsync_core::binding::RoleArn;
use albsync_core::metrics::Figure;
use albsync_core::target::{HealthState, RegisteredTarget, TargetSpec, chunks};
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

pub use assume::{RoleClients, Scoped};
pub use emf::EmfMetrics;
pub use error::{AwsError, AwsErrorKind, classify};
pub use interfaces::{Ec2NetworkInterfaces, Ec2SetupError, NetworkInterfaces};
pub use logs::Logs;
pub use signed::{SetupError, SignedClient};
pub use ssm::Ssm;

/// The target group operations albsync uses.
pub trait TargetGroup: Sync {
    /// Every target with its health and the zone ELB holds for it (DescribeTargetHealth).
    fn describe(&self, arn: &str) -> impl Future<Output = Result<Vec<RegisteredTarget>, AwsError>> + Send;
    /// Registers targets in calls of at most 200; returns the number of calls.
    fn register(&self, arn: &str, targets: &[TargetSpec]) -> impl Future<Output = Result<usize, AwsError>> + Send;
    /// Deregisters targets, each with exactly the description DescribeTargetHealth gave (zone included), in
    /// calls of at most 200; returns the number of calls.
    fn deregister(&self, arn: &str, targets: &[TargetSpec]) -> impl Future<Output = Result<usize, AwsError>> + Send;
    /// These operations with the credentials of `role` (a binding's `roleArn`: a role of the target group's
    /// account), or these themselves for `None`. The default, for adapters without role support, refuses a role
    /// rather than silently using its own credentials.
    fn for_role<'a>(
        &'a self,
        role: Option<&'a RoleArn>,
    ) -> impl Future<Output = Result<Scoped<'a, Self>, AwsError>> + Send
    where
        Self: Sized,
    {
        async move {
            match role {
                None => Ok(Scoped::Same(self)),
                Some(role) => Err(AwsError::new(
                    AwsErrorKind::Other,
                    "sts:AssumeRole",
                    format!("this target group adapter cannot assume {role}"),
                )),
            }
        }
    }
}

/// A stored object and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The ETag to make the next write conditional on.
    pub etag: String,
}

/// How a write is guarded, so that of two overlapping runs at most one can win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Only if no object exists yet (`If-None-Match: *`).
    CreateOnly,
    /// Only if the object is still at this ETag (`If-Match`).
    IfMatch(String),
}

/// The state document store.
pub trait StateStore {
    /// Reads an object; `None` when it does not exist.
    fn read(&self, key: &str) -> impl Future<Output = Result<Option<Stored>, AwsError>> + Send;
    /// Writes an object under a condition; returns the new ETag. A lost condition (412) is
    /// `AwsErrorKind::Conflict`; a concurrent conflicting write (409) is `Transient`: retry.
    fn write(
        &self,
        key: &str,
        bytes: Vec<u8>,
        condition: WriteCondition,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
}

/// Metrics albsync publishes (names and dimensions: [`albsync_core::metrics`]).
///
/// Synchronous and local on purpose: publishing must never wait on the network, so it can never fail or
/// slow a run. An error is the sink's (stdout closed), for the caller to log.
pub trait Metrics: std::fmt::Debug {
    /// Publishes one run's figures for a binding.
    fn publish(&self, binding: &str, figures: &[Figure]) -> std::io::Result<()>;
}

/// Loads the SDK configuration once (region, credentials, endpoint settings from the environment).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Every client albsync uses, built in one place.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Elastic Load Balancing v2.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// Step Functions (the trigger's StartExecution).
    pub sfn: aws_sdk_sfn::Client,
    /// The configuration they were built from (for clients under a binding's role).
    pub config: aws_config::SdkConfig,
}

impl Clients {
    /// Builds the clients from one configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        // With a custom endpoint (an emulator or a VPC endpoint by IP) virtual-hosted bucket names do not
        // resolve; path-style addressing works with both.
        let s3_config =
            aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
        Clients {
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sfn: aws_sdk_sfn::Client::new(config),
            config: config.clone(),
        }
    }

    /// The target group adapter, assuming a binding's `roleArn` when it has one.
    pub fn target_group(&self) -> ElbTargetGroup {
        ElbTargetGroup::with_roles(self.elb.clone(), &self.config)
    }
}

/// [`TargetGroup`] on the ELBv2 client.
#[derive(Debug, Clone)]
pub struct ElbTargetGroup {
    client: aws_sdk_elasticloadbalancingv2::Client,
    roles: Option<RoleClients>,
    /// The role this client's credentials come from, named in a refused AssumeRole's error.
    assumed: Option<RoleArn>,
}

impl ElbTargetGroup {
    /// Wraps a client; a binding with a `roleArn` is refused (see [`ElbTargetGroup::with_roles`]).
    pub fn new(client: aws_sdk_elasticloadbalancingv2::Client) -> ElbTargetGroup {
        ElbTargetGroup { client, roles: None, assumed: None }
    }

    /// Wraps a client, and assumes a binding's `roleArn` when it has one (clients cached per role).
    pub fn with_roles(
        client: aws_sdk_elasticloadbalancingv2::Client,
        config: &aws_config::SdkConfig,
    ) -> ElbTargetGroup {
        ElbTargetGroup { client, roles: Some(RoleClients::new(config)), assumed: None }
    }

    /// [`classify`], naming the role when STS refused it (the operator fixes that role's trust policy).
    fn classify<E>(&self, operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut e = classify(operation, err);
        if let (Some(role), "sts:AssumeRole") = (&self.assumed, e.operation) {
            e.message = format!("{role} (for {operation}): {}", e.message);
        }
        e
    }
}

fn description(ip: IpAddr, port: u16, availability_zone: Option<&str>) -> TargetDescription {
    TargetDescription::builder()
        .id(ip.to_string())
        .port(i32::from(port))
        .set_availability_zone(availability_zone.map(str::to_owned))
        .build()
}

impl TargetGroup for ElbTargetGroup {
    async fn describe(&self, arn: &str) -> Result<Vec<RegisteredTarget>, AwsError> {
        let out = self
            .client
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| self.classify("elasticloadbalancing:DescribeTargetHealth", e))?;
        let mut targets = Vec::new();
        for d in out.target_health_descriptions() {
            let Some(t) = d.target() else { continue };
            // Instance or Lambda targets cannot be ours: an IP target group only holds addresses.
            let Some(Ok(ip)) = t.id().map(str::parse::<IpAddr>) else { continue };
            let port = t.port().and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
            let state = d
                .target_health()
                .and_then(|h| h.state())
                .map_or(HealthState::Unknown, |s| HealthState::from_api(s.as_str()));
            // The zone as ELB holds it: `all` for an address outside the VPC, where DeregisterTargets requires it
            // (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetDescription.html).
            let availability_zone = t.availability_zone().map(str::to_owned);
            targets.push(RegisteredTarget { ip, port, state, availability_zone });
        }
        targets.sort_by_key(RegisteredTarget::key);
        Ok(targets)
    }

    async fn register(&self, arn: &str, targets: &[TargetSpec]) -> Result<usize, AwsError> {
        let mut calls = 0;
        for chunk in chunks(targets) {
            let descriptions =
                chunk.iter().map(|t| description(t.ip, t.port, t.availability_zone.as_deref())).collect();
            self.client
                .register_targets()
                .target_group_arn(arn)
                .set_targets(Some(descriptions))
                .send()
                .await
                .map_err(|e| self.classify("elasticloadbalancing:RegisterTargets", e))?;
            calls += 1;
        }
        Ok(calls)
    }

    async fn deregister(&self, arn: &str, targets: &[TargetSpec]) -> Result<usize, AwsError> {
        let mut calls = 0;
        for chunk in chunks(targets) {
            let descriptions =
                chunk.iter().map(|t| description(t.ip, t.port, t.availability_zone.as_deref())).collect();
            self.client
                .deregister_targets()
                .target_group_arn(arn)
                .set_targets(Some(descriptions))
                .send()
                .await
                .map_err(|e| self.classify("elasticloadbalancing:DeregisterTargets", e))?;
            calls += 1;
        }
        Ok(calls)
    }

    async fn for_role<'a>(&'a self, role: Option<&'a RoleArn>) -> Result<Scoped<'a, Self>, AwsError> {
        match (role, &self.roles) {
            (None, _) => Ok(Scoped::Same(self)),
            (Some(role), Some(roles)) => Ok(Scoped::Assumed(ElbTargetGroup {
                client: roles.elb(role).await,
                roles: None,
                assumed: Some(role.clone()),
            })),
            (Some(role), None) => Err(AwsError::new(
                AwsErrorKind::Other,
                "sts:AssumeRole",
                format!("binding role {role}: this function was built without role support"),
            )),
        }
    }
}

/// [`StateStore`] on an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3StateStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3StateStore {
    /// Wraps a client and a bucket.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> S3StateStore {
        S3StateStore { client, bucket: bucket.into() }
    }
}

impl StateStore for S3StateStore {
    async fn read(&self, key: &str) -> Result<Option<Stored>, AwsError> {
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) => {
                let err = classify("s3:GetObject", e);
                // Only a definite "no such key" means first run; anything else must not reset the counters.
                if err.code.as_deref() == Some("NoSuchKey") {
                    return Ok(None);
                }
                return Err(err);
            }
        };
        let etag = out
            .e_tag()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::new(AwsErrorKind::Other, "s3:GetObject", format!("{key} has no ETag")))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| AwsError::new(AwsErrorKind::Transient, "s3:GetObject", format!("reading body: {e}")))?
            .into_bytes()
            .to_vec();
        Ok(Some(Stored { bytes, etag }))
    }

    async fn write(&self, key: &str, bytes: Vec<u8>, condition: WriteCondition) -> Result<String, AwsError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        let request = match condition {
            WriteCondition::CreateOnly => request.if_none_match("*"),
            WriteCondition::IfMatch(etag) => request.if_match(etag),
        };
        let out = request.send().await.map_err(|e| classify("s3:PutObject", e))?;
        out.e_tag()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::new(AwsErrorKind::Other, "s3:PutObject", format!("{key}: no ETag returned")))
    }
}

/// What a StartExecution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Started (or, on a Standard workflow, found running with this name and input): its ARN.
    Started(String),
    /// An execution with this name exists already: this event was handled before.
    AlreadyExists,
}

/// Starting executions of the state machine.
pub trait Executions {
    /// StartExecution with a name; a name taken already is [`StartOutcome::AlreadyExists`], not an error.
    fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: String,
    ) -> impl Future<Output = Result<StartOutcome, AwsError>> + Send;
}

/// [`Executions`] on the Step Functions client.
#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: aws_sdk_sfn::Client,
}

impl SfnExecutions {
    /// Wraps a client.
    pub fn new(client: aws_sdk_sfn::Client) -> SfnExecutions {
        SfnExecutions { client }
    }
}

impl Executions for SfnExecutions {
    async fn start(&self, state_machine_arn: &str, name: &str, input: String) -> Result<StartOutcome, AwsError> {
        let request = self.client.start_execution().state_machine_arn(state_machine_arn).name(name).input(input);
        match request.send().await {
            Ok(out) => Ok(StartOutcome::Started(out.execution_arn().to_owned())),
            Err(e) => {
                let err = classify("states:StartExecution", e);
                // Names are unique per state machine (Standard: for 90 days): a redelivered event finds its
                // name taken (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
                if err.code.as_deref() == Some("ExecutionAlreadyExists") {
                    return Ok(StartOutcome::AlreadyExists);
                }
                Err(err)
            }
        }
    }
}
