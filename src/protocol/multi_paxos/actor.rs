//! Who a Multi-Paxos server is: its peers, its log's bound, its variant and its tuning; and
//! what every role shares: the quorum, the other servers, and stable storage.
use super::kv::Text;
use super::messages::{Slot, Storage};
use super::state::{AcceptorState, ProposerState};
use super::variant::Variant;
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use std::marker::PhantomData;
use std::ops::Range;
use std::time::Duration;

/// A Multi-Paxos server: proposer, acceptor and replica, for a store whose keys and values
/// are `V`: `char` in the model, `String` on UDP.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MultiPaxosActor<V = char> {
    /// Every server, this one included: the acceptors and the replicas.
    pub servers: Vec<Id>,
    /// The log has slots `0..slots`: a leader proposes nothing beyond.
    pub slots: Slot,
    /// The protocol, or one of its deliberate bugs.
    pub variant: Variant,
    /// How long a server that does not lead waits before starting phase 1.
    pub election_after: Range<Duration>,
    /// The most proposals one `Promise` reports: no datagram grows with the log.
    pub piece: usize,
    /// The most `Accept`s a leader sends at once when it takes over the log or re-sends, and
    /// the most `Chosen` slots one answer to a `CatchUp` sends (each in a datagram of its
    /// own): no burst grows with the log.
    pub burst: usize,
    /// The most slots a leader has in flight before new requests wait in its queue for a
    /// slot to be chosen (and then go into the next slot together, as one batch); `None`:
    /// no limit, every request gets a slot of its own at once.
    pub window: Option<usize>,
    /// The most client commands one slot holds (a batch): 1 for no batching.
    pub batch: usize,
    /// When a slot is chosen, the leader holds its waiting requests, for at most this long,
    /// until every client the slot answers has sent its next request (or a batch is full), so
    /// that they go into the next slot together rather than into the one after (S6 in
    /// spec/runtime.md); `None`: the waiting requests go into the next slot at once.
    pub batch_wait: Option<Range<Duration>>,
    /// The most UTF-8 bytes of keys and values ([`KvOp::bytes`](super::KvOp::bytes)) a batch of
    /// more than one command holds, so that every datagram carrying one fits (a command alone
    /// always fits in a slot).
    pub batch_bytes: usize,
    /// The most entries (keys of the store, clients of its table) one piece of a snapshot
    /// carries ([`Msg::Snapshot`](super::Msg::Snapshot)): no datagram grows with the store.
    pub snapshot_piece: usize,
    /// A server takes a snapshot of its state machine, and truncates its log below it, each
    /// time it has applied this many slots past its last snapshot; `None`: never.
    pub snapshot_after: Option<Slot>,
    /// When a leader's tick runs.
    pub leader_tick: LeaderTick,
    /// How often a leader ticks.
    pub tick_after: Range<Duration>,
    /// The [`Text`] of the store's keys and values.
    pub text: PhantomData<V>,
}

/// When a leader's tick ([`Timer::Leader`](super::Timer::Leader)) runs: it re-sends the `Accept` of
/// the slots in flight and, with [`LeaderTick::Always`], sends a `Heartbeat`. The model bounds it
/// (each tick re-sends, and an ordered network's channels would grow without end); on UDP it is
/// always on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaderTick {
    /// No tick: no re-sending and no heartbeats.
    #[default]
    Off,
    /// The tick runs while slots are in flight, to re-send their `Accept`s; no heartbeats.
    WhileInFlight,
    /// The tick runs as long as the server leads, re-sending and sending heartbeats.
    Always,
}

impl<V: Text> MultiPaxosActor<V> {
    /// A majority of the servers (§2.2).
    pub(super) fn quorum(&self) -> usize {
        crate::protocol::ballot::quorum(self.servers.len())
    }

    /// Writes stable storage (§2.5): the proposer's round and the acceptor's state.
    pub(super) fn save(
        proposer: &ProposerState<V>,
        acceptor: &AcceptorState<V>,
        o: &mut Out<Self>,
    ) {
        o.save(Storage {
            round: proposer.ballot.round,
            promised: acceptor.promised,
            accepted: acceptor.accepted.clone(),
            decided: acceptor.decided,
            snapshot: acceptor.snapshot.clone(),
        });
    }

    /// Every server but `id`.
    pub(super) fn others(&self, id: Id) -> impl Iterator<Item = &Id> {
        self.servers.iter().filter(move |s| **s != id)
    }
}
