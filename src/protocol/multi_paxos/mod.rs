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
//! [`MultiPaxosActor::piece`] proposals, so that no message grows with the log.
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
//! and answer `Accepted`. One round trip per command, several slots in flight at once. Once a majority
//! accepted a slot's proposal, the command is chosen: the leader applies it, answers the
//! client and tells the other replicas with `Chosen`.
//!
//! **Batching.** A slot's command is a batch of client commands ([`Command::Batch`]), applied
//! in order. With a [`MultiPaxosActor::window`], a leader with that many slots in flight keeps
//! new requests in its queue; when a slot is chosen, up to [`MultiPaxosActor::batch`] of them
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
//! [`Handlers::handle`] sends each message to the role it is for, with that role's part of
//! the state: `leader.rs` (the proposer: requests, phase 1(a), taking over the log, phase
//! 2(a), stepping down), `acceptor.rs` (phases 1(b) and 2(b)), `replica.rs` (learning,
//! applying in order, catching up). `kv.rs` is the replicated store, `messages.rs` the wire
//! and disk types, `bugs.rs` the deliberate bugs, each a hook named like the rule it breaks.
//!
//! [`may_promise`]: crate::protocol::ballot::may_promise
//! [`may_accept`]: crate::protocol::ballot::may_accept
//! [`highest_reported`]: crate::protocol::ballot::highest_reported
mod acceptor;
mod bugs;
mod kv;
mod leader;
mod messages;
mod replica;

pub use super::ballot::Ballot;
use super::local::{self, Handlers};
pub use acceptor::AcceptorState;
pub use bugs::Variant;
pub use kv::{Kv, KvOp, KvRet, Text, TooLarge, MAX_KEY_BYTES, MAX_VALUE_BYTES};
pub use leader::{ProposerState, Role};
pub use messages::{
    ClientCommand, Command, Msg, Proposal, RequestId, Slot, Snapshot, SnapshotEntry, Storage, Timer,
};
pub use replica::{Applied, LastApplied, ReplicaState, StateMachine, Table};
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::BTreeSet;
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
    /// The most UTF-8 bytes of keys and values ([`KvOp::bytes`]) a batch of more than one
    /// command holds, so that every datagram carrying one fits (a command alone always fits
    /// in a slot).
    pub batch_bytes: usize,
    /// The most entries (keys of the store, clients of its table) one piece of a snapshot
    /// carries ([`Msg::Snapshot`]): no datagram grows with the store.
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

/// When a leader's tick ([`Timer::Leader`]) runs: it re-sends the `Accept` of the slots in
/// flight and, with [`LeaderTick::Always`], sends a `Heartbeat`. The model bounds it (each
/// tick re-sends, and an ordered network's channels would grow without end); on UDP it is
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
struct Parts<'a, V: Text> {
    proposer: Cow<'a, ProposerState<V>>,
    acceptor: Cow<'a, AcceptorState<V>>,
    replica: Cow<'a, ReplicaState<V>>,
}

impl<'a, V: Text> Parts<'a, V> {
    fn of(state: &'a MultiPaxosState<V>) -> Self {
        Parts {
            proposer: Cow::Borrowed(&state.proposer),
            acceptor: Cow::Borrowed(&state.acceptor),
            replica: Cow::Borrowed(&state.replica),
        }
    }

    /// The parts of `state`, moved out of it when it is owned (`spawn`, on UDP, hands the
    /// actor its own state): a handler then changes a part in place instead of copying it,
    /// and a part grows with the log (the accepted proposals, the applied commands). The
    /// model checker lends the state, and reads a step that leaves it borrowed as a no-op.
    fn take(state: &mut Cow<'a, MultiPaxosState<V>>) -> Self {
        match state {
            Cow::Borrowed(state) => Parts::of(state),
            Cow::Owned(state) => {
                let MultiPaxosState {
                    proposer,
                    acceptor,
                    replica,
                } = std::mem::take(state);
                Parts {
                    proposer: Cow::Owned(proposer),
                    acceptor: Cow::Owned(acceptor),
                    replica: Cow::Owned(replica),
                }
            }
        }
    }

    /// The state after the step, if a handler changed a part.
    fn changed(self) -> Option<MultiPaxosState<V>> {
        let Parts {
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

impl<V: Text> MultiPaxosActor<V> {
    /// A majority of the servers (§2.2).
    fn quorum(&self) -> usize {
        super::ballot::quorum(self.servers.len())
    }

    /// Writes stable storage (§2.5): the proposer's round and the acceptor's state.
    fn save(proposer: &ProposerState<V>, acceptor: &AcceptorState<V>, o: &mut Out<Self>) {
        o.save(Storage {
            round: proposer.ballot.round,
            promised: acceptor.promised,
            accepted: acceptor.accepted.clone(),
            decided: acceptor.decided,
            snapshot: acceptor.snapshot.clone(),
        });
    }

    /// Moves the acceptor's decided prefix up over the slots its replica knows to be chosen
    /// with the command it accepted there (saved with its next save).
    fn advance_decided(parts: &mut Parts<V>) {
        let decided = parts.acceptor.decided;
        let known = |slot: &Slot| {
            let chosen = parts.replica.chosen.get(slot);
            chosen.is_some_and(|c| parts.acceptor.accepted.get(slot).map(|p| &p.command) == Some(c))
        };
        if !known(&decided) {
            return;
        }
        let end = (decided..).find(|s| !known(s)).expect("the log is finite");
        parts.acceptor.to_mut().decided = end;
    }

    /// Every server but `id`.
    fn others(&self, id: Id) -> impl Iterator<Item = &Id> {
        self.servers.iter().filter(move |s| **s != id)
    }

    /// Sends `msg` to the role it is for, with that role's part of the state.
    fn step(&self, id: Id, parts: &mut Parts<V>, src: Id, msg: Msg<V>, o: &mut Out<Self>) {
        match msg {
            Msg::Request { command } => self.handle_request(id, parts, src, command, o),
            Msg::Promise {
                ballot,
                accepted,
                more,
                snapshot,
            } => {
                let proposer = &mut parts.proposer;
                self.handle_promise(id, proposer, src, ballot, accepted, more, snapshot, o);
                // Slots below the acceptor's snapshot are chosen: the new leader learns them
                // from it.
                let from = parts.replica.first_unknown();
                if snapshot > from && parts.replica.incoming.is_none() {
                    o.send(src, Msg::CatchUp { from, to: snapshot });
                }
            }
            Msg::Heartbeat { ballot, decided } => {
                self.handle_heartbeat(parts, src, ballot, decided, o)
            }
            Msg::Accepted { slot, proposal } => {
                let proposer = &mut parts.proposer;
                if let Some(command) = self.handle_accepted(proposer, src, slot, proposal) {
                    self.learn(
                        &mut parts.replica,
                        &parts.proposer,
                        slot,
                        command.clone(),
                        o,
                    );
                    self.announce(id, &mut parts.proposer, slot, command, o);
                }
            }
            Msg::Rejected {
                ballot,
                promised,
                slot,
            } => self.handle_rejected(&mut parts.proposer, slot, ballot, promised, o),
            Msg::Prepare { ballot, from } => {
                let (acceptor, proposer) = (&mut parts.acceptor, &parts.proposer);
                if let Some(promised) =
                    self.handle_prepare(acceptor, proposer, src, ballot, from, o)
                {
                    self.step_down(&mut parts.proposer, promised);
                    // A follower holding requests gives the candidate it promised an election
                    // timeout to be heard from (its heartbeat) before campaigning itself.
                    if !parts.proposer.queue.is_empty() && !parts.proposer.is_leader() {
                        o.set_timer(Timer::Election, self.election_after.clone());
                    }
                }
            }
            Msg::Accept { slot, proposal } => {
                let (acceptor, proposer) = (&mut parts.acceptor, &parts.proposer);
                if let Some(promised) =
                    self.handle_accept(acceptor, proposer, src, slot, proposal, o)
                {
                    self.step_down(&mut parts.proposer, promised);
                }
            }
            Msg::Chosen { slot, command } => {
                self.handle_chosen(&mut parts.replica, &parts.proposer, src, slot, command, o)
            }
            Msg::CatchUp { from, to } => {
                self.handle_catch_up(&parts.replica, &parts.acceptor, src, from..to, o)
            }
            Msg::Snapshot {
                upto,
                at,
                entries,
                total,
            } => self.handle_snapshot(parts, src, upto, at, entries, total, o),
            Msg::SnapshotFrom { upto, at } => {
                self.handle_snapshot_from(&parts.acceptor, src, upto, at, o)
            }
            // Replies are for clients.
            Msg::Reply { .. } | Msg::Stale { .. } => {}
        }
    }
}

local::impl_actor!(
    impl[V: Text] MultiPaxosActor<V>: Msg = Msg<V>, State = MultiPaxosState<V>, Timer = Timer,
        Storage = Storage<V>
);

impl<V: Text> Handlers for MultiPaxosActor<V> {
    /// Whether this server, in `state`, ignores `msg` from `src` (changes nothing and sends
    /// nothing) now and in every state it can reach: the message can never change anything,
    /// so the model may drop it (spec/reductions.md, R4). `restarts`: whether the server may
    /// yet crash and restart, which starts its replica and its proposer's role afresh;
    /// `src_ignores` tells the same of `src` for a reply.
    ///
    /// It rests on what only grows: the acceptor's promise (saved, §2.5) and the proposer's
    /// ballot (its round saved before the ballot is used, §2.5; a variant that takes over
    /// another server's ballot does not save whose it is, so only while it cannot restart);
    /// and, while the server does not restart, what its replica knows to be chosen. No rule
    /// rests on the accepted proposals, the decided prefix or the snapshot a server restarts
    /// with, which the crash variants lose (`Variant::restored`: each keeps the promise
    /// and the round).
    fn ignores_forever(
        &self,
        state: &MultiPaxosState<V>,
        src: Id,
        msg: &Msg<V>,
        restarts: bool,
        src_ignores: &dyn Fn(&Msg<V>) -> bool,
    ) -> bool {
        let proposer = &state.proposer;
        let durable = self.variant.abandons() || !restarts;
        // A number above `ballot` and every number a proposer reaches in a bounded run.
        let above = |ballot: Ballot| Ballot {
            round: u32::MAX,
            ..ballot
        };
        // What `src` does with a refusal of `ballot` (a higher number is promised).
        let refusal_ignored = |ballot: Ballot, slot: Option<Slot>| {
            let promised = above(ballot);
            src_ignores(&Msg::Rejected {
                ballot,
                promised,
                slot,
            })
        };
        let promised = state.acceptor.promised;
        match msg {
            Msg::Promise {
                ballot, snapshot, ..
            } => {
                let candidate = matches!(proposer.role, Role::Candidate { .. });
                let stale = *ballot < proposer.ballot
                    && !self.variant.counts_promise(*ballot, above(*ballot));
                // A promise naming a snapshot past the replica's first unknown slot makes it
                // ask to catch up, whatever its ballot.
                let no_catch_up =
                    *snapshot == 0 || !restarts && *snapshot <= state.replica.first_unknown();
                durable && no_catch_up && (stale || *ballot == proposer.ballot && !candidate)
            }
            Msg::Accepted { slot, proposal } => {
                let done = match &proposer.role {
                    Role::Follower => true,
                    Role::Candidate { .. } => false,
                    Role::Leader {
                        next_slot,
                        in_flight,
                        ..
                    } => {
                        slot < next_slot
                            && in_flight.get(slot).is_none_or(|(command, by)| {
                                *command != proposal.command || by.contains(&src)
                            })
                    }
                };
                durable
                    && (proposal.ballot < proposer.ballot
                        || proposal.ballot == proposer.ballot && done)
            }
            Msg::Rejected {
                ballot, promised, ..
            } => {
                let follower = proposer.role == Role::Follower;
                durable
                    && (promised <= ballot
                        || *ballot < proposer.ballot
                        || *ballot == proposer.ballot && follower)
            }
            Msg::Heartbeat { ballot, .. } => *ballot < promised,
            Msg::Prepare { ballot, .. } => *ballot < promised && refusal_ignored(*ballot, None),
            Msg::Accept { slot, proposal } => {
                let b = proposal.ballot;
                b < promised
                    && !self.variant.may_accept(above(b), b)
                    && !self.variant.keeps_refused()
                    && refusal_ignored(b, Some(*slot))
            }
            Msg::Chosen { slot, .. } => {
                let replica = &state.replica;
                !restarts && (*slot < replica.base || replica.chosen.contains_key(slot))
            }
            Msg::Reply { .. } | Msg::Stale { .. } => true,
            Msg::Request { .. }
            | Msg::CatchUp { .. }
            | Msg::Snapshot { .. }
            | Msg::SnapshotFrom { .. } => false,
        }
    }

    /// Every server plays every role.
    fn title(&self) -> String {
        "Server".to_owned()
    }

    fn start(&self, id: Id, storage: &Option<Storage<V>>, o: &mut Out<Self>) -> MultiPaxosState<V> {
        // §2.2: "an acceptor must remember this information even if it fails and then
        // restarts"; §2.5: it is kept "in stable storage". A crash variant loses part of it.
        let saved = self.variant.restored(storage.clone().unwrap_or_default());
        let upto = saved.snapshot.upto;
        let state = MultiPaxosState {
            proposer: ProposerState {
                ballot: Ballot {
                    round: saved.round,
                    proposer: id,
                },
                role: Role::Follower,
                queue: BTreeSet::new(),
            },
            acceptor: AcceptorState {
                promised: saved.promised,
                accepted: saved.accepted,
                decided: upto,
                snapshot: saved.snapshot.clone(),
            },
            // The replica goes on from the snapshot: the slots below it are applied.
            replica: ReplicaState {
                base: upto,
                first_unknown: upto,
                machine: saved.snapshot.machine.clone(),
                ..ReplicaState::default()
            },
        };
        // A restarted replica relearns the decided prefix from its own storage; past it, it
        // catches up when it next learns a chosen slot past its gap or hears a heartbeat.
        // (Asking here would add a message per restart, and the model's crashes repeat without
        // bound.)
        let mut parts = Parts::of(&state);
        for slot in upto..saved.decided {
            // Storage comes from disk: a prefix it does not hold is relearned from peers.
            let Some(proposal) = parts.acceptor.accepted.get(&slot) else {
                break;
            };
            let command = proposal.command.clone();
            let proposer = &state.proposer;
            self.learn(&mut parts.replica, proposer, slot, command, &mut Out::new());
        }
        Self::advance_decided(&mut parts);
        // A server that promised a leader before it restarted may have lost that leader with
        // it (a whole cluster restarts together): its election timer runs, and a live
        // leader's heartbeat puts it off. Without it, a restarted cluster would wait for a
        // client's request, and then for an election timeout, before anyone campaigns.
        if saved.promised.round > 0 {
            o.set_timer(Timer::Election, self.election_after.clone());
        }
        parts.changed().unwrap_or(state)
    }

    fn handle(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState<V>>,
        src: Id,
        msg: Msg<V>,
        o: &mut Out<Self>,
    ) {
        let mut parts = Parts::take(state);
        self.step(id, &mut parts, src, msg, o);
        Self::advance_decided(&mut parts);
        self.take_snapshot(&mut parts, o);
        if let Some(changed) = parts.changed() {
            *state = Cow::Owned(changed);
        }
    }

    /// The election timer: a server that is not leading campaigns. The leader's tick: it
    /// re-sends and sends heartbeats.
    fn timeout(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState<V>>,
        timer: &Timer,
        o: &mut Out<Self>,
    ) {
        if *timer == Timer::Leader {
            return self.tick(id, state, o);
        }
        if *timer == Timer::Batch {
            return self.end_hold(state, o);
        }
        if *timer != Timer::Election || state.is_leader() {
            return;
        }
        let from = state.replica.first_unknown();
        let state = state.to_mut();
        self.start_phase1(id, &mut state.proposer, &state.acceptor, from, o);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use stateright::actor::{Actor, Command as ActorCommand};

    /// Client `client`'s append of `value` to key `x`, as its `request`.
    pub(super) fn append(client: usize, request: RequestId, value: char) -> ClientCommand {
        ClientCommand {
            client: Id::from(client),
            request,
            op: KvOp::Append { key: 'x', value },
        }
    }

    /// A slot holding [`append`] alone.
    pub(super) fn put(client: usize, request: RequestId, value: char) -> Command {
        Command::Batch(vec![append(client, request, value)].into())
    }

    /// A server among three, with a log of four slots, running `variant`.
    pub(super) fn actor(variant: Variant) -> MultiPaxosActor {
        MultiPaxosActor {
            servers: Id::vec_from(0..3),
            slots: 4,
            variant,
            election_after: Duration::from_secs(1)..Duration::from_secs(2),
            piece: 2,
            burst: 2,
            window: None,
            batch: 1,
            batch_wait: None,
            batch_bytes: usize::MAX,
            snapshot_piece: 2,
            snapshot_after: None,
            leader_tick: LeaderTick::Always,
            tick_after: Duration::from_millis(100)..Duration::from_millis(100),
            text: PhantomData,
        }
    }

    // A step on a state the actor owns (as on UDP) moves the parts out instead of copying
    // them, and ends where the same step on a lent state (as in the model) ends.
    #[test]
    fn a_step_on_an_owned_state_is_the_step_on_a_lent_one() {
        let a = actor(Variant::Correct);
        let state = a.on_start(Id::from(0), &None, &mut Out::new());
        let prepare = Msg::Prepare {
            ballot: Ballot {
                round: 1,
                proposer: Id::from(1),
            },
            from: 0,
        };
        let (mut lent, mut owned) = (Cow::Borrowed(&state), Cow::Owned(state.clone()));
        let (mut o_lent, mut o_owned) = (Out::new(), Out::new());
        a.on_msg(
            Id::from(0),
            &mut lent,
            Id::from(1),
            prepare.clone(),
            &mut o_lent,
        );
        a.on_msg(Id::from(0), &mut owned, Id::from(1), prepare, &mut o_owned);
        assert!(
            matches!(lent, Cow::Owned(_)),
            "the promise changed the state"
        );
        assert_eq!(lent, owned);
        assert_eq!(sent(o_lent), sent(o_owned));
        assert_eq!(owned.acceptor.promised.round, 1);
    }

    /// The commands of `o` as `save`, or the message's recipient and kind.
    fn order(o: &Out<MultiPaxosActor>) -> Vec<String> {
        o.iter()
            .filter_map(|c| match c {
                ActorCommand::Save(_) => Some("save".to_owned()),
                ActorCommand::Send(dst, msg) => {
                    let kind = format!("{msg:?}");
                    let kind = kind.split([' ', '{']).next().unwrap_or_default().to_owned();
                    Some(format!("{kind} to {}", usize::from(*dst)))
                }
                _ => None,
            })
            .collect()
    }

    // D1 (spec/runtime.md), §2.5: "An acceptor records its intended response in stable
    // storage before actually sending the response". The actor gives what may leave before
    // its save first, then one save, then what depends on it: a leader's `Accept`s to the
    // others (its round saved in an earlier step) before its own acceptance's save; an
    // acceptor's `Accepted` after the save of its acceptance, but with the broken variant that
    // answers first.
    #[test]
    fn a_step_gives_its_messages_around_its_save_in_the_order_that_is_safe() {
        let (leader, follower) = (Id::from(0), Id::from(1));
        let ballot = Ballot {
            round: 1,
            proposer: leader,
        };
        let a = actor(Variant::Correct);
        let mut state = Cow::Owned(a.on_start(leader, &None, &mut Out::new()));
        let mut o = Out::new();
        a.on_timeout(leader, &mut state, &Timer::Election, &mut o);
        assert_eq!(order(&o), ["save", "Prepare to 1", "Prepare to 2"]);
        let promise = Msg::Promise {
            ballot,
            accepted: Default::default(),
            more: None,
            snapshot: 0,
        };
        a.on_msg(leader, &mut state, follower, promise, &mut Out::new());
        assert!(state.is_leader());
        let request = Msg::Request {
            command: append(3, 1, 'A'),
        };
        let mut o = Out::new();
        a.on_msg(leader, &mut state, Id::from(3), request, &mut o);
        assert_eq!(order(&o), ["Accept to 1", "Accept to 2", "save"]);
        let accept = Msg::Accept {
            slot: 0,
            proposal: Proposal {
                ballot,
                command: put(3, 1, 'A'),
            },
        };
        for (variant, expected) in [
            (Variant::Correct, ["save", "Accepted to 0"]),
            (Variant::AnswerBeforeSave, ["Accepted to 0", "save"]),
        ] {
            let a = actor(variant);
            let mut state = Cow::Owned(a.on_start(follower, &None, &mut Out::new()));
            let mut o = Out::new();
            a.on_msg(follower, &mut state, leader, accept.clone(), &mut o);
            assert_eq!(order(&o), expected, "{variant:?}");
        }
    }

    /// The messages of `o`, with their recipients.
    pub(super) fn sent(o: Out<MultiPaxosActor>) -> Vec<(Id, Msg)> {
        o.into_iter()
            .filter_map(|c| match c {
                ActorCommand::Send(dst, msg) => Some((dst, msg)),
                _ => None,
            })
            .collect()
    }
}
