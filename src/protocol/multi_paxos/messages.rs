//! The words of Multi-Paxos on the wire and on disk: slots, commands, proposals, messages,
//! timers and stable storage. The UDP runtime sends [`Msg`] as serde JSON, so a variant's
//! name and fields are its wire format. Each is generic over the [`Text`] of the store's keys
//! and values, `char` by default (the model's) and `String` on UDP: a one-character string
//! and a `char` have the same JSON.
use super::kv::{KvRet, Text};
use super::machine::{ClientCommand, LastApplied, RequestId, StateMachine};
use crate::protocol::ballot::Ballot;
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A position in the replicated log, from 0: §3, "the value chosen by the ith instance being
/// the ith state machine command in the sequence".
pub type Slot = u32;

/// A proposal for one slot: a command under a ballot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub struct Proposal<V = char> {
    /// The proposal number.
    pub ballot: Ballot,
    /// The command proposed.
    pub command: Command<V>,
}

/// What a log slot holds.
// Equality is by contents (below, with a shortcut for a batch compared with itself), as the
// derived `Hash` hashes them: equal commands hash alike.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Debug, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub enum Command<V = char> {
    /// Fills a slot that a new leader found empty below a used one (§3: "a special 'no-op'
    /// command that leaves the state unchanged").
    Noop,
    /// A batch of client commands, applied in order: the leader puts the requests that
    /// arrived while its window of slots in flight was full into one slot
    /// ([`Tuning::batch`](super::Tuning::batch)). Never empty. Shared
    /// (`Arc`): the acceptor's log, each save's copy of it and the messages that carry the
    /// batch hold one batch, so that a save copies and compares a pointer per slot, not every
    /// command's key and value (it hashes, orders and serializes as the commands themselves).
    Batch(Arc<[ClientCommand<V>]>),
}

/// Two batches are equal when they are the same batch, without comparing their commands:
/// std's `Arc` takes that shortcut for sized contents only, and a save compares every slot
/// of the log (a slice compared command by command cost 93 ns per 16-command batch).
impl<V: PartialEq> PartialEq for Command<V> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Command::Noop, Command::Noop) => true,
            (Command::Batch(a), Command::Batch(b)) => Arc::ptr_eq(a, b) || a == b,
            (Command::Noop, Command::Batch(_)) | (Command::Batch(_), Command::Noop) => false,
        }
    }
}

impl<V> Command<V> {
    /// The client commands of the slot, in the order they apply: none for a no-op.
    pub fn clients(&self) -> &[ClientCommand<V>] {
        match self {
            Command::Noop => &[],
            Command::Batch(batch) => batch,
        }
    }
}

/// Every message of the protocol, client requests and replies included.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub enum Msg<V = char> {
    /// Client to any server, or follower to leader: order `command` into the log.
    Request {
        /// The client's command.
        command: ClientCommand<V>,
    },
    /// Leader to client: the result of the client's `request`.
    Reply {
        /// The request answered.
        request: RequestId,
        /// Its result.
        ret: KvRet,
    },
    /// Leader to client: `request` was not run and never will be: it is below `last`, the
    /// client's last applied request, or equal to it with another operation. The client
    /// numbers its next request above `last`. (Never sent in the model, whose clients number
    /// their requests 1, 2, ... and wait for each answer.)
    Stale {
        /// The request refused.
        request: RequestId,
        /// The client's last applied request.
        last: RequestId,
    },

    /// Phase 1(a): candidate to acceptors, one ballot for every slot from `from` on.
    Prepare {
        /// The proposal number, the same for every slot.
        ballot: Ballot,
        /// The first slot the prepare is for.
        from: Slot,
    },
    /// Phase 1(b): acceptor to candidate: the promise for every slot from the prepare's `from`
    /// on, with one piece of the proposals the acceptor accepted there: at most
    /// [`Tuning::piece`](super::Tuning::piece) of them, so that no datagram
    /// grows with the log. The candidate asks for the next piece with a `Prepare` of the same
    /// ballot from `more`.
    Promise {
        /// The prepare answered.
        ballot: Ballot,
        /// The acceptor's accepted proposal in each slot of this piece.
        accepted: BTreeMap<Slot, Proposal<V>>,
        /// `None` if the piece reports every accepted slot from `from` on; otherwise the first
        /// accepted slot it left out.
        more: Option<Slot>,
        /// The acceptor's [`Snapshot::upto`]: every slot below it is chosen, and the acceptor
        /// keeps no proposal there (it reports from this slot on, if above `from`). The
        /// candidate proposes nothing below it.
        snapshot: Slot,
    },
    /// Phase 2(a): leader to acceptors.
    Accept {
        /// The slot.
        slot: Slot,
        /// The proposal for it.
        proposal: Proposal<V>,
    },
    /// Phase 2(b): acceptor to the leader that asked.
    Accepted {
        /// The slot.
        slot: Slot,
        /// The proposal accepted in it.
        proposal: Proposal<V>,
    },
    /// Acceptor to proposer: `ballot` (for `slot`, or phase 1 when `None`) was refused
    /// because the acceptor promised `promised`.
    Rejected {
        /// The number refused.
        ballot: Ballot,
        /// The higher number the acceptor promised.
        promised: Ballot,
        /// The slot of a refused accept; `None` for a refused prepare.
        slot: Option<Slot>,
    },

    /// Learning: leader to replicas (or replica to a lagging one): `command` is chosen in `slot`.
    Chosen {
        /// The slot.
        slot: Slot,
        /// The command chosen in it.
        command: Command<V>,
    },
    /// Leader to the other servers, on every leader tick: the leader of `ballot` is alive and
    /// knows every slot below `decided` to be chosen. A follower that hears it puts off its
    /// election timer, and asks to catch up if it knows less.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// The leader's first slot not known to be chosen.
        decided: Slot,
    },
    /// Catch-up: replica to a replica that knows more: send the chosen slots in `from..to`
    /// (at most [`Tuning::burst`](super::Tuning::burst) of them are sent;
    /// the rest is asked for again).
    CatchUp {
        /// The first slot missing.
        from: Slot,
        /// The slot just learned, past the gap.
        to: Slot,
    },
    /// Catch-up from a snapshot: server to a replica that asked for slots below the server's
    /// [`Snapshot`] (which it keeps no longer), or to a leader that proposed in one: entries
    /// `at..` of the state machine after the slots below `upto`, at most
    /// [`Tuning::snapshot_piece`](super::Tuning::snapshot_piece) of them,
    /// so that no datagram grows with the store.
    Snapshot {
        /// The slots the snapshot covers: every one below it.
        upto: Slot,
        /// The position of the first entry sent, in the snapshot's order.
        at: usize,
        /// Entries `at..at + entries.len()` of the snapshot.
        entries: Vec<SnapshotEntry<V>>,
        /// How many entries the snapshot has.
        total: usize,
    },
    /// Replica to the server whose snapshot it is receiving: send its entries from `at` on.
    SnapshotFrom {
        /// The snapshot's [`Snapshot::upto`].
        upto: Slot,
        /// The first entry missing.
        at: usize,
    },
}

/// The state machine a replica reaches by applying every slot below `upto`: a server that has
/// one keeps no slot below `upto`, neither accepted nor chosen (its log is truncated there),
/// and sends it, in pieces, to a replica that is behind.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub struct Snapshot<V = char> {
    /// The slots the snapshot covers: every one below it is chosen and applied.
    pub upto: Slot,
    /// The store and its at-most-once table after them.
    pub machine: StateMachine<V>,
}

/// One entry of a [`Snapshot`] on the wire: a key of the store or a client of the table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub enum SnapshotEntry<V = char> {
    /// A key and its value.
    Kv {
        /// The key.
        key: V,
        /// Its value.
        value: String,
    },
    /// A client's last applied request.
    Last {
        /// The client.
        client: Id,
        /// Its last applied request, with its operation and reply.
        last: LastApplied<V>,
    },
}

impl<V: Text> Snapshot<V> {
    /// How many entries it has: the store's keys, then the table's clients.
    pub fn len(&self) -> usize {
        self.machine.kv.data.len() + self.machine.last.len()
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries `at..at + count`, in its order: the store's keys, then the table's clients.
    pub fn entries(&self, at: usize, count: usize) -> Vec<SnapshotEntry<V>> {
        let kv = self
            .machine
            .kv
            .data
            .iter()
            .map(|(key, value)| SnapshotEntry::Kv {
                key: key.clone(),
                value: value.clone(),
            });
        let last = (self.machine.last.iter()).map(|(client, last)| SnapshotEntry::Last {
            client: *client,
            last: last.clone(),
        });
        kv.chain(last).skip(at).take(count).collect()
    }

    /// Adds an entry received.
    pub fn insert(&mut self, entry: SnapshotEntry<V>) {
        match entry {
            SnapshotEntry::Kv { key, value } => {
                self.machine.kv.data.insert(key, value);
            }
            SnapshotEntry::Last { client, last } => {
                self.machine.last.insert(client, last);
            }
        }
    }
}

/// The timers of servers and clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A server that is not leading got a request it cannot serve (it forwarded or queued
    /// it), or is campaigning, and no leader made progress in time: start phase 1.
    Election,
    /// A client waited too long for a reply: send the request again (to another server).
    ClientRetry,
    /// The leader's tick: it sends a `Heartbeat` and re-sends the `Accept` of the slots still
    /// in flight.
    Leader,
    /// A leader held its waiting requests for the clients its last chosen slot answered
    /// ([`Tuning::batch_wait`](super::Tuning::batch_wait)), and not all came
    /// back in time: it proposes what waits.
    Batch,
}

/// Durable state, saved by the handler that sends a message depending on it (§2.5).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub struct Storage<V = char> {
    /// The highest round this server used for its own ballots.
    pub round: u32,
    /// The acceptor's promise, for all slots.
    pub promised: Ballot,
    /// The acceptor's accepted proposal per slot.
    pub accepted: BTreeMap<Slot, Proposal<V>>,
    /// Every slot below it is known to be chosen with the command accepted in `accepted`: a
    /// restarted server learns that prefix from its own storage, and its phase 1 starts
    /// there (§3: phase 1 from the first slot not known to be chosen). A hint, saved with
    /// the acceptor's next save: it may lag behind, never run ahead.
    #[serde(default)]
    pub decided: Slot,
    /// The snapshot the acceptor's log is truncated at: `accepted` holds no slot below its
    /// `upto`, and `decided` is at least there. Shared, not copied, with the acceptor's state:
    /// a save costs nothing for it until a new snapshot replaces it.
    #[serde(default)]
    pub snapshot: Arc<Snapshot<V>>,
}

#[cfg(test)]
mod tests {
    use super::super::testing::append;
    use super::*;

    // `Command`'s equality takes a shortcut for a batch compared with itself: it must still be
    // equality of contents, as its derived order and hash are.
    #[test]
    fn commands_are_equal_by_their_contents() {
        let batch = Command::Batch(vec![append(9, 1, 'a'), append(9, 2, 'b')].into());
        let copy = Command::Batch(vec![append(9, 1, 'a'), append(9, 2, 'b')].into());
        let other = Command::Batch(vec![append(9, 1, 'a'), append(9, 2, 'c')].into());
        assert_eq!(batch, batch.clone());
        assert_eq!(batch, copy);
        assert_eq!(batch.cmp(&copy), std::cmp::Ordering::Equal);
        assert_ne!(batch, other);
        assert_ne!(batch, Command::Noop);
        assert_eq!(Command::<char>::Noop, Command::Noop);
    }
}
