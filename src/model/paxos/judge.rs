//! The judge of transitions: what each step did that the states do not show (the
//! refinement of Voting and Consensus, the paths witnesses name), written into the history.
use super::client::GET;
use super::client::PUT;
use super::config::ModelCfg;
use super::ghost::Took;
use super::model::PaxosHarness;
use super::model::PaxosModelState;
use super::properties::chosen;
use crate::model::harness;
use crate::model::harness::Transition;
use crate::model::node::ActionOf;
use crate::model::node::{protocol_actors, NodeState, ObservedOf};
use crate::model::voting::{order_matters, Event, Voting};
use crate::protocol::paxos::{Msg, PaxosActor, ProposerState, Value};
use stateright::actor::{ActorModelAction, Id};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The refinement mapping to `Voting` (spec/refinement.md): `maxBal[a]` is acceptor `a`'s
/// `promised` (its own state: frozen while it is down, restored from its storage when it
/// restarts), `votes[a]` every proposal its trail says it accepted.
fn voting(state: &PaxosModelState) -> Voting<Value> {
    let acceptors = || protocol_actors(state).filter(|(_, node)| node.state.acceptor.is_some());
    let votes = acceptors().map(|(_, node)| node.trail.accepted.len()).sum();
    let mut voting = Voting::with_room(acceptors().count(), votes);
    for (id, node) in protocol_actors(state) {
        if let Some(acceptor) = &node.state.acceptor {
            voting.set_max_bal(id, acceptor.promised);
            for p in &node.trail.accepted {
                voting.add_vote(id, p.ballot, p.value);
            }
        }
    }
    voting
}

/// Whether the step `before -> after` changed an acceptor's votes or lowered its `maxBal`: the
/// only steps the refinement needs to map. Any other step is a stutter or raises `maxBal`
/// alone, which is `IncreaseMaxBal`, always enabled.
fn acceptors_changed(before: &PaxosModelState, after: &PaxosModelState) -> bool {
    protocol_actors(before)
        .zip(protocol_actors(after))
        .any(|((_, b), (_, a))| {
            !std::ptr::eq(a, b)
                && (a.state.acceptor.as_ref().map(|x| x.promised)
                    < b.state.acceptor.as_ref().map(|x| x.promised)
                    || a.trail.accepted != b.trail.accepted)
        })
}

/// The stepping acceptor's events in the step, in the order it made them, as its `Promise`
/// and `Accepted` messages show it: asked of the step only where the order can change the
/// `Voting` verdict ([`order_matters`]), none otherwise.
fn acceptor_events(
    step: &Transition<PaxosHarness>,
    before: &PaxosModelState,
    after: &PaxosModelState,
) -> Vec<Event<Value>> {
    let Some((id, b, a)) = step.nodes(before, after) else {
        return Vec::new();
    };
    let promised = |n: &ObservedOf<PaxosActor>| n.state.acceptor.as_ref().map(|x| x.promised);
    let (Some(was), Some(is)) = (promised(b), promised(a)) else {
        return Vec::new();
    };
    let cast = a.trail.accepted.difference(&b.trail.accepted);
    if !order_matters(was, is, cast.map(|p| p.ballot)) {
        return Vec::new();
    }
    let events = step.sent(before).into_iter().filter_map(|msg| match msg {
        Msg::Promise { ballot, .. } => Some(Event::Promise(id, ballot)),
        Msg::Accepted { proposal } => Some(Event::Vote(id, proposal.ballot, proposal.value)),
        _ => None,
    });
    events.collect()
}

/// Judges each transition. The refinement: a step that changed an acceptor is mapped to
/// `Voting` and must be a legal `Voting` step, and `Consensus` step, whose values are those
/// the clients proposed (the first failure of each is kept).
///
/// Reads: a client's `Get` invoked in this step is recorded as invoked after
/// a value was chosen if one was (a client's step changes no acceptance, so the state before
/// tells). Almost always the state determines it (a writer reads after its put was answered,
/// so after a value was chosen; a reader reads from the start), so it splits no states.
///
/// Witnesses: the paths of [`Took`] the step took ([`took`]), recorded until the next step
/// that takes one or changes an actor ([`harness::Took`]).
pub(super) fn judge(
    cfg: &ModelCfg,
    step: &Transition<PaxosHarness>,
    before: &PaxosModelState,
    after: &mut PaxosModelState,
) {
    let took = took(step.action, before, after);
    if let Some(took) = harness::retake(before, after, &after.history.took, took) {
        Arc::make_mut(&mut after.history).took = took;
    }
    if acceptors_changed(before, after) {
        let (was, is) = (voting(before), voting(after));
        let n = cfg.acceptors.len();
        let proposed = |v: &Value| after.history.proposed.contains(v);
        let mut refinement = after.history.refinement.clone();
        let events = acceptor_events(step, before, after);
        refinement.judge(None, n, &was, &is, &events, proposed);
        // The history is shared with the state before: copied only when it changes.
        if refinement != after.history.refinement {
            Arc::make_mut(&mut after.history).refinement = refinement;
        }
    }
    let invoked: Vec<Id> = cfg
        .clients
        .iter()
        .copied()
        .filter(|c| {
            before.history.calls.awaiting.get(c) != Some(&GET)
                && after.history.calls.awaiting.get(c) == Some(&GET)
        })
        .collect();
    if invoked.is_empty() {
        return;
    }
    let chosen = !chosen(before, cfg.majority()).is_empty();
    if chosen {
        Arc::make_mut(&mut after.history)
            .get_after_chosen
            .extend(invoked);
    }
}

/// The proposer part of actor `id`, if it has one.
pub(super) fn proposer(state: &PaxosModelState, id: Id) -> Option<&ProposerState> {
    match &**state.actor_states[usize::from(id)] {
        NodeState::Protocol(node) => node.state.proposer.as_deref(),
        NodeState::Client(_) => None,
    }
}

/// The paths of [`Took`] that the step `before -> after` took: a delivery the receiver handled
/// by that path, read off the message and the receiver before and after it.
pub(super) fn took(
    step: &ActionOf<PaxosActor>,
    before: &PaxosModelState,
    after: &PaxosModelState,
) -> BTreeSet<Took> {
    let mut took = BTreeSet::new();
    let ActorModelAction::Deliver { dst, msg, .. } = step else {
        return took;
    };
    match *msg {
        // §2.4: the proposer "learns about some request with a higher proposal number" and
        // tries again: `handle_rejected`'s guard, and the new ballot it started.
        Msg::Rejected { ballot, promised } => {
            if let (Some(was), Some(is)) = (proposer(before, *dst), proposer(after, *dst)) {
                if was.is_trying()
                    && was.ballot == ballot
                    && promised > ballot
                    && is.ballot > ballot
                {
                    took.insert(Took::RetryAfterPreemption);
                }
            }
        }
        Msg::GetOk {
            request,
            value: None,
        } => {
            let calls = &before.history.calls;
            if calls.awaits(*dst, &request) && calls.awaiting.values().any(|r| *r == PUT) {
                took.insert(Took::ReadNoneDuringPut);
            }
        }
        _ => {}
    }
    took
}
