//! One DNS query at a time, with nothing remembered between queries: the hickory resolver set up
//! without cache, without retries and with a hard per-query timeout, and its errors turned into
//! [`DnsError`]s.
//!
//! Sampling only works if every query really reaches the name server: a cached answer would
//! repeat the same 8 addresses and make the sample look settled when it is not.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig as HickoryConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use ipnet::IpNet;

use crate::error::DnsError;

/// The address family looked up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Family {
    /// A records.
    #[default]
    V4,
    /// AAAA records.
    V6,
}

impl Family {
    fn record_type(self) -> RecordType {
        match self {
            Self::V4 => RecordType::A,
            Self::V6 => RecordType::AAAA,
        }
    }
}

/// How a [`Resolver`] asks and how long [`crate::resolve`] keeps sampling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// A (IPv4) or AAAA (IPv6).
    pub family: Family,
    /// The name server to ask (UDP, TCP on truncation); `None`: the system configuration
    /// (`/etc/resolv.conf`), which is what a Lambda function should use.
    pub name_server: Option<SocketAddr>,
    /// Budget of queries for the plain name while sampling (the single `all.` query comes on
    /// top). Spending it is not an error. Values below 1 count as 1.
    pub max_queries: u32,
    /// Sampling stops once every expected address was seen and this many answers in a row
    /// brought no new address.
    pub settle_queries: u32,
    /// Scales the quiet stretch with the number of addresses per answer (see `settle_after`); 0 turns it off.
    pub settle_factor: u32,
    /// How long one query may take; also the most a dead server costs per query.
    pub timeout: Duration,
    /// Every answered address must lie in one of these ranges. Empty: every address is refused
    /// (the safe failure when a caller forgot to say what is acceptable).
    pub allowed: Vec<IpNet>,
    /// After the run has answers, a failing query is retried (each retry spends budget); this
    /// many failures in a row end the run with the failure. Bounds the time a server that dies
    /// mid-run costs to `(retries + 1) × timeout`.
    pub retries: u32,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            family: Family::V4,
            name_server: None,
            max_queries: 200,
            settle_queries: 10,
            settle_factor: 4,
            timeout: Duration::from_secs(2),
            allowed: Vec::new(),
            retries: 3,
        }
    }
}

/// Asks one name server (or the system's) with the settings of a [`ResolverConfig`].
#[derive(Clone, Debug)]
pub struct Resolver {
    inner: TokioResolver,
    config: ResolverConfig,
}

impl Resolver {
    /// Builds a resolver; fails only if the system configuration is needed and unreadable.
    /// Queries need a Tokio runtime with time and I/O enabled.
    pub fn new(config: ResolverConfig) -> Result<Self, DnsError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match config.name_server {
            Some(server) => {
                let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut name_server.connections {
                    connection.port = server.port();
                }
                TokioResolver::builder_with_config(HickoryConfig::from_name_servers(vec![name_server]), provider)
            }
            None => TokioResolver::builder(provider).map_err(|error| DnsError::Configuration {
                message: format!("cannot read the system resolver configuration: {error}"),
            })?,
        };
        let options = builder.options_mut();
        // cache_size 0 stops hickory 0.26 from caching (a test proves it against a 60 s TTL);
        // the zero maximum TTLs keep it so should a later cache hold entries until housekeeping.
        options.cache_size = 0;
        options.positive_max_ttl = Some(Duration::ZERO);
        options.negative_max_ttl = Some(Duration::ZERO);
        // hickory counts retries here, not tries: 0 means each query is sent once, so the
        // sampling loop alone decides about retrying and the timeout bounds one query.
        options.attempts = 0;
        options.timeout = config.timeout;
        options.use_hosts_file = ResolveHosts::Never;
        options.try_tcp_on_error = false;
        let inner = builder.build().map_err(|error| DnsError::Configuration { message: error.to_string() })?;
        Ok(Self { inner, config })
    }

    /// The settings this resolver was built with.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// One query for the configured family. An empty address list never comes back: it is
    /// [`DnsError::NoAddresses`].
    pub(crate) async fn query(&self, name: &Name) -> Result<Vec<IpAddr>, DnsError> {
        let family = self.config.family;
        let lookup = self.inner.lookup(name.clone(), family.record_type());
        // hickory bounds the query by the same timeout; this guard makes the bound hold whatever
        // path (UDP retransmission, TCP after truncation) the query takes inside hickory.
        let result = tokio::time::timeout(self.config.timeout, lookup)
            .await
            .map_err(|_| DnsError::Timeout { name: display_name(name) })?;
        let lookup = result.map_err(|error| classify(name, error))?;
        let addresses: Vec<IpAddr> = lookup
            .answers()
            .iter()
            .filter_map(|record| match (&record.data, family) {
                (RData::A(a), Family::V4) => Some(IpAddr::V4(a.0)),
                (RData::AAAA(aaaa), Family::V6) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect();
        if addresses.is_empty() {
            return Err(DnsError::NoAddresses { name: display_name(name) });
        }
        Ok(addresses)
    }
}

/// The name as people write it: no trailing dot.
pub(crate) fn display_name(name: &Name) -> String {
    let text = name.to_string();
    match text.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => text,
    }
}

fn classify(name: &Name, error: NetError) -> DnsError {
    let name = display_name(name);
    match error {
        NetError::Dns(HickoryDnsError::NoRecordsFound(no_records)) => match no_records.response_code {
            ResponseCode::NXDomain => DnsError::NameNotFound { name },
            ResponseCode::NoError => DnsError::NoAddresses { name },
            code => DnsError::ServerFailure { name, code: mnemonic(code) },
        },
        NetError::Dns(HickoryDnsError::ResponseCode(code)) => DnsError::ServerFailure { name, code: mnemonic(code) },
        NetError::Timeout => DnsError::Timeout { name },
        NetError::Io(io_error) if io_error.kind() == io::ErrorKind::TimedOut => DnsError::Timeout { name },
        other => DnsError::Io { name, message: other.to_string() },
    }
}

/// The short names operators know from `dig`.
fn mnemonic(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::FormErr => "FORMERR".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::NotImp => "NOTIMP".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_drops_only_the_trailing_dot() {
        let name = Name::from_ascii("alb.test.").expect("name");
        assert_eq!(display_name(&name), "alb.test");
        assert_eq!(display_name(&Name::root()), ".");
    }

    #[test]
    fn refused_and_servfail_are_server_failures_with_their_mnemonic() {
        let name = Name::from_ascii("alb.test.").expect("name");
        for (code, text) in [(ResponseCode::ServFail, "SERVFAIL"), (ResponseCode::Refused, "REFUSED")] {
            let error = classify(&name, NetError::Dns(HickoryDnsError::ResponseCode(code)));
            assert_eq!(error, DnsError::ServerFailure { name: "alb.test".to_owned(), code: text.to_owned() });
        }
    }

    #[test]
    fn a_timeout_and_an_io_error_keep_their_kind() {
        let name = Name::from_ascii("alb.test.").expect("name");
        assert!(matches!(classify(&name, NetError::Timeout), DnsError::Timeout { .. }));
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(matches!(classify(&name, NetError::from(refused)), DnsError::Io { .. }));
    }
}
