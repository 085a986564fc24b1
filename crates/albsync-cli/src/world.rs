//! What `status` and `plan` look at, read the way the functions read it: DNS through `albsync-dns` with the
//! binding's lookup settings, the target group through `albsync-aws`'s `TargetGroup`, the state document
//! through its `StateStore` at `StateDocument::key`. Nothing is written.

use albsync_aws::{ElbTargetGroup, S3StateStore, StateStore, TargetGroup};
use albsync_core::target::RegisteredTarget;
use albsync_core::{Binding, StateDocument};

use crate::error::{CliError, adapter_error};
use crate::session::Session;

/// The saved state as found.
// One value per command: the size of a document (with its carried evidence) is not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// No document yet (no run has saved one).
    Absent,
    /// A valid document.
    Found(StateDocument),
    /// A document the functions would refuse (`StateDocumentInvalid`), with the reason.
    Invalid(String),
}

/// The target group and the state document of a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Every target, sorted.
    pub registered: Vec<RegisteredTarget>,
    /// The state document.
    pub saved: Saved,
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
}

/// Reads the target group and the state document.
pub async fn read(session: &Session, binding: &Binding, bucket: &str, prefix: &str) -> Result<Stored, CliError> {
    let tg = ElbTargetGroup::new(session.clients.elb.clone());
    let store = S3StateStore::new(session.clients.s3.clone(), bucket);
    let key = StateDocument::key(prefix, binding);
    let arn = binding.target_group_arn.as_str();
    let (registered, stored) = tokio::join!(tg.describe(arn), store.read(&key));
    let registered = registered.map_err(|e| adapter_error(&session.endpoints, &e, &format!("target group {arn}")))?;
    let stored = stored.map_err(|e| adapter_error(&session.endpoints, &e, &format!("state bucket {bucket}")))?;
    let saved = match stored {
        None => Saved::Absent,
        Some(s) => match StateDocument::parse(&s.bytes, &key, binding) {
            Ok(doc) => Saved::Found(doc),
            Err(e) => Saved::Invalid(e.to_string()),
        },
    };
    Ok(Stored { registered, saved, bucket: bucket.to_owned(), key })
}
