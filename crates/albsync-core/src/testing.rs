//! Shared fixtures for this crate's tests.

use crate::binding::Binding;

/// A valid binding on port 443 for `alb.test`.
pub(crate) fn binding() -> Binding {
    Binding::from_json(
        r#"{"name":"web","dnsName":"alb.test","port":443,
            "targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
            "vpcCidrs":["10.0.0.0/16"]}"#,
    )
    .unwrap_or_else(|e| panic!("fixture binding: {e}"))
}
