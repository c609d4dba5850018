//! The properties of *Paxos Made Simple* (agreement, validity, P1a, P2b, P2c, linearizable,
//! the refinements) and the witnesses of the paths the model must reach, with the table of
//! every property in the order they are reported.
use super::ghost::Took;
use super::ghost::Trail;
use super::model::PaxosModel;
use super::model::PaxosModelState;
use crate::model::node::protocol_actors;
use crate::protocol::paxos::{PaxosState, Proposal, Value};
use crate::protocol::sorted::SortedSet;
use itertools::Itertools;
use stateright::actor::Id;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

/// Every acceptance that ever happened, by acceptor, gathered from the trails.
/// Sorted, each once (an acceptor's trail holds each of its acceptances once).
struct Acceptances(Vec<(Proposal, Id)>);

impl Acceptances {
    fn of(state: &PaxosModelState) -> Self {
        let mut all = Vec::new();
        for (id, node) in protocol_actors(state) {
            all.extend(node.trail.accepted.iter().map(|p| (*p, id)));
        }
        all.sort_unstable();
        Acceptances(all)
    }

    /// P2c for issued proposal `(n, v)`: some majority S either accepted nothing numbered
    /// below n, or v is the value of the highest-numbered proposal below n accepted by S.
    fn p2c_holds(&self, proposal: Proposal, acceptors: &[Id], majority: usize) -> bool {
        acceptors.iter().combinations(majority).any(|s| {
            let highest = self
                .0
                .iter()
                .filter(|(p, a)| p.ballot < proposal.ballot && s.contains(&a))
                .max_by_key(|(p, _)| p.ballot);
            highest.is_none_or(|(p, _)| p.value == proposal.value)
        })
    }

    /// The proposals accepted by at least `majority` acceptors: each acceptor lists an
    /// acceptance once, and equal proposals sit side by side.
    fn chosen(&self, majority: usize) -> Vec<Proposal> {
        let proposals = self.0.iter().map(|(p, _)| *p);
        let counted = proposals.dedup_with_count();
        let chosen = counted.filter(|(count, _)| *count >= majority);
        chosen.map(|(_, p)| p).collect()
    }
}

/// What the properties read of the trails of a state: every acceptance, the chosen proposals
/// and their values, the issued proposals. Gathered once per state ([`facts`]) rather than
/// once per property.
struct Facts {
    acceptances: Acceptances,
    /// The proposals accepted by a majority ([`chosen`]).
    chosen: Vec<Proposal>,
    /// Their values.
    chosen_values: SortedSet<Value>,
    /// Every issued proposal, sorted, each once ([`issued`]).
    issued: Vec<Proposal>,
}

/// The actors' states a [`Facts`] was gathered from, and the majority it counted with.
type FactsKey = (Vec<Arc<PaxosNodeState>>, usize);

/// The state of an actor of [`PaxosModel`].
type PaxosNodeState = crate::model::harness::ActorState<super::model::PaxosHarness>;

thread_local! {
    /// The facts of the state whose properties were last asked, with their key.
    static LAST_FACTS: RefCell<Option<(FactsKey, Rc<Facts>)>> = const { RefCell::new(None) };
}

/// The [`Facts`] of `state`. stateright asks every property of a state in turn, so the facts
/// of the last state asked about are kept (one per checker thread) and given again while the
/// same state is asked about.
///
/// Sound: the facts are a function of the actors' states and the majority alone, and the
/// state is recognised by its actors' very states (`Arc::ptr_eq`), which the key holds: none of
/// them can be freed and another allocated at its address, nor changed in place
/// (`Arc::make_mut` copies a shared state), while it serves as a key. So equal states get equal
/// facts, and nothing is stored in the state.
fn facts(model: &PaxosModel, state: &PaxosModelState) -> Rc<Facts> {
    let majority = model.cfg.majority();
    LAST_FACTS.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(((actors, m), facts)) = &*last {
            let same = |(a, b): (&Arc<_>, &Arc<_>)| Arc::ptr_eq(a, b);
            if *m == majority
                && actors.len() == state.actor_states.len()
                && actors.iter().zip(&state.actor_states).all(same)
            {
                return Rc::clone(facts);
            }
        }
        let acceptances = Acceptances::of(state);
        let chosen = acceptances.chosen(majority);
        let facts = Rc::new(Facts {
            chosen_values: chosen.iter().map(|p| p.value).collect(),
            chosen,
            acceptances,
            issued: issued(state),
        });
        *last = Some(((state.actor_states.clone(), majority), Rc::clone(&facts)));
        facts
    })
}

/// The Paxos actors' own states.
pub(super) fn paxos_states(state: &PaxosModelState) -> impl Iterator<Item = &PaxosState> {
    protocol_actors(state).map(|(_, node)| &node.state)
}

/// The Paxos actors' trails.
pub(super) fn trails(state: &PaxosModelState) -> impl Iterator<Item = &Trail> {
    protocol_actors(state).map(|(_, node)| &*node.trail)
}

/// The proposals accepted by at least `majority` distinct acceptors, as their trails say
/// (each lists an acceptance once). The properties read them from their shared [`facts`].
pub(super) fn chosen(state: &PaxosModelState, majority: usize) -> Vec<Proposal> {
    Acceptances::of(state).chosen(majority)
}

/// Every issued proposal, sorted, each once.
pub(super) fn issued(state: &PaxosModelState) -> Vec<Proposal> {
    let mut issued: Vec<Proposal> = trails(state)
        .flat_map(|trail| trail.issued.iter().copied())
        .collect();
    issued.sort_unstable();
    issued.dedup();
    issued
}

/// Property: at most one value is ever chosen.
pub(super) fn agreement(model: &PaxosModel, state: &PaxosModelState) -> bool {
    facts(model, state).chosen_values.len() <= 1
}

/// Property: only a value some client proposed can be chosen.
pub(super) fn validity(model: &PaxosModel, state: &PaxosModelState) -> bool {
    (facts(model, state).chosen_values).is_subset(&state.history.proposed)
}

/// Property P1a: no acceptor accepted n after promising a number above n.
pub(super) fn p1a(_: &PaxosModel, state: &PaxosModelState) -> bool {
    trails(state).all(|trail| trail.p1a_broken.is_none())
}

/// Property P2c: every issued proposal (n, v) has a majority S that accepted nothing below
/// n, or whose highest-numbered acceptance below n has value v.
pub(super) fn p2c(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let facts = facts(model, state);
    (facts.issued.iter())
        .all(|p| (facts.acceptances).p2c_holds(*p, &model.cfg.acceptors, model.cfg.majority()))
}

/// Property P2b: once v is chosen, every higher-numbered issued proposal has value v.
pub(super) fn p2b(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let facts = facts(model, state);
    facts.chosen.iter().all(|c| {
        (facts.issued)
            .iter()
            .all(|p| p.ballot <= c.ballot || p.value == c.value)
    })
}

/// Property: learners learn only chosen values, hence never different ones.
pub(super) fn learners_agree(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let chosen = &facts(model, state).chosen_values;
    let mut learned = paxos_states(state).filter_map(|s| s.learner.as_ref()?.learned);
    match learned.next() {
        None => true,
        Some(v) => chosen.contains(&v) && learned.all(|w| w == v),
    }
}

/// Property: a read reports a value only once it is chosen (the quorum read's claim), and
/// answers `None` only if it was invoked before anything was chosen. Chosen values stay
/// chosen, so checking every state checks each answer when it is sent.
pub(super) fn reads_only_chosen(model: &PaxosModel, state: &PaxosModelState) -> bool {
    !state.history.none_after_chosen
        && (state.history.read).is_subset(&facts(model, state).chosen_values)
}

/// Property: the clients' history is linearizable as a write-once register.
pub(super) fn linearizable(_: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.calls.linearizable
}

/// Property: a proposal number is issued with one value only (§2.5: "Different proposers
/// choose their numbers from disjoint sets of numbers", and a proposer never reuses one).
pub(super) fn unique_numbers(model: &PaxosModel, state: &PaxosModelState) -> bool {
    (facts(model, state).issued.iter())
        .tuple_windows()
        .all(|(a, b)| a.ballot != b.ballot)
}

/// Property: every acceptor's current state is in its ghost trail: its accepted proposal is
/// one it announced, and its promise one it sent or accepted. So no change of an acceptor's
/// state can hide from the properties by sending nothing.
pub(super) fn acceptor_in_trail(_: &PaxosModel, state: &PaxosModelState) -> bool {
    protocol_actors(state).all(|(_, node)| {
        let Some(acceptor) = &node.state.acceptor else {
            return true;
        };
        let trail = &node.trail;
        let announced = trail.accepted.iter().map(|p| p.ballot).max();
        acceptor
            .accepted
            .is_none_or(|p| trail.accepted.contains(&p))
            && acceptor.promised <= trail.promised.max(announced.unwrap_or_default())
    })
}

pub(super) fn value_chosen(model: &PaxosModel, state: &PaxosModelState) -> bool {
    !facts(model, state).chosen.is_empty()
}

/// Some acceptor handled the prepares or accepts of two proposers' ballots: its record (its
/// promise, the promise its trail records, every proposal it accepted) names two proposers.
/// Only the acceptor's own steps change that record, so only such a step reaches it.
pub(super) fn dueling_proposers(_: &PaxosModel, state: &PaxosModelState) -> bool {
    protocol_actors(state).any(|(_, node)| {
        let Some(acceptor) = &node.state.acceptor else {
            return false;
        };
        let promised = [acceptor.promised, node.trail.promised];
        let promised = promised.into_iter().filter(|b| b.round > 0);
        let accepted = node.trail.accepted.iter().map(|p| p.ballot);
        let mut proposers = promised.chain(accepted).map(|b| b.proposer);
        proposers
            .next()
            .is_some_and(|first| proposers.any(|other| other != first))
    })
}

/// Two different values were accepted (by any acceptors, at any time): the states where
/// agreement could fail.
pub(super) fn two_values_accepted(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let acceptances = &facts(model, state).acceptances.0;
    let mut values = acceptances.iter().map(|(p, _)| p.value);
    values.next().is_some_and(|v| values.any(|w| w != v))
}

/// Whether the step into this state took `path` ([`Ghost::took`]).
fn took_any(state: &PaxosModelState, path: Took) -> bool {
    state.history.took.contains(&path)
}

/// A proposer, refused the ballot it was trying for a higher one (a `Rejected`), started a new
/// ballot in the step that handled the refusal (judged on the step: [`took`]). A retry after a
/// timeout is not one: it may follow no refusal at all.
pub(super) fn retry_after_preemption(_: &PaxosModel, state: &PaxosModelState) -> bool {
    took_any(state, Took::RetryAfterPreemption)
}

/// With two values competing (two values issued), a proposer issued a value that an acceptor
/// had accepted under another proposer's lower number: the P2c(b) path, where a proposer
/// adopts a value instead of its client's.
pub(super) fn adopted_earlier_value(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let facts = facts(model, state);
    let mut values = facts.issued.iter().map(|p| p.value);
    if !values.next().is_some_and(|v| values.any(|w| w != v)) {
        return false;
    }
    facts.issued.iter().any(|n| {
        facts.acceptances.0.iter().any(|(m, _)| {
            m.value == n.value && m.ballot < n.ballot && m.ballot.proposer != n.ballot.proposer
        })
    })
}

/// The proposals that an acceptor restored from storage accepted, numbered above its
/// restored promise (so after the restart: the promise was saved, §2.5, and accepting raises
/// it), and that are chosen.
fn chosen_after_restart(model: &PaxosModel, state: &PaxosModelState) -> BTreeSet<Proposal> {
    let chosen = &facts(model, state).chosen;
    protocol_actors(state)
        .filter_map(|(_, node)| {
            let acceptor = node.state.acceptor.as_ref()?;
            let (restored, p) = (node.at_start?, acceptor.accepted?);
            (p.ballot > restored && chosen.contains(&p)).then_some(p)
        })
        .collect()
}

/// An acceptor restored from storage accepted a proposal numbered above its restored
/// promise (so after the restart), and that proposal is chosen.
pub(super) fn chosen_after_crash(model: &PaxosModel, state: &PaxosModelState) -> bool {
    !chosen_after_restart(model, state).is_empty()
}

/// `chosen after crash`, with a competing value: some acceptor accepted another value than
/// the one chosen after the restart (judged on the acceptances, not on messages in flight).
/// The states where a restarted acceptor's memory decides which value is chosen: the
/// `forget-accepted` bug chooses the second value there.
pub(super) fn chosen_after_crash_competing(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let facts = facts(model, state);
    chosen_after_restart(model, state)
        .iter()
        .any(|p| facts.acceptances.0.iter().any(|(q, _)| q.value != p.value))
}

/// A client received `None` for its read while a client's put was still unanswered (judged
/// on the step that delivered the answer: [`took`]): the states where a `None` could be wrong.
pub(super) fn read_none_during_put(_: &PaxosModel, state: &PaxosModelState) -> bool {
    took_any(state, Took::ReadNoneDuringPut)
}

/// A quorum read is under way for a client whose put was answered: the read that must not
/// answer `None`.
pub(super) fn read_after_put(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let writers = &model.cfg.clients[..model.cfg.config.clients];
    paxos_states(state).any(|s| s.reads.keys().any(|(client, _)| writers.contains(client)))
}

/// Property: every step maps to a legal `Voting` step or a stutter (judged by [`judge`]).
pub(super) fn refines_voting(_: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.refinement.voting.is_none()
}

/// Property: every step maps to a legal `Consensus` step or a stutter (judged by [`judge`]).
pub(super) fn refines_consensus(_: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.refinement.consensus.is_none()
}
