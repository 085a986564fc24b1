//! Function configuration from the environment, parsed once at start.
//!
//! A missing or bad variable stops the process before it asks for its first event, with one line that
//! names the variable: a misconfigured deployment fails loudly at init instead of on every run.

use std::net::SocketAddr;

use albsync_core::metrics::{check_dimension_value, check_namespace};

/// A configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Reads environment variables through a lookup function, so tests need not touch the process environment.
pub trait Env {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

fn required(env: &impl Env, variable: &'static str) -> Result<String, ConfigError> {
    match env.get(variable) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(ConfigError { variable, problem: "is empty".into() }),
        None => Err(ConfigError { variable, problem: "is not set".into() }),
    }
}

/// Where the metrics go: the EMF namespace and the `Deployment` dimension (resolve and diff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// CloudWatch namespace of albsync's metrics (`ALBSYNC_METRIC_NAMESPACE`; never `AWS/...`).
    pub namespace: String,
    /// Value of the `Deployment` dimension (`ALBSYNC_DEPLOYMENT`; the CDK sets the stack name).
    pub deployment: String,
}

impl MetricsConfig {
    /// Reads and checks `ALBSYNC_METRIC_NAMESPACE` and `ALBSYNC_DEPLOYMENT`, both required.
    pub fn from_env(env: &impl Env) -> Result<MetricsConfig, ConfigError> {
        let variable = "ALBSYNC_METRIC_NAMESPACE";
        let namespace = required(env, variable)?;
        check_namespace(&namespace).map_err(|problem| ConfigError { variable, problem })?;
        let variable = "ALBSYNC_DEPLOYMENT";
        let deployment = required(env, variable)?;
        check_dimension_value(&deployment).map_err(|problem| ConfigError { variable, problem })?;
        Ok(MetricsConfig { namespace, deployment })
    }
}

/// The resolve function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveConfig {
    /// Namespace and deployment of the resolved-count metric.
    pub metrics: MetricsConfig,
    /// The name server to ask; `None`: the system configuration.
    pub dns_server: Option<SocketAddr>,
}

impl ResolveConfig {
    /// Reads the metric settings and the optional `ALBSYNC_DNS_SERVER`.
    pub fn from_env(env: &impl Env) -> Result<ResolveConfig, ConfigError> {
        let metrics = MetricsConfig::from_env(env)?;
        let variable = "ALBSYNC_DNS_SERVER";
        let dns_server = match env.get(variable) {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| ConfigError {
                variable,
                problem: format!("{v:?} is not an address:port such as 10.0.0.2:53"),
            })?),
        };
        Ok(ResolveConfig { metrics, dns_server })
    }
}

/// The state store settings of the diff and deregister functions (deregister re-reads the state document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffConfig {
    /// Bucket of the state documents.
    pub bucket: String,
    /// Key prefix of the state documents.
    pub prefix: String,
    /// Namespace and deployment of the in-sync metrics.
    pub metrics: MetricsConfig,
}

impl DiffConfig {
    /// Reads `ALBSYNC_STATE_BUCKET`, `ALBSYNC_STATE_PREFIX` and the metric settings.
    pub fn from_env(env: &impl Env) -> Result<DiffConfig, ConfigError> {
        let StateConfig { bucket, prefix } = StateConfig::from_env(env)?;
        let metrics = MetricsConfig::from_env(env)?;
        Ok(DiffConfig { bucket, prefix, metrics })
    }
}

/// Configuration of the deregister function: where the state documents are (it writes no metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// Bucket of the state documents.
    pub bucket: String,
    /// Key prefix of the state documents.
    pub prefix: String,
}

impl StateConfig {
    /// Reads `ALBSYNC_STATE_BUCKET` and `ALBSYNC_STATE_PREFIX`.
    pub fn from_env(env: &impl Env) -> Result<StateConfig, ConfigError> {
        let bucket = required(env, "ALBSYNC_STATE_BUCKET")?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !bucket_ok {
            return Err(ConfigError {
                variable: "ALBSYNC_STATE_BUCKET",
                problem: format!("{bucket:?} is not a bucket name"),
            });
        }
        let variable = "ALBSYNC_STATE_PREFIX";
        let prefix = env.get(variable).ok_or(ConfigError { variable, problem: "is not set (use albsync/)".into() })?;
        if !(prefix.is_empty() || prefix.ends_with('/')) || prefix.starts_with('/') {
            return Err(ConfigError { variable, problem: format!("{prefix:?} must end with / and not start with /") });
        }
        Ok(StateConfig { bucket, prefix })
    }
}

/// The trigger function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerConfig {
    /// The albsync state machine (`ALBSYNC_STATE_MACHINE_ARN`).
    pub state_machine_arn: String,
    /// The deployment's bindings (`ALBSYNC_BINDINGS`, a JSON array), each with its JSON as given.
    pub bindings: Vec<(albsync_core::Binding, serde_json::Value)>,
}

impl TriggerConfig {
    /// Reads `ALBSYNC_STATE_MACHINE_ARN` and `ALBSYNC_BINDINGS`; at least one binding needs an `eni` source.
    pub fn from_env(env: &impl Env) -> Result<TriggerConfig, ConfigError> {
        let variable = "ALBSYNC_STATE_MACHINE_ARN";
        let state_machine_arn = required(env, variable)?;
        let parts: Vec<&str> = state_machine_arn.splitn(7, ':').collect();
        let arn_ok = parts.len() == 7
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "states"
            && parts[5] == "stateMachine"
            && !parts[6].is_empty();
        if !arn_ok {
            return Err(ConfigError {
                variable,
                problem: format!("{state_machine_arn:?} is not arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME"),
            });
        }
        let variable = "ALBSYNC_BINDINGS";
        let text = required(env, variable)?;
        let values: Vec<serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| ConfigError { variable, problem: format!("is not a JSON array of bindings: {e}") })?;
        let mut bindings = Vec::new();
        for (i, value) in values.into_iter().enumerate() {
            let binding: albsync_core::Binding = serde_json::from_value(value.clone())
                .map_err(|e| ConfigError { variable, problem: format!("binding {i}: {e}") })?;
            bindings.push((binding, value));
        }
        if !bindings.iter().any(|(b, _)| b.eni.is_some()) {
            return Err(ConfigError { variable, problem: "no binding has an eni source: nothing to trigger".into() });
        }
        Ok(TriggerConfig { state_machine_arn, bindings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);
    impl Env for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }
    fn env(pairs: &[(&'static str, &'static str)]) -> Map {
        Map(pairs.iter().copied().collect())
    }

    #[test]
    fn bad_variables_are_named() {
        let e = ResolveConfig::from_env(&env(&[])).expect_err("missing");
        assert_eq!(e.to_string(), "ALBSYNC_METRIC_NAMESPACE: is not set");
        let e = ResolveConfig::from_env(&env(&[("ALBSYNC_METRIC_NAMESPACE", "AWS/ApplicationELB")])).expect_err("aws");
        assert!(e.to_string().starts_with("ALBSYNC_METRIC_NAMESPACE: \"AWS/ApplicationELB\""), "{e}");
        let e = ResolveConfig::from_env(&env(&[("ALBSYNC_METRIC_NAMESPACE", "A")])).expect_err("deployment");
        assert_eq!(e.to_string(), "ALBSYNC_DEPLOYMENT: is not set");
        let e = ResolveConfig::from_env(&env(&[("ALBSYNC_METRIC_NAMESPACE", "A"), ("ALBSYNC_DEPLOYMENT", "a\tb")]))
            .expect_err("deployment");
        assert!(e.to_string().starts_with("ALBSYNC_DEPLOYMENT: \"a\\tb\""), "{e}");
        let e = ResolveConfig::from_env(&env(&[
            ("ALBSYNC_METRIC_NAMESPACE", "A"),
            ("ALBSYNC_DEPLOYMENT", "d"),
            ("ALBSYNC_DNS_SERVER", "nope"),
        ]))
        .expect_err("server");
        assert!(e.to_string().starts_with("ALBSYNC_DNS_SERVER: \"nope\""), "{e}");
        let e = DiffConfig::from_env(&env(&[("ALBSYNC_STATE_BUCKET", "b_b")])).expect_err("bucket");
        assert!(e.to_string().starts_with("ALBSYNC_STATE_BUCKET"), "{e}");
        let e = DiffConfig::from_env(&env(&[("ALBSYNC_STATE_BUCKET", "bucket"), ("ALBSYNC_STATE_PREFIX", "x")]))
            .expect_err("prefix");
        assert!(e.to_string().starts_with("ALBSYNC_STATE_PREFIX"), "{e}");
        let e = DiffConfig::from_env(&env(&[("ALBSYNC_STATE_BUCKET", "bucket"), ("ALBSYNC_STATE_PREFIX", "a/")]))
            .expect_err("metrics");
        assert_eq!(e.to_string(), "ALBSYNC_METRIC_NAMESPACE: is not set");
    }

    #[test]
    fn good_variables_parse() {
        let c = ResolveConfig::from_env(&env(&[
            ("ALBSYNC_METRIC_NAMESPACE", "AlbSync"),
            ("ALBSYNC_DEPLOYMENT", "albsync-prod"),
            ("ALBSYNC_DNS_SERVER", "127.0.0.1:5353"),
        ]))
        .expect("valid");
        assert_eq!(c.dns_server, Some("127.0.0.1:5353".parse().expect("addr")));
        assert_eq!(c.metrics.deployment, "albsync-prod");
        let c = DiffConfig::from_env(&env(&[
            ("ALBSYNC_STATE_BUCKET", "state"),
            ("ALBSYNC_STATE_PREFIX", "albsync/"),
            ("ALBSYNC_METRIC_NAMESPACE", "AlbSync"),
            ("ALBSYNC_DEPLOYMENT", "albsync-prod"),
        ]))
        .expect("valid");
        assert_eq!(c.prefix, "albsync/");
    }
}
