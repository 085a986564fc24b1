//! The pure core of albsync: no AWS SDK, no I/O.
//!
//! It holds everything that decides what happens to a target group: the validated [`binding::Binding`],
//! the [`plan::plan`] diff, the grace reference and the [`rails`], the versioned [`state::StateDocument`],
//! the [`events`] exchanged with the state machine and the one list of [`errors::ErrorName`]s.

pub mod binding;
pub mod eni;
pub mod errors;
pub mod events;
pub mod evidence;
pub mod metrics;
pub mod owner;
pub mod plan;
pub mod rails;
pub mod state;
pub mod target;

#[cfg(test)]
mod testing;

pub use binding::{Binding, BindingError, Family, LookupLimits, LookupMode, TargetGroupArn};
pub use errors::ErrorName;
pub use events::{Resolved, Strategy};
pub use evidence::Resolution;
pub use owner::OwnerRecord;
pub use plan::{Counted, Miss, Plan};
pub use state::StateDocument;
pub use target::{HealthState, RegisteredTarget, TargetKey, TargetSpec};
