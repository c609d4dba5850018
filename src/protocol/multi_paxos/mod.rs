//! Multi-Paxos, as in §3 of Lamport's *Paxos Made Simple* (2001): a replicated log of client
//! commands, one single-decree Paxos instance per log slot, run by a stable leader, applied in
//! slot order to a small key-value store. Written as one pure [`stateright`] actor.
//!
//! # The algorithm
//!
//! **Phase 1, once per leader.** A server whose leader timer fires picks a ballot higher than
//! any it has seen and sends `Prepare { ballot, from }`, where `from` is the first slot it does
//! not know to be chosen (§3: "phase 1 for infinitely many instances" at once). An acceptor
//! applies the single-decree rule of §2.2 phase 1(b) once for all slots ([`may_promise`]) and
//! answers with every proposal it accepted in a slot `>= from`, in pieces of at most
//! [`Tuning::piece`] proposals, so that no message grows with the log.
//!
//! **Taking over the log.** With promises from a majority, the new leader proposes, in every
//! slot that some promise reported, the command of the highest-numbered proposal reported for
//! that slot (P2c(b) per slot, [`highest_reported`]); every slot below the highest
//! reported slot that no promise reported is filled with a no-op (P2c(a): it may propose
//! anything, and §3's "no-op" command "leaves the state unchanged"). Commands after that go to
//! fresh slots.
//!
//! **Phase 2, the steady state.** For each new client command the leader sends one
//! `Accept { slot, proposal }`; acceptors apply phase 2(b), P1a, per slot ([`may_accept`])
//! and answer `Accepted`. One round trip per command, several slots in flight at once. Once a
//! majority accepted a slot's proposal, the command is chosen: the leader applies it, answers
//! the client and tells the other replicas with `Chosen`.
//!
//! **Batching.** A slot's command is a batch of client commands ([`Command::Batch`]), applied
//! in order. With a [`Tuning::window`], a leader with that many slots in flight keeps
//! new requests in its queue; when a slot is chosen, up to [`Tuning::batch`] of them
//! go into the next slot together, so that one durable write per acceptor serves them all.
//!
//! **Replicas** apply the chosen commands in slot order, a contiguous prefix, to a key-value
//! store with a per-client table of the last request applied and its reply, so that a retried
//! command chosen twice is applied once. A replica that learns a slot past a gap asks the
//! sender to `CatchUp`.
//!
//! # Why the hand-off between leaders is safe
//!
//! Each slot is single-decree Paxos, and the ballots of all slots are the same totally ordered
//! [`Ballot`]s: a promise for ballot `b` covers every slot at once. If a command was chosen in
//! slot `s` under ballot `m`, every later leader's prepare quorum intersects the majority that
//! accepted it, so its phase 1 reports slot `s` and, by induction on P2c, the
//! highest-numbered proposal it reports for `s` carries that command. A leader that sees a
//! higher ballot (a prepare it promised, an accept it accepted, a refusal) steps down; its
//! accepts under the old ballot are refused by every acceptor that promised the new one.
//!
//! # What this implementation simplifies
//!
//! - Every server is proposer, acceptor and replica; the acceptors are the servers.
//! - Messages a server sends to itself are handled within the same step, as in
//!   [`crate::protocol::paxos`].
//! - The log is bounded by [`MultiPaxosActor::slots`] (the model's boundary): a leader drops a
//!   command it has no slot for, and the client's retry is its only recourse.
//! - Only the leader answers clients, when it applies a command (or from the per-client table
//!   for a retry of an applied one). A follower forwards a request that came straight from a
//!   client to the leader it knows (the proposer of the highest ballot it promised), so that
//!   forwarding never loops; otherwise it keeps the request until it leads.
//! - Replicas keep their chosen log in memory; the acceptor's storage says which prefix of its
//!   accepted proposals is known chosen ([`Storage::decided`]), so a restarted replica
//!   relearns that prefix from its own storage and catches up on the rest from the leader.
//! - The election timer runs on a server that got a request it cannot serve, is campaigning,
//!   or has heard a leader's heartbeat (which puts it off): a server with no pending work
//!   that never heard a leader has no reason to suspect one.
//! - The leader ticks ([`LeaderTick`]): it re-sends the `Accept`s in flight and sends
//!   heartbeats. The model bounds the tick (each tick re-sends); on UDP it always runs.
//! - [`Variant`] selects deliberately broken versions, one per safety property.
//! - The store's keys and values are a type parameter, a [`Text`]: the model's are `char`s, so
//!   that its states stay few; on UDP they are `String`s. The protocol never looks inside
//!   them; the store bounds a stored value ([`Text::MAX_STORED`]) only on UDP.
//!
//! # Where the code is
//!
//! `actor.rs` says who a server is (its peers, its log's bound, its variant, its tuning) and
//! keeps what every role shares (the quorum, stable storage); `state.rs` holds its state, one
//! part per role. [`Handlers::handle`] in `step.rs` sends each message to the role it is for,
//! with that role's part of the state: `leader.rs` (the proposer: phase 1(a), taking over
//! the log, phase 2(a), the tick, stepping down), `requests.rs` (client requests: the
//! at-most-once table, the window, the hold, batches), `acceptor.rs` (phases 1(b) and 2(b)),
//! `replica.rs` (learning, applying in order, catching up). `machine.rs` is the replicated
//! state machine (`kv.rs`, the store, with its at-most-once table), `messages.rs` the wire
//! and disk types, `variant.rs` the deliberate bugs, each a hook named like the rule it
//! breaks, and `bugs.rs` the bugs that take another path than the protocol's.
//!
//! [`Handlers::handle`]: crate::protocol::self_delivery::Handlers::handle
//! [`may_promise`]: crate::protocol::ballot::may_promise
//! [`may_accept`]: crate::protocol::ballot::may_accept
//! [`highest_reported`]: crate::protocol::ballot::highest_reported
mod acceptor;
mod actor;
mod bugs;
mod kv;
mod leader;
mod machine;
mod messages;
mod replica;
mod requests;
mod state;
mod step;
#[cfg(test)]
mod testing;
mod tuning;
mod variant;

pub use super::ballot::Ballot;
pub use actor::MultiPaxosActor;
pub use kv::{Kv, KvOp, KvRet, Text, TooLarge, MAX_KEY_BYTES, MAX_VALUE_BYTES};
pub use machine::{ClientCommand, LastApplied, RequestId, StateMachine};
pub use messages::{Command, Msg, Proposal, Slot, Snapshot, SnapshotEntry, Storage, Timer};
pub use state::{
    AcceptorState, Applied, MultiPaxosState, ProposerState, ReplicaState, Role, Table,
};
pub use tuning::{BadTuning, LeaderTick, Tuning};
pub use variant::Variant;
