//! A bare one-query DNS client, so tests can look at exactly what the server sent (response
//! code, every address, truncation) without a resolver's caching, retries or interpretation.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// Buffer size the client advertises: big enough that 100 A records fit in one UDP answer.
const EDNS_PAYLOAD: u16 = 4096;

/// What the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The response code.
    pub code: ResponseCode,
    /// The A and AAAA data of the answer section, in the order sent.
    pub addresses: Vec<IpAddr>,
    /// Whether the server set the TC bit.
    pub truncated: bool,
}

/// Sends one query over UDP and waits up to `wait` for the answer (`TimedOut` otherwise).
pub async fn query_udp(server: SocketAddr, name: &str, record_type: RecordType, wait: Duration) -> io::Result<Answer> {
    let (id, request) = encode(name, record_type)?;
    let local = if server.is_ipv4() {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    } else {
        SocketAddr::from((Ipv6Addr::LOCALHOST, 0))
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(&request).await?;
    let mut buffer = vec![0u8; usize::from(u16::MAX)];
    let received = timeout(wait, async {
        loop {
            let size = socket.recv(&mut buffer).await?;
            let Some(bytes) = buffer.get(..size) else {
                continue;
            };
            let answer = decode(bytes)?;
            // A stray datagram (another id) is not our answer; keep waiting.
            if answer.0 == id {
                return io::Result::Ok(answer.1);
            }
        }
    })
    .await;
    received.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no DNS answer"))?
}

/// Sends one query over TCP and waits up to `wait` for the answer (`TimedOut` otherwise).
pub async fn query_tcp(server: SocketAddr, name: &str, record_type: RecordType, wait: Duration) -> io::Result<Answer> {
    let (_, request) = encode(name, record_type)?;
    let length =
        u16::try_from(request.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        stream.write_all(&length.to_be_bytes()).await?;
        stream.write_all(&request).await?;
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await?;
        let mut response = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut response).await?;
        Ok::<_, io::Error>(decode(&response)?.1)
    };
    timeout(wait, exchange).await.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no DNS answer"))?
}

fn encode(name: &str, record_type: RecordType) -> io::Result<(u16, Vec<u8>)> {
    let name = Name::from_ascii(name).map_err(invalid)?;
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name, record_type));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.edns = Some(edns);
    let bytes = message.to_vec().map_err(invalid)?;
    Ok((message.metadata.id, bytes))
}

fn decode(bytes: &[u8]) -> io::Result<(u16, Answer)> {
    let message = Message::from_vec(bytes).map_err(invalid)?;
    let addresses = message
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect();
    Ok((
        message.metadata.id,
        Answer { code: message.metadata.response_code, addresses, truncated: message.metadata.truncation },
    ))
}

fn invalid(error: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error.to_string())
}
