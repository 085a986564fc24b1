//! The DNS server itself: a hickory-server `Server` on loopback (UDP and TCP on one port) whose
//! request handler answers from a table of [`Record`]s that tests change while it runs.
//!
//! The handler is written by hand instead of using hickory's authority/catalog so that every
//! name can misbehave in exactly the way a test asks (fault modes, rotation, silence).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::iter;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NS};
use hickory_proto::rr::{Name, RData, Record as DnsRecord, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::record::{Mode, Record, select_answers};

/// An idle TCP connection is closed after this long; generous because test clients are slow
/// under load, short enough that shutdown is never held up for long.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

/// With port 0 the UDP port is picked first and TCP must get the same number; another process
/// may hold it for TCP, so a few fresh ports are tried.
const BIND_ATTEMPTS: usize = 20;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Only loopback addresses are served: this server answers whatever it is told to, which
    /// must never be reachable from a network.
    #[error("refusing to listen on {0}: only loopback addresses (127.0.0.0/8, ::1) are allowed")]
    NotLoopback(SocketAddr),
    /// The UDP socket or TCP listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// A running DNS server on loopback. Dropping it (or calling [`TestDns::shutdown`]) stops it.
pub struct TestDns {
    addr: SocketAddr,
    zone: Arc<Zone>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDns").field("addr", &self.addr).finish()
    }
}

impl TestDns {
    /// Starts a server on 127.0.0.1 with a port chosen by the operating system.
    pub async fn start() -> Result<Self, StartError> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Like [`TestDns::start`], but the rotation draws from a generator seeded with `seed`, so a
    /// sequence of queries gets the same answers on every run (a failing test stays failing).
    pub async fn start_seeded(seed: u64) -> Result<Self, StartError> {
        Self::spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), StdRng::seed_from_u64(seed)).await
    }

    /// Starts a server on `addr` (port 0: any free port), UDP and TCP on the same port.
    pub async fn start_on(addr: SocketAddr) -> Result<Self, StartError> {
        Self::spawn(addr, StdRng::from_os_rng()).await
    }

    async fn spawn(addr: SocketAddr, rng: StdRng) -> Result<Self, StartError> {
        if !addr.ip().is_loopback() {
            return Err(StartError::NotLoopback(addr));
        }
        let (udp, tcp) = bind_pair(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        let local = udp.local_addr().map_err(|source| StartError::Bind { addr, source })?;

        let zone = Arc::new(Zone::new(rng));
        let mut server = Server::new(Handler { zone: zone.clone() });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);

        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // Resolves on an explicit stop and also when the sender is dropped with the TestDns.
            let _ = stopped.await;
            if let Err(error) = server.shutdown_gracefully().await {
                warn!(%error, "test DNS server stopped with an error");
            }
        });
        Ok(Self { addr: local, zone, stop: Some(stop), task: Some(task) })
    }

    /// The address (UDP and TCP) the server answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets (or replaces) the behaviour of `name`; matched case-insensitively, with or without
    /// the trailing dot.
    pub fn set(&self, name: &str, record: Record) {
        self.zone.lock().records.insert(normalize(name), record);
    }

    /// Forgets `name`: it answers NXDOMAIN again.
    pub fn remove(&self, name: &str) {
        self.zone.lock().records.remove(&normalize(name));
    }

    /// Replaces every configured name at once (the zone file reload), so no query sees half of
    /// an old and half of a new zone.
    pub fn replace_all(&self, records: impl IntoIterator<Item = (String, Record)>) {
        let records = records.into_iter().map(|(name, record)| (normalize(&name), record)).collect();
        self.zone.lock().records = records;
    }

    /// How many queries (any type, any outcome, including unanswered ones) arrived for `name`.
    pub fn queries(&self, name: &str) -> u64 {
        self.zone.lock().queries.get(&normalize(name)).copied().unwrap_or(0)
    }

    /// How many queries arrived in total.
    pub fn total_queries(&self) -> u64 {
        self.zone.lock().queries.values().sum()
    }

    /// Sets every query counter back to zero.
    pub fn reset_queries(&self) {
        self.zone.lock().queries.clear();
    }

    /// Stops the server and waits until its sockets are closed and its tasks have ended.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            warn!(%error, "test DNS server task failed");
        }
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        // Dropping the sender wakes the owner task, which shuts the server down gracefully.
        // Drop cannot wait for that; it completes on the runtime moments later.
        self.stop.take();
    }
}

/// Lower case, no trailing dot: the one spelling under which names are stored and counted.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    if addr.port() != 0 {
        let udp = UdpSocket::bind(addr).await?;
        let tcp = TcpListener::bind(addr).await?;
        return Ok((udp, tcp));
    }
    let mut last_error = io::Error::new(io::ErrorKind::AddrInUse, "no free port found");
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind(addr).await?;
        let chosen = udp.local_addr()?;
        match TcpListener::bind(chosen).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// The configured names, the query counters and the rotation's random generator, behind one
/// lock: a query reads a record and bumps its counter atomically.
struct Zone {
    state: Mutex<ZoneState>,
}

struct ZoneState {
    records: HashMap<String, Record>,
    queries: HashMap<String, u64>,
    rng: StdRng,
}

/// What to send back for one query, decided under the lock and sent after releasing it.
enum Reply {
    Addresses { addresses: Vec<IpAddr>, ns: Vec<String>, ttl: u32, delay: Duration },
    Code(ResponseCode),
    Silence,
}

impl Zone {
    fn new(rng: StdRng) -> Self {
        Self { state: Mutex::new(ZoneState { records: HashMap::new(), queries: HashMap::new(), rng }) }
    }

    fn lock(&self) -> MutexGuard<'_, ZoneState> {
        // A panic while holding the lock cannot leave the maps half-updated (every update is a
        // single insert/remove/replace), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reply(&self, name: &str, record_type: RecordType) -> Reply {
        let mut state = self.lock();
        *state.queries.entry(name.to_owned()).or_insert(0) += 1;
        let ZoneState { records, rng, .. } = &mut *state;
        let Some(record) = records.get(name) else {
            return Reply::Code(ResponseCode::NXDomain);
        };
        match record.mode {
            Mode::Ok => {}
            Mode::ServFail => return Reply::Code(ResponseCode::ServFail),
            Mode::NxDomain => return Reply::Code(ResponseCode::NXDomain),
            Mode::Refused => return Reply::Code(ResponseCode::Refused),
            Mode::Drop => return Reply::Silence,
        }
        let addresses = match record_type {
            RecordType::A => select_answers(&record.a, record.max_answers, rng).into_iter().map(IpAddr::V4).collect(),
            RecordType::AAAA => {
                select_answers(&record.aaaa, record.max_answers, rng).into_iter().map(IpAddr::V6).collect()
            }
            _ => Vec::new(),
        };
        let ns = if record_type == RecordType::NS { record.ns.clone() } else { Vec::new() };
        Reply::Addresses { addresses, ns, ttl: record.ttl, delay: record.delay }
    }
}

struct Handler {
    zone: Arc<Zone>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let response_edns = request.edns.as_ref().map(|asked| {
            // Echo the client's buffer size: without it answers over 512 bytes would always be
            // truncated on UDP, unlike Route 53.
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload().max(512));
            edns
        });
        let builder = MessageResponseBuilder::new(&request.queries, response_edns.as_ref());

        let query = match request.request_info() {
            Ok(info)
                if request.metadata.message_type == MessageType::Query && request.metadata.op_code == OpCode::Query =>
            {
                info.query
            }
            Ok(_) => {
                let response = builder.error_msg(&request.metadata, ResponseCode::NotImp);
                return send(&mut response_handle, response, &request.metadata).await;
            }
            Err(_) => {
                let response = builder.error_msg(&request.metadata, ResponseCode::FormErr);
                return send(&mut response_handle, response, &request.metadata).await;
            }
        };

        let name = normalize(&query.name().to_string());
        let reply = self.zone.reply(&name, query.query_type());
        debug!(name, query_type = %query.query_type(), "test DNS query");
        match reply {
            Reply::Silence => unanswered(&request.metadata),
            Reply::Code(code) => {
                let mut response = builder.error_msg(&request.metadata, code);
                response.metadata_mut().authoritative = true;
                send(&mut response_handle, response, &request.metadata).await
            }
            Reply::Addresses { addresses, ns, ttl, delay } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let owner = query.original().name().clone();
                let hosts = ns.iter().filter_map(|host| Name::from_ascii(host).ok()).map(|mut host| {
                    host.set_fqdn(true);
                    DnsRecord::from_rdata(owner.clone(), ttl, RData::NS(NS(host)))
                });
                let records: Vec<DnsRecord> = addresses
                    .into_iter()
                    .map(|address| {
                        let data = match address {
                            IpAddr::V4(v4) => RData::A(A(v4)),
                            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
                        };
                        DnsRecord::from_rdata(owner.clone(), ttl, data)
                    })
                    .chain(hosts)
                    .collect();
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.authoritative = true;
                let response = builder.build(metadata, records.iter(), iter::empty(), iter::empty(), iter::empty());
                send(&mut response_handle, response, &request.metadata).await
            }
        }
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a DnsRecord> + Send + 'a,
        impl Iterator<Item = &'a DnsRecord> + Send + 'a,
        impl Iterator<Item = &'a DnsRecord> + Send + 'a,
        impl Iterator<Item = &'a DnsRecord> + Send + 'a,
    >,
    request: &Metadata,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            warn!(%error, "test DNS server could not send a response");
            unanswered(request)
        }
    }
}

/// The ResponseInfo of a query that got no response; the server only logs it.
fn unanswered(request: &Metadata) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
}
