//! Running the model-checked actors as a real UDP cluster, through stateright's
//! [`spawn`].
//!
//! The actor that runs is the actor the model checks: [`PaxosActor`] is handed to `spawn`
//! unchanged, wrapped in a [`Guard`] that only decides *whether* a datagram reaches it and
//! *how* its storage reaches the disk. The rules it enforces are in `spec/runtime.md`:
//!
//! - **H1** A datagram larger than [`WireProtocol::MAX_DATAGRAM`] or that does not decode
//!   as a message is dropped and logged (the decoder refuses it; `spawn` skips it).
//! - **H2** A peer-to-peer message from an address that is not a configured peer is dropped
//!   and logged: only client requests are accepted from anyone.
//! - **H3** A client reply sent to a server is dropped and logged.
//! - **L1** A peer's notice that a ballot was preempted (`Rejected`) reaches the actor after a
//!   random delay ([`BACKOFF`]), a network delay the protocol tolerates: proposers that
//!   preempt each other at once on every rejection would otherwise duel for ever.
//! - **D1** Storage is written to a temporary file, flushed with `fsync`, renamed over
//!   `<address>.storage` and the directory is flushed, before any message that depends on
//!   it is sent. A node that cannot save stops (exit status 1) instead of running on.
//! - **D2** A node whose storage file exists but cannot be read or decoded refuses to start:
//!   `spawn` would start it with no storage, and an acceptor that forgets its promises
//!   breaks agreement.
//!
//! Both protocols run this way: [`paxos_server`] and [`multi_paxos_server`]. Plugging in
//! another protocol takes: an `impl WireProtocol` for its actor
//! (which messages are internal, which are replies, which announce a preemption); a function
//! building the server actor from the cluster's ids, as [`paxos_server`] does; one arm in
//! [`run`]; and, for `paxos client` and `paxos bench`, an `impl ClientCodec`
//! ([`crate::runtime::client`]) used through `Client::call_with`.
use crate::protocol::multi_paxos::{self, MultiPaxosActor, Slot};
use crate::protocol::paxos::{Msg, PaxosActor, Roles, Variant};
use serde::de::DeserializeOwned;
use serde::Serialize;
use stateright::actor::{spawn, Actor, Command, Id, Out};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The protocols a node can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Single-decree Paxos: a write-once register.
    Paxos,
    /// Multi-Paxos: a replicated key-value log with a stable leader.
    MultiPaxos,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Paxos => "paxos",
            Protocol::MultiPaxos => "multi-paxos",
        })
    }
}

/// How long a proposer waits before retrying with a higher ballot on a real network: long
/// enough for a loopback round trip, short enough that a lost datagram costs little.
pub const RETRY_AFTER: Range<Duration> = Duration::from_millis(50)..Duration::from_millis(150);

/// How long a Multi-Paxos server that has a request it cannot serve waits for a leader before
/// starting phase 1 itself: several loopback round trips plus fsyncs.
pub const ELECTION_AFTER: Range<Duration> = Duration::from_millis(150)..Duration::from_millis(300);

/// L1: how long a preemption notice is held back, drawn at random by `spawn`'s timers.
pub const BACKOFF: Range<Duration> = Duration::from_millis(10)..Duration::from_millis(60);

/// What a runtime message is for, as far as the guard is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind {
    /// A request from a client: accepted from any address.
    ClientRequest,
    /// A reply meant for a client: a server never expects one.
    ClientReply,
    /// A peer-to-peer message: accepted only from a configured peer.
    Internal,
    /// A peer-to-peer message telling a proposer it was preempted: accepted only from a
    /// configured peer, and delivered after a random delay (L1).
    Preemption,
}

/// A protocol actor that can run on UDP: its messages and storage travel as JSON, and the
/// runtime knows which messages only peers may send.
pub trait WireProtocol: Actor + Send + 'static
where
    Self::Msg: Serialize + DeserializeOwned,
    Self::Storage: Serialize + DeserializeOwned,
{
    /// Larger datagrams are dropped unread (H1).
    const MAX_DATAGRAM: usize = 8 * 1024;

    /// Classifies a message for the guard (H2, H3).
    fn kind(msg: &Self::Msg) -> MsgKind;
}

impl WireProtocol for PaxosActor {
    fn kind(msg: &Msg) -> MsgKind {
        match msg {
            Msg::Put { .. } | Msg::Get { .. } => MsgKind::ClientRequest,
            Msg::PutOk { .. } | Msg::PutFail { .. } | Msg::GetOk { .. } => MsgKind::ClientReply,
            Msg::Prepare { .. }
            | Msg::Promise { .. }
            | Msg::Accept { .. }
            | Msg::Accepted { .. }
            | Msg::Read { .. }
            | Msg::ReadReply { .. } => MsgKind::Internal,
            Msg::Rejected { .. } => MsgKind::Preemption,
        }
    }
}

impl WireProtocol for MultiPaxosActor {
    /// A `Promise` carries every proposal accepted from the candidate's first unknown slot on:
    /// after a restart (the chosen log is kept in memory) that is the whole log, so the limit
    /// is UDP's own.
    const MAX_DATAGRAM: usize = 65_507;

    fn kind(msg: &multi_paxos::Msg) -> MsgKind {
        use multi_paxos::Msg as M;
        match msg {
            // A follower forwards a client's request to the leader: a peer's Request is a
            // request too, and anyone may send one.
            M::Request { .. } => MsgKind::ClientRequest,
            M::Reply { .. } => MsgKind::ClientReply,
            M::Prepare { .. }
            | M::Promise { .. }
            | M::Accept { .. }
            | M::Accepted { .. }
            | M::Chosen { .. }
            | M::CatchUp { .. } => MsgKind::Internal,
            M::Rejected { .. } => MsgKind::Preemption,
        }
    }
}

/// Why a node cannot start or had to stop, in terms an operator can act on.
#[derive(Debug)]
pub enum Error {
    /// An address that does not parse as `IPv4:port`.
    MalformedAddress { input: String, reason: String },
    /// The node's own address is taken by another process.
    AddressInUse(SocketAddrV4),
    /// The node's own address cannot be bound for another reason.
    Bind {
        address: SocketAddrV4,
        source: std::io::Error,
    },
    /// The data directory cannot be created or written.
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// D2: a storage file exists but cannot be used.
    StorageUnreadable { path: PathBuf, reason: String },
    /// The command line does not describe a cluster.
    Usage(String),
    /// A node thread stopped (stateright's `spawn` returned).
    Stopped(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MalformedAddress { input, reason } => write!(
                f,
                "malformed address {input:?}: {reason}; give an IPv4 address and port such as 127.0.0.1:3000"
            ),
            Error::AddressInUse(address) => write!(
                f,
                "address {address} is already in use: stop the process using it or choose another port"
            ),
            Error::Bind { address, source } => {
                write!(f, "cannot bind UDP socket to {address}: {source}")
            }
            Error::DataDir { path, source } => write!(
                f,
                "data directory {} cannot be written: {source}; give a writable --data-dir",
                path.display()
            ),
            Error::StorageUnreadable { path, reason } => write!(
                f,
                "refusing to start: storage file {} exists but cannot be read ({reason}). \
                 Starting without it could make this acceptor forget its promises and break \
                 agreement. Restore the file from a copy taken while the node was stopped; if \
                 the node's state is truly lost, see \"Lost storage\" in spec/runtime.md",
                path.display()
            ),
            Error::Usage(message) => f.write_str(message),
            Error::Stopped(reason) => write!(f, "node stopped: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The process exit status: 2 for a bad command line, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::MalformedAddress { .. } | Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Parses `IPv4:port`. stateright's [`Id`] holds an IPv4 address and port, so IPv6 and host
/// names are refused, and so is port 0 (peers must know the address in advance).
pub fn parse_address(input: &str) -> Result<SocketAddrV4, Error> {
    let malformed = |reason: &str| Error::MalformedAddress {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    match input.trim().parse::<SocketAddr>() {
        Ok(SocketAddr::V4(address)) if address.port() == 0 => {
            Err(malformed("port 0 is not allowed"))
        }
        Ok(SocketAddr::V4(address)) => Ok(address),
        Ok(SocketAddr::V6(_)) => Err(malformed("IPv6 is not supported")),
        Err(e) => Err(malformed(&e.to_string())),
    }
}

/// Why a datagram or a storage file did not decode.
#[derive(Debug)]
pub enum CodecError {
    Oversized { bytes: usize, max: usize },
    Json(serde_json::Error),
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    serde_json::to_vec(value).map_err(CodecError::Json)
}

static DROPPED_OVERSIZED: AtomicU64 = AtomicU64::new(0);
static DROPPED_MALFORMED: AtomicU64 = AtomicU64::new(0);
static DROPPED_NON_PEER: AtomicU64 = AtomicU64::new(0);
static DROPPED_REPLY: AtomicU64 = AtomicU64::new(0);

/// Counts one dropped datagram of a kind; returns the count when it is worth a log line: the
/// first 100 of each kind, then one in 1,000, so that a flood of datagrams does not become a
/// flood of log lines.
fn worth_logging(dropped: &AtomicU64) -> Option<u64> {
    let n = dropped.fetch_add(1, Ordering::Relaxed) + 1;
    (n <= 100 || n.is_multiple_of(1000)).then_some(n)
}

/// H1: oversized or undecodable datagrams are refused here and logged; `spawn` then skips
/// them ("Unable to parse message. Ignoring.").
fn decode_msg<A>(bytes: &[u8]) -> Result<A::Msg, CodecError>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Serialize + DeserializeOwned,
{
    if bytes.len() > A::MAX_DATAGRAM {
        if let Some(dropped) = worth_logging(&DROPPED_OVERSIZED) {
            log::warn!(
                "Dropped oversized datagram. bytes={}, max={}, dropped={dropped}",
                bytes.len(),
                A::MAX_DATAGRAM
            );
        }
        return Err(CodecError::Oversized {
            bytes: bytes.len(),
            max: A::MAX_DATAGRAM,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if let Some(dropped) = worth_logging(&DROPPED_MALFORMED) {
            log::warn!(
                "Dropped malformed datagram. bytes={}, err={e}, dropped={dropped}",
                bytes.len()
            );
        }
        CodecError::Json(e)
    })
}

fn decode_storage<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, CodecError> {
    serde_json::from_slice(bytes).map_err(CodecError::Json)
}

/// The storage file of the node at `address`: the name `spawn` reads at start.
pub fn storage_path(data_dir: &Path, address: SocketAddrV4) -> PathBuf {
    data_dir.join(format!("{address}.storage"))
}

/// D2: the saved storage at `path`, `None` if there is no file yet, an error if there is one
/// that cannot be used (an empty file included: a save that never finished).
pub fn load_storage<S: DeserializeOwned>(path: &Path) -> Result<Option<S>, Error> {
    let unreadable = |reason: String| Error::StorageUnreadable {
        path: path.to_owned(),
        reason,
    };
    match fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unreadable(e.to_string())),
        Ok(bytes) if bytes.is_empty() => Err(unreadable("the file is empty".to_owned())),
        Ok(bytes) => decode_storage(&bytes)
            .map(Some)
            .map_err(|e| unreadable(format!("{e:?}"))),
    }
}

/// D1: replaces `path` with `bytes` so that a crash at any point leaves either the old or the
/// new content, flushed to the device.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty());
    fs::File::open(directory.unwrap_or(Path::new(".")))?.sync_all()
}

/// The guard's timers: the actor's own, and held-back messages (L1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GuardTimer<T, M> {
    Inner(T),
    Deliver(Id, M),
}

/// The runtime's wrapper around a protocol actor: filters what reaches it (H2, H3) and writes
/// its storage durably (D1). State, timers and messages are the inner actor's own.
#[derive(Clone, Debug)]
pub struct Guard<A> {
    pub inner: A,
    /// Every member of the cluster, this node included.
    pub peers: BTreeSet<Id>,
    /// Where this node's storage lives (`<data dir>/<address>.storage`).
    pub storage_path: PathBuf,
}

impl<A> Guard<A>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Serialize + DeserializeOwned,
{
    /// Passes the inner actor's commands on, saving storage on the spot so that it is on disk
    /// before any message the same step sends.
    fn forward(&self, id: Id, out: Out<A>, o: &mut Out<Self>) {
        for command in out {
            match command {
                Command::Save(storage) => self.save(id, &storage),
                Command::Send(dst, msg) => o.send(dst, msg),
                Command::SetTimer(timer, duration) => {
                    o.set_timer(GuardTimer::Inner(timer), duration)
                }
                Command::CancelTimer(timer) => o.cancel_timer(GuardTimer::Inner(timer)),
                Command::ChooseRandom(key, random) => o.choose_random(key, random),
            }
        }
    }

    /// D1: a node that cannot save must not send what depends on the save: it stops.
    fn save(&self, id: Id, storage: &A::Storage) {
        let result = encode(storage)
            .map_err(|e| format!("{e:?}"))
            .and_then(|bytes| write_durably(&self.storage_path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = result {
            log::error!(
                "Unable to save storage: stopping the node. id={id}, path={}, err={e}",
                self.storage_path.display()
            );
            eprintln!(
                "error: cannot save storage to {}: {e}; the node stops rather than run without durable state",
                self.storage_path.display()
            );
            std::process::exit(1);
        }
    }
}

impl<A> Actor for Guard<A>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Serialize + DeserializeOwned,
{
    type Msg = A::Msg;
    type State = A::State;
    type Timer = GuardTimer<A::Timer, A::Msg>;
    type Random = A::Random;
    type Storage = A::Storage;

    fn name(&self) -> String {
        self.inner.name()
    }

    fn on_start(&self, id: Id, storage: &Option<A::Storage>, o: &mut Out<Self>) -> A::State {
        let mut out = Out::new();
        let state = self.inner.on_start(id, storage, &mut out);
        self.forward(id, out, o);
        state
    }

    fn on_msg(&self, id: Id, state: &mut Cow<A::State>, src: Id, msg: A::Msg, o: &mut Out<Self>) {
        match A::kind(&msg) {
            // H2: peer-to-peer messages only from configured peers.
            MsgKind::Internal | MsgKind::Preemption if !self.peers.contains(&src) => {
                if let Some(dropped) = worth_logging(&DROPPED_NON_PEER) {
                    log::warn!(
                        "Dropped internal message from a non-peer. id={id}, src={src}, \
                         msg={msg:?}, dropped={dropped}"
                    );
                }
                return;
            }
            // H3: servers expect no client replies.
            MsgKind::ClientReply => {
                if let Some(dropped) = worth_logging(&DROPPED_REPLY) {
                    log::warn!(
                        "Dropped unexpected client reply. id={id}, src={src}, msg={msg:?}, \
                         dropped={dropped}"
                    );
                }
                return;
            }
            // L1: back off before acting on a preemption.
            MsgKind::Preemption => {
                o.set_timer(GuardTimer::Deliver(src, msg), BACKOFF);
                return;
            }
            MsgKind::Internal | MsgKind::ClientRequest => {}
        }
        let mut out = Out::new();
        self.inner.on_msg(id, state, src, msg, &mut out);
        self.forward(id, out, o);
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<A::State>,
        timer: &Self::Timer,
        o: &mut Out<Self>,
    ) {
        let mut out = Out::new();
        match timer {
            GuardTimer::Inner(timer) => self.inner.on_timeout(id, state, timer, &mut out),
            GuardTimer::Deliver(src, msg) => {
                self.inner.on_msg(id, state, *src, msg.clone(), &mut out)
            }
        }
        self.forward(id, out, o);
    }

    fn on_random(&self, id: Id, state: &mut Cow<A::State>, random: &A::Random, o: &mut Out<Self>) {
        let mut out = Out::new();
        self.inner.on_random(id, state, random, &mut out);
        self.forward(id, out, o);
    }
}

/// One process's share of a cluster.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub protocol: Protocol,
    /// The nodes this process runs (one, or all of them with `--local`).
    pub addresses: Vec<SocketAddrV4>,
    /// Every member of the cluster, these nodes included.
    pub cluster: Vec<SocketAddrV4>,
    /// Where `<address>.storage` files live; the process makes it its working directory,
    /// since that is where `spawn` reads them.
    pub data_dir: PathBuf,
    /// Exit (status 0) after this long: keeps test and benchmark clusters bounded in time.
    pub exit_after: Option<Duration>,
}

/// The single-decree Paxos server the model checks (`Layout::Servers`): every server plays
/// every role, the acceptors are all servers, there are no separate learners.
pub fn paxos_server(cluster: &[Id]) -> PaxosActor {
    PaxosActor {
        roles: Roles::SERVER,
        acceptors: cluster.to_vec(),
        learners: Vec::new(),
        variant: Variant::Correct,
        retry_after: RETRY_AFTER,
    }
}

/// The Multi-Paxos server the model checks, with real timer durations and a log as long as
/// [`Slot`] allows (the model bounds it to keep the state space finite).
pub fn multi_paxos_server(cluster: &[Id]) -> MultiPaxosActor {
    MultiPaxosActor {
        servers: cluster.to_vec(),
        slots: Slot::MAX,
        variant: multi_paxos::Variant::Correct,
        election_after: ELECTION_AFTER,
    }
}

/// Checks the configuration, then runs the nodes until the process is stopped (or
/// `exit_after` passes). Returns only on an error.
pub fn run(config: &NodeConfig) -> Result<(), Error> {
    match config.protocol {
        Protocol::Paxos => serve(config, paxos_server),
        Protocol::MultiPaxos => serve(config, multi_paxos_server),
    }
}

/// Runs `make(cluster)` at each of the configured addresses on UDP.
pub fn serve<A>(config: &NodeConfig, make: fn(&[Id]) -> A) -> Result<(), Error>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Serialize + DeserializeOwned,
    A::State: fmt::Debug,
{
    if config.addresses.is_empty() {
        return Err(Error::Usage("no node address given".to_owned()));
    }
    let mut cluster: Vec<SocketAddrV4> = config.cluster.clone();
    cluster.extend(&config.addresses);
    cluster.sort();
    cluster.dedup();
    let data_dir = prepare_data_dir(&config.data_dir)?;
    for &address in &config.addresses {
        // D2: refuse to start on storage that `spawn` would silently ignore.
        load_storage::<A::Storage>(&storage_path(&data_dir, address))?;
        // `spawn` panics when it cannot bind: find out first, with a clear error.
        match UdpSocket::bind(address) {
            Ok(socket) => drop(socket),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(Error::AddressInUse(address))
            }
            Err(source) => return Err(Error::Bind { address, source }),
        }
    }
    std::env::set_current_dir(&data_dir).map_err(|source| Error::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let ids: Vec<Id> = cluster.iter().map(|&a| Id::from(a)).collect();
    let actors: Vec<(Id, Guard<A>)> = config
        .addresses
        .iter()
        .map(|&address| {
            let guard = Guard {
                inner: make(&ids),
                peers: ids.iter().copied().collect(),
                storage_path: storage_path(&data_dir, address),
            };
            (Id::from(address), guard)
        })
        .collect();
    if let Some(after) = config.exit_after {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            log::info!("Exiting as asked. after={after:?}");
            std::process::exit(0);
        });
    }
    let nodes: Vec<String> = config.addresses.iter().map(|a| a.to_string()).collect();
    let members: Vec<String> = cluster.iter().map(|a| a.to_string()).collect();
    eprintln!(
        "paxos: serving {} at {} (cluster {}), storage in {}",
        config.protocol,
        nodes.join(", "),
        members.join(", "),
        data_dir.display()
    );
    let result = spawn(
        encode::<A::Msg>,
        decode_msg::<A>,
        encode::<A::Storage>,
        decode_storage::<A::Storage>,
        actors,
    );
    let reason = match result {
        Ok(()) => "every node thread returned".to_owned(),
        Err(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a node thread panicked".to_owned()),
    };
    Err(Error::Stopped(reason))
}

/// `n` distinct loopback addresses whose ports were free a moment ago (tests and benchmarks).
pub fn free_loopback_addresses(n: usize) -> std::io::Result<Vec<SocketAddrV4>> {
    let sockets = (0..n)
        .map(|_| UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    sockets
        .iter()
        .map(|s| match s.local_addr()? {
            SocketAddr::V4(address) => Ok(address),
            SocketAddr::V6(_) => Err(std::io::Error::other("bound an IPv6 address")),
        })
        .collect()
}

/// Creates the data directory if needed, checks that it is writable and returns its absolute
/// path.
fn prepare_data_dir(path: &Path) -> Result<PathBuf, Error> {
    let failed = |source| Error::DataDir {
        path: path.to_owned(),
        source,
    };
    fs::create_dir_all(path).map_err(failed)?;
    let path = fs::canonicalize(path).map_err(failed)?;
    let probe = path.join(format!(".write-test-{}", std::process::id()));
    fs::write(&probe, b"probe").map_err(failed)?;
    fs::remove_file(&probe).map_err(failed)?;
    Ok(path)
}

/// `paxos spawn`: one node, or a whole local cluster.
#[derive(Debug, clap::Args)]
pub struct SpawnArgs {
    /// The protocol the nodes run.
    #[arg(long, value_enum, default_value_t = Protocol::Paxos)]
    pub protocol: Protocol,
    /// This node's address (IPv4:port). With --local, the first node's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub address: String,
    /// The other members' addresses, comma-separated (every node must list the same cluster).
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Run a whole cluster of N nodes in this process, on --address and the next N-1 ports.
    #[arg(long, value_name = "N")]
    pub local: Option<u16>,
    /// Where durable state lives: one `<address>.storage` file per node.
    #[arg(long, default_value = ".")]
    pub data_dir: PathBuf,
    /// Exit (status 0) after this many seconds, so that test clusters stop by themselves.
    #[arg(long, value_name = "SECS")]
    pub exit_after: Option<f64>,
}

/// Runs `paxos spawn`; returns only on an error.
pub fn command(args: &SpawnArgs) -> Result<bool, Error> {
    let first = parse_address(&args.address)?;
    let addresses = match args.local {
        None => vec![first],
        Some(0) => return Err(Error::Usage("--local needs at least 1 node".to_owned())),
        Some(n) => (0..n)
            .map(|i| {
                first
                    .port()
                    .checked_add(i)
                    .map(|port| SocketAddrV4::new(*first.ip(), port))
                    .ok_or_else(|| Error::Usage(format!("--local {n} runs past port 65535")))
            })
            .collect::<Result<_, _>>()?,
    };
    let peers = args
        .peers
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_address(p))
        .collect::<Result<Vec<_>, _>>()?;
    let exit_after = match args.exit_after {
        None => None,
        Some(secs) => Some(
            Duration::try_from_secs_f64(secs)
                .map_err(|e| Error::Usage(format!("--exit-after {secs}: {e}")))?,
        ),
    };
    let config = NodeConfig {
        protocol: args.protocol,
        cluster: peers.iter().chain(&addresses).copied().collect(),
        addresses,
        data_dir: args.data_dir.clone(),
        exit_after,
    };
    run(&config).map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::paxos::{Ballot, Proposal, Storage};

    #[test]
    fn addresses_parse_or_explain() {
        assert_eq!(
            parse_address("127.0.0.1:3000").ok(),
            Some("127.0.0.1:3000".parse().expect("a valid literal"))
        );
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            "[::1]:3000",
            "localhost:3000",
            "1.2.3.4:70000",
        ] {
            assert!(
                matches!(parse_address(bad), Err(Error::MalformedAddress { .. })),
                "{bad}"
            );
        }
    }

    // H2, H3: the guard's classification of every Paxos message.
    #[test]
    fn only_client_requests_are_open_to_anyone() {
        assert_eq!(
            PaxosActor::kind(&Msg::Get { request: 1 }),
            MsgKind::ClientRequest
        );
        assert_eq!(
            PaxosActor::kind(&Msg::Prepare {
                ballot: Ballot::default()
            }),
            MsgKind::Internal
        );
        assert_eq!(
            PaxosActor::kind(&Msg::PutOk { request: 1 }),
            MsgKind::ClientReply
        );
    }

    // H2, H3: the guard's classification of the Multi-Paxos messages: a Request is open to
    // anyone (a follower forwards a client's), a Reply is for clients only.
    #[test]
    fn multi_paxos_requests_are_open_to_anyone() {
        use crate::protocol::multi_paxos::{ClientCommand, KvOp, KvRet, Msg as M};
        let someone = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let command = ClientCommand {
            client: someone,
            request: 1,
            op: KvOp::Get { key: 'x' },
        };
        assert_eq!(
            MultiPaxosActor::kind(&M::Request { command }),
            MsgKind::ClientRequest
        );
        let reply = M::Reply {
            request: 1,
            ret: KvRet::PutOk,
        };
        assert_eq!(MultiPaxosActor::kind(&reply), MsgKind::ClientReply);
        let prepare = M::Prepare {
            ballot: Ballot::default(),
            from: 0,
        };
        assert_eq!(MultiPaxosActor::kind(&prepare), MsgKind::Internal);
        let catch_up = M::CatchUp { from: 0, to: 1 };
        assert_eq!(MultiPaxosActor::kind(&catch_up), MsgKind::Internal);
        let rejected = M::Rejected {
            ballot: Ballot::default(),
            promised: Ballot::default(),
            slot: None,
        };
        assert_eq!(MultiPaxosActor::kind(&rejected), MsgKind::Preemption);
    }

    /// A guarded Paxos server among three loopback peers; its storage is never written.
    fn test_guard() -> (Vec<Id>, Guard<PaxosActor>) {
        let peers: Vec<Id> = (1..=3)
            .map(|p| Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), p)))
            .collect();
        let guard = Guard {
            inner: paxos_server(&peers),
            peers: peers.iter().copied().collect(),
            storage_path: std::env::temp_dir().join("never-written.storage"),
        };
        (peers, guard)
    }

    // H2: an internal message from a non-peer leaves the state as it was and sends nothing.
    #[test]
    fn guard_drops_internal_messages_from_non_peers() {
        let (peers, guard) = test_guard();
        let mut o = Out::new();
        let start = guard.on_start(peers[0], &None, &mut o);
        let mut state = Cow::Borrowed(&start);
        let stranger = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let ballot = Ballot {
            round: u32::MAX,
            proposer: stranger,
        };
        let proposal = Proposal { ballot, value: 'Z' };
        for msg in [
            Msg::Prepare { ballot },
            Msg::Accept { proposal },
            Msg::PutOk { request: 1 },
            Msg::Rejected {
                ballot,
                promised: ballot,
            },
        ] {
            guard.on_msg(peers[0], &mut state, stranger, msg, &mut o);
        }
        assert!(matches!(state, Cow::Borrowed(_)));
        assert!(o.is_empty());
    }

    // L1: a peer's Rejected is held back on a timer, then handed to the actor.
    #[test]
    fn guard_delays_preemption_notices() {
        let (peers, guard) = test_guard();
        let mut o = Out::new();
        let start = guard.on_start(peers[0], &None, &mut o);
        let mut state = Cow::Borrowed(&start);
        let rejected = Msg::Rejected {
            ballot: Ballot::default(),
            promised: Ballot {
                round: 2,
                proposer: peers[1],
            },
        };
        guard.on_msg(peers[0], &mut state, peers[1], rejected.clone(), &mut o);
        assert!(matches!(state, Cow::Borrowed(_)));
        let timer = GuardTimer::Deliver(peers[1], rejected);
        assert!(matches!(
            &o[..],
            [Command::SetTimer(t, range)] if *t == timer && *range == BACKOFF
        ));
    }

    // D2: an empty or garbled file is refused, a missing one is a fresh node.
    #[test]
    fn storage_is_loaded_or_refused() {
        let dir = std::env::temp_dir().join(format!("paxos-runtime-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir is writable");
        let path = dir.join("node.storage");
        let _ = fs::remove_file(&path);
        assert!(matches!(load_storage::<Storage>(&path), Ok(None)));
        let saved = Storage {
            round: 3,
            ..Storage::default()
        };
        write_durably(&path, &encode(&saved).expect("storage encodes")).expect("saved");
        assert_eq!(load_storage::<Storage>(&path).ok().flatten(), Some(saved));
        for garbage in [&b""[..], b"{\"round\":", b"\x00\xff"] {
            fs::write(&path, garbage).expect("written");
            assert!(matches!(
                load_storage::<Storage>(&path),
                Err(Error::StorageUnreadable { .. })
            ));
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
