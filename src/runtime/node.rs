//! Running the model-checked actors as a real UDP cluster, through stateright's
//! [`spawn`].
//!
//! The actor that runs is the actor the model checks: [`PaxosActor`] is handed to `spawn`
//! unchanged, wrapped in a [`Guard`] that only decides *whether* a datagram reaches it and
//! *how* its storage reaches the disk. The rules of `spec/runtime.md` live next to the code
//! that enforces them:
//!
//! - H1-H3 (hostile input), R1 (a client request speaks for its source), A1 (peer messages
//!   sealed with the cluster key) and L1 (back-off after a preemption):
//!   [`crate::runtime::guard`]; A2 (the key file): [`crate::runtime::auth`], loaded here
//!   before anything else;
//! - D1 (storage on disk before what depends on it) and D2 (a node refuses to start on
//!   storage it cannot read): [`crate::runtime::storage`]; the snapshot and its log (W1-W4):
//!   [`crate::runtime::wal`], recovered here before `spawn` runs.
//!
//! Both protocols run this way: [`paxos_server`] and [`multi_paxos_server`]. Plugging in
//! another protocol takes: an `impl WireProtocol` for its actor
//! ([`crate::runtime::guard::WireProtocol`]: which messages are internal, which are replies,
//! which announce a preemption); a function building the server actor from the cluster's
//! ids, as [`paxos_server`] does; one arm in [`run`]; and, for `paxos client` and
//! `paxos bench`, an `impl ClientCodec` ([`crate::runtime::client`]) used through
//! `UdpClient::call_with`.
use crate::protocol::multi_paxos::{self, LeaderTick, MultiPaxosActor, Slot, Tuning};
use crate::protocol::paxos::{PaxosActor, Roles, Variant};
use crate::runtime::auth::{self, ClusterKey, KeyError};
use crate::runtime::faults::{FaultPlan, Faults};
use crate::runtime::guard::multi_paxos::{BATCH, BATCH_BYTES, PIECE, SNAPSHOT_PIECE};
use crate::runtime::guard::{self, Guard, Stop, Stopping, WireProtocol};
use crate::runtime::storage::{self, storage_path};
use crate::runtime::trace::Tracer;
use crate::runtime::wal::{Journal, Store, COMPACT_AFTER};
use serde::de::DeserializeOwned;
use serde::Serialize;
use stateright::actor::{spawn, Id};
use std::fmt;
use std::fs;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The protocols a node can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// How long a Multi-Paxos server that does not lead waits for a leader before starting phase 1
/// itself, once it has a request it cannot serve or has heard a leader: several heartbeats
/// ([`TICK_AFTER`]), drawn at random by `spawn`'s timers so that two followers rarely
/// campaign at once.
pub const ELECTION_AFTER: Range<Duration> = Duration::from_millis(300)..Duration::from_millis(600);

/// How often a Multi-Paxos leader sends heartbeats and re-sends the `Accept`s still in flight.
pub const TICK_AFTER: Range<Duration> = Duration::from_millis(50)..Duration::from_millis(50);

/// The most `Accept`s a Multi-Paxos leader sends at once when it takes over or re-sends, and
/// the most `Chosen` slots one catch-up answer sends: each is a datagram of its own, so this
/// bounds a burst, not a datagram. At one catch-up per 50 ms heartbeat ([`TICK_AFTER`]), a
/// lagging replica relearns 4,000 slots a second.
pub const BURST: usize = 200;

/// The most slots a Multi-Paxos leader has in flight on UDP: requests that arrive while they
/// are all in flight wait, and go into the next free slot together, as one batch
/// ([`BATCH`]): one durable write per acceptor then serves them all.
pub const WINDOW: usize = 1;

/// How long a Multi-Paxos leader on UDP holds its waiting requests, once a slot is chosen, for
/// the clients that slot answered to send their next ones ([`multi_paxos::Tuning::batch_wait`],
/// S6 in spec/runtime.md): a few loopback round trips. It delays only requests that arrive
/// while a slot was being chosen, and only while some answered client has not come back.
pub const BATCH_WAIT: Range<Duration> = Duration::from_millis(1)..Duration::from_millis(1);

/// A Multi-Paxos server on UDP takes a snapshot of its store, and truncates its log below it,
/// each time it has applied this many slots past its last one: its log (and every save's copy
/// of the accepted proposals) stays within this many slots, and a snapshot (a copy of the
/// store, written to the log) is paid for once per this many slots.
pub const SNAPSHOT_AFTER: multi_paxos::Slot = 256;

/// Why a node cannot start or had to stop, in terms an operator can act on.
#[derive(Debug)]
pub enum Error {
    /// The configuration names no node to run.
    NoAddresses,
    /// The node's own address is taken by another process.
    AddressInUse(SocketAddrV4),
    /// The node's own address cannot be bound for another reason.
    Bind {
        /// The node's address.
        address: SocketAddrV4,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The data directory cannot be created or written.
    DataDir {
        /// The directory as configured.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// D2: a storage file exists but cannot be used.
    StorageUnreadable(storage::Unreadable),
    /// A2: the cluster key file cannot be used.
    ClusterKey(KeyError),
    /// A node thread stopped (stateright's `spawn` returned).
    Stopped(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoAddresses => f.write_str("no node address given"),
            Error::AddressInUse(address) => write!(
                f,
                "address {address} is already in use: stop the process using it or choose \
                 another port"
            ),
            Error::Bind { address, source } => {
                write!(f, "cannot bind UDP socket to {address}: {source}")
            }
            Error::DataDir { path, source } => write!(
                f,
                "data directory {} cannot be written: {source}",
                path.display()
            ),
            // D2: which file, what is wrong, and what to do (§2.5: an acceptor's promises
            // and acceptances must survive it).
            Error::StorageUnreadable(unreadable) => {
                let snapshot = unreadable.path.with_extension("storage");
                let log = crate::runtime::wal::log_path(&snapshot);
                write!(
                    f,
                    "refusing to start: {unreadable}. This node's promises and acceptances are \
                     kept in {} and {} together, and a node that forgets them can let the \
                     cluster choose two different values (Paxos Made Simple §2.5). What to do: \
                     restore both files from a copy taken while this node was stopped after \
                     its last run; or keep this node down: the other members serve while a \
                     majority of the cluster runs. Do not delete or truncate the files to \
                     start afresh. See \"Lost storage\" in spec/runtime.md",
                    snapshot.display(),
                    log.display()
                )
            }
            Error::ClusterKey(e) => write!(f, "refusing to start: {e}"),
            Error::Stopped(reason) => write!(f, "node stopped: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::DataDir { source, .. } => Some(source),
            Error::StorageUnreadable(unreadable) => Some(unreadable),
            Error::ClusterKey(e) => Some(e),
            Error::NoAddresses | Error::AddressInUse(_) | Error::Stopped(_) => None,
        }
    }
}

impl From<storage::Unreadable> for Error {
    fn from(unreadable: storage::Unreadable) -> Self {
        Error::StorageUnreadable(unreadable)
    }
}

/// One process's share of a cluster.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The protocol every node of the cluster runs.
    pub protocol: Protocol,
    /// The nodes this process runs (one, or all of them with `--local`).
    pub addresses: Vec<SocketAddrV4>,
    /// Every member of the cluster, these nodes included.
    pub cluster: Vec<SocketAddrV4>,
    /// Where each node's storage lives (`<address>.storage` and `<address>.wal`).
    pub data_dir: PathBuf,
    /// Exit (status 0) after this long: keeps test and benchmark clusters bounded in time.
    pub exit_after: Option<Duration>,
    /// A1, A2: the file holding the key every member shares; without one, peers are known by
    /// their source address only (H2) and the wire format is the protocol's JSON.
    pub cluster_key_file: Option<PathBuf>,
    /// F1: faults injected into the traffic between peers; tests only.
    pub test_faults: Option<FaultPlan>,
    /// T1, T2: record every event each node's actor handles in `<dir>/<address>.trace.jsonl`
    /// (`paxos validate` replays them through the model); off when `None`.
    pub trace_dir: Option<PathBuf>,
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

/// How a Multi-Paxos server runs on UDP: every knob of [`Tuning`] at its runtime value, each
/// explained where it is defined. A unit test checks that it passes [`Tuning::validate`].
pub const UDP_TUNING: Tuning = Tuning {
    election_after: ELECTION_AFTER,
    leader_tick: LeaderTick::Always,
    tick_after: TICK_AFTER,
    piece: PIECE,
    burst: BURST,
    window: Some(WINDOW),
    batch: BATCH,
    batch_wait: Some(BATCH_WAIT),
    batch_bytes: BATCH_BYTES,
    snapshot_piece: SNAPSHOT_PIECE,
    snapshot_after: Some(SNAPSHOT_AFTER),
};

/// The Multi-Paxos server the model checks, with string keys and values (the model's are
/// `char`s), tuned for UDP ([`UDP_TUNING`]) and a log as long as [`Slot`] allows (the model
/// bounds it to keep the state space finite).
pub fn multi_paxos_server(cluster: &[Id]) -> MultiPaxosActor<String> {
    MultiPaxosActor {
        servers: cluster.to_vec(),
        slots: Slot::MAX,
        variant: multi_paxos::Variant::Correct,
        tuning: UDP_TUNING,
        text: std::marker::PhantomData,
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
    A::Msg: Serialize + DeserializeOwned + Send,
    A::Storage: Journal,
    A::State: fmt::Debug,
    A::Timer: Serialize + Send,
    A::Random: Send,
{
    if config.addresses.is_empty() {
        return Err(Error::NoAddresses);
    }
    // A2: no key, no start, when a key file is given.
    let key = match &config.cluster_key_file {
        Some(path) => {
            let key = ClusterKey::load(path).map_err(Error::ClusterKey)?;
            if auth::open_to_others(path) {
                eprintln!(
                    "paxos: warning: cluster key file {} is open to other users: whoever reads \
                     it can speak for any member (chmod 600 it)",
                    path.display()
                );
            }
            Some(key)
        }
        None => None,
    };
    let mut cluster: Vec<SocketAddrV4> = config.cluster.clone();
    cluster.extend(&config.addresses);
    cluster.sort();
    cluster.dedup();
    let data_dir = prepare_data_dir(&config.data_dir)?;
    for &address in &config.addresses {
        // `spawn` panics when it cannot bind: find out first, with a clear error. First of
        // all: a node already running at the address owns its storage, which only it touches.
        match UdpSocket::bind(address) {
            Ok(socket) => drop(socket),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(Error::AddressInUse(address))
            }
            Err(source) => return Err(Error::Bind { address, source }),
        }
    }
    let mut stores = Vec::new();
    for &address in &config.addresses {
        // D2, W2-W4: refuse to start on storage that `spawn` would silently ignore; cut off a
        // torn tail; fold the log into the snapshot. The actor starts from what the store read
        // (the guard's `on_start`), so the storage is parsed once.
        let store = Store::<A::Storage>::open(&storage_path(&data_dir, address), COMPACT_AFTER)?;
        stores.push(Arc::new(store));
    }
    // T1: a relative trace directory is relative to where the command ran.
    let trace_dir = match &config.trace_dir {
        Some(dir) => Some(std::path::absolute(dir).map_err(|source| Error::DataDir {
            path: dir.clone(),
            source,
        })?),
        None => None,
    };
    let ids: Vec<Id> = cluster.iter().map(|&a| Id::from(a)).collect();
    let faults = config
        .test_faults
        .clone()
        .map(|plan| Arc::new(Faults::new(plan)));
    let stop = Arc::new(Stop::default());
    let mut actors: Vec<(Id, Guard<A>)> = Vec::new();
    for (&address, store) in config.addresses.iter().zip(stores) {
        let trace = match &trace_dir {
            Some(dir) => {
                let protocol = config.protocol.to_string();
                let tracer = Tracer::open(dir, address, &protocol, &cluster).map_err(|source| {
                    Error::DataDir {
                        path: dir.clone(),
                        source,
                    }
                })?;
                Some(Arc::new(tracer))
            }
            None => None,
        };
        let guard = Guard {
            inner: make(&ids),
            peers: ids.iter().copied().collect(),
            store,
            key: key.clone(),
            faults: faults.clone(),
            trace,
            deferred: Arc::default(),
            stop: Arc::clone(&stop),
            drops: Arc::default(),
        };
        actors.push((Id::from(address), guard));
    }
    if let Some(after) = config.exit_after {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(after);
            log::info!("Exiting as asked. after={after:?}");
            stop.stop(Stopping::Asked);
        });
    }
    let nodes: Vec<String> = config.addresses.iter().map(|a| a.to_string()).collect();
    let members: Vec<String> = cluster.iter().map(|a| a.to_string()).collect();
    eprintln!(
        "paxos: serving {} at {} (cluster {}), storage in {}, peer messages {}",
        config.protocol,
        nodes.join(", "),
        members.join(", "),
        data_dir.display(),
        if key.is_some() {
            "authenticated with the cluster key"
        } else {
            "known by source address only (no --cluster-key-file)"
        }
    );
    if let Some(plan) = &config.test_faults {
        eprintln!("paxos: TEST FAULTS injected between peers: {plan:?}");
    }
    // The node threads run until something stops the node ([`Stop`]); this thread waits for
    // that and returns it, and the process ends when the command does.
    let ended = Arc::clone(&stop);
    std::thread::spawn(move || {
        let result = spawn(
            guard::encode_wire::<A::Msg>,
            guard::decode_wire::<A>,
            guard::encode::<A::Storage>,
            guard::decode_storage::<A::Storage>,
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
        ended.stop(Stopping::Ended(reason));
    });
    match stop.wait() {
        Stopping::Asked => Ok(()),
        Stopping::CannotSave(reason) | Stopping::Ended(reason) => Err(Error::Stopped(reason)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_udp_tuning_is_valid() {
        assert_eq!(UDP_TUNING.validate(), Ok(()));
    }
}
