//! diff: the plan of a run, and the conditional save of the state it leaves for the next one.
//!
//! The save is conditional on the version the plan read (`If-Match`, or `If-None-Match: *` on a first run).
//! Only a 412 means another run won. When the document that beat us holds this execution's own id, the
//! winner was an earlier attempt of this very save (an SDK or state-machine retry whose first try
//! committed): that is a success, not a supersession.
//!
//! The plan also makes sure the binding owns its target group + port ([`OwnerRecord`]) before anything can
//! change: on a first run (no state document yet) it claims the record with a conditional create; later runs
//! find the binding's name in the state document and spend no call on it.

use std::time::{SystemTime, UNIX_EPOCH};

use albsync_aws::{
    AwsErrorKind, Ec2NetworkInterfaces, Metrics, NetworkInterfaces, StateStore, TargetGroup, WriteCondition,
};
use albsync_core::eni::{Addresses, CREATED_RUN_PREFIX, Interface, SETTLE_WINDOW_SECS, apply, check_answer, settling};
use albsync_core::events::{DiffEvent, PlanRequest, PlanResult, SaveRequest, SaveResult};
use albsync_core::metrics::plan_figures;
use albsync_core::owner::OwnerRecord;
use albsync_core::plan::Plan;
use albsync_core::plan::{next_first_missed, next_pending, plan};
use albsync_core::state::{StateDocument, rfc3339_utc};
use albsync_core::target::RegisteredTarget;
use albsync_core::{Binding, Resolved};

use crate::edge::{FunctionError, parse};

/// What the diff handler needs.
#[derive(Debug)]
pub struct Deps<T, S, I = Ec2NetworkInterfaces> {
    /// The target group.
    pub targets: T,
    /// The state documents.
    pub store: S,
    /// Key prefix of the state documents.
    pub prefix: String,
    /// Where the in-sync figures of each final plan go (EMF lines on stdout in Lambda).
    pub metrics: Box<dyn Metrics + Send + Sync>,
    /// The ALB's network interfaces, read for bindings with an `eni` source.
    pub interfaces: I,
}

fn check_allowed<'a>(
    binding: &Binding,
    ips: impl IntoIterator<Item = &'a std::net::IpAddr>,
) -> Result<(), FunctionError> {
    match ips.into_iter().find(|ip| !binding.allows(ip)) {
        Some(address) => Err(FunctionError::Foreign { address: *address }),
        None => Ok(()),
    }
}

/// Plans (`op: plan`) or saves (`op: save`).
pub async fn handle<T: TargetGroup, S: StateStore, I: NetworkInterfaces>(
    deps: &Deps<T, S, I>,
    event: serde_json::Value,
) -> Result<serde_json::Value, FunctionError> {
    let out = match parse::<DiffEvent>(event)? {
        DiffEvent::Plan(request) => serde_json::to_value(plan_run(deps, request).await?),
        DiffEvent::Save(request) => serde_json::to_value(save(deps, request).await?),
    };
    out.map_err(|e| FunctionError::InvalidInput(format!("result does not serialize: {e}")))
}

async fn plan_run<T: TargetGroup, S: StateStore, I: NetworkInterfaces>(
    deps: &Deps<T, S, I>,
    request: PlanRequest,
) -> Result<PlanResult, FunctionError> {
    let waiting = within_settle_window(&request);
    let started = started_secs(&request)?;
    let PlanRequest { binding, resolved, .. } = request;
    check_allowed(&binding, &resolved.addresses)?;
    let key = StateDocument::key(&deps.prefix, &binding);
    let interfaces = async {
        match &binding.eni {
            Some(source) => deps.interfaces.alb_interfaces(source).await.map(Some),
            None => Ok(None),
        }
    };
    // A target group in another account is read with the binding's role (albsync_aws::assume).
    let targets = deps.targets.for_role(binding.role_arn.as_ref()).await?;
    let (registered, stored, interfaces) =
        tokio::try_join!(targets.describe(binding.target_group_arn.as_str()), deps.store.read(&key), interfaces)?;
    let (state, etag) = match stored {
        Some(stored) => (Some(StateDocument::parse(&stored.bytes, &key, &binding)?), Some(stored.etag)),
        None => (None, None),
    };
    match &state {
        // A first run: claim the target group + port (or find that this binding already did).
        None => claim_ownership(deps, &binding).await?,
        // The document is keyed by DNS name, target group and port: a document naming another binding means
        // a second binding with this DNS name. The ownership record decides.
        Some(doc) if doc.binding != binding.name => claim_ownership(deps, &binding).await?,
        Some(_) => {}
    }
    let now = unix_now();
    let plan = plan(&binding, &resolved, &registered, state.as_ref(), now);
    // The look belongs to the slot the execution started in; a start ahead of this clock takes the earlier
    // slot, which may already be counted (never count early).
    let plan = match started {
        Some(started) => plan.in_slot_of(started.min(now), binding.slot_seconds, state.as_ref()),
        None => plan,
    };
    // Someone else's targets on our port: never a reason to fail the run, never ours to remove; named here,
    // in the plan result and by `albsync status`.
    for t in &plan.foreign {
        tracing::warn!(binding = %binding.name, ip = %t.ip, port = t.port, zone = ?t.availability_zone, "foreign target: registered on the binding's port outside allowedCidrs; left alone");
    }
    if let (true, Some(source), Some(list)) = (waiting, &binding.eni, &interfaces)
        && let Some(why) = settling(&binding, source, list, &resolved, &registered)
    {
        return Err(FunctionError::InterfacesSettling(why));
    }
    let plan = match interfaces {
        Some(interfaces) => with_interfaces(&binding, &resolved, plan, &interfaces, &registered, state.as_ref())?,
        None => plan,
    };
    tracing::info!(
        binding = %binding.name,
        noop = plan.noop,
        register = plan.register.len(),
        missing = plan.missing.len(),
        unconfirmed = plan.unconfirmed.len(),
        returned = plan.returned.len(),
        forgotten = plan.forgotten.len(),
        registered = plan.registered_count,
        foreign = plan.foreign.len(),
        slot = plan.slot,
        slot_counted = plan.slot_counted,
        "planned"
    );
    // Only a final plan says how far the target group is from the answer: with addresses still unconfirmed
    // the state machine looks again and plans once more, and that plan reports.
    if plan.unconfirmed.is_empty() {
        let figures = plan_figures(&plan, &registered, binding.port);
        if let Err(e) = deps.metrics.publish(&binding.name, &figures) {
            tracing::warn!(binding = %binding.name, "could not write the in-sync metrics: {e}");
        }
    }
    Ok(PlanResult { plan, etag })
}

/// The execution's start (`startedAt`, `$$.Execution.StartTime`) in unix seconds. Absent for a plan made
/// outside a run (the CLI's preview); present but unreadable is bad input, not a reason to guess a slot.
fn started_secs(request: &PlanRequest) -> Result<Option<u64>, FunctionError> {
    let Some(text) = request.started_at.as_deref() else { return Ok(None) };
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp()).ok())
        .map(Some)
        .ok_or_else(|| FunctionError::InvalidInput(format!("startedAt {text:?} is not an RFC 3339 time after 1970")))
}

/// Whether this plan belongs to a run after an interface creation that is still in its settle window. An
/// unreadable start time ends the waiting: a run must never loop for want of a clock.
fn within_settle_window(request: &PlanRequest) -> bool {
    let created_run = request.execution.as_deref().is_some_and(|n| n.starts_with(CREATED_RUN_PREFIX));
    let Some(started) = request.started_at.as_deref().filter(|_| created_run) else { return false };
    match chrono::DateTime::parse_from_rfc3339(started) {
        Ok(t) => {
            let elapsed = chrono::Utc::now().signed_duration_since(t).num_seconds();
            elapsed < i64::try_from(SETTLE_WINDOW_SECS).unwrap_or(i64::MAX)
        }
        Err(e) => {
            tracing::warn!("execution start time {started:?} is not RFC 3339 ({e}): not waiting");
            false
        }
    }
}

/// The ENI source's rules (`albsync_core::eni`) on top of the DNS plan.
fn with_interfaces(
    binding: &Binding,
    resolved: &Resolved,
    plan: Plan,
    interfaces: &[Interface],
    registered: &[RegisteredTarget],
    state: Option<&StateDocument>,
) -> Result<Plan, FunctionError> {
    let Some(source) = &binding.eni else { return Ok(plan) };
    let addresses = Addresses::of(binding, interfaces);
    check_answer(source, resolved, &addresses)?;
    let before = plan.register.len();
    let plan = apply(binding, source, plan, &addresses, registered, state)?;
    tracing::info!(
        binding = %binding.name,
        interfaces = interfaces.len(),
        in_use = addresses.in_use.len(),
        early = plan.register.len().saturating_sub(before),
        "interfaces applied"
    );
    Ok(plan)
}

/// Makes sure `binding` owns its target group + port: creates the ownership record (`If-None-Match: *`, so
/// of two bindings racing for it exactly one wins). A 412 means a record exists (another binding's, or this
/// binding's from an earlier run or an earlier attempt of this call that committed): read it and compare,
/// refusing with [`albsync_core::owner::OwnedByAnother`] when it names another binding.
/// S3 conditional writes: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
async fn claim_ownership<T: TargetGroup, S: StateStore, I>(
    deps: &Deps<T, S, I>,
    binding: &Binding,
) -> Result<(), FunctionError> {
    let key = OwnerRecord::key(&deps.prefix, binding);
    let record = OwnerRecord::new(binding, rfc3339_utc(unix_now()), "albsync diff".to_owned());
    match deps.store.write(&key, record.to_bytes(), WriteCondition::CreateOnly).await {
        Ok(_) => {
            tracing::info!(binding = %binding.name, key, "claimed the target group and port");
            Ok(())
        }
        Err(e) if e.kind == AwsErrorKind::Conflict => {
            // Deleted again between the 412 and this read: report the conflict, the next run claims it.
            let stored = deps.store.read(&key).await?.ok_or(e)?;
            OwnerRecord::parse(&stored.bytes, &key, binding)?.check(&key, binding)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn save<T: TargetGroup, S: StateStore, I>(
    deps: &Deps<T, S, I>,
    request: SaveRequest,
) -> Result<SaveResult, FunctionError> {
    let SaveRequest { binding, etag, mut active, counted, counted_slot, held, evidence, execution } = request;
    check_allowed(&binding, active.iter().chain(counted.iter().chain(&held).map(|c| &c.ip)))?;
    check_allowed(&binding, evidence.absence.keys())?;
    if let Some(problem) = evidence.problem() {
        return Err(FunctionError::InvalidInput(problem));
    }
    if let Some(c) =
        counted.iter().chain(&held).find(|c| albsync_core::state::parse_rfc3339_utc(&c.first_missed_at).is_none())
    {
        return Err(FunctionError::InvalidInput(format!(
            "counted entry {}: firstMissedAt {:?} is not an RFC 3339 UTC time",
            c.ip, c.first_missed_at
        )));
    }
    if let Some(c) = counted.iter().chain(&held).find(|c| c.misses == 0 || c.port != binding.port) {
        return Err(FunctionError::InvalidInput(format!(
            "counted entry {}:{} with {} misses: counts start at 1 and the port must be {}",
            c.ip, c.port, c.misses, binding.port
        )));
    }
    active.sort();
    active.dedup();
    // Unsettled addresses keep their counts and first-miss times: losing one would restart a grace that had begun.
    let kept: Vec<_> =
        counted.iter().chain(held.iter().filter(|h| !counted.iter().any(|c| c.ip == h.ip))).cloned().collect();
    let pending = next_pending(&kept);
    let mut doc = StateDocument::new(&binding, active, pending, rfc3339_utc(unix_now()), execution.clone());
    doc.first_missed = next_first_missed(&kept);
    doc.counted_slot = counted_slot;
    doc.evidence = evidence;
    let key = StateDocument::key(&deps.prefix, &binding);
    let condition = match etag {
        Some(etag) => WriteCondition::IfMatch(etag),
        None => WriteCondition::CreateOnly,
    };
    let etag = match deps.store.write(&key, doc.to_bytes(), condition).await {
        Ok(etag) => etag,
        Err(e) if e.kind == AwsErrorKind::Conflict => match own_earlier_write(deps, &key, &binding, &execution).await {
            Some(etag) => {
                tracing::info!(binding = %binding.name, key, "an earlier attempt of this save committed; not superseded");
                etag
            }
            None => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    tracing::info!(binding = %binding.name, key, pending = doc.pending.len(), "state saved");
    Ok(SaveResult { key, etag, pending: doc.pending.len() })
}

/// After a lost condition: the ETag of the stored document if this execution wrote it (an earlier attempt of
/// the same save committed), else `None`. A read failure counts as "not ours": the run ends superseded, which
/// changes nothing.
async fn own_earlier_write<T: TargetGroup, S: StateStore, I>(
    deps: &Deps<T, S, I>,
    key: &str,
    binding: &Binding,
    execution: &str,
) -> Option<String> {
    let stored = deps.store.read(key).await.ok()??;
    let doc = StateDocument::parse(&stored.bytes, key, binding).ok()?;
    (doc.written_by == execution).then_some(stored.etag)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
