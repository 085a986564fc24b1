//! The in-sync metrics: their names, unit and dimensions, and the figures a run reports.
//!
//! These names are a public contract, like the error names: the CDK alarms and dashboard and operators'
//! queries use them. `statemachine/metrics.json` is generated from [`Metric::ALL`] (a test fails when it is
//! stale), so the CDK app can check that it references exactly these names and dimensions.
//!
//! Every metric has the unit `Count` and the dimensions [`DEPLOYMENT_DIMENSION`] and [`BINDING_DIMENSION`].

use std::fmt;

use crate::plan::Plan;
use crate::target::{HealthState, RegisteredTarget};

/// The dimension naming the deployment (the CDK stack), so that two deployments in one account never mix.
pub const DEPLOYMENT_DIMENSION: &str = "Deployment";
/// The dimension naming the binding.
pub const BINDING_DIMENSION: &str = "Binding";
/// The CloudWatch unit of every albsync metric.
pub const UNIT: &str = "Count";

/// One metric albsync publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Addresses DNS answered (resolve function).
    ResolvedAddresses,
    /// Targets on the binding's port that count as registered, draining ones excluded (diff function).
    RegisteredTargets,
    /// Of those, the targets the target group reports `healthy` (diff function).
    HealthyTargets,
    /// Registered addresses counting towards removal after this run (diff function).
    PendingAddresses,
    /// The highest miss count among them after this run, 0 when none (diff function).
    MaxPendingMisses,
    /// Addresses answered but not registered plus registered ones not answered: 0 when in sync (diff function).
    Drift,
}

impl Metric {
    /// Every metric, in the order of the documentation table.
    pub const ALL: [Metric; 6] = [
        Metric::ResolvedAddresses,
        Metric::RegisteredTargets,
        Metric::HealthyTargets,
        Metric::PendingAddresses,
        Metric::MaxPendingMisses,
        Metric::Drift,
    ];

    /// The CloudWatch metric name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Metric::ResolvedAddresses => "ResolvedAddresses",
            Metric::RegisteredTargets => "RegisteredTargets",
            Metric::HealthyTargets => "HealthyTargets",
            Metric::PendingAddresses => "PendingAddresses",
            Metric::MaxPendingMisses => "MaxPendingMisses",
            Metric::Drift => "Drift",
        }
    }

    /// The function that publishes it.
    pub const fn function(self) -> &'static str {
        match self {
            Metric::ResolvedAddresses => "albsync-resolve",
            _ => "albsync-diff",
        }
    }

    /// One line for people: what it counts.
    pub const fn meaning(self) -> &'static str {
        match self {
            Metric::ResolvedAddresses => "addresses DNS answered in this pass",
            Metric::RegisteredTargets => "targets on the binding's port that count as registered (draining excluded)",
            Metric::HealthyTargets => "registered targets the target group reports healthy",
            Metric::PendingAddresses => "registered addresses counting towards removal after this run",
            Metric::MaxPendingMisses => "the highest miss count among the pending addresses after this run (0: none)",
            Metric::Drift => "addresses answered but not registered plus registered ones not answered (0: in sync)",
        }
    }

    /// The JSON list published beside the state machine definition for the CDK tests and tools.
    pub fn catalogue_json() -> String {
        let metrics: Vec<serde_json::Value> = Metric::ALL
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.as_str(),
                    "unit": UNIT,
                    "function": m.function(),
                    "meaning": m.meaning(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "dimensions": [DEPLOYMENT_DIMENSION, BINDING_DIMENSION],
            "metrics": metrics,
        });
        let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
        out.push('\n');
        out
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric and its value for one run.
pub type Figure = (Metric, u64);

/// What the diff reports about a final plan (one with nothing left unconfirmed): how far the target group is
/// from the answer. `registered` is the target group as DescribeTargetHealth returned it.
pub fn plan_figures(plan: &Plan, registered: &[RegisteredTarget], port: u16) -> Vec<Figure> {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let healthy = registered.iter().filter(|t| t.port == port && t.state == HealthState::Healthy).count();
    let max_misses = plan.missing.iter().map(|m| u64::from(m.misses) + 1).max().unwrap_or(0);
    vec![
        (Metric::RegisteredTargets, count(plan.registered_count)),
        (Metric::HealthyTargets, count(healthy)),
        (Metric::PendingAddresses, count(plan.missing.len())),
        (Metric::MaxPendingMisses, max_misses),
        (Metric::Drift, count(plan.register.len() + plan.missing.len() + plan.unconfirmed.len())),
    ]
}

/// Checks a CloudWatch namespace: 1 to 255 ASCII characters, not starting with `:`
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Metric.html>), and not `AWS/...`,
/// which is reserved for AWS services.
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace.starts_with("AWS/") {
        return Err(format!("{namespace:?} is reserved for AWS; custom metrics need a namespace of their own"));
    }
    if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with(':') {
        return Err(format!("{namespace:?} must be 1 to 255 characters and not start with ':'"));
    }
    if !namespace.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(format!("{namespace:?} must be printable ASCII"));
    }
    Ok(())
}

/// Checks a dimension value: printable ASCII with at least one non-space character
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html>), at most 255
/// characters, the limit an alarm's dimension accepts
/// (<https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_cloudwatch.CfnAlarm.DimensionProperty.html>).
pub fn check_dimension_value(value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.len() > 255 {
        return Err(format!("{value:?} must be 1 to 255 characters, not only spaces"));
    }
    if !value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(format!("{value:?} must be printable ASCII"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Resolved, Strategy};
    use crate::plan::plan;
    use crate::testing::binding;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::net::IpAddr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 1, last])
    }

    fn value(figures: &[Figure], metric: Metric) -> u64 {
        figures.iter().find(|(m, _)| *m == metric).map_or_else(|| panic!("{metric} missing"), |(_, v)| *v)
    }

    #[test]
    fn names_are_unique_and_the_diff_reports_every_diff_metric() {
        let names: BTreeSet<_> = Metric::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(names.len(), Metric::ALL.len());
        let b = binding();
        let resolved = Resolved {
            addresses: [ip(1)].into_iter().collect(),
            strategy: Strategy::All,
            queries: 1,
            sought: BTreeSet::new(),
            confirmed: BTreeSet::new(),
            resolution: crate::evidence::Resolution { complete: true, ..Default::default() },
        };
        let figures = plan_figures(&plan(&b, &resolved, &[], None, 1_800_000_000), &[], b.port);
        let reported: BTreeSet<_> = figures.iter().map(|(m, _)| *m).collect();
        let expected: BTreeSet<_> = Metric::ALL.into_iter().filter(|m| m.function() == "albsync-diff").collect();
        assert_eq!(reported, expected);
    }

    #[test]
    fn namespaces_and_dimension_values_are_checked() {
        assert!(check_namespace("AlbSync").is_ok());
        assert!(check_namespace("AWS/ApplicationELB").expect_err("reserved").contains("reserved"));
        assert!(check_namespace("").is_err());
        assert!(check_namespace(":x").is_err());
        assert!(check_namespace(&"n".repeat(256)).is_err());
        assert!(check_dimension_value("albsync-prod").is_ok());
        assert!(check_dimension_value("  ").is_err());
        assert!(check_dimension_value("tab\there").is_err());
        assert!(check_dimension_value("é").is_err());
    }

    proptest! {
        #[test]
        fn drift_is_zero_exactly_when_the_target_group_equals_the_answer(
            dns in proptest::collection::btree_set(0u8..20, 1..10),
            regd in proptest::collection::btree_set(0u8..20, 0..10),
        ) {
            let b = binding();
            let resolved = Resolved {
                addresses: dns.iter().map(|i| ip(*i)).collect(),
                strategy: Strategy::All,
                queries: 1,
                sought: BTreeSet::new(),
                confirmed: BTreeSet::new(),
                resolution: crate::evidence::Resolution { complete: true, ..Default::default() },
            };
            let registered: Vec<RegisteredTarget> = regd
                .iter()
                .map(|i| RegisteredTarget { ip: ip(*i), port: b.port, state: HealthState::Healthy, availability_zone: None })
                .collect();
            let p = plan(&b, &resolved, &registered, None, 1_800_000_000);
            let figures = plan_figures(&p, &registered, b.port);
            let differ = dns.symmetric_difference(&regd).count() as u64;
            prop_assert_eq!(value(&figures, Metric::Drift), differ);
            prop_assert_eq!(value(&figures, Metric::RegisteredTargets), regd.len() as u64);
            prop_assert_eq!(value(&figures, Metric::HealthyTargets), regd.len() as u64);
            let gone = regd.difference(&dns).count() as u64;
            prop_assert_eq!(value(&figures, Metric::PendingAddresses), gone);
            prop_assert_eq!(value(&figures, Metric::MaxPendingMisses), u64::from(gone > 0));
        }
    }
}
