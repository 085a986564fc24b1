//! register: adds the plan's new addresses to the target group.

use albsync_aws::{Ec2NetworkInterfaces, NetworkInterfaces, TargetGroup};
use albsync_core::eni::{Addresses, registrable};
use albsync_core::events::{RegisterRequest, RegisterResult};
use albsync_core::target::TargetSpec;

use crate::edge::{FunctionError, parse};

/// What the register handler needs.
#[derive(Debug)]
pub struct Deps<T, I = Ec2NetworkInterfaces> {
    /// The target group.
    pub targets: T,
    /// The ALB's network interfaces, read again for bindings with an `eni` source.
    pub interfaces: I,
}

/// Registers the targets, in chunks, each with the availability zone its address needs. For an ENI-source
/// binding, only those on an interface in use as Register reads them now (`albsync_core::eni::registrable`).
pub async fn handle<T: TargetGroup, I: NetworkInterfaces>(
    deps: &Deps<T, I>,
    event: serde_json::Value,
) -> Result<RegisterResult, FunctionError> {
    let RegisterRequest { binding, targets } = parse(event)?;
    let mut specs = Vec::with_capacity(targets.len());
    for t in targets {
        if !binding.allows(&t.ip) {
            return Err(FunctionError::Foreign { address: t.ip });
        }
        if t.port != binding.port {
            return Err(FunctionError::InvalidInput(format!(
                "target {}:{} is not on port {}",
                t.ip, t.port, binding.port
            )));
        }
        // The zone follows from the binding's VPC ranges; recomputing it here keeps a hand-made event from
        // registering an in-VPC address with zone `all` (which the API refuses) or the other way round.
        specs.push(TargetSpec { ip: t.ip, port: t.port, availability_zone: binding.availability_zone_for(&t.ip) });
    }
    specs.sort();
    specs.dedup();
    let mut skipped = Vec::new();
    if let Some(source) = binding.eni.as_ref().filter(|_| !specs.is_empty()) {
        // A failed read fails the step (retried by the state machine): nothing is registered unchecked.
        let interfaces = deps.interfaces.alb_interfaces(source).await?;
        let check = registrable(specs, &Addresses::of(&binding, &interfaces));
        for (ip, why) in &check.left {
            tracing::info!(binding = %binding.name, %ip, why, "not registered: a later run judges it again");
        }
        skipped = check.left.into_iter().map(|(ip, _)| ip).collect();
        specs = check.act;
    }
    let calls = if specs.is_empty() {
        0
    } else {
        // A target group in another account is changed with the binding's role (albsync_aws::assume).
        let targets = deps.targets.for_role(binding.role_arn.as_ref()).await?;
        targets.register(binding.target_group_arn.as_str(), &specs).await?
    };
    tracing::info!(binding = %binding.name, registered = specs.len(), skipped = skipped.len(), calls, "registered");
    Ok(RegisterResult { registered: specs.len(), calls, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use albsync_aws::AwsError;
    use albsync_core::target::RegisteredTarget;
    use std::sync::Mutex;

    /// Records what would be sent: moto accepts the zone but does not report it back.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<TargetSpec>>);

    impl TargetGroup for Recorder {
        async fn describe(&self, _: &str) -> Result<Vec<RegisteredTarget>, AwsError> {
            Ok(vec![])
        }
        async fn register(&self, _: &str, targets: &[TargetSpec]) -> Result<usize, AwsError> {
            self.0
                .lock()
                .map_err(|_| AwsError::new(albsync_aws::AwsErrorKind::Other, "test", "poisoned"))?
                .extend_from_slice(targets);
            Ok(1)
        }
        async fn deregister(&self, _: &str, _: &[TargetSpec]) -> Result<usize, AwsError> {
            Ok(0)
        }
    }

    /// A binding without an `eni` source never reads interfaces.
    #[derive(Debug)]
    struct NoInterfaces;

    impl NetworkInterfaces for NoInterfaces {
        async fn alb_interfaces(
            &self,
            _: &albsync_core::eni::EniSource,
        ) -> Result<Vec<albsync_core::eni::Interface>, AwsError> {
            Err(AwsError::new(albsync_aws::AwsErrorKind::Other, "test", "a DNS-only binding read interfaces"))
        }
    }

    #[tokio::test]
    async fn the_zone_follows_the_vpc_ranges_whatever_the_event_says() {
        let deps = Deps { targets: Recorder::default(), interfaces: NoInterfaces };
        let event = serde_json::json!({
            "binding": {"name": "web", "dnsName": "alb.test", "port": 443, "vpcCidrs": ["10.0.0.0/16"],
                        "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"},
            "targets": [{"ip": "10.0.0.5", "port": 443, "availabilityZone": "all"}, {"ip": "10.9.0.5", "port": 443}]
        });
        handle(&deps, event).await.expect("registers");
        let sent = deps.targets.0.lock().expect("lock").clone();
        let zones: Vec<_> = sent.iter().map(|t| (t.ip.to_string(), t.availability_zone.clone())).collect();
        assert_eq!(zones, vec![("10.0.0.5".into(), None), ("10.9.0.5".into(), Some("all".into()))]);
    }
}
