//! A UDP client for the cluster: the single-decree register ([`PaxosCodec`]) or the
//! Multi-Paxos key-value store ([`MultiPaxosCodec`]); one JSON message per datagram (the wire
//! formats are in docs/running.md), a timeout per attempt, and retries that move
//! on to the next server.
//!
//! For single-decree Paxos each attempt carries a fresh request number, so a retry is never
//! mistaken by a server for a duplicate of a request it dropped; a reply to any attempt of the
//! same operation answers it. Multi-Paxos retries keep the request number, so that the
//! replicas' per-client table applies a command chosen twice only once. A client that gets no
//! answer does not know whether a write took effect. A Multi-Paxos leader that finds a request
//! number used up (`Stale`: below the last one it applied from this address, or equal to it
//! with another operation: a previous client on the same port, R3 of `spec/runtime.md`) did
//! not run it: the client numbers the operation anew, above the leader's last, and asks again.
use crate::protocol::multi_paxos::{self, ClientCommand, KvOp, KvRet, TooLarge};
use crate::protocol::paxos::{Msg, RequestId, Value};
use stateright::actor::Id;
use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An operation on the write-once register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Put this value, unless another was chosen.
    Put(Value),
    /// Read the chosen value.
    Get,
}

/// A server's definite answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The register holds the value put.
    PutOk,
    /// The register holds another value.
    PutFail,
    /// The register's value (`None`: nothing chosen yet).
    GetOk(Option<Value>),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::PutOk => f.write_str("PutOk: the register holds this value"),
            Reply::PutFail => f.write_str("PutFail: the register holds another value"),
            Reply::GetOk(Some(value)) => write!(f, "GetOk: {value}"),
            Reply::GetOk(None) => f.write_str("GetOk: (empty)"),
        }
    }
}

/// How a protocol's client requests and replies look on the wire.
pub trait ClientCodec {
    /// What a client asks.
    type Op: Clone;
    /// A server's definite answer.
    type Ret;
    /// The protocol's message type, requests and replies alike, as JSON on the wire.
    type Msg: serde::Serialize + serde::de::DeserializeOwned;
    /// Whether every attempt of one operation carries the same request number. A protocol
    /// that deduplicates retried requests (Multi-Paxos's per-client table) needs it: a retry
    /// chosen twice is then applied once. Otherwise each attempt gets a fresh number, so that
    /// a retry is never mistaken for a duplicate of a request a server dropped.
    const SAME_REQUEST_ON_RETRY: bool = false;
    /// The request `request` of the client at `client` (its address, where replies go).
    fn request(op: &Self::Op, request: RequestId, client: SocketAddrV4) -> Self::Msg;
    /// The request number a reply answers, and the answer; `None` for anything else.
    fn reply(msg: Self::Msg) -> Option<(RequestId, Self::Ret)>;
    /// R3: for a refusal of a used-up request number, that number and the last one the
    /// servers applied from this client; `None` for anything else.
    fn stale(_msg: &Self::Msg) -> Option<(RequestId, RequestId)> {
        None
    }
    /// Whether `op` may be sent: the servers drop a request over their size limits unread,
    /// so the client refuses it first. By default every operation may.
    fn check(_op: &Self::Op) -> Result<(), TooLarge> {
        Ok(())
    }
}

/// The single-decree Paxos messages of [`crate::protocol::paxos::Msg`].
pub struct PaxosCodec;

impl ClientCodec for PaxosCodec {
    type Op = Op;
    type Ret = Reply;
    type Msg = Msg;

    fn request(op: &Op, request: RequestId, _client: SocketAddrV4) -> Msg {
        match *op {
            Op::Put(value) => Msg::Put { request, value },
            Op::Get => Msg::Get { request },
        }
    }

    fn reply(msg: Msg) -> Option<(RequestId, Reply)> {
        match msg {
            Msg::PutOk { request } => Some((request, Reply::PutOk)),
            Msg::PutFail { request } => Some((request, Reply::PutFail)),
            Msg::GetOk { request, value } => Some((request, Reply::GetOk(value))),
            _ => None,
        }
    }
}

/// The Multi-Paxos key-value messages of [`crate::protocol::multi_paxos::Msg`], with string
/// keys and values: a `Request` carrying the client's address and request number, answered by
/// the leader's `Reply`.
pub struct MultiPaxosCodec;

/// A Multi-Paxos message on UDP: keys and values are strings.
type MpMsg = multi_paxos::Msg<String>;

impl ClientCodec for MultiPaxosCodec {
    type Op = KvOp<String>;
    type Ret = KvRet;
    type Msg = MpMsg;
    const SAME_REQUEST_ON_RETRY: bool = true;

    fn request(op: &KvOp<String>, request: RequestId, client: SocketAddrV4) -> MpMsg {
        multi_paxos::Msg::Request {
            command: ClientCommand {
                client: Id::from(client),
                request,
                op: op.clone(),
            },
        }
    }

    fn reply(msg: MpMsg) -> Option<(RequestId, KvRet)> {
        match msg {
            multi_paxos::Msg::Reply { request, ret } => Some((request, ret)),
            _ => None,
        }
    }

    fn stale(msg: &MpMsg) -> Option<(RequestId, RequestId)> {
        match *msg {
            multi_paxos::Msg::Stale { request, last } => Some((request, last)),
            _ => None,
        }
    }

    fn check(op: &KvOp<String>) -> Result<(), TooLarge> {
        op.check_size()
    }
}

/// Why an operation has no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client's own socket failed.
    #[error("client socket error: {0}")]
    Io(#[source] std::io::Error),
    /// No server answered any attempt: the outcome is unknown (a put may have taken effect).
    #[error(
        "no server answered after {attempts} attempts: the outcome is unknown (a put may still \
         take effect); check that the servers run, or retry"
    )]
    NoAnswer {
        /// How many attempts went unanswered.
        attempts: usize,
    },
    /// No server to ask.
    #[error("no server address given")]
    NoServers,
    /// The servers applied request number `u64::MAX` from this client's address: no number
    /// is left above it.
    #[error(
        "the servers have applied the highest request number there is from this client \
         address: run the client from another address (port)"
    )]
    NumbersUsedUp,
    /// The operation's key or value is over the servers' size limit: not sent.
    #[error("not sent: {0}")]
    TooLarge(#[source] TooLarge),
}

/// A client bound to one UDP socket (its address is its identity for the servers).
pub struct UdpClient {
    socket: UdpSocket,
    /// The socket's own address: the client's identity in Multi-Paxos requests.
    address: SocketAddrV4,
    servers: Vec<SocketAddrV4>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Attempts per operation, each to the next server in turn.
    pub attempts: usize,
    /// The server the next operation starts with.
    next_server: usize,
    next_request: RequestId,
    /// The datagram being received: one buffer for the client's life, not one per call.
    buf: Box<[u8]>,
}

impl UdpClient {
    /// A client of `servers`, on an ephemeral port of the loopback interface when the first
    /// server is local, of any interface otherwise.
    pub fn new(
        servers: Vec<SocketAddrV4>,
        timeout: Duration,
        attempts: usize,
    ) -> Result<Self, Error> {
        let first = servers.first().ok_or(Error::NoServers)?;
        let ip = if first.ip().is_loopback() {
            Ipv4Addr::LOCALHOST
        } else {
            // The interface that routes to the first server: its address is the one a
            // Multi-Paxos request names as the client's (a wildcard address names nobody).
            let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(Error::Io)?;
            probe.connect(first).map_err(Error::Io)?;
            match probe.local_addr().map_err(Error::Io)? {
                SocketAddr::V4(local) => *local.ip(),
                SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            }
        };
        let socket = UdpSocket::bind(SocketAddrV4::new(ip, 0)).map_err(Error::Io)?;
        let address = match socket.local_addr().map_err(Error::Io)? {
            SocketAddr::V4(address) => address,
            SocketAddr::V6(_) => return Err(Error::Io(std::io::Error::other("bound IPv6"))),
        };
        // Request numbers start from the clock so that a restarted client reusing a port does
        // not collide with its predecessor's requests.
        let next_request = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64);
        Ok(UdpClient {
            socket,
            address,
            servers,
            timeout,
            attempts: attempts.max(1),
            next_server: 0,
            next_request,
            buf: vec![0; 65_535].into_boxed_slice(),
        })
    }

    /// Starts the next operation with `servers[index % n]`.
    pub fn prefer(&mut self, index: usize) {
        self.next_server = index;
    }

    /// This client's address, as servers see it.
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    /// Runs `op` with the single-decree Paxos messages.
    pub fn call(&mut self, op: Op) -> Result<Reply, Error> {
        self.call_with::<PaxosCodec>(op)
    }

    /// Runs `op`: asks one server after another until one answers or the attempts run out.
    /// An operation over the servers' size limits is refused unsent ([`Error::TooLarge`]).
    /// (A model operation, on `char`s, is taken as the runtime's, on one-character strings.)
    pub fn call_with<C: ClientCodec>(&mut self, op: impl Into<C::Op>) -> Result<C::Ret, Error> {
        let op = op.into();
        C::check(&op).map_err(Error::TooLarge)?;
        let mut asked: BTreeSet<RequestId> = BTreeSet::new();
        // Whether the next attempt takes a new request number.
        let mut renumber = true;
        // R3: after a refusal, the next attempt asks the server that refused again.
        let mut stay = 0;
        for attempt in 0..self.attempts {
            let index = (self.next_server + attempt - stay) % self.servers.len();
            let server = self.servers[index];
            let request = if C::SAME_REQUEST_ON_RETRY && !renumber {
                self.next_request - 1
            } else {
                renumber = false;
                let request = self.next_request;
                self.next_request = request.checked_add(1).ok_or(Error::NumbersUsedUp)?;
                request
            };
            asked.insert(request);
            let bytes = serde_json::to_vec(&C::request(&op, request, self.address))
                .expect("a client request always serializes");
            if let Err(e) = self.socket.send_to(&bytes, server) {
                log::debug!("Unable to send. server={server}, err={e}");
            }
            let deadline = Instant::now() + self.timeout;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if left.is_zero() {
                    break;
                }
                self.socket
                    .set_read_timeout(Some(left))
                    .map_err(Error::Io)?;
                let (count, from) = match self.socket.recv_from(&mut self.buf) {
                    Ok(received) => received,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    // An ICMP "port unreachable" from a stopped server: try the next one.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                    Err(e) => return Err(Error::Io(e)),
                };
                let Ok(msg) = serde_json::from_slice::<C::Msg>(&self.buf[..count]) else {
                    log::debug!("Ignoring a datagram that does not decode. from={from}");
                    continue;
                };
                if let Some((id, last)) = C::stale(&msg).filter(|(id, _)| asked.contains(id)) {
                    // R3: not run, and never will be: number it above `last` and ask again.
                    log::info!("Request number used up: numbering anew. request={id}, last={last}");
                    self.next_request = self
                        .next_request
                        .max(last.checked_add(1).ok_or(Error::NumbersUsedUp)?);
                    renumber = true;
                    stay += 1;
                    break;
                }
                match C::reply(msg) {
                    Some((id, reply)) if asked.contains(&id) => {
                        // The next operation goes to the server that answered: a Multi-Paxos
                        // follower forwards to its leader, which answers itself, so the client
                        // then asks the leader directly and saves a hop.
                        self.next_server = self
                            .servers
                            .iter()
                            .position(|&server| SocketAddr::V4(server) == from)
                            .unwrap_or(index);
                        return Ok(reply);
                    }
                    _ => log::debug!("Ignoring a datagram that answers nothing asked. from={from}"),
                }
            }
        }
        // Start the next operation elsewhere.
        self.next_server = (self.next_server + 1) % self.servers.len();
        Err(Error::NoAnswer {
            attempts: self.attempts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket standing for a server, on a free loopback port, that waits at most 5 s for a
    /// datagram.
    fn fake_server() -> (UdpSocket, SocketAddrV4) {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a timeout");
        let SocketAddr::V4(address) = socket.local_addr().expect("bound") else {
            unreachable!("bound to an IPv4 address");
        };
        (socket, address)
    }

    // R3: a `Stale` refusal makes the client number the operation above the leader's last
    // applied request and ask again; a plain reply to that number answers it.
    #[test]
    fn a_stale_number_is_renumbered_above_the_last() {
        let (server, address) = fake_server();
        let fake_leader = std::thread::spawn(move || {
            let mut buf = [0u8; 65_535];
            let mut asked = Vec::new();
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).expect("a request");
                let msg: MpMsg = serde_json::from_slice(&buf[..n]).expect("decodes");
                let multi_paxos::Msg::Request { command } = msg else {
                    panic!("not a request: {msg:?}");
                };
                asked.push(command.request);
                let answer = if asked.len() == 1 {
                    let last = command.request + 1_000;
                    MpMsg::Stale {
                        request: command.request,
                        last,
                    }
                } else {
                    multi_paxos::Msg::Reply {
                        request: command.request,
                        ret: KvRet::PutOk,
                    }
                };
                let bytes = serde_json::to_vec(&answer).expect("encodes");
                server.send_to(&bytes, from).expect("sent");
            }
            asked
        });
        let mut client =
            UdpClient::new(vec![address], Duration::from_secs(2), 3).expect("a client socket");
        let put = KvOp::Put {
            key: 'x',
            value: 'A',
        };
        let answer = client.call_with::<MultiPaxosCodec>(put);
        let asked = fake_leader.join().expect("the fake leader does not panic");
        assert_eq!(answer.ok(), Some(KvRet::PutOk));
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[1], asked[0] + 1_001, "numbered above the last");
    }

    // A follower forwards to its leader, which answers the client itself: the client's next
    // request goes to the leader directly.
    #[test]
    fn the_next_request_goes_to_the_server_that_answered() {
        let ((follower, follower_address), (leader, leader_address)) =
            (fake_server(), fake_server());
        let servers = std::thread::spawn(move || {
            let mut buf = [0u8; 65_535];
            let mut asked = Vec::new();
            for server in [&follower, &leader] {
                let (n, from) = server.recv_from(&mut buf).expect("a request");
                let Ok(multi_paxos::Msg::Request { command }) =
                    serde_json::from_slice::<MpMsg>(&buf[..n])
                else {
                    panic!("not a request");
                };
                asked.push(server.local_addr().expect("bound"));
                let reply: MpMsg = multi_paxos::Msg::Reply {
                    request: command.request,
                    ret: KvRet::PutOk,
                };
                let bytes = serde_json::to_vec(&reply).expect("encodes");
                leader.send_to(&bytes, from).expect("sent");
            }
            asked
        });
        let mut client = UdpClient::new(
            vec![follower_address, leader_address],
            Duration::from_secs(2),
            1,
        )
        .expect("a client socket");
        for value in ['A', 'B'] {
            let put = KvOp::Put { key: 'x', value };
            let answer = client.call_with::<MultiPaxosCodec>(put);
            assert_eq!(answer.ok(), Some(KvRet::PutOk));
        }
        let asked = servers.join().expect("the fake servers do not panic");
        let expected: Vec<SocketAddr> = vec![follower_address.into(), leader_address.into()];
        assert_eq!(
            asked, expected,
            "first the preferred server, then the one that answered"
        );
    }

    // R3: no number is left above u64::MAX: the client says so instead of looping.
    #[test]
    fn numbers_used_up_are_an_error() {
        let (server, address) = fake_server();
        let fake_leader = std::thread::spawn(move || {
            let mut buf = [0u8; 65_535];
            let (n, from) = server.recv_from(&mut buf).expect("a request");
            let msg: MpMsg = serde_json::from_slice(&buf[..n]).expect("decodes");
            let multi_paxos::Msg::Request { command } = msg else {
                panic!("not a request: {msg:?}");
            };
            let stale = MpMsg::Stale {
                request: command.request,
                last: u64::MAX,
            };
            let bytes = serde_json::to_vec(&stale).expect("encodes");
            server.send_to(&bytes, from).expect("sent");
        });
        let mut client =
            UdpClient::new(vec![address], Duration::from_secs(2), 3).expect("a client socket");
        let answer = client.call_with::<MultiPaxosCodec>(KvOp::Get { key: 'x' });
        fake_leader.join().expect("the fake leader does not panic");
        assert!(matches!(answer, Err(Error::NumbersUsedUp)), "{answer:?}");
    }
}
