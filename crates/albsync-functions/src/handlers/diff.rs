//! diff: the plan of a run, and the conditional save of the state it leaves for the next one.

use std::time::{SystemTime, UNIX_EPOCH};

use albsync_aws::{StateStore, TargetGroup, WriteCondition};
use albsync_core::Binding;
use albsync_core::events::{DiffEvent, PlanRequest, PlanResult, SaveRequest, SaveResult};
use albsync_core::plan::{next_pending, plan};
use albsync_core::state::{StateDocument, rfc3339_utc};

use crate::edge::{FunctionError, parse};

/// What the diff handler needs.
#[derive(Debug)]
pub struct Deps<T, S> {
    /// The target group.
    pub targets: T,
    /// The state documents.
    pub store: S,
    /// Key prefix of the state documents.
    pub prefix: String,
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
pub async fn handle<T: TargetGroup, S: StateStore>(
    deps: &Deps<T, S>,
    event: serde_json::Value,
) -> Result<serde_json::Value, FunctionError> {
    let out = match parse::<DiffEvent>(event)? {
        DiffEvent::Plan(request) => serde_json::to_value(plan_run(deps, request).await?),
        DiffEvent::Save(request) => serde_json::to_value(save(deps, request).await?),
    };
    out.map_err(|e| FunctionError::InvalidInput(format!("result does not serialize: {e}")))
}

async fn plan_run<T: TargetGroup, S: StateStore>(
    deps: &Deps<T, S>,
    request: PlanRequest,
) -> Result<PlanResult, FunctionError> {
    let PlanRequest { binding, resolved } = request;
    check_allowed(&binding, &resolved.addresses)?;
    let key = StateDocument::key(&deps.prefix, &binding);
    let (registered, stored) =
        tokio::try_join!(deps.targets.describe(binding.target_group_arn.as_str()), deps.store.read(&key))?;
    let (state, etag) = match stored {
        Some(stored) => (Some(StateDocument::parse(&stored.bytes, &key, &binding)?), Some(stored.etag)),
        None => (None, None),
    };
    let plan = plan(&binding, &resolved, &registered, state.as_ref());
    tracing::info!(
        binding = %binding.name,
        noop = plan.noop,
        register = plan.register.len(),
        missing = plan.missing.len(),
        unconfirmed = plan.unconfirmed.len(),
        returned = plan.returned.len(),
        forgotten = plan.forgotten.len(),
        registered = plan.registered_count,
        "planned"
    );
    Ok(PlanResult { plan, etag })
}

async fn save<T: TargetGroup, S: StateStore>(
    deps: &Deps<T, S>,
    request: SaveRequest,
) -> Result<SaveResult, FunctionError> {
    let SaveRequest { binding, etag, mut active, counted, held, execution } = request;
    check_allowed(&binding, active.iter().chain(counted.iter().chain(&held).map(|c| &c.ip)))?;
    if let Some(c) = counted.iter().chain(&held).find(|c| c.misses == 0 || c.port != binding.port) {
        return Err(FunctionError::InvalidInput(format!(
            "counted entry {}:{} with {} misses: counts start at 1 and the port must be {}",
            c.ip, c.port, c.misses, binding.port
        )));
    }
    active.sort();
    active.dedup();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut pending = next_pending(&counted);
    // Unsettled addresses keep their counts: losing one would restart a grace that had begun.
    for h in &held {
        pending.entry(h.ip).or_insert(h.misses);
    }
    let doc = StateDocument::new(&binding, active, pending, rfc3339_utc(now), execution);
    let key = StateDocument::key(&deps.prefix, &binding);
    let condition = match etag {
        Some(etag) => WriteCondition::IfMatch(etag),
        None => WriteCondition::CreateOnly,
    };
    let etag = deps.store.write(&key, doc.to_bytes(), condition).await?;
    tracing::info!(binding = %binding.name, key, pending = doc.pending.len(), "state saved");
    Ok(SaveResult { key, etag, pending: doc.pending.len() })
}
