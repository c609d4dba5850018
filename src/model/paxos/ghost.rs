//! The ghost record: each actor's trail of what it ever did, and the model's history (what
//! the clients were issued and answered, what the judge found), with the hooks that record the
//! clients' calls and returns.
use super::config::ModelCfg;
use crate::model::harness;
use crate::model::hashed::Hashed;
use crate::model::linearizability::Calls;
use crate::model::node;
use crate::model::node::Recorded;
use crate::model::voting::Refinement;
use crate::protocol::paxos::{Ballot, Msg, PaxosActor, Proposal, RequestId, Storage, Value};
use crate::protocol::sorted::SortedSet;
use serde::Serialize;
use stateright::actor::{Envelope, Id};
use stateright::semantics::write_once_register::{WORegister, WORegisterOp, WORegisterRet};
use std::borrow::Cow;
use std::sync::Arc;

/// Everything one Paxos actor ever did that its own state may since have overwritten:
/// the ghost record the safety properties are judged on (see [`node::Trail`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Trail {
    /// The highest prepare this acceptor responded to with a promise.
    pub promised: Ballot,
    /// Every proposal this acceptor accepted.
    pub accepted: SortedSet<Proposal>,
    /// Every proposal this proposer issued (sent an `Accept` for).
    pub issued: SortedSet<Proposal>,
    /// An acceptance that broke P1a: numbered below a promise made before it.
    pub p1a_broken: Option<Proposal>,
    /// How many ballots this proposer started: each new number it sent a `Prepare` or an
    /// `Accept` for (the ballot budget counts them).
    pub ballots: u32,
    /// The number of the last `Prepare` or `Accept` this proposer sent.
    pub last_ballot: Ballot,
}

impl Trail {
    /// Counts `ballot`, sent in a `Prepare` or an `Accept`, if it is a new one.
    fn count(&mut self, ballot: Ballot) {
        if ballot != self.last_ballot {
            self.ballots += 1;
            self.last_ballot = ballot;
        }
    }
}

impl node::Trail<PaxosActor> for Trail {
    /// An acceptor's promise restored from its storage at its last restart, if any: only
    /// observed by the witnesses of a value chosen after a crash.
    type Start = Option<Ballot>;
    type Step = ();

    fn start(_: Option<&Self>, actor: &PaxosActor, saved: Option<&Storage>) -> Option<Ballot> {
        saved.filter(|_| actor.roles.acceptor).map(|s| s.promised)
    }

    /// Copies the trail only for a message that changes it.
    fn observe(trail: &mut Cow<'_, Self>, (): (), sent: &Msg) {
        match *sent {
            Msg::Promise { ballot, .. } if ballot > trail.promised => {
                trail.to_mut().promised = ballot;
            }
            Msg::Accepted { proposal } if !trail.accepted.contains(&proposal) => {
                let trail = trail.to_mut();
                trail.accepted.insert(proposal);
                if trail.promised > proposal.ballot && trail.p1a_broken.is_none() {
                    trail.p1a_broken = Some(proposal);
                }
            }
            Msg::Accept { proposal }
                if !trail.issued.contains(&proposal) || proposal.ballot != trail.last_ballot =>
            {
                let trail = trail.to_mut();
                trail.issued.insert(proposal);
                trail.count(proposal.ballot);
            }
            Msg::Prepare { ballot } if ballot != trail.last_ballot => trail.to_mut().count(ballot),
            _ => {}
        }
    }
}

impl Recorded for PaxosActor {
    type Trail = Trail;
}

/// Auxiliary ("ghost") state for the clients: what they proposed and the history of their
/// operations, for the linearizability checker.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Ghost {
    /// Every value a client proposed.
    pub proposed: SortedSet<Value>,
    /// Every value a server reported to a client's read.
    pub read: SortedSet<Value>,
    /// The clients' calls on the write-once register.
    pub calls: Calls<WORegister<Value>, RequestId>,
    /// The clients whose `Get` was invoked once a value was already chosen (recorded by the
    /// judge at the invocation).
    pub get_after_chosen: SortedSet<Id>,
    /// A read invoked after a value was chosen answered `None`.
    pub none_after_chosen: bool,
    /// The first steps that did not refine `Voting` and `Consensus` (set by the judge).
    pub refinement: Refinement,
    /// The paths the step into this state took that the state does not show, for their
    /// witnesses (set by the judge: see [`harness::Took`]).
    pub took: harness::Took<Took>,
}

/// The model's history: the [`Ghost`], shared by a state and its successors until a step
/// changes it, with its hash kept ([`Hashed`]), so that a state's fingerprint rehashes it only
/// when a step changed it.
pub type History = Arc<Hashed<Ghost>>;

/// A path a witness names that the state after it does not show ([`harness::Took`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Took {
    /// A proposer handled a refusal of the ballot it was trying, for a higher one, and
    /// started a new ballot (§2.4: "abandoning a proposal and trying again").
    RetryAfterPreemption,
    /// A client's read returned `None` while a put was unanswered.
    ReadNoneDuringPut,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            proposed: SortedSet::new(),
            read: SortedSet::new(),
            calls: Calls::new(WORegister(None)),
            get_after_chosen: SortedSet::new(),
            none_after_chosen: false,
            refinement: Refinement::default(),
            took: harness::Took::new(),
        }
    }
}

pub(super) fn record_out(_: &ModelCfg, ghost: &History, env: Envelope<&Msg>) -> Option<History> {
    if let Msg::GetOk {
        value: Some(value), ..
    } = *env.msg
    {
        if ghost.read.contains(&value) {
            return None;
        }
        let mut next = Ghost::clone(ghost);
        next.read.insert(value);
        return Some(Arc::new(Hashed::new(next)));
    }
    let op = match *env.msg {
        Msg::Put { value, .. } => WORegisterOp::Write(value),
        Msg::Get { .. } => WORegisterOp::Read,
        _ => return None,
    };
    let (Msg::Put { request, .. } | Msg::Get { request }) = *env.msg else {
        unreachable!("matched above");
    };
    if ghost.calls.awaits(env.src, &request) {
        return None; // A resent put: the same call, still under way.
    }
    let mut next = Ghost::clone(ghost);
    if let WORegisterOp::Write(value) = op {
        next.proposed.insert(value);
    }
    next.calls.invoke(env.src, request, op);
    Some(Arc::new(Hashed::new(next)))
}

pub(super) fn record_in(_: &ModelCfg, ghost: &History, env: Envelope<&Msg>) -> Option<History> {
    let (request, ret) = match *env.msg {
        Msg::PutOk { request } => (request, WORegisterRet::WriteOk),
        Msg::PutFail { request } => (request, WORegisterRet::WriteFail),
        Msg::GetOk { request, value } => (request, WORegisterRet::ReadOk(value)),
        _ => return None,
    };
    if !ghost.calls.awaits(env.dst, &request) {
        return None; // The client ignores this reply: a duplicate or a stale one.
    }
    let mut next = Ghost::clone(ghost);
    if matches!(ret, WORegisterRet::ReadOk(None)) && ghost.get_after_chosen.contains(&env.dst) {
        next.none_after_chosen = true;
    }
    next.calls.ret(env.dst, ret);
    Some(Arc::new(Hashed::new(next)))
}
