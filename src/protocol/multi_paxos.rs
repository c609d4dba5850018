//! Multi-Paxos, as in §3 of Lamport's *Paxos Made Simple* (2001): a replicated log of client
//! commands, one single-decree Paxos instance per log slot, run by a stable leader, applied in
//! slot order to a small key-value store. Written as one pure [`stateright`] actor.
//!
//! # The algorithm
//!
//! **Phase 1, once per leader.** A server whose leader timer fires picks a ballot higher than
//! any it has seen and sends `Prepare { ballot, from }`, where `from` is the first slot it does
//! not know to be chosen. An acceptor applies the single-decree rule P1 once for all slots
//! ([`may_promise`]) and answers with every proposal it accepted in a slot `>= from`.
//!
//! **Taking over the log.** With promises from a majority, the new leader proposes, in every
//! slot that some promise reported, the command of the highest-numbered proposal reported for
//! that slot (P2c(b) per slot, [`highest_reported`]); every slot below the highest
//! reported slot that no promise reported is filled with a no-op (P2c(a): it may propose
//! anything, and a no-op changes no state). Commands after that go to fresh slots.
//!
//! **Phase 2, the steady state.** For each new client command the leader sends one
//! `Accept { slot, proposal }`; acceptors apply P1a per slot ([`may_accept`]) and answer
//! `Accepted`. One round trip per command, several slots in flight at once. Once a majority
//! accepted a slot's proposal, the command is chosen: the leader applies it, answers the
//! client and tells the other replicas with `Chosen`.
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
//! - Replicas keep their chosen log in memory: a restarted replica catches up from the leader
//!   when it next learns a chosen slot past its gap.
//! - The leader timer runs only on a server that got a request it cannot serve, or that is
//!   campaigning: a server with no pending work has no reason to suspect the leader.
//! - [`Variant`] selects deliberately broken versions, one per safety property.
pub use super::ballot::Ballot;
use super::ballot::{highest_reported, may_accept, may_promise, quorum};
use super::local::Handlers;
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::semantics::SequentialSpec;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

/// A position in the replicated log, from 0.
pub type Slot = u32;
/// A key of the store.
pub type Key = char;
/// One character of a stored value: `Put` replaces a value, `Append` extends it.
pub type Value = char;
/// A client's request number: 1, 2, ... in the order the client issues them.
pub type RequestId = u64;

/// An operation on the key-value store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// Replace the value of `key` with `value`.
    Put { key: Key, value: Value },
    /// Read `key`.
    Get { key: Key },
    /// Append `value` to the value of `key` and return the result: order matters.
    Append { key: Key, value: Value },
}

/// The result of a [`KvOp`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KvRet {
    PutOk,
    /// The value read, `None` for a key never written.
    GetOk {
        value: Option<String>,
    },
    /// The value after appending.
    AppendOk {
        value: String,
    },
}

/// The key-value store: the sequential specification the clients' history is checked against,
/// and the state each replica applies the log to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Kv {
    pub data: BTreeMap<Key, String>,
}

impl SequentialSpec for Kv {
    type Op = KvOp;
    type Ret = KvRet;

    fn invoke(&mut self, op: &KvOp) -> KvRet {
        match *op {
            KvOp::Put { key, value } => {
                self.data.insert(key, value.to_string());
                KvRet::PutOk
            }
            KvOp::Get { key } => KvRet::GetOk {
                value: self.data.get(&key).cloned(),
            },
            KvOp::Append { key, value } => {
                let stored = self.data.entry(key).or_default();
                stored.push(value);
                KvRet::AppendOk {
                    value: stored.clone(),
                }
            }
        }
    }
}

/// A client's command: who asked, which of its requests, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientCommand {
    pub client: Id,
    pub request: RequestId,
    pub op: KvOp,
}

/// What a log slot holds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Command {
    /// Fills a slot that a new leader found empty below a used one (§3): changes nothing.
    Noop,
    Client(ClientCommand),
}

/// A proposal for one slot: a command under a ballot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Proposal {
    pub ballot: Ballot,
    pub command: Command,
}

/// Every message of the protocol, client requests and replies included.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Client to any server, or follower to leader: order `command` into the log.
    Request { command: ClientCommand },
    /// Leader to client: the result of the client's `request`.
    Reply { request: RequestId, ret: KvRet },
    /// Leader to client: `request` was not run and never will be: it is below `last`, the
    /// client's last applied request, or equal to it with another operation. The client
    /// numbers its next request above `last`. (Never sent in the model, whose clients number
    /// their requests 1, 2, ... and wait for each answer.)
    Stale { request: RequestId, last: RequestId },

    /// Phase 1a: candidate to acceptors, one ballot for every slot from `from` on.
    Prepare { ballot: Ballot, from: Slot },
    /// Phase 1b: acceptor to candidate: the promise, with every proposal the acceptor accepted
    /// in a slot at or after the prepare's `from`.
    Promise {
        ballot: Ballot,
        accepted: BTreeMap<Slot, Proposal>,
    },
    /// Phase 2a: leader to acceptors.
    Accept { slot: Slot, proposal: Proposal },
    /// Phase 2b: acceptor to the leader that asked.
    Accepted { slot: Slot, proposal: Proposal },
    /// Acceptor to proposer: `ballot` (for `slot`, or phase 1 when `None`) was refused
    /// because the acceptor promised `promised`.
    Rejected {
        ballot: Ballot,
        promised: Ballot,
        slot: Option<Slot>,
    },

    /// Learning: leader to replicas (or replica to a lagging one): `command` is chosen in `slot`.
    Chosen { slot: Slot, command: Command },
    /// Catch-up: replica to a replica that knows more: send every chosen slot in `from..to`
    /// (the gap below the slot `to` just learned, so that answers never outnumber the slots
    /// missing).
    CatchUp { from: Slot, to: Slot },
}

/// The timers of servers and clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A server that is not leading got a request it cannot serve (it forwarded or queued
    /// it), or is campaigning, and no leader made progress in time: start phase 1.
    Election,
    /// A client waited too long for a reply: send the request again (to another server).
    ClientRetry,
}

/// Durable state, saved by the handler that sends a message depending on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Storage {
    /// The highest round this server used for its own ballots.
    pub round: u32,
    /// The acceptor's promise, for all slots.
    pub promised: Ballot,
    /// The acceptor's accepted proposal per slot.
    pub accepted: BTreeMap<Slot, Proposal>,
}

/// Deliberate bugs, one per safety property; [`Variant::Correct`] is the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    #[default]
    Correct,
    /// A new leader skips phase 1 and proposes its commands from its first unknown slot.
    SkipPhase1,
    /// A new leader proposes a command of its own in a slot where a promise reported one.
    IgnoreReported,
    /// A replica applies every command as soon as it learns it, past any gap.
    ApplyPastGap,
    /// The state machine has no per-client table: a command chosen twice is applied twice.
    NoDedupTable,
    /// A leader refused for a higher ballot does not step down: it takes that ballot as its
    /// own and keeps proposing, without phase 1.
    KeepProposing,
    /// A new leader fills gaps with a command of its own making instead of a no-op.
    InventFiller,
    /// A follower answers reads from its own, possibly stale, store.
    LocalRead,
}

impl Variant {
    pub const ALL: [Variant; 8] = [
        Variant::Correct,
        Variant::SkipPhase1,
        Variant::IgnoreReported,
        Variant::ApplyPastGap,
        Variant::NoDedupTable,
        Variant::KeepProposing,
        Variant::InventFiller,
        Variant::LocalRead,
    ];
}

/// The command that [`Variant::InventFiller`] fills gaps with: no client submitted it.
pub fn invented_filler(leader: Id) -> Command {
    Command::Client(ClientCommand {
        client: leader,
        request: 0,
        op: KvOp::Put {
            key: 'x',
            value: '?',
        },
    })
}

/// A Multi-Paxos server: proposer, acceptor and replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MultiPaxosActor {
    /// Every server, this one included: the acceptors and the replicas.
    pub servers: Vec<Id>,
    /// The log has slots `0..slots`: a leader proposes nothing beyond.
    pub slots: Slot,
    pub variant: Variant,
    /// How long a server that does not lead waits before starting phase 1.
    pub election_after: Range<Duration>,
}

/// What a server does as proposer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Role {
    /// Not leading: forwards client requests to the leader it knows.
    Follower,
    /// Phase 1 under way for every slot from `from` on: the promises received so far.
    Candidate {
        from: Slot,
        promises: BTreeMap<Id, BTreeMap<Slot, Proposal>>,
    },
    /// Phase 1 done: proposes in slots from `next_slot` on with phase 2 only.
    Leader {
        next_slot: Slot,
        /// Proposals not yet chosen, with the acceptors known to have accepted them.
        in_flight: BTreeMap<Slot, (Command, BTreeSet<Id>)>,
    },
}

/// Proposer state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ProposerState {
    /// The current own ballot. Invariant: `ballot.round` is saved in [`Storage::round`], and
    /// `ballot.proposer` is this server (but for [`Variant::KeepProposing`]).
    pub ballot: Ballot,
    pub role: Role,
    /// Client commands received while no other leader was known, proposed on taking the lead.
    pub queue: BTreeSet<ClientCommand>,
}

/// Acceptor state. Invariant: `promised >= p.ballot` for every accepted `p`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AcceptorState {
    /// The highest ballot promised (or accepted), for all slots.
    pub promised: Ballot,
    /// The highest-numbered proposal accepted, per slot.
    pub accepted: BTreeMap<Slot, Proposal>,
}

/// The state machine a replica applies the log to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StateMachine {
    pub kv: Kv,
    /// At most once: each client's last applied request and its reply.
    pub last: BTreeMap<Id, (RequestId, KvRet)>,
}

impl StateMachine {
    /// Applies `command`: returns the reply to send, if any, and whether the store ran it.
    /// With `dedup`, a request at or below the client's last applied one is not run again;
    /// the last one is answered from the table.
    pub fn apply(&mut self, command: &Command, dedup: bool) -> (Option<KvRet>, bool) {
        let Command::Client(cc) = command else {
            return (None, false);
        };
        if dedup {
            if let Some((request, ret)) = self.last.get(&cc.client) {
                if cc.request == *request {
                    return (Some(ret.clone()), false);
                }
                if cc.request < *request {
                    return (None, false);
                }
            }
        }
        let ret = self.kv.invoke(&cc.op);
        self.last.insert(cc.client, (cc.request, ret.clone()));
        (Some(ret), true)
    }
}

/// One applied log entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Applied {
    pub slot: Slot,
    pub command: Command,
    /// Whether the store ran it (false for no-ops and duplicates the table caught).
    pub executed: bool,
}

/// Replica (learner) state.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ReplicaState {
    /// Every slot known to be chosen. Invariant: each is chosen (slot agreement).
    pub chosen: BTreeMap<Slot, Command>,
    /// The commands applied, in the order applied. Invariant: `log[i].slot == i`, so that the
    /// log is a prefix of the chosen slots (but for [`Variant::ApplyPastGap`]).
    pub log: Vec<Applied>,
    pub machine: StateMachine,
}

/// The state of one server, by role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct MultiPaxosState {
    pub proposer: ProposerState,
    pub acceptor: AcceptorState,
    pub replica: ReplicaState,
}

impl MultiPaxosState {
    /// The first slot not known to be chosen: where phase 1 starts.
    pub fn first_unknown(&self) -> Slot {
        (0..)
            .find(|s| !self.replica.chosen.contains_key(s))
            .expect("the log is finite")
    }

    /// The leader this server knows: the proposer of the highest ballot it promised.
    pub fn known_leader(&self) -> Option<Id> {
        let promised = self.acceptor.promised;
        (promised.round > 0).then_some(promised.proposer)
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.proposer.role, Role::Leader { .. })
    }
}

/// Whether the client's request number `command.request` was applied with another operation:
/// the per-client table's reply for it answers another request.
fn reused(replica: &ReplicaState, command: &ClientCommand) -> bool {
    let applied = replica.log.iter().rev().find_map(|a| match &a.command {
        Command::Client(cc)
            if a.executed && cc.client == command.client && cc.request == command.request =>
        {
            Some(&cc.op)
        }
        _ => None,
    });
    applied.is_some_and(|op| *op != command.op)
}

impl MultiPaxosActor {
    fn quorum(&self) -> usize {
        quorum(self.servers.len())
    }

    fn save(state: &MultiPaxosState, o: &mut Out<Self>) {
        o.save(Storage {
            round: state.proposer.ballot.round,
            promised: state.acceptor.promised,
            accepted: state.acceptor.accepted.clone(),
        });
    }

    fn others(&self, id: Id) -> impl Iterator<Item = &Id> {
        self.servers.iter().filter(move |s| **s != id)
    }

    /// Phase 1a on a leader timeout: a ballot above any seen, for every slot from the first
    /// unknown one on.
    fn start_phase1(&self, id: Id, state: &mut MultiPaxosState, o: &mut Out<Self>) {
        let round = state
            .proposer
            .ballot
            .round
            .max(state.acceptor.promised.round)
            + 1;
        let ballot = Ballot {
            round,
            proposer: id,
        };
        let from = state.first_unknown();
        state.proposer.ballot = ballot;
        if self.variant == Variant::SkipPhase1 {
            // The bug: lead at once, as if a majority had promised and reported nothing.
            state.proposer.role = Role::Leader {
                next_slot: from,
                in_flight: BTreeMap::new(),
            };
            Self::save(state, o);
            o.cancel_timer(Timer::Election);
            self.propose_queue(state, o);
            return;
        }
        state.proposer.role = Role::Candidate {
            from,
            promises: BTreeMap::new(),
        };
        Self::save(state, o);
        o.set_timer(Timer::Election, self.election_after.clone());
        o.broadcast(&self.servers, &Msg::Prepare { ballot, from });
    }

    /// Phase 2a for one slot.
    fn propose(
        &self,
        state: &mut MultiPaxosState,
        slot: Slot,
        command: Command,
        o: &mut Out<Self>,
    ) {
        let ballot = state.proposer.ballot;
        let Role::Leader { in_flight, .. } = &mut state.proposer.role else {
            unreachable!("only a leader proposes");
        };
        in_flight.insert(slot, (command.clone(), BTreeSet::new()));
        let proposal = Proposal { ballot, command };
        o.broadcast(&self.servers, &Msg::Accept { slot, proposal });
    }

    /// Steady state: a new client command goes to the next free slot, if any is left.
    fn propose_new(&self, state: &mut MultiPaxosState, command: ClientCommand, o: &mut Out<Self>) {
        let Role::Leader { next_slot, .. } = &mut state.proposer.role else {
            unreachable!("only a leader proposes");
        };
        if *next_slot >= self.slots {
            return; // The model's bound: no slot left.
        }
        let slot = *next_slot;
        *next_slot += 1;
        self.propose(state, slot, Command::Client(command), o);
    }

    fn propose_queue(&self, state: &mut MultiPaxosState, o: &mut Out<Self>) {
        for command in std::mem::take(&mut state.proposer.queue) {
            self.propose_new(state, command, o);
        }
    }

    /// A server that sees a ballot above its own stops leading (or campaigning).
    fn step_down(&self, state: &mut Cow<MultiPaxosState>) {
        if self.variant == Variant::KeepProposing {
            return;
        }
        let proposer = &state.proposer;
        if proposer.role != Role::Follower && state.acceptor.promised > proposer.ballot {
            state.to_mut().proposer.role = Role::Follower;
        }
    }

    fn handle_request(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        command: ClientCommand,
        o: &mut Out<Self>,
    ) {
        if state.is_leader() {
            // At most once: a request already applied is answered from the table, not re-run.
            let last = state.replica.machine.last.get(&command.client);
            let dedup = self.variant != Variant::NoDedupTable;
            match last {
                Some((request, ret))
                    if command.request == *request
                        && dedup
                        && !reused(&state.replica, &command) =>
                {
                    let (request, ret) = (*request, ret.clone());
                    o.send(command.client, Msg::Reply { request, ret });
                }
                // A number the client used up: said so, so that it can number anew.
                Some((last, _))
                    if command.request < *last || (command.request == *last && dedup) =>
                {
                    let (request, last) = (command.request, *last);
                    o.send(command.client, Msg::Stale { request, last });
                }
                _ => self.propose_new(state.to_mut(), command, o),
            }
            return;
        }
        if self.variant == Variant::LocalRead {
            if let KvOp::Get { .. } = command.op {
                // The bug: a follower's store may lag behind the log.
                let ret = state.replica.machine.kv.clone().invoke(&command.op);
                let request = command.request;
                o.send(command.client, Msg::Reply { request, ret });
                return;
            }
        }
        match state.known_leader() {
            // Forward only what came from the client itself, so that forwarding never loops.
            Some(leader) if leader != id && src == command.client => {
                o.send(leader, Msg::Request { command });
            }
            _ => {
                if !state.proposer.queue.contains(&command) {
                    state.to_mut().proposer.queue.insert(command);
                }
            }
        }
        // A request a follower cannot serve itself starts its leader timer: if the leader it
        // knows (or none) does not take over, it will.
        o.set_timer(Timer::Election, self.election_after.clone());
    }

    fn handle_prepare(
        &self,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        ballot: Ballot,
        from: Slot,
        o: &mut Out<Self>,
    ) {
        let promised = state.acceptor.promised;
        // P1 (shared with single-decree Paxos), once for all slots: respond to a prepare
        // numbered n only if no prepare numbered above n was responded to.
        if !may_promise(promised, ballot) {
            let slot = None;
            o.send(
                src,
                Msg::Rejected {
                    ballot,
                    promised,
                    slot,
                },
            );
            return;
        }
        if ballot > promised {
            let state = state.to_mut();
            state.acceptor.promised = ballot;
            Self::save(state, o);
        }
        let accepted = state
            .acceptor
            .accepted
            .range(from..)
            .map(|(s, p)| (*s, p.clone()))
            .collect();
        o.send(src, Msg::Promise { ballot, accepted });
        self.step_down(state);
    }

    fn handle_promise(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        ballot: Ballot,
        accepted: BTreeMap<Slot, Proposal>,
        o: &mut Out<Self>,
    ) {
        let Role::Candidate { promises, .. } = &state.proposer.role else {
            return;
        };
        if ballot != state.proposer.ballot || promises.contains_key(&src) {
            return;
        }
        let quorum = self.quorum();
        let state = state.to_mut();
        let Role::Candidate { from, promises } = &mut state.proposer.role else {
            unreachable!("checked above");
        };
        promises.insert(src, accepted);
        if promises.len() < quorum {
            return;
        }
        let from = *from;
        // For each slot, every proposal the quorum reported.
        let mut reported: BTreeMap<Slot, Vec<(Ballot, Command)>> = BTreeMap::new();
        for (slot, p) in promises.values().flatten() {
            reported
                .entry(*slot)
                .or_default()
                .push((p.ballot, p.command.clone()));
        }
        let top = reported.keys().next_back().copied();
        state.proposer.role = Role::Leader {
            next_slot: top.map_or(from, |t| t + 1).max(from),
            in_flight: BTreeMap::new(),
        };
        o.cancel_timer(Timer::Election);
        for slot in from..top.map_or(from, |t| t + 1) {
            let command = match reported.remove(&slot) {
                Some(_)
                    if self.variant == Variant::IgnoreReported
                        && !state.proposer.queue.is_empty() =>
                {
                    // The bug: its own command, over the reported one.
                    let own = state.proposer.queue.pop_first().expect("checked non-empty");
                    Command::Client(own)
                }
                // P2c(b), per slot: the command of the highest-numbered reported proposal.
                Some(proposals) => {
                    highest_reported(proposals)
                        .expect("reported slots are non-empty")
                        .1
                }
                // §3: a gap below the highest reported slot is filled with a no-op.
                None if self.variant == Variant::InventFiller => invented_filler(id),
                None => Command::Noop,
            };
            self.propose(state, slot, command, o);
        }
        self.propose_queue(state, o);
    }

    fn handle_accept(
        &self,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        slot: Slot,
        proposal: Proposal,
        o: &mut Out<Self>,
    ) {
        let promised = state.acceptor.promised;
        // P1a (shared with single-decree Paxos), per slot: accept a proposal numbered n iff
        // no prepare numbered above n was responded to.
        if !may_accept(promised, proposal.ballot) {
            let ballot = proposal.ballot;
            let slot = Some(slot);
            o.send(
                src,
                Msg::Rejected {
                    ballot,
                    promised,
                    slot,
                },
            );
            return;
        }
        if state.acceptor.accepted.get(&slot) == Some(&proposal) {
            return; // A duplicate: already accepted and answered.
        }
        let inner = state.to_mut();
        inner.acceptor.promised = promised.max(proposal.ballot);
        inner.acceptor.accepted.insert(slot, proposal.clone());
        Self::save(inner, o);
        o.send(src, Msg::Accepted { slot, proposal });
        self.step_down(state);
    }

    fn handle_accepted(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        slot: Slot,
        proposal: Proposal,
        o: &mut Out<Self>,
    ) {
        let Role::Leader { in_flight, .. } = &state.proposer.role else {
            return;
        };
        let counts = proposal.ballot == state.proposer.ballot
            && in_flight
                .get(&slot)
                .is_some_and(|(c, by)| *c == proposal.command && !by.contains(&src));
        if !counts {
            return;
        }
        let quorum = self.quorum();
        let inner = state.to_mut();
        let Role::Leader { in_flight, .. } = &mut inner.proposer.role else {
            unreachable!("checked above");
        };
        let (_, by) = in_flight.get_mut(&slot).expect("checked above");
        by.insert(src);
        if by.len() < quorum {
            return;
        }
        // Chosen: a majority accepted the same proposal.
        in_flight.remove(&slot);
        let command = proposal.command;
        for server in self.others(id) {
            o.send(
                *server,
                Msg::Chosen {
                    slot,
                    command: command.clone(),
                },
            );
        }
        self.learn(inner, slot, command, o);
    }

    fn handle_rejected(
        &self,
        state: &mut Cow<MultiPaxosState>,
        ballot: Ballot,
        promised: Ballot,
        slot: Option<Slot>,
        o: &mut Out<Self>,
    ) {
        let proposer = &state.proposer;
        if ballot != proposer.ballot || promised <= ballot || proposer.role == Role::Follower {
            return;
        }
        if self.variant == Variant::KeepProposing {
            // The bug: keep leading, under the ballot that beat us, and propose again.
            let Role::Leader { in_flight, .. } = &proposer.role else {
                return;
            };
            let Some((command, _)) = slot.and_then(|s| in_flight.get(&s)) else {
                return;
            };
            let (slot, command) = (slot.expect("checked above"), command.clone());
            let inner = state.to_mut();
            inner.proposer.ballot = promised;
            self.propose(inner, slot, command, o);
            return;
        }
        state.to_mut().proposer.role = Role::Follower;
    }

    /// Records a chosen slot and applies what it makes applicable; false if already known.
    fn learn(
        &self,
        state: &mut MultiPaxosState,
        slot: Slot,
        command: Command,
        o: &mut Out<Self>,
    ) -> bool {
        if state.replica.chosen.contains_key(&slot) {
            return false;
        }
        state.replica.chosen.insert(slot, command);
        loop {
            let replica = &state.replica;
            let next = if self.variant == Variant::ApplyPastGap {
                // The bug: any chosen slot not yet applied, gap or not.
                replica
                    .chosen
                    .keys()
                    .copied()
                    .find(|s| !replica.log.iter().any(|a| a.slot == *s))
            } else {
                // Apply a contiguous prefix: the next slot only.
                let next = replica.log.len() as Slot;
                replica.chosen.contains_key(&next).then_some(next)
            };
            let Some(next) = next else {
                break;
            };
            let command = state.replica.chosen[&next].clone();
            let dedup = self.variant != Variant::NoDedupTable;
            let (ret, executed) = state.replica.machine.apply(&command, dedup);
            if let (Command::Client(cc), Some(ret), true) = (&command, ret, state.is_leader()) {
                let request = cc.request;
                if !executed && dedup && reused(&state.replica, cc) {
                    // The table's reply is another operation's: a reused number is stale.
                    o.send(
                        cc.client,
                        Msg::Stale {
                            request,
                            last: request,
                        },
                    );
                } else {
                    o.send(cc.client, Msg::Reply { request, ret });
                }
            }
            state.replica.log.push(Applied {
                slot: next,
                command,
                executed,
            });
        }
        true
    }

    fn handle_chosen(
        &self,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        slot: Slot,
        command: Command,
        o: &mut Out<Self>,
    ) {
        if state.replica.chosen.contains_key(&slot) {
            return;
        }
        let inner = state.to_mut();
        self.learn(inner, slot, command, o);
        // Catch up on a gap, once per newly learned slot (so requests never loop).
        let first = inner.first_unknown();
        if first < slot {
            o.send(
                src,
                Msg::CatchUp {
                    from: first,
                    to: slot,
                },
            );
        }
    }

    fn handle_catch_up(
        &self,
        state: &MultiPaxosState,
        src: Id,
        gap: Range<Slot>,
        o: &mut Out<Self>,
    ) {
        for (slot, command) in state.replica.chosen.range(gap) {
            let (slot, command) = (*slot, command.clone());
            o.send(src, Msg::Chosen { slot, command });
        }
    }
}

impl Handlers for MultiPaxosActor {
    /// Dispatches one message to its handler.
    fn handle(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        msg: Msg,
        o: &mut Out<Self>,
    ) {
        match msg {
            Msg::Request { command } => self.handle_request(id, state, src, command, o),
            Msg::Prepare { ballot, from } => self.handle_prepare(state, src, ballot, from, o),
            Msg::Promise { ballot, accepted } => {
                self.handle_promise(id, state, src, ballot, accepted, o)
            }
            Msg::Accept { slot, proposal } => self.handle_accept(state, src, slot, proposal, o),
            Msg::Accepted { slot, proposal } => {
                self.handle_accepted(id, state, src, slot, proposal, o)
            }
            Msg::Rejected {
                ballot,
                promised,
                slot,
            } => self.handle_rejected(state, ballot, promised, slot, o),
            Msg::Chosen { slot, command } => self.handle_chosen(state, src, slot, command, o),
            Msg::CatchUp { from, to } => self.handle_catch_up(state, src, from..to, o),
            // Replies are for clients.
            Msg::Reply { .. } | Msg::Stale { .. } => {}
        }
    }

    /// The leader timer: a server that is not leading campaigns.
    fn timeout(&self, id: Id, state: &mut Cow<MultiPaxosState>, timer: &Timer, o: &mut Out<Self>) {
        if *timer != Timer::Election || state.is_leader() {
            return;
        }
        self.start_phase1(id, state.to_mut(), o);
    }
}

impl Actor for MultiPaxosActor {
    type Msg = Msg;
    type State = MultiPaxosState;
    type Timer = Timer;
    type Random = ();
    type Storage = Storage;

    fn name(&self) -> String {
        "Server".to_owned()
    }

    fn on_start(&self, id: Id, storage: &Option<Storage>, _o: &mut Out<Self>) -> MultiPaxosState {
        let saved = storage.clone().unwrap_or_default();
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
            },
            replica: ReplicaState::default(),
        };
        // A restarted replica lost its log: it catches up when it next learns a chosen slot
        // past its gap. (Asking here would add a message per restart, and the model's crashes
        // repeat without bound.)
        state
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState>,
        src: Id,
        msg: Msg,
        o: &mut Out<Self>,
    ) {
        self.on_msg_observed(id, state, src, msg, o, &mut |_| {});
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState>,
        timer: &Timer,
        o: &mut Out<Self>,
    ) {
        self.on_timeout_observed(id, state, timer, o, &mut |_| {});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::actor::Command as ActorCommand;

    fn put(client: usize, request: RequestId, value: Value) -> Command {
        Command::Client(ClientCommand {
            client: Id::from(client),
            request,
            op: KvOp::Append { key: 'x', value },
        })
    }

    #[test]
    fn append_order_matters() {
        let mut a = Kv::default();
        let mut b = Kv::default();
        let (x, y) = (
            KvOp::Append {
                key: 'x',
                value: 'A',
            },
            KvOp::Append {
                key: 'x',
                value: 'B',
            },
        );
        a.invoke(&x);
        b.invoke(&y);
        assert_ne!(a.invoke(&y), b.invoke(&x));
    }

    // Reference: the at-most-once requirement (a per-client table).
    #[test]
    fn table_applies_a_command_once_and_answers_the_retry() {
        let mut machine = StateMachine::default();
        let (first, executed) = machine.apply(&put(3, 1, 'A'), true);
        assert!(executed);
        let (again, executed) = machine.apply(&put(3, 1, 'A'), true);
        assert!(!executed);
        assert_eq!(first, again);
        assert_eq!(machine.kv.data[&'x'], "A");
        let (_, executed) = machine.apply(&put(3, 1, 'A'), false);
        assert!(executed, "without the table the duplicate runs again");
        assert_eq!(machine.kv.data[&'x'], "AA");
    }

    #[test]
    fn noop_changes_nothing() {
        let mut machine = StateMachine::default();
        assert_eq!(machine.apply(&Command::Noop, true), (None, false));
        assert_eq!(machine, StateMachine::default());
    }

    fn actor(variant: Variant) -> MultiPaxosActor {
        MultiPaxosActor {
            servers: Id::vec_from(0..3),
            slots: 4,
            variant,
            election_after: Duration::from_secs(1)..Duration::from_secs(2),
        }
    }

    fn ballot(round: u32, proposer: usize) -> Ballot {
        Ballot {
            round,
            proposer: Id::from(proposer),
        }
    }

    fn sent(o: Out<MultiPaxosActor>) -> Vec<(Id, Msg)> {
        o.into_iter()
            .filter_map(|c| match c {
                ActorCommand::Send(dst, msg) => Some((dst, msg)),
                _ => None,
            })
            .collect()
    }

    // Reference: Paxos Made Simple §3: the new leader re-proposes reported commands and fills
    // the gap below the highest reported slot with a no-op.
    #[test]
    fn new_leader_recovers_reported_slots_and_fills_gaps() {
        let a = actor(Variant::Correct);
        let id = Id::from(0);
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        let mut o = Out::new();
        a.on_timeout_observed(id, &mut state, &Timer::Election, &mut o, &mut |_| {});
        let b = ballot(1, 0);
        assert!(matches!(state.proposer.role, Role::Candidate { .. }));
        // Acceptor 1 accepted put A in slot 1 under an older ballot; slot 0 is a gap.
        let old = Proposal {
            ballot: Ballot::default(),
            command: put(3, 1, 'A'),
        };
        let mut o = Out::new();
        let accepted = BTreeMap::from([(1, old)]);
        a.on_msg_observed(
            id,
            &mut state,
            Id::from(1),
            Msg::Promise {
                ballot: b,
                accepted,
            },
            &mut o,
            &mut |_| {},
        );
        let accepts: BTreeSet<(Slot, Command)> = sent(o)
            .into_iter()
            .filter_map(|(_, m)| match m {
                Msg::Accept { slot, proposal } => Some((slot, proposal.command)),
                _ => None,
            })
            .collect();
        assert_eq!(
            accepts,
            BTreeSet::from([(0, Command::Noop), (1, put(3, 1, 'A'))])
        );
        assert!(state.is_leader());
    }

    // Reference: §3: commands are applied in slot order; a replica past a gap catches up.
    #[test]
    fn replica_waits_for_the_gap_and_asks_only_for_it() {
        let a = actor(Variant::Correct);
        let (id, leader) = (Id::from(1), Id::from(0));
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        let mut o = Out::new();
        let command = put(3, 1, 'A');
        a.on_msg(
            id,
            &mut state,
            leader,
            Msg::Chosen { slot: 1, command },
            &mut o,
        );
        assert!(state.replica.log.is_empty(), "slot 0 is not known yet");
        assert_eq!(sent(o), vec![(leader, Msg::CatchUp { from: 0, to: 1 })]);
        let mut o = Out::new();
        let chosen = Msg::Chosen {
            slot: 0,
            command: Command::Noop,
        };
        a.on_msg(id, &mut state, leader, chosen, &mut o);
        assert!(sent(o).is_empty());
        let slots: Vec<Slot> = state.replica.log.iter().map(|e| e.slot).collect();
        assert_eq!(slots, vec![0, 1]);
        // The leader answers a catch-up with the gap only.
        let mut o = Out::new();
        a.handle_catch_up(&state, Id::from(2), 0..1, &mut o);
        assert!(matches!(sent(o)[..], [(_, Msg::Chosen { slot: 0, .. })]));
    }

    // Reference: P1a per slot: an accept below the promise is refused.
    #[test]
    fn acceptor_refuses_accept_below_promise() {
        let a = actor(Variant::Correct);
        let id = Id::from(1);
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        let mut o = Out::new();
        a.on_msg(
            id,
            &mut state,
            Id::from(2),
            Msg::Prepare {
                ballot: ballot(2, 2),
                from: 0,
            },
            &mut o,
        );
        let mut o = Out::new();
        let proposal = Proposal {
            ballot: ballot(1, 0),
            command: Command::Noop,
        };
        a.on_msg(
            id,
            &mut state,
            Id::from(0),
            Msg::Accept { slot: 0, proposal },
            &mut o,
        );
        assert!(state.acceptor.accepted.is_empty());
        assert!(matches!(sent(o)[..], [(_, Msg::Rejected { .. })]));
    }

    // R3 (spec/runtime.md): a leader refuses a used-up request number explicitly (`Stale`),
    // whether it arrives as a request or was chosen in the log; a retry of the last request
    // with the same operation is still answered from the table.
    #[test]
    fn a_used_up_request_number_is_refused() {
        let a = actor(Variant::Correct);
        let (id, client) = (Id::from(0), Id::from(5));
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        a.on_timeout(id, &mut state, &Timer::Election, &mut Out::new());
        let promise = Msg::Promise {
            ballot: ballot(1, 0),
            accepted: BTreeMap::new(),
        };
        a.on_msg(id, &mut state, Id::from(1), promise, &mut Out::new());
        assert!(state.is_leader());
        let request = |request, op| Msg::Request {
            command: ClientCommand {
                client,
                request,
                op,
            },
        };
        let put = KvOp::Put {
            key: 'x',
            value: 'A',
        };
        let append = KvOp::Append {
            key: 'x',
            value: 'B',
        };
        let mut o = Out::new();
        a.on_msg(id, &mut state, client, request(10, put.clone()), &mut o);
        let Some((_, Msg::Accept { slot, proposal })) = sent(o).pop() else {
            panic!("the leader proposes");
        };
        let mut o = Out::new();
        let accepted = Msg::Accepted { slot, proposal };
        a.on_msg(id, &mut state, Id::from(1), accepted, &mut o);
        let ok = Msg::Reply {
            request: 10,
            ret: KvRet::PutOk,
        };
        assert!(sent(o).contains(&(client, ok.clone())));
        let answers = |state: &mut Cow<MultiPaxosState>, msg| {
            let mut o = Out::new();
            a.on_msg(id, state, client, msg, &mut o);
            sent(o)
        };
        assert_eq!(answers(&mut state, request(10, put)), vec![(client, ok)]);
        let reused = Msg::Stale {
            request: 10,
            last: 10,
        };
        assert_eq!(
            answers(&mut state, request(10, append.clone())),
            vec![(client, reused.clone())]
        );
        let stale = Msg::Stale {
            request: 3,
            last: 10,
        };
        assert_eq!(
            answers(&mut state, request(3, append.clone())),
            vec![(client, stale)]
        );
        // The reused number chosen all the same (a follower had queued it): refused too.
        let chosen = Msg::Chosen {
            slot: slot + 1,
            command: Command::Client(ClientCommand {
                client,
                request: 10,
                op: append,
            }),
        };
        let mut o = Out::new();
        a.on_msg(id, &mut state, Id::from(1), chosen, &mut o);
        assert_eq!(sent(o), vec![(client, reused)]);
        assert_eq!(state.replica.machine.kv.data[&'x'], "A");
    }
}
