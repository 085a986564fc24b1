//! A real caching resolver in front of a test server: dnsmasq on 127.0.0.1, forwarding to one upstream.
//!
//! A VPC resolver (and Lambda's) caches an ELB name's answer for its 60 s TTL, so every query within a
//! minute gets the same record set with the TTL counting down. dnsmasq does exactly that. It is started
//! as a child process with only loopback listening, no configuration files read, and stopped by its PID
//! when the [`CachingResolver`] is dropped. `scripts/setup.sh` installs it (Debian `dnsmasq-base`).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

/// How long dnsmasq may take to start answering: generous, the machine may be busy.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Why dnsmasq could not be started.
#[derive(Debug, thiserror::Error)]
pub enum CachingError {
    /// dnsmasq is not installed (run `scripts/setup.sh`).
    #[error("dnsmasq is not installed (scripts/setup.sh installs Debian's dnsmasq-base)")]
    NotInstalled,
    /// Only loopback upstreams are forwarded to.
    #[error("refusing to forward to {0}: only loopback upstreams are allowed")]
    NotLoopback(SocketAddr),
    /// Starting or talking to it failed.
    #[error("dnsmasq: {0}")]
    Io(#[from] io::Error),
    /// It did not answer in time.
    #[error("dnsmasq did not answer on {0} within {READY_TIMEOUT:?}")]
    NotReady(SocketAddr),
}

/// A running dnsmasq; dropping it stops it.
#[derive(Debug)]
pub struct CachingResolver {
    addr: SocketAddr,
    child: Child,
}

fn dnsmasq_path() -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("dnsmasq"));
    from_path.chain([PathBuf::from("/usr/sbin/dnsmasq")]).find(|p| p.is_file())
}

impl CachingResolver {
    /// Starts dnsmasq on a free port of 127.0.0.1, caching and forwarding everything to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<Self, CachingError> {
        if !upstream.ip().is_loopback() {
            return Err(CachingError::NotLoopback(upstream));
        }
        let binary = dnsmasq_path().ok_or(CachingError::NotInstalled)?;
        let mut last = CachingError::NotReady(upstream);
        // The port is picked by binding and releasing it; another process may take it meanwhile, so a
        // few ports are tried.
        for _ in 0..5 {
            let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let child = Command::new(&binary)
                .args([
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--no-resolv",
                    "--no-hosts",
                    "--no-poll",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                    "--cache-size=10000",
                    "--pid-file=",
                ])
                .arg(format!("--port={port}"))
                .arg(format!("--server={}#{}", upstream.ip(), upstream.port()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let mut resolver = CachingResolver { addr, child };
            match resolver.wait_ready() {
                Ok(()) => return Ok(resolver),
                Err(error) => {
                    resolver.stop();
                    last = error;
                }
            }
        }
        Err(last)
    }

    /// Where it answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn wait_ready(&mut self) -> Result<(), CachingError> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        let name = Name::from_ascii("ready.albsync.invalid.").map_err(|e| io::Error::other(e.to_string()))?;
        query.add_query(Query::query(name, RecordType::A));
        let bytes = query.to_vec().map_err(|e| io::Error::other(e.to_string()))?;
        let started = Instant::now();
        let mut buffer = [0u8; 512];
        while started.elapsed() < READY_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                return Err(CachingError::Io(io::Error::other(format!("exited at start: {status}"))));
            }
            socket.send_to(&bytes, self.addr)?;
            if socket.recv(&mut buffer).is_ok() {
                return Ok(());
            }
        }
        Err(CachingError::NotReady(self.addr))
    }

    fn stop(&mut self) {
        // By PID: the child handle is this very process, never matched by name.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for CachingResolver {
    fn drop(&mut self) {
        self.stop();
    }
}
