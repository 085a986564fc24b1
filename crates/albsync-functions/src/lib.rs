//! The four Lambda functions of albsync, as handlers (functions of their dependencies and the event) and
//! the start-up pieces their thin `main`s share.
//!
//! Events are taken as raw JSON and parsed here, so that a malformed event reaches Step Functions as
//! `Albsync.InvalidInput` rather than as the runtime's own deserialization error.

pub mod config;
pub mod edge;
pub mod handlers;
pub mod startup;
