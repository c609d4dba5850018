//! The state of a Multi-Paxos server, one part per role, each field with its invariant. The
//! roles' rules are in `leader.rs`, `acceptor.rs` and `replica.rs`.
use super::kv::{KvRet, Text};
use super::machine::{ClientCommand, RequestId, StateMachine};
use super::messages::{Command, Proposal, Slot, Snapshot};
use crate::protocol::ballot::Ballot;
use serde::Serialize;
use stateright::actor::Id;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The state of one server, by role.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(bound = "V: Text")]
pub struct MultiPaxosState<V = char> {
    /// The proposer: follower, candidate or leader.
    pub proposer: ProposerState<V>,
    /// The acceptor, for every slot.
    pub acceptor: AcceptorState<V>,
    /// The replica: the chosen log and the store it is applied to.
    pub replica: ReplicaState<V>,
}

impl<V> MultiPaxosState<V> {
    /// Whether this server leads.
    pub fn is_leader(&self) -> bool {
        self.proposer.is_leader()
    }
}

/// A [`MultiPaxosState`] split by role for one step: each handler gets its role's part,
/// borrowed until the handler changes it (so that a step that changes nothing leaves the
/// state borrowed, which stateright reads as a no-op).
pub(super) struct RoleStates<'a, V: Text> {
    pub(super) proposer: Cow<'a, ProposerState<V>>,
    pub(super) acceptor: Cow<'a, AcceptorState<V>>,
    pub(super) replica: Cow<'a, ReplicaState<V>>,
}

impl<'a, V: Text> RoleStates<'a, V> {
    pub(super) fn of(state: &'a MultiPaxosState<V>) -> Self {
        RoleStates {
            proposer: Cow::Borrowed(&state.proposer),
            acceptor: Cow::Borrowed(&state.acceptor),
            replica: Cow::Borrowed(&state.replica),
        }
    }

    /// The parts of `state`, moved out of it when it is owned (`spawn`, on UDP, hands the
    /// actor its own state): a handler then changes a part in place instead of copying it,
    /// and a part grows with the log (the accepted proposals, the applied commands). The
    /// model checker lends the state, and reads a step that leaves it borrowed as a no-op.
    pub(super) fn take(state: &mut Cow<'a, MultiPaxosState<V>>) -> Self {
        match state {
            Cow::Borrowed(state) => RoleStates::of(state),
            Cow::Owned(state) => {
                let MultiPaxosState {
                    proposer,
                    acceptor,
                    replica,
                } = std::mem::take(state);
                RoleStates {
                    proposer: Cow::Owned(proposer),
                    acceptor: Cow::Owned(acceptor),
                    replica: Cow::Owned(replica),
                }
            }
        }
    }

    /// The state after the step, if a handler changed a part.
    pub(super) fn changed(self) -> Option<MultiPaxosState<V>> {
        let RoleStates {
            proposer,
            acceptor,
            replica,
        } = self;
        let owned = [
            matches!(proposer, Cow::Owned(_)),
            matches!(acceptor, Cow::Owned(_)),
            matches!(replica, Cow::Owned(_)),
        ];
        owned.contains(&true).then(|| MultiPaxosState {
            proposer: proposer.into_owned(),
            acceptor: acceptor.into_owned(),
            replica: replica.into_owned(),
        })
    }
}

// The proposer.

/// A leader's proposals not yet chosen, with the acceptors known to have accepted them.
pub(super) type InFlight<V> = BTreeMap<Slot, (Command<V>, BTreeSet<Id>)>;

/// What a server does as proposer.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub enum Role<V = char> {
    /// Not leading: forwards client requests to the leader it knows.
    #[default]
    Follower,
    /// Phase 1 under way for every slot from `from` on: the promises received so far.
    Candidate {
        /// The first slot not known to be chosen when phase 1 started.
        from: Slot,
        /// Each acceptor's promise: its accepted proposals from `from` on.
        promises: BTreeMap<Id, BTreeMap<Slot, Proposal<V>>>,
        /// Promises reported in pieces, while pieces are missing: what came so far.
        partial: BTreeMap<Id, BTreeMap<Slot, Proposal<V>>>,
        /// The highest snapshot a promise named: every slot below it is chosen, and the new
        /// leader proposes nothing there.
        snapshot: Slot,
    },
    /// Phase 1 done: proposes in slots from `next_slot` on with phase 2 only.
    Leader {
        /// The next free slot.
        next_slot: Slot,
        /// Proposals not yet chosen, with the acceptors known to have accepted them.
        in_flight: InFlight<V>,
        /// While the leader holds its waiting requests after a slot was chosen
        /// ([`Tuning::batch_wait`](super::Tuning::batch_wait)): the clients that
        /// slot answered and that have not sent their next request yet. Empty: no hold.
        awaited: BTreeSet<Id>,
    },
}

/// Proposer state.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub struct ProposerState<V = char> {
    /// The current own ballot. Invariant: `ballot.round` is saved in
    /// [`Storage::round`](super::Storage::round), and `ballot.proposer` is this server.
    pub ballot: Ballot,
    /// Follower, candidate or leader.
    pub role: Role<V>,
    /// Client commands received while no other leader was known, proposed on taking the lead; while
    /// leading, the requests waiting for a slot of the window
    /// ([`Tuning::window`](super::Tuning::window)), proposed in batches as slots
    /// are chosen. A leader that steps down keeps them as a follower does: it hands them to the
    /// leader it next hears from, or proposes them if it leads again.
    pub queue: BTreeSet<ClientCommand<V>>,
}

// The acceptor.

/// Acceptor state. Invariant: `promised >= p.ballot` for every accepted `p`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub struct AcceptorState<V = char> {
    /// The highest ballot promised (or accepted), for all slots.
    pub promised: Ballot,
    /// The highest-numbered proposal accepted, per slot.
    pub accepted: BTreeMap<Slot, Proposal<V>>,
    /// Invariant: every slot below it is chosen with the command of its `accepted` proposal
    /// (this server's replica learned it so). Saved with the acceptor, so that a restarted
    /// server relearns that prefix from its own storage.
    pub decided: Slot,
    /// The snapshot the log is truncated at. Invariant: `accepted` holds no slot below its
    /// `upto`, `decided >= upto`, and the replica's `base` is `upto`.
    pub snapshot: Arc<Snapshot<V>>,
}

// The replica.

/// Replica (learner) state.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub struct ReplicaState<V = char> {
    /// Every slot from `base` on known to be chosen. Invariant: each is chosen (slot
    /// agreement).
    pub chosen: BTreeMap<Slot, Command<V>>,
    /// The slots below it were applied before a snapshot, this server's or one it received,
    /// and are kept no longer: `log` starts there.
    pub base: Slot,
    /// The commands applied since `base`, in the order applied. Invariant: `log[i].slot ==
    /// base + i`, so that the log is a prefix of the chosen slots from `base`.
    pub log: Vec<Applied<V>>,
    /// The store and its at-most-once table, after applying every slot below `base` and then
    /// `log`.
    pub machine: StateMachine<V>,
    /// The first slot not known to be chosen. Invariant: every slot from `base` below it is in
    /// `chosen`, and it is not (kept up to date by `MultiPaxosActor::learn`).
    pub first_unknown: Slot,
    /// A snapshot being received in pieces ([`Msg::Snapshot`](super::Msg::Snapshot)): the entries
    /// so far.
    pub incoming: Option<Snapshot<V>>,
}

/// One applied log entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub struct Applied<V = char> {
    /// The slot applied.
    pub slot: Slot,
    /// The command chosen in it.
    pub command: Command<V>,
    /// For each client command of the slot's batch, in order, whether the store ran it
    /// (false for duplicates the table caught; empty for a no-op).
    pub executed: Vec<bool>,
}

/// What the at-most-once table says of a request already applied or older
/// (`ReplicaState::table`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Table {
    /// The client's last applied request: its reply, from the table.
    Answered(KvRet),
    /// A number the client used up: its last applied request is this one.
    Stale(RequestId),
}
