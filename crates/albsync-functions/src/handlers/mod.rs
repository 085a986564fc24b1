//! The five handlers, each a function of its dependencies and the event.

pub mod deregister;
pub mod diff;
pub mod register;
pub mod resolve;
pub mod trigger;
