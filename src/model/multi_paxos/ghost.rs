//! The ghost record: each server's trail of what it ever did, and the model's history (what
//! the clients submitted and were answered, the ballots started, what the judge found), with
//! the hooks that record the clients' calls and returns.
use super::config::ModelCfg;
use crate::model::harness;
use crate::model::hashed::Hashed;
use crate::model::linearizability::Calls;
use crate::model::node;
use crate::model::node::Recorded;
use crate::model::voting::Refinement;
use crate::protocol::ballot::Ballot;
use crate::protocol::multi_paxos::{
    ClientCommand, Kv, Msg, MultiPaxosActor, MultiPaxosState, Proposal, RequestId, Slot, Storage,
};
use serde::Serialize;
use stateright::actor::Envelope;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Everything one server ever did that its own state may since have overwritten: the ghost
/// record the properties are judged on (see [`node::Trail`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Trail {
    /// Every proposal this acceptor accepted, by slot.
    pub accepted: BTreeSet<(Slot, Proposal)>,
    /// Every proposal this server issued (sent an `Accept` for), by slot.
    pub issued: BTreeSet<(Slot, Proposal)>,
    /// The proposals it issued as a leader handling a client request: no phase 1 for them.
    pub steady: BTreeSet<(Slot, Proposal)>,
    /// The highest ballot under which this server led.
    pub led: Option<Ballot>,
    /// The highest ballot this acceptor promised or accepted, as its `Promise` and `Accepted`
    /// messages said: in the protocol, always its `promised`, so it splits no states.
    pub promised: Ballot,
}

/// At a server's last restart, the highest ballot it had led under (its trail's `led` then).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LedBeforeRestart(pub Option<Ballot>);

impl node::Trail<MultiPaxosActor> for Trail {
    type Start = LedBeforeRestart;
    /// Whether the step is a leader handling a client request: steady state, no phase 1.
    type Step = bool;

    fn start(
        restored: Option<&Self>,
        _: &MultiPaxosActor,
        _: Option<&Storage>,
    ) -> LedBeforeRestart {
        LedBeforeRestart(restored.and_then(|trail| trail.led))
    }

    fn step(state: &MultiPaxosState, msg: &Msg) -> bool {
        matches!(msg, Msg::Request { .. }) && state.is_leader()
    }

    fn observe(trail: &mut Cow<'_, Self>, steady: bool, sent: &Msg) {
        let trail = trail.to_mut();
        match sent {
            Msg::Accepted { slot, proposal } => {
                trail.accepted.insert((*slot, proposal.clone()));
                trail.promised = trail.promised.max(proposal.ballot);
            }
            Msg::Promise { ballot, .. } => trail.promised = trail.promised.max(*ballot),
            Msg::Accept { slot, proposal } => {
                trail.issued.insert((*slot, proposal.clone()));
                if steady {
                    trail.steady.insert((*slot, proposal.clone()));
                }
            }
            _ => {}
        }
    }

    fn settle(trail: &mut Cow<'_, Self>, state: &MultiPaxosState) {
        if state.is_leader() && trail.led < Some(state.proposer.ballot) {
            trail.to_mut().led = Some(state.proposer.ballot);
        }
    }
}

impl Recorded for MultiPaxosActor {
    type Trail = Trail;
}

/// Auxiliary ("ghost") state of the whole model: what the clients submitted and the history
/// of their operations, for the linearizability checker; the ballots started so far (the
/// model's bound); and what the judge of transitions found.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Ghost {
    /// Every command a client submitted.
    pub submitted: BTreeSet<ClientCommand>,
    /// The clients' calls on the key-value store.
    pub calls: Calls<Kv, RequestId>,
    /// How many times a server started phase 1 (a new ballot), all servers together.
    pub ballots: u8,
    /// Sticky: some acceptor accepted a proposal numbered below a ballot it had promised
    /// (P1a broken). Set by the judge, only ever on a violation.
    pub p1a_broken: bool,
    /// The first steps that did not refine `Voting` (in some slot) and `Consensus` (in some
    /// slot, or a replica's log), set by the judge.
    pub refinement: Refinement,
    /// With [`MultiPaxosConfig::max_lost`](super::config::MultiPaxosConfig::max_lost): how many
    /// phase 2 messages were lost, and whether a loss it excludes happened (such states are outside
    /// the boundary).
    pub lost: (u8, bool),
    /// Sticky: a server that led, crashed and restarted made, by an acceptance after its
    /// restart, a proposal chosen in a slot where another command was accepted (set by the
    /// judge: the witness "chosen after restart with competing commands").
    pub chosen_after_restart: bool,
    /// Sticky: a leader answered a client's request from its at-most-once table, a request
    /// that another server's lower ballot had got accepted (set by the judge: the witness
    /// "retried request answered from the at-most-once table").
    pub answered_from_table: bool,
    /// Sticky: a leader refused as stale a client's request below the client's last applied
    /// one, a request that another server's lower ballot had got accepted (set by the judge:
    /// the witness "stale request refused").
    pub stale_refused: bool,
    /// Sticky, set by the judge: a server that does not lead handled a current leader's
    /// `Heartbeat` (it put off its election), and one such server handed the leader the
    /// requests it had queued (the witnesses "heartbeat followed" and "queued requests handed
    /// to the leader").
    pub heartbeat: (bool, bool),
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
    /// A leader handled an acceptor's refusal of its accept, numbered below the acceptor's
    /// promise (§2.2 P1a).
    AcceptRefused,
    /// A server answered a catch-up request for 2+ slots with 2+ of them: as many `Chosen`,
    /// or its snapshot, covering them.
    CatchUpOf2Slots,
    /// A candidate handled a promise naming a snapshot above the slot it prepared from.
    PromiseNamedSnapshot,
    /// A replica installed a snapshot received from a peer.
    CaughtUpFromSnapshot,
    /// A leader with slots in flight below a snapshot installed it (and so dropped them
    /// from its window).
    LeaderBehindSnapshot,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            submitted: BTreeSet::new(),
            calls: Calls::new(Kv::default()),
            ballots: 0,
            p1a_broken: false,
            refinement: Refinement::default(),
            lost: (0, false),
            chosen_after_restart: false,
            answered_from_table: false,
            stale_refused: false,
            heartbeat: (false, false),
            took: BTreeSet::new(),
        }
    }
}

pub(super) fn record_out(_: &ModelCfg, ghost: &History, env: Envelope<&Msg>) -> Option<History> {
    let Msg::Request { command } = env.msg else {
        return None;
    };
    // Only a client's own first send invokes: forwards and retries do not.
    if env.src != command.client || ghost.calls.awaits(env.src, &command.request) {
        return None;
    }
    let mut next = Ghost::clone(ghost);
    next.submitted.insert(command.clone());
    next.calls
        .invoke(env.src, command.request, command.op.clone());
    Some(Arc::new(Hashed::new(next)))
}

pub(super) fn record_in(_: &ModelCfg, ghost: &History, env: Envelope<&Msg>) -> Option<History> {
    let Msg::Reply { request, ret } = env.msg else {
        return None;
    };
    if !ghost.calls.awaits(env.dst, request) {
        return None; // The client ignores this reply: a duplicate or a stale one.
    }
    let mut next = Ghost::clone(ghost);
    next.calls.ret(env.dst, ret.clone());
    Some(Arc::new(Hashed::new(next)))
}
