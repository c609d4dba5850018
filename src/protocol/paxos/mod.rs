//! Single-decree Paxos, as in Lamport's *Paxos Made Simple* (2001), written as one
//! [`stateright`] actor that plays any subset of the three roles.
//!
//! # The algorithm
//!
//! **Phase 1 (prepare/promise).** A proposer picks a proposal number `n` higher than any it
//! has used and sends `Prepare { n }` to the acceptors. An acceptor that has not responded to
//! a prepare numbered above `n` promises never again to accept a proposal numbered below `n`
//! and answers with the highest-numbered proposal it has accepted, if any (P1a).
//!
//! **Phase 2 (accept/accepted).** With promises from a majority, the proposer sends
//! `Accept { n, v }`, where `v` is the value of the highest-numbered proposal among the
//! promises, or its client's value when none reported one (P2c). An acceptor accepts unless it
//! has promised a higher number. A value is *chosen* once a majority accepted the same
//! proposal; learners count `Accepted` messages to find out.
//!
//! # Why the hand-off between proposers is safe
//!
//! Any two majorities intersect. If `v` was chosen at number `m`, every prepare quorum for a
//! later `n > m` contains an acceptor that accepted `(m, v)` and, by induction on P2c, every
//! proposal numbered between `m` and `n` also carries `v`; so the highest proposal below `n`
//! that the quorum reports carries `v`, and the new proposer re-proposes it (P2b).
//!
//! # What this implementation simplifies or adds
//!
//! - Proposal numbers are [`Ballot`]s `(round, proposer)`: unique and totally ordered.
//! - A message an actor sends to itself (a server's proposer to its own acceptor and back)
//!   is handled at once, within the same step, in the model and on UDP alike.
//! - A proposer keeps the clients waiting on it and answers them when its own learner part
//!   learns the outcome (Lamport's "distinguished learner"); acceptors send `Accepted` to every
//!   learner and to the proposer that asked.
//! - Reads are *quorum reads*: the server asks the acceptors and answers only when a majority
//!   report the same accepted proposal (or a majority report none), so reads need no leader.
//! - Acceptor state and the proposer's last round are durable ([`Storage`]), saved by the
//!   handler that sends the reply depending on them.
//! - [`Variant`] selects deliberately broken versions, so that every safety property can be
//!   shown to catch the bug it exists for.
pub use super::ballot::Ballot;
use super::ballot::{highest_reported, may_accept, may_promise, quorum};
use super::local::Handlers;
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

/// A client's value. The model gives client `k` the value `'A' + k`.
pub type Value = char;

/// A client's request number, unique per client.
pub type RequestId = u64;

/// A proposal: a value under a proposal number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Proposal {
    pub ballot: Ballot,
    pub value: Value,
}

/// Short, for traces: `(round, proposer)='value'`.
impl std::fmt::Debug for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}={:?}", self.ballot, self.value)
    }
}

/// Every message of the protocol, client requests and replies included.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Client to proposer: write `value` into the write-once register.
    Put { request: RequestId, value: Value },
    /// Client to any server: read the register.
    Get { request: RequestId },
    /// Reply: the register holds the client's value.
    PutOk { request: RequestId },
    /// Reply: the register holds another value.
    PutFail { request: RequestId },
    /// Reply to `Get`: the register's value, `None` if nothing was chosen when read.
    GetOk {
        request: RequestId,
        value: Option<Value>,
    },

    /// Phase 1a: proposer to acceptors.
    Prepare { ballot: Ballot },
    /// Phase 1b: acceptor to proposer, with the highest-numbered proposal it accepted.
    Promise {
        ballot: Ballot,
        accepted: Option<Proposal>,
    },
    /// Phase 2a: proposer to acceptors.
    Accept { proposal: Proposal },
    /// Phase 2b: acceptor to the learners and the proposer that asked.
    Accepted { proposal: Proposal },
    /// Acceptor to proposer: `ballot` was refused because the acceptor promised `promised`.
    Rejected { ballot: Ballot, promised: Ballot },

    /// Quorum read: server to acceptors, on behalf of `client`'s `request`.
    Read { client: Id, request: RequestId },
    /// Quorum read: an acceptor's accepted proposal.
    ReadReply {
        client: Id,
        request: RequestId,
        accepted: Option<Proposal>,
    },
}

/// The protocol's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A proposer's current ballot made no progress: start a higher one.
    Retry,
}

/// Durable state, saved before any message that depends on it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Storage {
    /// The highest round this proposer used, so that a restart never reuses a ballot.
    pub round: u32,
    /// The acceptor's promise.
    pub promised: Ballot,
    /// The acceptor's accepted proposal.
    pub accepted: Option<Proposal>,
}

/// Deliberate bugs. Each is a model setting, so that the checker can show the property that
/// catches it; [`Variant::Correct`] is the protocol itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    #[default]
    Correct,
    /// The acceptor does not save its promise or acceptance, so a crash forgets them.
    ForgetOnCrash,
    /// The acceptor accepts any proposal, whatever it promised.
    AcceptAlways,
    /// The proposer ignores the proposals reported in promises and proposes its own value.
    IgnorePromisedValues,
    /// The proposer adopts the first reported proposal instead of the highest-numbered one.
    AdoptFirstValue,
    /// Quorums are `n / 2` acceptors instead of a majority.
    HalfQuorum,
    /// Every proposer numbers its proposals `(round, 0)`: numbers are not unique.
    SharedBallots,
    /// A quorum read reports a value held by a majority, whatever proposal numbers hold it.
    ReadByValue,
    /// The proposer proposes a value of its own instead of its client's.
    InventValue,
}

impl Variant {
    pub const ALL: [Variant; 9] = [
        Variant::Correct,
        Variant::ForgetOnCrash,
        Variant::AcceptAlways,
        Variant::IgnorePromisedValues,
        Variant::AdoptFirstValue,
        Variant::HalfQuorum,
        Variant::SharedBallots,
        Variant::ReadByValue,
        Variant::InventValue,
    ];
}

/// The value that [`Variant::InventValue`] proposes: no client ever proposes it.
pub const INVENTED_VALUE: Value = '?';

/// Which roles an actor plays. A server in the default deployment plays all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Roles {
    pub proposer: bool,
    pub acceptor: bool,
    pub learner: bool,
}

impl Roles {
    pub const SERVER: Roles = Roles {
        proposer: true,
        acceptor: true,
        learner: true,
    };
    pub const PROPOSER: Roles = Roles {
        proposer: true,
        acceptor: false,
        learner: false,
    };
    pub const ACCEPTOR: Roles = Roles {
        proposer: false,
        acceptor: true,
        learner: false,
    };
    pub const LEARNER: Roles = Roles {
        proposer: false,
        acceptor: false,
        learner: true,
    };
}

/// A Paxos participant: its roles, who plays the other roles, and the variant it runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PaxosActor {
    pub roles: Roles,
    /// Every acceptor, possibly this actor itself.
    pub acceptors: Vec<Id>,
    /// Every learner, possibly this actor itself.
    pub learners: Vec<Id>,
    pub variant: Variant,
    /// How long a proposer waits before retrying with a higher ballot.
    pub retry_after: Range<Duration>,
}

/// Proposer state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ProposerState {
    /// The actor's own id, first so that sorting actor states never reorders proposers
    /// (their ballots name them, so they are not interchangeable).
    pub id: Id,
    /// The current proposal number. Invariant: `ballot.proposer == id` (but for
    /// [`Variant::SharedBallots`]) and `ballot.round` is saved in [`Storage::round`].
    pub ballot: Ballot,
    pub phase: Phase,
    /// Clients waiting for the outcome of their `Put`. The first one's value is proposed.
    pub waiting: BTreeSet<(Id, RequestId, Value)>,
}

/// Where a proposer is in the two phases.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Phase {
    /// No ballot under way.
    Idle,
    /// Phase 1 of `ballot`: the promises received so far.
    Preparing {
        promises: BTreeMap<Id, Option<Proposal>>,
    },
    /// Phase 2 of `ballot`: proposing `value`.
    Accepting { value: Value },
    /// The outcome is known: nothing left to do.
    Done,
}

/// Acceptor state. Invariant: `promised >= accepted.ballot`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AcceptorState {
    /// The highest prepare this acceptor responded to (or accepted).
    pub promised: Ballot,
    /// The highest-numbered proposal this acceptor accepted.
    pub accepted: Option<Proposal>,
    /// The promise restored from storage at the last restart, if any: only observed by the
    /// model's properties ("chosen after crash").
    pub restored: Option<Ballot>,
}

/// Learner state (also kept by proposers, which learn the fate of their own proposals).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LearnerState {
    /// The acceptors known to have accepted each proposal. Cleared once a value is learned.
    pub accepted_by: BTreeMap<Proposal, BTreeSet<Id>>,
    /// Invariant: `learned` is a chosen value (agreement, learners agree).
    pub learned: Option<Value>,
}

/// The state of one actor: one part per role it plays, in the order used to sort states.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PaxosState {
    pub proposer: Option<ProposerState>,
    pub acceptor: Option<AcceptorState>,
    pub learner: Option<LearnerState>,
    /// Quorum reads under way, by (client, request): each acceptor's report.
    pub reads: BTreeMap<(Id, RequestId), BTreeMap<Id, Option<Proposal>>>,
}

impl PaxosActor {
    fn quorum(&self) -> usize {
        let n = self.acceptors.len();
        if self.variant == Variant::HalfQuorum {
            (n / 2).max(1)
        } else {
            quorum(n)
        }
    }

    fn ballot(&self, round: u32, id: Id) -> Ballot {
        let proposer = if self.variant == Variant::SharedBallots {
            Id::from(0)
        } else {
            id
        };
        Ballot { round, proposer }
    }

    fn storage(&self, state: &PaxosState) -> Storage {
        let acceptor = state.acceptor.clone().unwrap_or_default();
        Storage {
            round: state.proposer.as_ref().map_or(0, |p| p.ballot.round),
            promised: acceptor.promised,
            accepted: acceptor.accepted,
        }
    }

    /// Saves the durable state, unless the variant forgets it.
    fn save(&self, state: &PaxosState, o: &mut Out<Self>) {
        if self.variant != Variant::ForgetOnCrash {
            o.save(self.storage(state));
        }
    }

    /// Phase 1a: start `round` (saved before the prepares go out).
    fn start_ballot(&self, id: Id, state: &mut PaxosState, round: u32, o: &mut Out<Self>) {
        let proposer = state
            .proposer
            .as_mut()
            .expect("only proposers start ballots");
        proposer.ballot = self.ballot(round, id);
        proposer.phase = Phase::Preparing {
            promises: BTreeMap::new(),
        };
        let ballot = proposer.ballot;
        self.save(state, o);
        o.set_timer(Timer::Retry, self.retry_after.clone());
        o.broadcast(&self.acceptors, &Msg::Prepare { ballot });
    }

    /// Phase 2a: the value to propose given a majority of promises (P2c).
    fn choose_value(&self, promises: &BTreeMap<Id, Option<Proposal>>, own: Value) -> Value {
        let reported = promises.values().flatten().map(|p| (p.ballot, p.value));
        let adopted = match self.variant {
            Variant::IgnorePromisedValues | Variant::InventValue => None,
            Variant::AdoptFirstValue => promises
                .values()
                .flatten()
                .next()
                .map(|p| (p.ballot, p.value)),
            // P2c(b): the value of the highest-numbered proposal reported by the quorum.
            _ => highest_reported(reported),
        };
        match (adopted, self.variant) {
            (Some((_, value)), _) => value,
            (None, Variant::InventValue) => INVENTED_VALUE,
            // P2c(a): no acceptor in the quorum accepted anything below n.
            (None, _) => own,
        }
    }

    /// Replies to every waiting client once the outcome is known.
    fn answer_clients(state: &mut PaxosState, o: &mut Out<Self>) {
        let Some(learned) = state.learner.as_ref().and_then(|l| l.learned) else {
            return;
        };
        let Some(proposer) = state.proposer.as_mut() else {
            return;
        };
        for (client, request, value) in std::mem::take(&mut proposer.waiting) {
            let reply = if value == learned {
                Msg::PutOk { request }
            } else {
                Msg::PutFail { request }
            };
            o.send(client, reply);
        }
        proposer.phase = Phase::Done;
        o.cancel_timer(Timer::Retry);
    }

    /// The answer of a quorum read, once the reports allow one.
    fn read_outcome(&self, reports: &BTreeMap<Id, Option<Proposal>>) -> Option<Option<Value>> {
        let quorum = self.quorum();
        let mut counts: BTreeMap<Option<(Option<Ballot>, Value)>, usize> = BTreeMap::new();
        for report in reports.values() {
            let key = report.map(|p| {
                if self.variant == Variant::ReadByValue {
                    (None, p.value)
                } else {
                    (Some(p.ballot), p.value)
                }
            });
            *counts.entry(key).or_default() += 1;
        }
        counts
            .into_iter()
            .find(|(_, count)| *count >= quorum)
            .map(|(key, _)| key.map(|(_, value)| value))
    }

    fn handle_put(
        &self,
        id: Id,
        state: &mut Cow<PaxosState>,
        client: Id,
        request: RequestId,
        value: Value,
        o: &mut Out<Self>,
    ) {
        let Some(proposer) = &state.proposer else {
            return;
        };
        if proposer.waiting.contains(&(client, request, value)) {
            return; // A duplicate.
        }
        let idle = proposer.phase == Phase::Idle;
        let state = state.to_mut();
        let proposer = state.proposer.as_mut().expect("checked above");
        proposer.waiting.insert((client, request, value));
        if state.learner.as_ref().is_some_and(|l| l.learned.is_some()) {
            Self::answer_clients(state, o);
        } else if idle {
            let round = proposer.ballot.round + 1;
            self.start_ballot(id, state, round, o);
        }
    }

    fn handle_prepare(
        &self,
        state: &mut Cow<PaxosState>,
        src: Id,
        ballot: Ballot,
        o: &mut Out<Self>,
    ) {
        let Some(acceptor) = &state.acceptor else {
            return;
        };
        // P1: respond to a prepare numbered n only if no prepare numbered above n was
        // responded to. A repeated prepare for the promised number is answered again: only
        // its one proposer can send it, since numbers are unique.
        if !may_promise(acceptor.promised, ballot) {
            let promised = acceptor.promised;
            o.send(src, Msg::Rejected { ballot, promised });
            return;
        }
        let accepted = acceptor.accepted;
        if ballot > acceptor.promised {
            let state = state.to_mut();
            state.acceptor.as_mut().expect("checked above").promised = ballot;
            self.save(state, o);
        }
        o.send(src, Msg::Promise { ballot, accepted });
    }

    fn handle_promise(
        &self,
        state: &mut Cow<PaxosState>,
        src: Id,
        ballot: Ballot,
        accepted: Option<Proposal>,
        o: &mut Out<Self>,
    ) {
        let Some(proposer) = &state.proposer else {
            return;
        };
        let Phase::Preparing { promises } = &proposer.phase else {
            return;
        };
        if ballot != proposer.ballot || promises.contains_key(&src) {
            return;
        }
        let quorum = self.quorum();
        let proposer = state.to_mut().proposer.as_mut().expect("checked above");
        let Phase::Preparing { promises } = &mut proposer.phase else {
            unreachable!("checked above");
        };
        promises.insert(src, accepted);
        if promises.len() < quorum {
            return;
        }
        let (_, _, own) = *proposer
            .waiting
            .first()
            .expect("a proposer only prepares for a waiting client");
        let value = self.choose_value(promises, own);
        proposer.phase = Phase::Accepting { value };
        let proposal = Proposal { ballot, value };
        o.broadcast(&self.acceptors, &Msg::Accept { proposal });
    }

    fn handle_accept(
        &self,
        state: &mut Cow<PaxosState>,
        src: Id,
        proposal: Proposal,
        o: &mut Out<Self>,
    ) {
        let Some(acceptor) = &state.acceptor else {
            return;
        };
        // P1a: accept a proposal numbered n iff no prepare numbered above n was responded to.
        if !may_accept(acceptor.promised, proposal.ballot) && self.variant != Variant::AcceptAlways
        {
            let promised = acceptor.promised;
            let ballot = proposal.ballot;
            o.send(src, Msg::Rejected { ballot, promised });
            return;
        }
        if acceptor.accepted == Some(proposal) {
            return; // A duplicate: already accepted and announced.
        }
        let state = state.to_mut();
        let acceptor = state.acceptor.as_mut().expect("checked above");
        acceptor.promised = acceptor.promised.max(proposal.ballot);
        acceptor.accepted = Some(proposal);
        self.save(state, o);
        let msg = Msg::Accepted { proposal };
        o.broadcast(&self.learners, &msg);
        if !self.learners.contains(&src) {
            o.send(src, msg);
        }
    }

    fn handle_accepted(
        &self,
        state: &mut Cow<PaxosState>,
        src: Id,
        proposal: Proposal,
        o: &mut Out<Self>,
    ) {
        let Some(learner) = &state.learner else {
            return;
        };
        let known = learner
            .accepted_by
            .get(&proposal)
            .is_some_and(|by| by.contains(&src));
        if learner.learned.is_some() || known {
            return;
        }
        let quorum = self.quorum();
        let state = state.to_mut();
        let learner = state.learner.as_mut().expect("checked above");
        let by = learner.accepted_by.entry(proposal).or_default();
        by.insert(src);
        // Learn v once a quorum accepted the same proposal (number and value).
        if by.len() >= quorum {
            learner.learned = Some(proposal.value);
            learner.accepted_by.clear();
            Self::answer_clients(state, o);
        }
    }

    fn handle_rejected(
        &self,
        id: Id,
        state: &mut Cow<PaxosState>,
        ballot: Ballot,
        promised: Ballot,
        o: &mut Out<Self>,
    ) {
        let Some(proposer) = &state.proposer else {
            return;
        };
        let active = matches!(
            proposer.phase,
            Phase::Preparing { .. } | Phase::Accepting { .. }
        );
        if !active || ballot != proposer.ballot || promised <= ballot {
            return;
        }
        // Retry above the number that beat us.
        self.start_ballot(id, state.to_mut(), promised.round + 1, o);
    }

    fn handle_read(
        &self,
        state: &mut Cow<PaxosState>,
        src: Id,
        client: Id,
        request: RequestId,
        o: &mut Out<Self>,
    ) {
        if let Some(acceptor) = &state.acceptor {
            let accepted = acceptor.accepted;
            o.send(
                src,
                Msg::ReadReply {
                    client,
                    request,
                    accepted,
                },
            );
        }
    }

    fn handle_read_reply(
        &self,
        state: &mut Cow<PaxosState>,
        src: Id,
        key: (Id, RequestId),
        accepted: Option<Proposal>,
        o: &mut Out<Self>,
    ) {
        let Some(reports) = state.reads.get(&key) else {
            return;
        };
        if reports.contains_key(&src) {
            return;
        }
        let state = state.to_mut();
        let reports = state.reads.get_mut(&key).expect("checked above");
        reports.insert(src, accepted);
        if let Some(value) = self.read_outcome(reports) {
            state.reads.remove(&key);
            let (client, request) = key;
            o.send(client, Msg::GetOk { request, value });
        }
    }
}

impl Handlers for PaxosActor {
    /// Dispatches one message to the handler of the role it is for.
    fn handle(&self, id: Id, state: &mut Cow<PaxosState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match msg {
            Msg::Put { request, value } => self.handle_put(id, state, src, request, value, o),
            Msg::Get { request } => {
                let key = (src, request);
                if let Some(value) = state.learner.as_ref().and_then(|l| l.learned) {
                    // Learned values are chosen: no need to ask the acceptors.
                    let value = Some(value);
                    o.send(src, Msg::GetOk { request, value });
                } else if !state.reads.contains_key(&key) {
                    state.to_mut().reads.insert(key, BTreeMap::new());
                    let read = Msg::Read {
                        client: src,
                        request,
                    };
                    o.broadcast(&self.acceptors, &read);
                }
            }
            Msg::Prepare { ballot } => self.handle_prepare(state, src, ballot, o),
            Msg::Promise { ballot, accepted } => {
                self.handle_promise(state, src, ballot, accepted, o)
            }
            Msg::Accept { proposal } => self.handle_accept(state, src, proposal, o),
            Msg::Accepted { proposal } => self.handle_accepted(state, src, proposal, o),
            Msg::Rejected { ballot, promised } => {
                self.handle_rejected(id, state, ballot, promised, o)
            }
            Msg::Read { client, request } => self.handle_read(state, src, client, request, o),
            Msg::ReadReply {
                client,
                request,
                accepted,
            } => self.handle_read_reply(state, src, (client, request), accepted, o),
            // Replies are for clients: a server ignores them.
            Msg::PutOk { .. } | Msg::PutFail { .. } | Msg::GetOk { .. } => {}
        }
    }

    /// The proposer's current ballot made no progress: start a higher one.
    fn timeout(&self, id: Id, state: &mut Cow<PaxosState>, timer: &Timer, o: &mut Out<Self>) {
        let Timer::Retry = timer;
        let Some(proposer) = &state.proposer else {
            return;
        };
        if matches!(
            proposer.phase,
            Phase::Preparing { .. } | Phase::Accepting { .. }
        ) {
            let round = proposer.ballot.round + 1;
            self.start_ballot(id, state.to_mut(), round, o);
        }
    }
}

impl Actor for PaxosActor {
    type Msg = Msg;
    type State = PaxosState;
    type Timer = Timer;
    type Random = ();
    type Storage = Storage;

    fn name(&self) -> String {
        let Roles {
            proposer,
            acceptor,
            learner,
        } = self.roles;
        match (proposer, acceptor, learner) {
            (true, true, true) => "Server",
            (true, false, false) => "Proposer",
            (false, true, false) => "Acceptor",
            (false, false, true) => "Learner",
            _ => "Paxos",
        }
        .to_owned()
    }

    fn on_start(&self, id: Id, storage: &Option<Storage>, _o: &mut Out<Self>) -> PaxosState {
        let saved = storage.clone().unwrap_or_default();
        PaxosState {
            proposer: self.roles.proposer.then(|| ProposerState {
                id,
                ballot: self.ballot(saved.round, id),
                phase: Phase::Idle,
                waiting: BTreeSet::new(),
            }),
            acceptor: self.roles.acceptor.then(|| AcceptorState {
                promised: saved.promised,
                accepted: saved.accepted,
                restored: storage.as_ref().map(|s| s.promised),
            }),
            // Proposers learn too: they answer their clients once the outcome is known.
            learner: (self.roles.learner || self.roles.proposer).then(LearnerState::default),
            reads: BTreeMap::new(),
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<PaxosState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        self.on_msg_observed(id, state, src, msg, o, &mut |_| {});
    }

    fn on_timeout(&self, id: Id, state: &mut Cow<PaxosState>, timer: &Timer, o: &mut Out<Self>) {
        self.on_timeout_observed(id, state, timer, o, &mut |_| {});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::actor::Command;

    fn server(variant: Variant) -> PaxosActor {
        PaxosActor {
            roles: Roles::SERVER,
            acceptors: Id::vec_from(0..3),
            learners: Vec::new(),
            variant,
            retry_after: Duration::ZERO..Duration::ZERO,
        }
    }

    fn ballot(round: u32, proposer: usize) -> Ballot {
        Ballot {
            round,
            proposer: Id::from(proposer),
        }
    }

    fn step(
        actor: &PaxosActor,
        state: &PaxosState,
        src: usize,
        msg: Msg,
    ) -> (PaxosState, Out<PaxosActor>) {
        let mut state = Cow::Borrowed(state);
        let mut out = Out::new();
        actor.on_msg(Id::from(0), &mut state, Id::from(src), msg, &mut out);
        (state.into_owned(), out)
    }

    // Reference: Paxos Made Simple, P1a and "durable state is written before the reply".
    #[test]
    fn a_promise_is_saved_before_it_is_sent() {
        let actor = server(Variant::Correct);
        let state = actor.on_start(Id::from(0), &None, &mut Out::new());
        let (state, out) = step(
            &actor,
            &state,
            1,
            Msg::Prepare {
                ballot: ballot(1, 1),
            },
        );
        assert_eq!(
            state.acceptor.as_ref().map(|a| a.promised),
            Some(ballot(1, 1))
        );
        let save = out
            .iter()
            .position(|c| matches!(c, Command::Save(s) if s.promised == ballot(1, 1)));
        let send = out
            .iter()
            .position(|c| matches!(c, Command::Send(_, Msg::Promise { .. })));
        assert!(save.is_some() && save < send, "{out:?}");
    }

    // Reference: Paxos Made Simple, P1a.
    #[test]
    fn an_acceptor_rejects_numbers_below_its_promise() {
        let actor = server(Variant::Correct);
        let state = actor.on_start(Id::from(0), &None, &mut Out::new());
        let (state, _) = step(
            &actor,
            &state,
            1,
            Msg::Prepare {
                ballot: ballot(2, 1),
            },
        );
        let proposal = Proposal {
            ballot: ballot(1, 2),
            value: 'C',
        };
        let (after, out) = step(&actor, &state, 2, Msg::Accept { proposal });
        assert_eq!(after, state);
        assert!(out.iter().any(|c| matches!(
            c,
            Command::Send(_, Msg::Rejected { promised, .. }) if *promised == ballot(2, 1)
        )));
        let (_, out) = step(
            &actor,
            &state,
            2,
            Msg::Prepare {
                ballot: ballot(1, 2),
            },
        );
        assert!(!out
            .iter()
            .any(|c| matches!(c, Command::Send(_, Msg::Promise { .. }))));
    }

    // Reference: Paxos Made Simple, P2c.
    #[test]
    fn a_proposer_adopts_the_highest_numbered_reported_value() {
        let promises = BTreeMap::from([
            (
                Id::from(1),
                Some(Proposal {
                    ballot: ballot(1, 1),
                    value: 'B',
                }),
            ),
            (
                Id::from(2),
                Some(Proposal {
                    ballot: ballot(2, 2),
                    value: 'C',
                }),
            ),
            (Id::from(0), None),
        ]);
        assert_eq!(server(Variant::Correct).choose_value(&promises, 'A'), 'C');
        assert_eq!(
            server(Variant::AdoptFirstValue).choose_value(&promises, 'A'),
            'B'
        );
        assert_eq!(
            server(Variant::IgnorePromisedValues).choose_value(&promises, 'A'),
            'A'
        );
        let none = BTreeMap::from([(Id::from(1), None), (Id::from(2), None)]);
        assert_eq!(server(Variant::Correct).choose_value(&none, 'A'), 'A');
    }

    #[test]
    fn a_quorum_read_needs_a_majority_on_one_proposal() {
        let p = |round, proposer, value| {
            Some(Proposal {
                ballot: ballot(round, proposer),
                value,
            })
        };
        let split = BTreeMap::from([(Id::from(0), p(1, 0, 'A')), (Id::from(1), p(1, 1, 'A'))]);
        assert_eq!(server(Variant::Correct).read_outcome(&split), None);
        assert_eq!(
            server(Variant::ReadByValue).read_outcome(&split),
            Some(Some('A'))
        );
        let same = BTreeMap::from([(Id::from(0), p(1, 1, 'A')), (Id::from(1), p(1, 1, 'A'))]);
        assert_eq!(
            server(Variant::Correct).read_outcome(&same),
            Some(Some('A'))
        );
        let empty = BTreeMap::from([(Id::from(0), None), (Id::from(2), None)]);
        assert_eq!(server(Variant::Correct).read_outcome(&empty), Some(None));
    }

    #[test]
    fn a_restart_restores_the_acceptor_and_the_proposer_round() {
        let actor = server(Variant::Correct);
        let saved = Storage {
            round: 3,
            promised: ballot(4, 1),
            accepted: Some(Proposal {
                ballot: ballot(4, 1),
                value: 'B',
            }),
        };
        let state = actor.on_start(Id::from(0), &Some(saved.clone()), &mut Out::new());
        let acceptor = state.acceptor.as_ref().expect("a server is an acceptor");
        assert_eq!(
            (acceptor.promised, acceptor.accepted),
            (saved.promised, saved.accepted)
        );
        assert_eq!(
            state.proposer.as_ref().map(|p| p.ballot),
            Some(ballot(3, 0))
        );
    }
}
