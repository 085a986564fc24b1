//! Function configuration from the environment, parsed once at start.
//!
//! A missing or bad variable stops the process before it asks for its first event, with one line that
//! names the variable: a misconfigured deployment fails loudly at init instead of on every run.

use std::net::SocketAddr;

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

/// The resolve function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveConfig {
    /// CloudWatch namespace of the resolved-count metric.
    pub metric_namespace: String,
    /// The name server to ask; `None`: the system configuration.
    pub dns_server: Option<SocketAddr>,
}

impl ResolveConfig {
    /// Reads `ALBSYNC_METRIC_NAMESPACE` and the optional `ALBSYNC_DNS_SERVER`.
    pub fn from_env(env: &impl Env) -> Result<ResolveConfig, ConfigError> {
        let variable = "ALBSYNC_METRIC_NAMESPACE";
        let metric_namespace = required(env, variable)?;
        if metric_namespace.starts_with("AWS/") {
            return Err(ConfigError {
                variable,
                problem: format!(
                    "{metric_namespace:?} is reserved for AWS; custom metrics need a namespace of their own"
                ),
            });
        }
        let variable = "ALBSYNC_DNS_SERVER";
        let dns_server = match env.get(variable) {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| ConfigError {
                variable,
                problem: format!("{v:?} is not an address:port such as 10.0.0.2:53"),
            })?),
        };
        Ok(ResolveConfig { metric_namespace, dns_server })
    }
}

/// The state store settings of the diff and deregister functions (deregister re-reads the state document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffConfig {
    /// Bucket of the state documents.
    pub bucket: String,
    /// Key prefix of the state documents.
    pub prefix: String,
}

impl DiffConfig {
    /// Reads `ALBSYNC_STATE_BUCKET` and `ALBSYNC_STATE_PREFIX`.
    pub fn from_env(env: &impl Env) -> Result<DiffConfig, ConfigError> {
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
        Ok(DiffConfig { bucket, prefix })
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
        let e = ResolveConfig::from_env(&env(&[("ALBSYNC_METRIC_NAMESPACE", "A"), ("ALBSYNC_DNS_SERVER", "nope")]))
            .expect_err("server");
        assert!(e.to_string().starts_with("ALBSYNC_DNS_SERVER: \"nope\""), "{e}");
        let e = DiffConfig::from_env(&env(&[("ALBSYNC_STATE_BUCKET", "b_b")])).expect_err("bucket");
        assert!(e.to_string().starts_with("ALBSYNC_STATE_BUCKET"), "{e}");
        let e = DiffConfig::from_env(&env(&[("ALBSYNC_STATE_BUCKET", "bucket"), ("ALBSYNC_STATE_PREFIX", "x")]))
            .expect_err("prefix");
        assert!(e.to_string().starts_with("ALBSYNC_STATE_PREFIX"), "{e}");
    }

    #[test]
    fn good_variables_parse() {
        let c = ResolveConfig::from_env(&env(&[
            ("ALBSYNC_METRIC_NAMESPACE", "AlbSync"),
            ("ALBSYNC_DNS_SERVER", "127.0.0.1:5353"),
        ]))
        .expect("valid");
        assert_eq!(c.dns_server, Some("127.0.0.1:5353".parse().expect("addr")));
        let c = DiffConfig::from_env(&env(&[("ALBSYNC_STATE_BUCKET", "state"), ("ALBSYNC_STATE_PREFIX", "albsync/")]))
            .expect("valid");
        assert_eq!(c.prefix, "albsync/");
    }
}
