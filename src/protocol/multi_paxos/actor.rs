//! Who a Multi-Paxos server is: its peers, its log's bound, its variant and its tuning; and
//! what every role shares: the quorum, the other servers, and stable storage.
use super::kv::Text;
use super::messages::{Slot, Storage};
use super::state::{AcceptorState, ProposerState};
use super::tuning::Tuning;
use super::variant::Variant;
use stateright::actor::{Id, Out};
use std::marker::PhantomData;

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
    /// How it trades datagram size, batching and snapshots (every knob).
    pub tuning: Tuning,
    /// The [`Text`] of the store's keys and values.
    pub text: PhantomData<V>,
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
