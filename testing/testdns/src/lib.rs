//! A real DNS server on loopback for albsync's tests and demo.
//!
//! Resolver code is only trustworthy when tested against a server that speaks the wire protocol
//! and misbehaves the way production name servers do. This crate provides one, built on
//! hickory-server, with the behaviour of every name under the test's control:
//!
//! - addresses per name (A and AAAA), changeable while the server runs;
//! - Route-53-like rotation: when a name has more than `max_answers` (default 8) addresses, each
//!   answer holds a random subset of that many, different per query;
//! - fault injection per name: SERVFAIL, NXDOMAIN, REFUSED, or no answer at all;
//! - a query counter per name, so tests can assert how many queries a client made.
//!
//! Names not configured answer NXDOMAIN; a configured name without an address of the asked type
//! answers NOERROR with an empty answer section.
//!
//! ```no_run
//! # async fn demo() -> Result<(), albsync_testdns::StartError> {
//! use std::net::Ipv4Addr;
//!
//! use albsync_testdns::{Mode, Record, TestDns};
//!
//! let dns = TestDns::start().await?;
//! dns.set("alb.test", Record::a([Ipv4Addr::new(10, 0, 1, 1)]));
//! dns.set("broken.test", Record::fault(Mode::ServFail));
//! // ... point a resolver at dns.addr() ...
//! assert_eq!(dns.queries("alb.test"), 0);
//! dns.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The `albsync-testdns` binary serves the same from a JSON zone file it re-reads on change
//! (see [`zone_file`]), for the demo and the end-to-end tests written in other languages.

pub mod caching;
pub mod client;
mod record;
mod server;
pub mod zone_file;

pub use hickory_proto as proto;
pub use record::{DEFAULT_MAX_ANSWERS, DEFAULT_TTL, Mode, Record, select_answers};
pub use server::{StartError, TestDns};
