//! One DNS query at a time, on the wire, with nothing remembered between queries.
//!
//! A small stub client on hickory-proto's message codec instead of hickory-resolver's lookup: sampling needs
//! every query to reach a name server exactly once (hickory's UDP client re-sends a query up to 3 times
//! within its timeout), the TTL of every answer (to recognise a caching answerer), and the choice of the
//! server per query (authoritative mode rotates among the zone's name servers). One query is one UDP
//! datagram, plus one TCP exchange when the answer is truncated; [`Resolver::sent`] counts what went on
//! the wire. A name server that does not answer costs at most `timeout` per query.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use albsync_core::Family;
use hickory_resolver::proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::error::DnsError;

/// UDP payload size advertised with EDNS: the DNS Flag Day 2020 value, which avoids IP fragmentation; larger
/// answers come truncated and are fetched again over TCP.
const EDNS_PAYLOAD: u16 = 1232;

/// How a [`Resolver`] asks and how long [`crate::resolve`] keeps sampling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// A (IPv4) or AAAA (IPv6).
    pub family: Family,
    /// The name servers to ask, in turn (UDP, TCP on truncation); empty: the system configuration
    /// (`/etc/resolv.conf`), which is what a Lambda function uses in resolver mode.
    pub name_servers: Vec<SocketAddr>,
    /// Budget of queries per pass (every query on the wire counts). Spending it is not an error. Values
    /// below 1 count as 1.
    pub max_queries: u32,
    /// The least number of answers in a row without a new address before sampling that found everything
    /// it looked for stops; also how many answers in a row without a new record set end a pass.
    pub settle_queries: u32,
    /// How long one query may take; also the most a dead server costs per query.
    pub timeout: Duration,
    /// Every answered address must lie in one of these ranges. Empty: every address is refused
    /// (the safe failure when a caller forgot to say what is acceptable).
    pub allowed: Vec<IpNet>,
    /// After the run has answers, a failing query is retried (each retry spends budget); this
    /// many failures in a row end the run with the failure.
    pub retries: u32,
    /// How many plain-name answers check an `all.` answer.
    pub check_queries: u32,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            family: Family::Ipv4,
            name_servers: Vec::new(),
            max_queries: 200,
            settle_queries: 10,
            timeout: Duration::from_secs(2),
            allowed: Vec::new(),
            retries: 3,
            check_queries: 3,
        }
    }
}

/// One answer: its addresses of the asked family and the lowest TTL among them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub addresses: Vec<IpAddr>,
    pub ttl: u32,
}

/// Asks the configured name servers, one query at a time.
#[derive(Debug)]
pub struct Resolver {
    config: ResolverConfig,
    servers: Vec<SocketAddr>,
    next: AtomicUsize,
    sent: AtomicU32,
}

impl Resolver {
    /// Builds a resolver; fails only if the system configuration is needed and unreadable or empty.
    pub fn new(config: ResolverConfig) -> Result<Self, DnsError> {
        let servers = if config.name_servers.is_empty() { system_name_servers()? } else { config.name_servers.clone() };
        Ok(Self { config, servers, next: AtomicUsize::new(0), sent: AtomicU32::new(0) })
    }

    /// The settings this resolver was built with.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// The name servers asked in turn.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// Queries sent on the wire so far (UDP datagrams plus TCP exchanges).
    pub fn sent(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }

    /// One query for the configured family, to the next server in turn, within `timeout` (at most the
    /// configured one). An empty address list never comes back: it is [`DnsError::NoAddresses`].
    pub(crate) async fn query(&self, name: &Name, timeout: Duration) -> Result<Answer, DnsError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let server = self.servers[index % self.servers.len()];
        let record_type = match self.config.family {
            Family::Ipv4 => RecordType::A,
            Family::Ipv6 => RecordType::AAAA,
        };
        let timeout = timeout.min(self.config.timeout);
        let message = tokio::time::timeout(timeout, self.exchange(server, name, record_type))
            .await
            .map_err(|_| DnsError::Timeout { name: display_name(name) })??;
        answer_of(name, &message, self.config.family)
    }

    /// The raw response to one query of `record_type` (also NS, for authoritative mode).
    pub(crate) async fn exchange(
        &self,
        server: SocketAddr,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, DnsError> {
        let io_error = |error: io::Error| DnsError::Io { name: display_name(name), message: error.to_string() };
        let mut request = Message::query();
        request.metadata.recursion_desired = true;
        request.add_query(Query::query(name.clone(), record_type));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        request.set_edns(edns);
        let id = request.metadata.id;
        let bytes = request.to_vec().map_err(|e| io_error(io::Error::other(e.to_string())))?;

        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await.map_err(io_error)?;
        socket.connect(server).await.map_err(io_error)?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        socket.send(&bytes).await.map_err(io_error)?;
        let mut buffer = vec![0u8; usize::from(EDNS_PAYLOAD).max(4096)];
        let response = loop {
            let length = socket.recv(&mut buffer).await.map_err(io_error)?;
            // A stray or late datagram for another query is not ours: keep waiting for our id.
            match Message::from_vec(&buffer[..length]) {
                Ok(message) if message.metadata.id == id && message.metadata.message_type == MessageType::Response => {
                    break message;
                }
                _ => continue,
            }
        };
        if !response.metadata.truncation {
            return Ok(response);
        }
        // Truncated: the same question over TCP (RFC 7766), one more query on the wire.
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut stream = TcpStream::connect(server).await.map_err(io_error)?;
        let length = u16::try_from(bytes.len()).map_err(|e| io_error(io::Error::other(e.to_string())))?;
        stream.write_all(&length.to_be_bytes()).await.map_err(io_error)?;
        stream.write_all(&bytes).await.map_err(io_error)?;
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await.map_err(io_error)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut body).await.map_err(io_error)?;
        let message = Message::from_vec(&body).map_err(|e| io_error(io::Error::other(e.to_string())))?;
        if message.metadata.id != id {
            return Err(io_error(io::Error::other("TCP answer for another query")));
        }
        Ok(message)
    }
}

/// The addresses of the family in a response, or the typed failure it stands for.
fn answer_of(name: &Name, message: &Message, family: Family) -> Result<Answer, DnsError> {
    let display = display_name(name);
    match message.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Err(DnsError::NameNotFound { name: display }),
        code => return Err(DnsError::ServerFailure { name: display, code: mnemonic(code) }),
    }
    let mut ttl = u32::MAX;
    let addresses: Vec<IpAddr> = message
        .answers
        .iter()
        .filter_map(|record| {
            let address = match (&record.data, family) {
                (RData::A(a), Family::Ipv4) => IpAddr::V4(a.0),
                (RData::AAAA(aaaa), Family::Ipv6) => IpAddr::V6(aaaa.0),
                _ => return None,
            };
            ttl = ttl.min(record.ttl);
            Some(address)
        })
        .collect();
    if addresses.is_empty() {
        return Err(DnsError::NoAddresses { name: display });
    }
    Ok(Answer { addresses, ttl })
}

/// The name servers of `/etc/resolv.conf` (port 53 unless it says otherwise).
fn system_name_servers() -> Result<Vec<SocketAddr>, DnsError> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf().map_err(|error| DnsError::Configuration {
        message: format!("cannot read the system resolver configuration: {error}"),
    })?;
    let mut servers: Vec<SocketAddr> = Vec::new();
    for server in config.name_servers() {
        let port = server.connections.first().map_or(53, |c| c.port);
        let address = SocketAddr::new(server.ip, port);
        if !servers.contains(&address) {
            servers.push(address);
        }
    }
    if servers.is_empty() {
        return Err(DnsError::Configuration { message: "the system resolver configuration names no server".into() });
    }
    Ok(servers)
}

/// The name as people write it: no trailing dot.
pub(crate) fn display_name(name: &Name) -> String {
    let text = name.to_string();
    match text.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => text,
    }
}

/// The short names operators know from `dig`.
pub(crate) fn mnemonic(code: ResponseCode) -> String {
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
    fn response_codes_become_typed_failures() {
        let name = Name::from_ascii("alb.test.").expect("name");
        for (code, text) in [(ResponseCode::ServFail, "SERVFAIL"), (ResponseCode::Refused, "REFUSED")] {
            let message = Message::error_msg(1, hickory_resolver::proto::op::OpCode::Query, code);
            let error = answer_of(&name, &message, Family::Ipv4).expect_err("failure");
            assert_eq!(error, DnsError::ServerFailure { name: "alb.test".to_owned(), code: text.to_owned() });
        }
        let message = Message::error_msg(1, hickory_resolver::proto::op::OpCode::Query, ResponseCode::NXDomain);
        assert!(matches!(answer_of(&name, &message, Family::Ipv4), Err(DnsError::NameNotFound { .. })));
        let empty = Message::response(1, hickory_resolver::proto::op::OpCode::Query);
        assert!(matches!(answer_of(&name, &empty, Family::Ipv4), Err(DnsError::NoAddresses { .. })));
    }
}
