//! `lookup.mode: authoritative`: find the name's zone's name servers through the resolver, then ask them
//! directly, in turn. Authoritative answers are never cached, so every query is an independent sample, as
//! the original Lambda (2017) had it. One server that does not answer is tolerated: the next query goes to
//! the next server, and a failure before the first answer is retried on another one.

use std::net::{IpAddr, SocketAddr};

use albsync_core::{Binding, LookupMode};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::time::Instant;

use crate::binding::config_for;
use crate::resolver::display_name;
use crate::{DnsError, Resolver, ResolverConfig, parse_name};

/// The resolver settings for the binding's mode: in authoritative mode, the zone's name servers.
///
/// Name servers are asked on port 53, except when the resolver given is on a loopback address: then it is
/// a local stand-in serving every zone on one port, and the zone's servers are asked on that port too.
pub(crate) async fn config_for_mode(
    binding: &Binding,
    name_server: Option<SocketAddr>,
    _deadline: Option<Instant>,
) -> Result<ResolverConfig, DnsError> {
    let mut config = config_for(binding, name_server);
    if binding.lookup.mode == LookupMode::Resolver {
        return Ok(config);
    }
    let port = match name_server {
        Some(server) if server.ip().is_loopback() => server.port(),
        _ => 53,
    };
    let bootstrap = Resolver::new(config.clone())?;
    let name = parse_name(&binding.dns_name)?;
    let servers = zone_servers(&bootstrap, &name, port).await?;
    config.name_servers = servers;
    Ok(config)
}

/// The addresses of the name servers of the zone holding `name`: the closest enclosing name with NS records.
async fn zone_servers(bootstrap: &Resolver, name: &Name, port: u16) -> Result<Vec<SocketAddr>, DnsError> {
    let mut candidate = name.clone();
    loop {
        if candidate.is_root() {
            return Err(DnsError::NoNameServers { name: display_name(name) });
        }
        let response = ask(bootstrap, &candidate, RecordType::NS).await?;
        if response.metadata.response_code == ResponseCode::NXDomain && candidate == *name {
            return Err(DnsError::NameNotFound { name: display_name(name) });
        }
        let hosts: Vec<Name> = response
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        if !hosts.is_empty() {
            let mut servers = Vec::new();
            for host in hosts {
                // Glue first; else ask the resolver for the server's address.
                let mut addresses: Vec<IpAddr> = response
                    .additionals
                    .iter()
                    .filter(|r| r.name == host)
                    .filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        _ => None,
                    })
                    .collect();
                if addresses.is_empty()
                    && let Ok(reply) = ask(bootstrap, &host, RecordType::A).await
                {
                    addresses.extend(reply.answers.iter().filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        _ => None,
                    }));
                }
                for address in addresses {
                    let server = SocketAddr::new(address, port);
                    if !servers.contains(&server) {
                        servers.push(server);
                    }
                }
            }
            if servers.is_empty() {
                return Err(DnsError::NoNameServers { name: display_name(name) });
            }
            return Ok(servers);
        }
        candidate = candidate.base_name();
    }
}

/// One question to the bootstrap resolver, trying each of its servers once.
async fn ask(
    bootstrap: &Resolver,
    name: &Name,
    record_type: RecordType,
) -> Result<hickory_resolver::proto::op::Message, DnsError> {
    let mut last = DnsError::NoNameServers { name: display_name(name) };
    for server in bootstrap.servers() {
        let exchange = bootstrap.exchange(*server, name, record_type);
        match tokio::time::timeout(bootstrap.config().timeout, exchange).await {
            Ok(Ok(message)) if message.metadata.response_code != ResponseCode::ServFail => return Ok(message),
            Ok(Ok(_)) => {
                last = DnsError::ServerFailure { name: display_name(name), code: "SERVFAIL".to_owned() };
            }
            Ok(Err(error)) => last = error,
            Err(_) => last = DnsError::Timeout { name: display_name(name) },
        }
    }
    Err(last)
}
