//! The runtime's wrapper around a protocol actor. The actor that runs is the actor the model
//! checks, handed to stateright's `spawn` unchanged inside a [`Guard`] that only decides
//! *whether* a datagram reaches it and *how* its storage reaches the disk. The rules it
//! enforces are in `spec/runtime.md`:
//!
//! - **H1** A datagram larger than [`WireProtocol::MAX_DATAGRAM`] or that does not decode
//!   as a message is dropped and logged (the decoder refuses it; `spawn` skips it).
//! - **H2** A peer-to-peer message from an address that is not a configured peer is dropped
//!   and logged: only client requests are accepted from anyone.
//! - **H3** A client reply sent to a server is dropped and logged.
//! - **L1** A peer's notice that a ballot was preempted (`Rejected`) reaches the actor after a
//!   random delay ([`BACKOFF`]), a network delay the protocol tolerates: proposers that
//!   preempt each other at once on every rejection would otherwise duel for ever.
//! - **D1** The actor's storage is saved durably ([`crate::runtime::storage`]) within the
//!   step that asks for it, before the step's messages are sent; a node that cannot save
//!   stops (exit status 1) instead of running on.
//!
//! On the wire a message is one JSON datagram: the serde JSON of the protocol's `Msg`.
use crate::protocol::multi_paxos::{self, MultiPaxosActor};
use crate::protocol::paxos::{Msg, PaxosActor};
use crate::runtime::storage;
use serde::de::DeserializeOwned;
use serde::Serialize;
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// Why a datagram or a storage file did not decode (what `spawn` logs before skipping it).
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the fields are read through Debug, in spawn's log line"
)]
pub(crate) enum CodecError {
    /// H1: the datagram is larger than the protocol's limit.
    Oversized { bytes: usize, max: usize },
    /// The bytes are not the JSON of a message (or of storage).
    Json(serde_json::Error),
}

/// A message or storage as bytes: its JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    serde_json::to_vec(value).map_err(CodecError::Json)
}

/// Storage as [`storage::decode`] reads it, with the error type `spawn` wants for all four of
/// its codecs.
pub(crate) fn decode_storage<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, CodecError> {
    storage::decode(bytes).map_err(CodecError::Json)
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
pub(crate) fn decode_msg<A>(bytes: &[u8]) -> Result<A::Msg, CodecError>
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

/// The guard's timers: the actor's own, and held-back messages (L1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GuardTimer<T, M> {
    /// A timer of the inner actor.
    Inner(T),
    /// L1: hand this message from this peer to the inner actor now.
    Deliver(Id, M),
}

/// The runtime's wrapper around a protocol actor: filters what reaches it (H2, H3) and writes
/// its storage durably (D1). State, timers and messages are the inner actor's own.
#[derive(Clone, Debug)]
pub struct Guard<A> {
    /// The protocol actor, as the model checks it.
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
    fn save(&self, id: Id, saved: &A::Storage) {
        let result = storage::encode(saved)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                storage::write_durably(&self.storage_path, &bytes).map_err(|e| e.to_string())
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::paxos::{Ballot, Proposal};
    use crate::runtime::node::paxos_server;
    use std::net::SocketAddrV4;

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
}
