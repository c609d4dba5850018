//! The symmetry reduction: acceptors and learners of the paper's layout are interchangeable,
//! so a state stands for every state that renames them.
use super::client::RegisterClient;
use super::model::PaxosModelState;
use crate::model::hashed::Hashed;
use crate::model::node;
use crate::model::node::{NodeState, Observed, StateOf};
use crate::protocol::paxos::{Msg, PaxosActor, Phase};
use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::sync::Arc;

/// The state of an actor of [`PaxosModel`].
type PaxosNodeState = StateOf<PaxosActor, RegisterClient>;

/// Which interchangeable group an actor belongs to, read off its state: acceptors and
/// learners of the paper's layout are interchangeable among themselves; servers (whose
/// ballots name them), proposers and clients are not.
fn symmetry_group(state: &PaxosNodeState) -> Option<u8> {
    match state {
        NodeState::Protocol(node) => match (&node.state.proposer, &node.state.acceptor) {
            (None, Some(_)) => Some(0),
            (None, None) => Some(1),
            _ => None,
        },
        NodeState::Client(_) => None,
    }
}

/// Symmetry reduction: sorts the acceptors among themselves and the learners among
/// themselves, renaming them everywhere (network, timers' holders, proposers' promise and
/// acceptance tallies, readers' reports). Sound because acceptors (and learners) run identical actors, every
/// property treats them as a set, and no ballot, value or client names them.
pub(super) fn representative(state: &PaxosModelState) -> PaxosModelState {
    let n = state.actor_states.len();
    let mut order: Vec<usize> = (0..n).collect();
    for group in [0, 1] {
        let members: Vec<usize> = (0..n)
            .filter(|&i| symmetry_group(&state.actor_states[i]) == Some(group))
            .collect();
        let mut sorted = members.clone();
        sorted.sort_by(|&a, &b| {
            let key = |i: usize| {
                (
                    &state.actor_states[i],
                    &state.actor_storages[i],
                    state.crashed[i],
                )
            };
            key(a).cmp(&key(b)).then(a.cmp(&b))
        });
        for (slot, old) in members.iter().zip(sorted) {
            order[*slot] = old; // The actor now at `slot` was at `old`.
        }
    }
    if order.iter().enumerate().all(|(i, &o)| i == o) {
        return state.clone();
    }
    let mut renamed = vec![Id::from(0); n];
    for (new, &old) in order.iter().enumerate() {
        renamed[old] = Id::from(new);
    }
    let rename = |id: &Id| renamed.get(usize::from(*id)).copied().unwrap_or(*id);
    let plan = RewritePlan::new(renamed.clone(), |id: &Id, renamed: &Vec<Id>| {
        renamed.get(usize::from(*id)).copied().unwrap_or(*id)
    });
    PaxosModelState {
        actor_states: order
            .iter()
            .map(|&old| Arc::new(Hashed::new(rename_node(&state.actor_states[old], &rename))))
            .collect(),
        network: state.network.rewrite(&plan),
        // Each timer is tagged with its holder (`node::Owned`): it moves with the actor to
        // the actor's new id.
        timers_set: order
            .iter()
            .enumerate()
            .map(|(new, &old)| node::owned_by(&state.timers_set[old], Id::from(new)))
            .collect(),
        random_choices: reorder(&state.random_choices, &order),
        crashed: reorder(&state.crashed, &order),
        history: state.history.clone(),
        actor_storages: reorder(&state.actor_storages, &order),
    }
}

fn reorder<T: Clone>(v: &[T], order: &[usize]) -> Vec<T> {
    order.iter().map(|&old| v[old].clone()).collect()
}

fn rename_node(node: &PaxosNodeState, rename: &impl Fn(&Id) -> Id) -> PaxosNodeState {
    let NodeState::Protocol(node) = node else {
        return node.clone();
    };
    let mut state = node.state.clone();
    if let Some(proposer) = &mut state.proposer {
        if let Phase::Preparing { promises } = &mut Arc::make_mut(proposer).phase {
            *promises = promises.iter().map(|(a, p)| (rename(a), *p)).collect();
        }
    }
    if let Some(learner) = &mut state.learner {
        for by in Arc::make_mut(learner).accepted_by.values_mut() {
            *by = by.iter().map(rename).collect();
        }
    }
    for reports in state.reads.values_mut() {
        *reports = reports.iter().map(|(a, p)| (rename(a), *p)).collect();
    }
    NodeState::Protocol(Observed {
        state,
        trail: Arc::clone(&node.trail),
        saved: node.saved.clone(),
        at_start: node.at_start,
    })
}

/// Messages name acceptors and learners only as senders and receivers: the envelope's
/// `src` and `dst`, which the network renames itself.
impl Rewrite<Id> for Msg {
    fn rewrite<S>(&self, _: &RewritePlan<Id, S>) -> Self {
        *self
    }
}
