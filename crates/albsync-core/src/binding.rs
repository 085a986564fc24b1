//! A binding: one DNS name kept in sync with one target group on one port, and its validation.
//!
//! Bindings arrive as JSON (the execution input of the state machine, the CLI, the CDK schedule). Parsing
//! validates every field and fills the documented defaults, so every later step works on a binding that is
//! known to be sound; an error names the field and the bad value.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Default number of consecutive runs an address must be missing before it is deregistered.
pub const DEFAULT_GRACE_RUNS: u32 = 3;

/// Default length of a schedule slot in seconds: the schedule starts one execution a minute, so a minute is
/// one look. Grace is counted at most once per slot, whatever number of executions run in it.
pub const DEFAULT_SLOT_SECONDS: u32 = 60;

/// The address family a binding resolves and registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// A records.
    #[default]
    Ipv4,
    /// AAAA records.
    Ipv6,
}

impl Family {
    /// Whether `ip` belongs to this family.
    pub fn contains(self, ip: &IpAddr) -> bool {
        matches!((self, ip), (Family::Ipv4, IpAddr::V4(_)) | (Family::Ipv6, IpAddr::V6(_)))
    }

    /// The ranges an NLB accepts as IP targets outside the VPC, used when `allowedCidrs` is not given.
    /// None for IPv6: an ALB's IPv6 addresses are global unicast addresses from the VPC's own IPv6 CIDRs,
    /// which no built-in range can know, so an IPv6 binding must list them.
    pub fn default_allowed(self) -> Vec<IpNet> {
        let texts: &[&str] = match self {
            Family::Ipv4 => &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"],
            Family::Ipv6 => &[],
        };
        texts.iter().filter_map(|t| t.parse().ok()).collect()
    }
}

/// The resolve function's timeout (the CDK app sets 50 s): a binding's lookup limits must fit in it.
pub const RESOLVE_FUNCTION_TIMEOUT_MS: u32 = 50_000;

/// What a resolve invocation keeps back for returning its result.
pub const RESOLVE_MARGIN_MS: u32 = 1_000;

/// Whom the resolver asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LookupMode {
    /// The configured resolver (`ALBSYNC_DNS_SERVER`, else the system's: in a VPC, the VPC resolver, which
    /// caches for the 60 s TTL). Reachable everywhere, so the default; caching is detected and counted.
    #[default]
    Resolver,
    /// The name's zone's authoritative name servers, found through the resolver and asked directly in turn:
    /// fresh answers every query. Needs a route to them (internet access or a NAT gateway).
    Authoritative,
}

/// How hard the resolver looks for addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LookupLimits {
    /// Query budget for one run (all queries, including retries of failed ones).
    pub max_queries: u32,
    /// Sampling stops once every expected address is seen and this many answers in a row brought nothing new.
    pub settle_queries: u32,
    /// Timeout of one query in milliseconds.
    pub timeout_ms: u32,
    /// Whom to ask.
    #[serde(default)]
    pub mode: LookupMode,
    /// How many LookAgain passes one execution may make after the first resolve (0..=3).
    #[serde(default = "default_look_again")]
    pub look_again: u32,
}

fn default_look_again() -> u32 {
    crate::evidence::DEFAULT_LOOK_AGAIN
}

impl Default for LookupLimits {
    fn default() -> Self {
        LookupLimits {
            max_queries: 200,
            settle_queries: 10,
            timeout_ms: 2000,
            mode: LookupMode::Resolver,
            look_again: default_look_again(),
        }
    }
}

/// A target group ARN, checked and split into the parts the state key uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetGroupArn {
    raw: String,
    name: String,
    id: String,
}

impl TargetGroupArn {
    /// The ARN as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The target group's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The target group's id (the last ARN segment).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl FromStr for TargetGroupArn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("{s:?} is not a target group ARN: {why}");
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            return Err(bad("expected arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID"));
        }
        if !parts[1].starts_with("aws") {
            return Err(bad("unknown partition"));
        }
        if parts[2] != "elasticloadbalancing" {
            return Err(bad("service is not elasticloadbalancing"));
        }
        if parts[3].is_empty() || !parts[3].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(bad("bad region"));
        }
        if parts[4].len() != 12 || !parts[4].chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("account is not 12 digits"));
        }
        let resource: Vec<&str> = parts[5].split('/').collect();
        let [kind, name, id] = resource.as_slice() else {
            return Err(bad("resource is not targetgroup/NAME/ID"));
        };
        if *kind != "targetgroup" {
            return Err(bad("resource is not a targetgroup"));
        }
        let name_ok =
            !name.is_empty() && name.len() <= 32 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name_ok {
            return Err(bad("bad target group name"));
        }
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad("bad target group id"));
        }
        Ok(TargetGroupArn { raw: s.to_owned(), name: (*name).to_owned(), id: (*id).to_owned() })
    }
}

impl fmt::Display for TargetGroupArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for TargetGroupArn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for TargetGroupArn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`) of the target group's account.
///
/// ELB has no resource-based policies: another account's target group can be changed only with credentials of
/// that account, so the role must be in the target group's account and trust the functions' roles.
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_cross-account-with-roles.html
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/security_iam_service-with-iam.html
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleArn(String);

impl RoleArn {
    /// The ARN as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The role's account.
    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }

    /// Checks `text` as a role ARN of the account that owns `target_group`.
    fn for_target_group(text: &str, target_group: &TargetGroupArn) -> Result<RoleArn, BindingError> {
        let role: RoleArn = text.parse().map_err(|e| invalid("roleArn", e))?;
        let tg_account = target_group.as_str().split(':').nth(4).unwrap_or_default();
        if role.account() != tg_account {
            return Err(invalid(
                "roleArn",
                format!(
                    "{text:?} is in account {}, the target group in {tg_account}: ELB has no resource policies, so \
                     the role must be in the target group's account",
                    role.account()
                ),
            ));
        }
        Ok(role)
    }
}

impl FromStr for RoleArn {
    type Err = String;

    /// Role names: 1-64 of `A-Za-z0-9+=,.@_-`; paths: `/`-separated segments of printable ASCII.
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("{s:?} is not an IAM role ARN: {why}");
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            return Err(bad("expected arn:PARTITION:iam::ACCOUNT:role/NAME"));
        }
        if !parts[1].starts_with("aws") {
            return Err(bad("unknown partition"));
        }
        if parts[2] != "iam" {
            return Err(bad("service is not iam"));
        }
        if !parts[3].is_empty() {
            return Err(bad("IAM ARNs have no region"));
        }
        if parts[4].len() != 12 || !parts[4].chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("account is not 12 digits"));
        }
        let Some(path_and_name) = parts[5].strip_prefix("role/") else {
            return Err(bad("resource is not role/NAME"));
        };
        let name = path_and_name.rsplit('/').next().unwrap_or_default();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !name_ok {
            return Err(bad("the role name must be 1-64 characters of A-Z, a-z, 0-9 and +=,.@_-"));
        }
        if path_and_name.len() > 512 + 64 || !path_and_name.chars().all(|c| c.is_ascii_graphic()) {
            return Err(bad("bad role path"));
        }
        Ok(RoleArn(s.to_owned()))
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RoleArn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoleArn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What is wrong with a binding: the field, the value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("binding field `{field}`: {problem}")]
pub struct BindingError {
    /// The JSON field name (camelCase), as users write it.
    pub field: &'static str,
    /// What is wrong, naming the bad value.
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> BindingError {
    BindingError { field, problem: problem.into() }
}

/// One thing to keep in sync, validated, with every default filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawBinding")]
pub struct Binding {
    /// Short name: metric dimension, schedule name, CLI argument.
    pub name: String,
    /// The DNS name to resolve (lower case, no trailing dot).
    pub dns_name: String,
    /// Port the targets are registered on.
    pub port: u16,
    /// The NLB's IP target group.
    pub target_group_arn: TargetGroupArn,
    /// Consecutive runs without an address before it is deregistered.
    pub grace_runs: u32,
    /// Resolved addresses must lie in one of these; anything else is refused.
    pub allowed_cidrs: Vec<IpNet>,
    /// The target group's VPC: addresses outside are registered with `AvailabilityZone: all`.
    pub vpc_cidrs: Vec<IpNet>,
    /// A or AAAA.
    pub family: Family,
    /// Resolver limits.
    pub lookup: LookupLimits,
    /// Explicit cap on deregistrations per run; `None` means half of the registered targets, at least one.
    pub max_deregistrations_per_run: Option<u32>,
    /// An address is removed only when it was first missed at least this long ago (as well as `graceRuns`
    /// looks). Default: `graceRuns` x `slotSeconds`.
    pub grace_seconds: u32,
    /// Length of a schedule slot: grace is counted at most once per slot. Default 60 (the schedule's rate).
    pub slot_seconds: u32,
    /// The ALB's network interfaces as a second source (same-account ALBs); `None`: DNS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni: Option<crate::eni::EniSource>,
    /// A role in the target group's account, for a target group in another account: diff, register and
    /// deregister call ELB with its credentials. `None`: the functions' own role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<RoleArn>,
}

/// The wire form, before validation. Numbers are wide so that an out-of-range value gets our message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawBinding {
    name: String,
    dns_name: String,
    port: i64,
    target_group_arn: String,
    #[serde(default)]
    grace_runs: Option<i64>,
    #[serde(default)]
    allowed_cidrs: Option<Vec<String>>,
    vpc_cidrs: Vec<String>,
    #[serde(default)]
    family: Option<Family>,
    #[serde(default)]
    lookup: Option<RawLookup>,
    #[serde(default)]
    max_deregistrations_per_run: Option<i64>,
    #[serde(default)]
    grace_seconds: Option<i64>,
    #[serde(default)]
    slot_seconds: Option<i64>,
    eni: Option<crate::eni::EniSource>,
    #[serde(default)]
    role_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawLookup {
    #[serde(default)]
    max_queries: Option<i64>,
    #[serde(default)]
    settle_queries: Option<i64>,
    #[serde(default)]
    timeout_ms: Option<i64>,
    #[serde(default)]
    mode: Option<LookupMode>,
    #[serde(default)]
    look_again: Option<i64>,
}

fn in_range(field: &'static str, v: i64, lo: i64, hi: i64) -> Result<u32, BindingError> {
    if v < lo || v > hi {
        return Err(invalid(field, format!("{v} is out of range {lo}..={hi}")));
    }
    u32::try_from(v).map_err(|_| invalid(field, format!("{v} is out of range {lo}..={hi}")))
}

fn parse_cidrs(field: &'static str, texts: &[String]) -> Result<Vec<IpNet>, BindingError> {
    texts
        .iter()
        .map(|t| {
            let net: IpNet = t.parse().map_err(|_| invalid(field, format!("{t:?} is not a CIDR block")))?;
            if net != net.trunc() {
                return Err(invalid(field, format!("{t:?} has host bits set (did you mean {}?)", net.trunc())));
            }
            Ok(net)
        })
        .collect()
}

/// Checks a DNS name and returns it in canonical form (lower case, no trailing dot).
pub fn canonical_dns_name(name: &str) -> Result<String, String> {
    let n = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if n.is_empty() || n.len() > 253 {
        return Err(format!("{name:?} is not a DNS name (length)"));
    }
    for label in n.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("{name:?} is not a DNS name (label {label:?})"));
        }
    }
    Ok(n)
}

impl TryFrom<RawBinding> for Binding {
    type Error = BindingError;

    fn try_from(raw: RawBinding) -> Result<Self, Self::Error> {
        let name_ok = !raw.name.is_empty()
            && raw.name.len() <= 48
            && raw.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(invalid("name", format!("{:?} must be 1-48 characters of a-z, 0-9 and -", raw.name)));
        }
        let dns_name = canonical_dns_name(&raw.dns_name).map_err(|e| invalid("dnsName", e))?;
        let port = in_range("port", raw.port, 1, 65535)?;
        let port = u16::try_from(port).map_err(|_| invalid("port", format!("{} is not a port", raw.port)))?;
        let target_group_arn: TargetGroupArn =
            raw.target_group_arn.parse().map_err(|e| invalid("targetGroupArn", e))?;
        let grace_runs = match raw.grace_runs {
            Some(v) => in_range("graceRuns", v, 1, 1000)?,
            None => DEFAULT_GRACE_RUNS,
        };
        let family = raw.family.unwrap_or_default();
        let allowed_cidrs = match raw.allowed_cidrs {
            Some(list) if list.is_empty() => {
                return Err(invalid("allowedCidrs", "is empty: no address could ever be registered"));
            }
            Some(list) => parse_cidrs("allowedCidrs", &list)?,
            None if family == Family::Ipv6 => {
                return Err(invalid(
                    "allowedCidrs",
                    "is required for family ipv6: list the VPC's IPv6 CIDR(s); an ALB's IPv6 addresses are \
                     global unicast addresses, outside any built-in range",
                ));
            }
            None => family.default_allowed(),
        };
        let vpc_cidrs = parse_cidrs("vpcCidrs", &raw.vpc_cidrs)?;
        let defaults = LookupLimits::default();
        let lookup = match raw.lookup {
            None => defaults,
            Some(l) => LookupLimits {
                max_queries: match l.max_queries {
                    Some(v) => in_range("lookup.maxQueries", v, 1, 2000)?,
                    None => defaults.max_queries,
                },
                settle_queries: match l.settle_queries {
                    Some(v) => in_range("lookup.settleQueries", v, 1, 200)?,
                    None => defaults.settle_queries,
                },
                timeout_ms: match l.timeout_ms {
                    Some(v) => in_range("lookup.timeoutMs", v, 50, 30_000)?,
                    None => defaults.timeout_ms,
                },
                mode: l.mode.unwrap_or_default(),
                look_again: match l.look_again {
                    Some(v) => in_range("lookup.lookAgain", v, 0, 3)?,
                    None => defaults.look_again,
                },
            },
        };
        // The resolver stops at the invocation's deadline, so the query budget may exceed it; but one
        // all. query and one plain query must fit, or every run against a slow server ends in a timeout.
        let needed = lookup.timeout_ms.saturating_mul(2).saturating_add(RESOLVE_MARGIN_MS);
        if needed > RESOLVE_FUNCTION_TIMEOUT_MS {
            return Err(invalid(
                "lookup.timeoutMs",
                format!(
                    "{} ms cannot fit: 2 queries (all. and the plain name) of up to {} ms plus {} ms margin \
                     need {needed} ms, more than the resolve function's timeout of {} ms",
                    lookup.timeout_ms, lookup.timeout_ms, RESOLVE_MARGIN_MS, RESOLVE_FUNCTION_TIMEOUT_MS
                ),
            ));
        }
        let max_deregistrations_per_run = match raw.max_deregistrations_per_run {
            Some(v) => Some(in_range("maxDeregistrationsPerRun", v, 1, 1000)?),
            None => None,
        };
        let slot_seconds = match raw.slot_seconds {
            Some(v) => in_range("slotSeconds", v, 1, 3600)?,
            None => DEFAULT_SLOT_SECONDS,
        };
        let grace_seconds = match raw.grace_seconds {
            Some(v) => in_range("graceSeconds", v, 1, 604_800)?,
            None => grace_runs.saturating_mul(slot_seconds),
        };
        let role_arn = match raw.role_arn {
            Some(text) => Some(RoleArn::for_target_group(&text, &target_group_arn)?),
            None => None,
        };
        Ok(Binding {
            name: raw.name,
            dns_name,
            port,
            target_group_arn,
            grace_runs,
            allowed_cidrs,
            vpc_cidrs,
            family,
            lookup,
            max_deregistrations_per_run,
            grace_seconds,
            slot_seconds,
            eni: raw.eni,
            role_arn,
        })
    }
}

impl Binding {
    /// Parses and validates a binding from JSON; the error names the field and the value.
    pub fn from_json(text: &str) -> Result<Binding, String> {
        // Validation errors name their field already; a JSON type error (a string where a number belongs) gets
        // the path of the field it was found in.
        let mut de = serde_json::Deserializer::from_str(text);
        let binding = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path.is_empty() || path == "." || inner.starts_with("binding field") {
                inner
            } else {
                format!("binding field `{path}`: {inner}")
            }
        })?;
        de.end().map_err(|e| e.to_string())?;
        Ok(binding)
    }

    /// Whether `target` is a live target of this binding: on its port and not on its way out (draining). The
    /// one definition the diff, the ENI rules, the rails' inputs and the CLI's views share.
    pub fn is_live(&self, target: &crate::target::RegisteredTarget) -> bool {
        target.port == self.port && !target.state.is_leaving()
    }

    /// Whether DNS may hand us this address.
    pub fn allows(&self, ip: &IpAddr) -> bool {
        self.family.contains(ip) && self.allowed_cidrs.iter().any(|n| n.contains(ip))
    }

    /// The availability zone to register `ip` with: none inside the VPC, `all` outside (AWS rejects the
    /// other way round in both cases).
    pub fn availability_zone_for(&self, ip: &IpAddr) -> Option<String> {
        if self.vpc_cidrs.iter().any(|n| n.contains(ip)) { None } else { Some("all".to_owned()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_error_names_the_field_it_is_in() {
        let text =
            format!(r#"{{"name":"web","dnsName":"alb.test","port":"443","targetGroupArn":"{ARN}","vpcCidrs":[]}}"#);
        let err = Binding::from_json(&text).expect_err("a string port");
        assert!(err.starts_with("binding field `port`: invalid type: string \"443\""), "{err}");
        let text = format!(
            r#"{{"name":"web","dnsName":"alb.test","port":443,"targetGroupArn":"{ARN}","vpcCidrs":[],"lookup":{{"maxQueries":"x"}}}}"#
        );
        let err = Binding::from_json(&text).expect_err("a string in lookup");
        assert!(err.starts_with("binding field `lookup.maxQueries`:"), "{err}");
    }

    pub(crate) const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

    fn json(extra: &str) -> String {
        format!(
            r#"{{"name":"web","dnsName":"Internal-Web.example.COM.","port":443,"targetGroupArn":"{ARN}","vpcCidrs":["10.0.0.0/16"]{extra}}}"#
        )
    }

    #[test]
    fn minimal_binding_gets_documented_defaults() {
        let b = Binding::from_json(&json("")).expect("valid");
        assert_eq!(b.dns_name, "internal-web.example.com");
        assert_eq!(b.grace_runs, 3);
        assert_eq!(b.family, Family::Ipv4);
        assert_eq!(b.allowed_cidrs.len(), 4);
        assert_eq!(b.lookup, LookupLimits::default());
        assert_eq!(b.max_deregistrations_per_run, None);
        assert_eq!((b.slot_seconds, b.grace_seconds), (60, 180), "grace in time defaults to graceRuns slots");
        let b = Binding::from_json(&json(r#","graceRuns":2,"slotSeconds":1"#)).expect("valid");
        assert_eq!((b.slot_seconds, b.grace_seconds), (1, 2));
        assert_eq!(b.target_group_arn.name(), "web");
        assert_eq!(b.target_group_arn.id(), "0123456789abcdef");
    }

    #[test]
    fn serialized_binding_parses_back_identical() {
        let b = Binding::from_json(&json(r#","graceRuns":5,"lookup":{"maxQueries":30}"#)).expect("valid");
        let text = serde_json::to_string(&b).expect("serializes");
        assert_eq!(Binding::from_json(&text).expect("round trip"), b);
    }

    #[test]
    fn each_bad_field_is_named_with_its_value() {
        let cases = [
            (json(r#","graceRuns":0"#), "graceRuns", "0"),
            (json(r#","allowedCidrs":["10.0.0.1/8"]"#), "allowedCidrs", "10.0.0.1/8"),
            (json(r#","allowedCidrs":[]"#), "allowedCidrs", "empty"),
            (json(r#","lookup":{"timeoutMs":5}"#), "lookup.timeoutMs", "5"),
            (json(r#","lookup":{"timeoutMs":30000}"#), "lookup.timeoutMs", "50000 ms"),
            (json(r#","lookup":{"lookAgain":4}"#), "lookup.lookAgain", "4"),
            (json(r#","lookup":{"mode":"recursive"}"#), "recursive", "unknown variant"),
            (json(r#","family":"ipv6""#), "allowedCidrs", "IPv6 CIDR"),
            (json(r#","maxDeregistrationsPerRun":0"#), "maxDeregistrationsPerRun", "0"),
            (json(r#","graceSeconds":0"#), "graceSeconds", "0"),
            (json(r#","slotSeconds":7200"#), "slotSeconds", "7200"),
            (json(r#","gracRuns":2"#), "gracRuns", "unknown field"),
            (json("").replace("443", "70000"), "port", "70000"),
            (json("").replace("\"web\"", "\"Web App\""), "name", "Web App"),
            (json("").replace("Internal-Web.example.COM.", "bad..name"), "dnsName", "bad..name"),
            (json("").replace("targetgroup/web", "loadbalancer/web"), "targetGroupArn", "targetgroup"),
            (json("").replace("123456789012", "1234"), "targetGroupArn", "12 digits"),
        ];
        for (text, field, value) in cases {
            let err = Binding::from_json(&text).expect_err(&text);
            assert!(err.contains(field) && err.contains(value), "{text} -> {err}");
        }
    }

    #[test]
    fn a_role_of_the_target_groups_account_is_kept_and_serialized_back() {
        let role = "arn:aws:iam::123456789012:role/ops/albsync-target-access";
        let b = Binding::from_json(&json(&format!(r#","roleArn":"{role}""#))).expect("valid");
        assert_eq!(b.role_arn.as_ref().map(RoleArn::as_str), Some(role));
        assert_eq!(b.role_arn.as_ref().map(RoleArn::account), Some("123456789012"));
        let text = serde_json::to_string(&b).expect("serializes");
        assert!(text.contains(&format!(r#""roleArn":"{role}""#)), "{text}");
        assert_eq!(Binding::from_json(&text).expect("round trip"), b);
        // Absent: no field in the output, the functions' own credentials.
        let plain = Binding::from_json(&json("")).expect("valid");
        assert_eq!(plain.role_arn, None);
        assert!(!serde_json::to_string(&plain).expect("serializes").contains("roleArn"));
    }

    #[test]
    fn a_bad_role_arn_is_an_error_naming_role_arn_and_why() {
        let cases = [
            ("arn:aws:iam::123456789012:user/bob", "not role/NAME"),
            ("arn:aws:iam::1234:role/x", "12 digits"),
            ("arn:aws:iam:us-east-1:123456789012:role/x", "no region"),
            ("arn:aws:sts::123456789012:assumed-role/x/y", "not iam"),
            ("arn:aws:iam::123456789012:role/", "1-64 characters"),
            ("arn:aws:iam::123456789012:role/has space", "1-64 characters"),
            ("role-name", "expected arn:PARTITION:iam::ACCOUNT:role/NAME"),
            ("arn:aws:iam::210987654321:role/x", "must be in the target group's account"),
        ];
        for (role, why) in cases {
            let err = Binding::from_json(&json(&format!(r#","roleArn":"{role}""#))).expect_err(role);
            assert!(err.starts_with("binding field `roleArn`: "), "{role} -> {err}");
            assert!(err.contains(why), "{role} -> {err}");
        }
        let err = Binding::from_json(&json(r#","roleArn":7"#)).expect_err("a number");
        assert!(err.starts_with("binding field `roleArn`:"), "{err}");
    }

    #[test]
    fn missing_vpc_cidrs_is_an_error_not_a_default() {
        let text = json("").replace(r#","vpcCidrs":["10.0.0.0/16"]"#, "");
        let err = Binding::from_json(&text).expect_err("vpcCidrs is required");
        assert!(err.contains("vpcCidrs"), "{err}");
    }

    #[test]
    fn an_ipv6_binding_with_its_vpc_ranges_allows_global_addresses() {
        let b = Binding::from_json(&json(r#","family":"ipv6","allowedCidrs":["2600:1f18:1234:5600::/56"]"#))
            .expect("valid");
        assert!(b.allows(&"2600:1f18:1234:5600::10".parse().expect("ip")));
        assert!(!b.allows(&"2600:1f18:9999::10".parse().expect("ip")));
        assert!(!b.allows(&"10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn the_lookup_mode_defaults_to_the_resolver_and_look_again_to_once() {
        let b = Binding::from_json(&json("")).expect("valid");
        assert_eq!(b.lookup.mode, LookupMode::Resolver);
        assert_eq!(b.lookup.look_again, 1);
        let b = Binding::from_json(&json(r#","lookup":{"mode":"authoritative","lookAgain":0}"#)).expect("valid");
        assert_eq!(b.lookup.mode, LookupMode::Authoritative);
        assert_eq!(b.lookup.look_again, 0);
    }

    #[test]
    fn addresses_outside_the_vpc_get_zone_all() {
        let b = Binding::from_json(&json("")).expect("valid");
        assert_eq!(b.availability_zone_for(&"10.0.3.4".parse().expect("ip")), None);
        assert_eq!(b.availability_zone_for(&"10.9.3.4".parse().expect("ip")).as_deref(), Some("all"));
    }

    #[test]
    fn public_and_wrong_family_addresses_are_not_allowed() {
        let b = Binding::from_json(&json("")).expect("valid");
        assert!(b.allows(&"172.20.1.1".parse().expect("ip")));
        assert!(!b.allows(&"8.8.8.8".parse().expect("ip")));
        assert!(!b.allows(&"fd00::1".parse().expect("ip")));
    }
}
