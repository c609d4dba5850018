//! The safety properties of the replicated log (slot agreement, P1a, P2c, log consistency,
//! at most once, linearizable, the refinements), what they read of the servers, and the
//! table of every property in the order they are reported.
use super::ghost::Trail;
use super::model::MultiPaxosModel;
use super::model::MultiPaxosModelState;
use crate::model::node::protocol_actors;
use crate::protocol::ballot::Ballot;
use crate::protocol::multi_paxos::{
    Applied, ClientCommand, Command, MultiPaxosState, Proposal, ReplicaState, Slot, StateMachine,
};
use itertools::Itertools;
use stateright::actor::Id;
use std::collections::{BTreeMap, BTreeSet};

/// One server as the properties see it.
pub(super) struct ServerView<'a> {
    pub(super) id: Id,
    pub(super) state: &'a MultiPaxosState,
    pub(super) trail: &'a Trail,
    /// Whether the server is down.
    pub(super) crashed: bool,
    /// At its last restart, the highest ballot it had led under.
    pub(super) led_before_restart: Option<Ballot>,
}

pub(super) fn servers(state: &MultiPaxosModelState) -> impl Iterator<Item = ServerView<'_>> {
    protocol_actors(state).map(|(id, node)| ServerView {
        id,
        state: &node.state,
        trail: &node.trail,
        crashed: state.crashed[usize::from(id)],
        led_before_restart: node.at_start.0,
    })
}

/// Every acceptance that ever happened, by slot and acceptor, gathered from the trails.
/// Sorted, each once (a server's trail holds each of its acceptances once): a vector, as
/// the properties build it for every state.
pub(super) struct Acceptances<'a>(pub(super) Vec<(Slot, &'a Proposal, Id)>);

impl<'a> Acceptances<'a> {
    pub(super) fn of(state: &'a MultiPaxosModelState) -> Self {
        let mut all = Vec::new();
        for server in servers(state) {
            all.extend(
                server
                    .trail
                    .accepted
                    .iter()
                    .map(|(s, p)| (*s, p, server.id)),
            );
        }
        all.sort_unstable();
        Acceptances(all)
    }

    /// The proposals accepted in a slot by at least `majority` distinct acceptors.
    pub(super) fn chosen(&self, majority: usize) -> BTreeSet<(Slot, &'a Proposal)> {
        self.0
            .iter()
            .map(|(slot, proposal, _)| (*slot, *proposal))
            .dedup_with_count()
            .filter(|(count, _)| *count >= majority)
            .map(|(_, chosen)| chosen)
            .collect()
    }

    /// Every acceptance, by slot: what P2c quantifies over for a proposal issued in a slot.
    pub(super) fn by_slot(&self) -> BTreeMap<Slot, Vec<(&'a Proposal, Id)>> {
        let mut by_slot: BTreeMap<Slot, Vec<(&'a Proposal, Id)>> = BTreeMap::new();
        for (slot, p, a) in &self.0 {
            by_slot.entry(*slot).or_default().push((*p, *a));
        }
        by_slot
    }
}

/// P2c for proposal `(n, v)` issued in a slot whose acceptances are `accepted`: some majority
/// S either accepted nothing in that slot numbered below n, or v is the command of the
/// highest-numbered proposal below n that S accepted in that slot.
fn p2c_holds(
    accepted: &[(&Proposal, Id)],
    proposal: &Proposal,
    acceptors: &[Id],
    majority: usize,
) -> bool {
    let below: Vec<&(&Proposal, Id)> = accepted
        .iter()
        .filter(|(p, _)| p.ballot < proposal.ballot)
        .collect();
    if below.is_empty() {
        return true;
    }
    acceptors.iter().combinations(majority).any(|s| {
        let highest = below
            .iter()
            .filter(|(_, a)| s.contains(&a))
            .max_by_key(|(p, _)| p.ballot);
        highest.is_none_or(|(p, _)| p.command == proposal.command)
    })
}

pub(super) fn chosen<'a>(
    model: &MultiPaxosModel,
    state: &'a MultiPaxosModelState,
) -> BTreeSet<(Slot, &'a Proposal)> {
    Acceptances::of(state).chosen(model.cfg.majority())
}

/// The commands chosen in each slot.
fn chosen_by_slot<'a>(
    model: &MultiPaxosModel,
    state: &'a MultiPaxosModelState,
) -> BTreeMap<Slot, BTreeSet<&'a Command>> {
    let mut by_slot: BTreeMap<Slot, BTreeSet<&Command>> = BTreeMap::new();
    for (slot, proposal) in chosen(model, state) {
        by_slot.entry(slot).or_default().insert(&proposal.command);
    }
    by_slot
}

/// Property: at most one command is chosen per slot.
pub(super) fn slot_agreement(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    chosen_by_slot(model, state)
        .values()
        .all(|commands| commands.len() <= 1)
}

/// Property P2c, per slot: for every issued proposal (n, v) in slot s, some majority accepted
/// nothing in s below n, or the highest-numbered proposal below n it accepted in s has v.
pub(super) fn p2c(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    let by_slot = acceptances.by_slot();
    let majority = model.cfg.majority();
    servers(state).all(|server| {
        server.trail.issued.iter().all(|(slot, p)| {
            let accepted = by_slot.get(slot).map_or(&[][..], Vec::as_slice);
            p2c_holds(accepted, p, &model.cfg.acceptors, majority)
        })
    })
}

/// The state machine after the chosen slots `0..upto`, applied in slot order with the
/// at-most-once table (`dedup`) as a replica applies them: what a snapshot of them must be.
/// `None` if some slot below `upto` has no chosen command, or two (slot agreement broken).
pub(crate) fn replay(
    chosen: &BTreeMap<Slot, BTreeSet<&Command>>,
    upto: Slot,
    dedup: bool,
) -> Option<StateMachine> {
    let mut machine = StateMachine::default();
    for slot in 0..upto {
        let command = chosen
            .get(&slot)
            .and_then(|c| c.iter().exactly_one().ok())?;
        for cc in command.clients() {
            machine.apply(cc, dedup);
        }
    }
    Some(machine)
}

/// Whether a replica's applied prefix is the chosen log as the ghost record has it: entry `i`
/// of its log is slot `base + i`, and its command is chosen there; and the slots below `base`,
/// which the log keeps no longer, are the server's snapshot: taken at `base`, and its state
/// machine is the one the chosen commands of `0..base` make ([`replay`]).
pub(crate) fn applied_prefix_consistent(
    s: &MultiPaxosState,
    chosen: &BTreeMap<Slot, BTreeSet<&Command>>,
    dedup: bool,
) -> bool {
    let replica = &s.replica;
    let entries = replica.log.iter().enumerate().all(|(i, a)| {
        a.slot == replica.base + i as Slot
            && chosen.get(&a.slot).is_some_and(|c| c.contains(&a.command))
    });
    let snapshot = &s.acceptor.snapshot;
    entries
        && snapshot.upto == replica.base
        && (replica.base == 0
            || replay(chosen, replica.base, dedup).as_ref() == Some(&snapshot.machine))
}

/// Property: every replica's applied prefix is a prefix of the chosen log as the ghost record
/// has it: entry `i` of its log is slot `base + i`, its command chosen there, and below `base`
/// its snapshot is the state machine of the chosen slots ([`applied_prefix_consistent`]).
/// Judged against the record, not other replicas' memory, so that it holds across restarts
/// too.
pub(super) fn log_consistency(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen = chosen_by_slot(model, state);
    let dedup = model.cfg.config.variant.at_most_once();
    servers(state).all(|s| applied_prefix_consistent(s.state, &chosen, dedup))
}

/// Property: every command in a replica's chosen map is chosen in that slot per the ghost
/// record (a majority accepted one proposal with it).
pub(super) fn learn_only_chosen(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen = chosen_by_slot(model, state);
    servers(state).all(|s| {
        (s.state.replica.chosen.iter())
            .all(|(slot, command)| chosen.get(slot).is_some_and(|c| c.contains(command)))
    })
}

/// Property P1a, per slot: no acceptor accepts a proposal numbered below a ballot it has
/// promised. Judged on each step that accepts ([`judge`]), whose finding is sticky.
pub(super) fn p1a(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    !state.history.p1a_broken
}

/// Property: every acceptor's current state is in its ghost record: it still holds every
/// promise it made, each proposal it holds as accepted it accepted (and said so), and it has
/// promised at least each one's number; so that a change of state that sends nothing, or a
/// promise that is sent but not kept, cannot hide from the other properties.
pub(super) fn acceptor_recorded(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).all(|s| {
        let acceptor = &s.state.acceptor;
        acceptor.promised >= s.trail.promised
            && acceptor.accepted.iter().all(|(slot, p)| {
                acceptor.promised >= p.ballot && s.trail.accepted.contains(&(*slot, p.clone()))
            })
    })
}

/// Property: every chosen command was submitted by a client, or is a no-op.
pub(super) fn validity(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    chosen(model, state).into_iter().all(|(_, p)| {
        let submitted = &state.history.submitted;
        p.command.clients().iter().all(|cc| submitted.contains(cc))
    })
}

/// The client requests a replica ran on its store twice: in its log twice, or in its log and
/// at or below the request its snapshot's at-most-once table holds for that client (the
/// snapshot ran that request, and the client's earlier ones, before `base`: a client numbers
/// its requests 1, 2, ... and sends one only once the one before is answered).
pub(crate) fn run_twice(replica: &ReplicaState, snapshot: &StateMachine) -> Vec<ClientCommand> {
    let executed: Vec<&ClientCommand> = replica
        .log
        .iter()
        .flat_map(|a: &Applied| a.command.clients().iter().zip(&a.executed))
        .filter(|(_, executed)| **executed)
        .map(|(cc, _)| cc)
        .collect();
    let in_snapshot = executed.iter().filter(|cc| {
        (snapshot.last.get(&cc.client)).is_some_and(|last| cc.request <= last.request)
    });
    let in_log = executed.iter().duplicates_by(|cc| (cc.client, cc.request));
    in_snapshot.chain(in_log).map(|cc| (*cc).clone()).collect()
}

/// Property: no replica runs a client's request on its store twice ([`run_twice`]).
pub(super) fn at_most_once(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).all(|server| {
        let snapshot = &server.state.acceptor.snapshot.machine;
        run_twice(&server.state.replica, snapshot).is_empty()
    })
}

/// Property: the clients' history is linearizable as a key-value store.
pub(super) fn linearizable(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.calls.linearizable
}

/// Property: every step maps to a legal `Voting` step or a stutter (judged by [`judge`]).
pub(super) fn refines_voting(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.refinement.voting.is_none()
}

/// Property: every step maps to a legal `Consensus` step or a stutter (judged by [`judge`]).
pub(super) fn refines_consensus(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.refinement.consensus.is_none()
}
