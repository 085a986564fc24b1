//! Targets as the diff sees them: keyed by address and port, with their health state.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The identity of a target in a target group: one address on one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetKey {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
}

/// ELB target health states, as DescribeTargetHealth reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HealthState {
    Initial,
    Healthy,
    Unhealthy,
    UnhealthyDraining,
    Unused,
    Draining,
    Unavailable,
    /// A state this version does not know; counted as registered, which is the cautious reading.
    Unknown,
}

impl HealthState {
    /// Draining targets are on their way out: they do not count as registered, so an address that is back in
    /// DNS gets registered again instead of being left to drain away.
    pub fn is_leaving(self) -> bool {
        matches!(self, HealthState::Draining | HealthState::UnhealthyDraining)
    }

    /// Only a `healthy` target carries traffic for sure: `initial` ones are still being checked (3-5 minutes
    /// behind an NLB), so they do not count when the rails keep the last healthy target.
    pub fn is_healthy(self) -> bool {
        matches!(self, HealthState::Healthy)
    }

    /// Parses the ELB API's spelling (`healthy`, `unhealthy.draining`, ...).
    pub fn from_api(s: &str) -> HealthState {
        match s {
            "initial" => HealthState::Initial,
            "healthy" => HealthState::Healthy,
            "unhealthy" => HealthState::Unhealthy,
            "unhealthy.draining" => HealthState::UnhealthyDraining,
            "unused" => HealthState::Unused,
            "draining" => HealthState::Draining,
            "unavailable" => HealthState::Unavailable,
            _ => HealthState::Unknown,
        }
    }
}

/// A target that DescribeTargetHealth reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredTarget {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
    /// Its health.
    pub state: HealthState,
    /// The zone DescribeTargetHealth reported (`all` for an address outside the VPC), kept so that the
    /// target is deregistered with exactly the description ELB holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

impl RegisteredTarget {
    /// The key of this target.
    pub fn key(&self) -> TargetKey {
        TargetKey { ip: self.ip, port: self.port }
    }

    /// The target description to deregister it with: exactly as read, zone included. The zone "is required"
    /// for an IP outside the VPC and an AZ mismatch means ELB does not find the target
    /// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetDescription.html).
    pub fn description(&self) -> TargetSpec {
        TargetSpec { ip: self.ip, port: self.port, availability_zone: self.availability_zone.clone() }
    }
}

/// A target to register, with the availability zone the API needs for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
    /// `Some("all")` for addresses outside the target group's VPC, `None` inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// At most this many targets go into one RegisterTargets/DeregisterTargets call. The API documents no limit;
/// the AWS Load Balancer Controller uses 200, which keeps each request small and well under any payload limit.
pub const MAX_TARGETS_PER_CALL: usize = 200;

/// Splits a list of targets into API-sized calls.
pub fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    items.chunks(MAX_TARGETS_PER_CALL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn chunks_cover_everything_in_order_and_respect_the_limit(n in 0usize..1000) {
            let items: Vec<usize> = (0..n).collect();
            let parts: Vec<&[usize]> = chunks(&items).collect();
            prop_assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= MAX_TARGETS_PER_CALL));
            prop_assert_eq!(parts.concat(), items.clone());
            prop_assert_eq!(parts.len(), n.div_ceil(MAX_TARGETS_PER_CALL));
        }
    }

    #[test]
    fn draining_states_count_as_leaving() {
        assert!(HealthState::from_api("draining").is_leaving());
        assert!(HealthState::from_api("unhealthy.draining").is_leaving());
        assert!(!HealthState::from_api("initial").is_leaving());
        assert_eq!(HealthState::from_api("something-new"), HealthState::Unknown);
    }
}
