//! What the DNS integration tests (resolve.rs, truth.rs, carried.rs) share: the test name and addresses, and a
//! resolver configuration that asks one loopback server.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use albsync_dns::ResolverConfig;

pub const NAME: &str = "alb.test";
pub const ALL: &str = "all.alb.test";

/// `count` IPv4 addresses 10.0.1.1, 10.0.1.2, ...
pub fn v4(count: u8) -> Vec<Ipv4Addr> {
    (1..=count).map(|i| Ipv4Addr::new(10, 0, 1, i)).collect()
}

pub fn as_set(addresses: &[Ipv4Addr]) -> BTreeSet<IpAddr> {
    addresses.iter().copied().map(IpAddr::V4).collect()
}

/// Asks `server` only; accepts the test ranges 10.0.0.0/8 and fd00::/8 (anything else is a foreign address).
pub fn config(server: SocketAddr) -> ResolverConfig {
    ResolverConfig {
        name_servers: vec![server],
        allowed: vec!["10.0.0.0/8".parse().expect("cidr"), "fd00::/8".parse().expect("cidr")],
        ..ResolverConfig::default()
    }
}
