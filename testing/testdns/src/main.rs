//! `albsync-testdns --listen 127.0.0.1:PORT --zone-file FILE`: serves the names of a JSON zone
//! file on loopback (UDP and TCP) and follows the file while it changes.
//!
//! Meant for the demo and for end-to-end tests in other languages, which rewrite the file
//! (atomically, by rename) to move an ALB's addresses or inject faults. Prints one line
//! `listening on ADDR` to stdout once queries are answered; logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use albsync_testdns::{TestDns, zone_file};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

/// How often the zone file's metadata is looked at; short, so tests that rewrite it wait little.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

const USAGE: &str = "usage: albsync-testdns --listen 127.0.0.1:PORT --zone-file FILE";

struct Args {
    listen: SocketAddr,
    zone_file: PathBuf,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn"));
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).init();

    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("albsync-testdns: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args(std::env::args().skip(1))?;

    // Taken before reading, so a rewrite racing with this first read is picked up by the poll.
    let mut stamp = Stamp::of(&args.zone_file);
    let records = zone_file::load(&args.zone_file).map_err(|e| e.to_string())?;

    // Before the ready line: a caller may signal as soon as it has read it.
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    let dns = TestDns::start_on(args.listen).await.map_err(|e| e.to_string())?;
    dns.replace_all(records);

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", dns.addr())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);

    let mut poll = tokio::time::interval(POLL_INTERVAL);
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = poll.tick() => {
                let now = Stamp::of(&args.zone_file);
                if now != stamp {
                    stamp = now;
                    reload(&dns, &args.zone_file);
                }
            }
        }
    }
    info!("stopping");
    dns.shutdown().await;
    Ok(())
}

fn reload(dns: &TestDns, path: &Path) {
    match zone_file::load(path) {
        Ok(records) => {
            let count = records.len();
            dns.replace_all(records);
            info!(names = count, "zone file reloaded");
        }
        Err(problem) => error!(%problem, "zone file rejected; still serving the last good zone"),
    }
}

/// What identifies one version of the zone file: an atomic rename changes the inode even when
/// the new file has the same size and modification time as the old one.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    device: u64,
}

impl Stamp {
    /// `None` while the file cannot be looked at; its reappearance then counts as a change.
    fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            inode: metadata.ino(),
            device: metadata.dev(),
        })
    }
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = None;
    let mut zone_file = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let mut value =
            || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value; {USAGE}"));
        match flag.as_str() {
            "--listen" => {
                let text = value()?;
                let addr =
                    text.parse::<SocketAddr>().map_err(|_| format!("--listen {text:?} is not an ip:port address"))?;
                listen = Some(addr);
            }
            "--zone-file" => zone_file = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or_else(|| format!("--listen is required; {USAGE}"))?,
        zone_file: zone_file.ok_or_else(|| format!("--zone-file is required; {USAGE}"))?,
    })
}
