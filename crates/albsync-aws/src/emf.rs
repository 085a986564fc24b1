//! [`Metrics`](crate::Metrics) as CloudWatch Embedded Metric Format (EMF) log lines.
//!
//! Lambda sends whatever a function writes to stdout to CloudWatch Logs, and CloudWatch Logs extracts the
//! metrics of every log event that follows the EMF specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html>).
//! So publishing a metric is one line on stdout: no API call on the request path (a hung CloudWatch call can
//! no longer fail or slow a run), no CloudWatch SDK in the binary, no `cloudwatch:PutMetricData` permission.
//!
//! The document follows
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>:
//! the root holds `_aws` (`Timestamp` in milliseconds since the epoch, `CloudWatchMetrics`: one directive with
//! `Namespace`, `Dimensions` as one dimension set, `Metrics` as name and unit), and every dimension and metric
//! the directive names as a top-level member (dimension values strings, metric values numbers).

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use albsync_core::metrics::{
    BINDING_DIMENSION, DEPLOYMENT_DIMENSION, Figure, UNIT, check_dimension_value, check_namespace,
};
use serde_json::{Map, Value, json};

use crate::Metrics;

/// The EMF document for one binding's figures at `timestamp_ms`.
pub fn document(namespace: &str, deployment: &str, binding: &str, timestamp_ms: u64, figures: &[Figure]) -> Value {
    let definitions: Vec<Value> = figures.iter().map(|(m, _)| json!({ "Name": m.as_str(), "Unit": UNIT })).collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[DEPLOYMENT_DIMENSION, BINDING_DIMENSION]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert(DEPLOYMENT_DIMENSION.into(), Value::from(deployment));
    root.insert(BINDING_DIMENSION.into(), Value::from(binding));
    for (metric, value) in figures {
        root.insert(metric.as_str().into(), Value::from(*value));
    }
    Value::Object(root)
}

/// Writes one EMF line per [`Metrics::publish`] to a sink: stdout in Lambda, a buffer in tests.
#[derive(Debug)]
pub struct EmfMetrics<W> {
    namespace: String,
    deployment: String,
    sink: Mutex<W>,
}

/// What is wrong with the metric settings, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmfConfigError {
    /// The namespace is reserved or malformed.
    #[error("namespace: {0}")]
    Namespace(String),
    /// The deployment cannot be a dimension value.
    #[error("deployment: {0}")]
    Deployment(String),
}

impl EmfMetrics<std::io::Stdout> {
    /// Metrics on stdout, where Lambda collects them.
    pub fn stdout(namespace: &str, deployment: &str) -> Result<Self, EmfConfigError> {
        EmfMetrics::new(namespace, deployment, std::io::stdout())
    }
}

impl<W: Write> EmfMetrics<W> {
    /// Checks the namespace (not `AWS/...`) and the deployment (a valid dimension value).
    pub fn new(namespace: &str, deployment: &str, sink: W) -> Result<Self, EmfConfigError> {
        check_namespace(namespace).map_err(EmfConfigError::Namespace)?;
        check_dimension_value(deployment).map_err(EmfConfigError::Deployment)?;
        Ok(EmfMetrics { namespace: namespace.to_owned(), deployment: deployment.to_owned(), sink: Mutex::new(sink) })
    }

    /// The sink, for tests that read what was written.
    pub fn into_sink(self) -> W {
        self.sink.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<W: Write + Send + std::fmt::Debug> Metrics for EmfMetrics<W> {
    fn publish(&self, binding: &str, figures: &[Figure]) -> std::io::Result<()> {
        if figures.is_empty() {
            return Ok(());
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let timestamp_ms = u64::try_from(now).unwrap_or(u64::MAX);
        let mut line = document(&self.namespace, &self.deployment, binding, timestamp_ms, figures).to_string();
        line.push('\n');
        // One write of the whole line, under the lock: a log event is one line, and the tracing output that
        // shares stdout must not interleave with it.
        let mut sink = self.sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sink.write_all(line.as_bytes())?;
        sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use albsync_core::metrics::Metric;

    #[test]
    fn bad_settings_are_named() {
        let e = EmfMetrics::new("AWS/ApplicationELB", "prod", Vec::new()).expect_err("reserved");
        assert!(e.to_string().starts_with("namespace: "), "{e}");
        let e = EmfMetrics::new("AlbSync", "", Vec::new()).expect_err("empty");
        assert!(e.to_string().starts_with("deployment: "), "{e}");
    }

    #[test]
    fn each_publish_is_one_line_and_nothing_is_written_without_figures() {
        let m = EmfMetrics::new("AlbSync", "prod", Vec::new()).expect("valid");
        m.publish("web", &[(Metric::Drift, 2)]).expect("write");
        m.publish("web", &[]).expect("write");
        m.publish("api", &[(Metric::Drift, 0)]).expect("write");
        let out = String::from_utf8(m.into_sink()).expect("utf-8");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let first: Value = serde_json::from_str(lines[0]).expect("json");
        assert_eq!(first["Drift"], 2);
        assert_eq!(first["Binding"], "web");
    }
}
