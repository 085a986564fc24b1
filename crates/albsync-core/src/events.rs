//! The JSON events and results of the four functions: the contract with the state machine definition.
//!
//! Field names are camelCase as they appear in `statemachine/albsync.asl.json`; fixtures under
//! `tests/fixtures/` round-trip through these types.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::binding::Binding;
use crate::evidence::{self, CarriedEvidence, Resolution};
use crate::plan::{Counted, Plan};
use crate::target::TargetSpec;

/// How the addresses were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `all.<name>` answered every address in one response, checked against the plain name: complete for
    /// finding addresses (an absence from it is still settled only by the plain name's answers).
    All,
    /// Repeated queries of the name, unioned.
    Sampled,
}

/// What DNS answered in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// Every address seen.
    pub addresses: BTreeSet<IpAddr>,
    /// How they were found.
    pub strategy: Strategy,
    /// Queries made in this run (all passes).
    pub queries: u32,
    /// Addresses the resolver was asked to look for specifically.
    #[serde(default)]
    pub sought: BTreeSet<IpAddr>,
    /// The sought addresses it saw.
    #[serde(default)]
    pub confirmed: BTreeSet<IpAddr>,
    /// How far the answers can be trusted (independent answers, cached, complete, fallback reason).
    #[serde(default)]
    pub resolution: Resolution,
}

impl Resolved {
    /// Whether the absence of `ip` from this run's answers is settled (the rule of [`crate::evidence`]):
    /// an answer was complete (below the per-answer maximum), or the resolver
    /// looked for this very address and the independent answers make it very unlikely that a live address
    /// was absent from all of them. Otherwise the absence is unconfirmed: neither counted nor reset.
    pub fn looked_for(&self, ip: &IpAddr) -> bool {
        if self.resolution.complete {
            return true;
        }
        if !self.sought.contains(ip) {
            return false;
        }
        // Every address that may be live: answered ones and those looked for.
        let n = self.addresses.union(&self.sought).count();
        let r = &self.resolution;
        evidence::absence_settled(false, n, r.largest_answer as usize, r.independent_answers)
    }
}

/// Input of the resolve function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolveEvent {
    /// The binding (the execution input).
    pub binding: Binding,
    /// Addresses to look for specifically (a second pass asks for the diff's `unconfirmed`).
    #[serde(default)]
    pub expected: Vec<IpAddr>,
    /// The first pass's result, merged into this one.
    #[serde(default)]
    pub previous: Option<Resolved>,
}

/// Input of the diff function: compute a plan, or save the run's new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum DiffEvent {
    /// Read the target group and the state document, and plan.
    Plan(PlanRequest),
    /// Write the new state document, conditional on the ETag the plan read.
    Save(SaveRequest),
}

/// The `plan` operation's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRequest {
    /// The binding.
    pub binding: Binding,
    /// What DNS answered.
    pub resolved: Resolved,
    /// The execution's name (`$$.Execution.Name`): the trigger names runs after an interface creation
    /// `eni-created-...`, and those wait for the new interface (see `albsync_core::eni::settling`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// When the execution started (`$$.Execution.StartTime`, RFC 3339): waiting ends a minute after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

/// The `plan` operation's output: the plan plus the version of the state document it was based on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanResult {
    /// The plan.
    #[serde(flatten)]
    pub plan: Plan,
    /// ETag of the state document read; `None` when there was none (first run).
    pub etag: Option<String>,
}

/// The `save` operation's input: everything the new state document holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveRequest {
    /// The binding.
    pub binding: Binding,
    /// The ETag the plan read; `None` means "create, only if absent".
    pub etag: Option<String>,
    /// Addresses DNS answered in this run.
    pub active: Vec<IpAddr>,
    /// The grace counts after this run, as the state machine computed them.
    #[serde(default)]
    pub counted: Vec<Counted>,
    /// The schedule slot whose look these counts include (the plan's `countedSlot`).
    #[serde(default)]
    pub counted_slot: Option<u64>,
    /// Counts of addresses this run could not settle (the plan's `held`): kept as they were.
    #[serde(default)]
    pub held: Vec<Counted>,
    /// The absence evidence for the next run (the plan's `evidence`); absent: none.
    #[serde(default)]
    pub evidence: CarriedEvidence,
    /// Who writes (the execution ARN).
    pub execution: String,
}

/// The `save` operation's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveResult {
    /// Object key written.
    pub key: String,
    /// ETag of the new version.
    pub etag: String,
    /// Addresses pending after this run.
    pub pending: usize,
}

/// Input of the register function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// The binding.
    pub binding: Binding,
    /// Targets to register.
    pub targets: Vec<TargetSpec>,
}

/// Output of the register function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResult {
    /// Targets registered.
    pub registered: usize,
    /// RegisterTargets calls made.
    pub calls: usize,
    /// Planned addresses left out because Register's own read of the ALB's interfaces found none in use for
    /// them (ENI source): a later run judges them again.
    #[serde(default)]
    pub skipped: Vec<IpAddr>,
}

/// Input of the deregister function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeregisterRequest {
    /// The binding.
    pub binding: Binding,
    /// The grace counts of this run; those marked `expired` are deregistered.
    pub counted: Vec<Counted>,
    /// Addresses DNS answered in this run: never deregistered, whatever the counts say.
    pub active: Vec<IpAddr>,
    /// The ETag SaveState wrote: nothing is removed unless the state document is still at this version.
    pub etag: String,
    /// The execution that saved it (for the log).
    pub execution: String,
}

/// Output of the deregister function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeregisterResult {
    /// Targets deregistered.
    pub deregistered: usize,
    /// DeregisterTargets calls made.
    pub calls: usize,
    /// Expired targets over this run's cap: still counted, removed by a later run.
    #[serde(default)]
    pub held_back: Vec<IpAddr>,
    /// Expired addresses left registered because Deregister's own read of the ALB's interfaces found them on
    /// an interface in use (ENI source): a new node took the address since Diff read the interfaces.
    #[serde(default)]
    pub spared: Vec<IpAddr>,
}
