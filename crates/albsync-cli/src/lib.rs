//! The operator CLI of albsync (binary `albsync`): start and follow executions, read their history, draw the
//! state machine with an execution's path, and compare DNS, the target group and the saved state, using the
//! same core, DNS and AWS adapter code as the functions.
//!
//! Most of it is pure and unit-tested: the definition reader ([`asl`]), the history reader ([`timeline`]), the
//! renderers ([`graph`], [`text`]) and the views ([`status`], [`preview`]). The AWS and DNS calls live in
//! [`session`], [`sfn`] and [`world`]; [`commands`] wires them together.

pub mod asl;
pub mod bindings;
pub mod cli;
pub mod commands;
pub mod error;
pub mod events;
pub mod executions;
pub mod express;
pub mod graph;
pub mod preview;
pub mod session;
pub mod sfn;
pub mod stack;
pub mod status;
pub mod style;
pub mod text;
pub mod timeline;
pub mod world;
