//! The `sometimes` properties: each names a path of the protocol (a leader change with a
//! reported slot, a gap filled, a snapshot in pieces ...) that the model must reach.
use super::ghost::Took;
use super::model::MultiPaxosModel;
use super::model::MultiPaxosModelState;
use super::properties::chosen;
use super::properties::servers;
use super::properties::Acceptances;
use crate::model::node::Node;
use crate::protocol::ballot::Ballot;
use crate::protocol::multi_paxos::{Command, Proposal, Role, Slot};
use itertools::Itertools;
use stateright::actor::Id;
use std::collections::{BTreeMap, BTreeSet};

/// A client command a leader proposed in steady state (phase 2 only) is chosen.
pub(super) fn steady_state(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen = chosen(model, state);
    servers(state).any(|s| {
        s.trail
            .steady
            .iter()
            .any(|(slot, p)| chosen.contains(&(*slot, p)))
    })
}

/// A no-op is chosen in a slot below one that a lower ballot had used: a gap filled by a
/// later leader.
pub(super) fn gap_filled(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    chosen(model, state).into_iter().any(|(slot, p)| {
        p.command == Command::Noop
            && acceptances
                .0
                .iter()
                .any(|(s, q, _)| *s > slot && q.ballot < p.ballot)
    })
}

/// A client command accepted under one leader's ballot is chosen under another's, higher one:
/// a new leader recovered it in phase 1 and proposed it again.
pub(super) fn recovered_slot(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    chosen(model, state).into_iter().any(|(slot, p)| {
        matches!(p.command, Command::Batch(_))
            && acceptances.0.iter().any(|(s, q, _)| {
                *s == slot
                    && q.command == p.command
                    && q.ballot < p.ballot
                    && q.ballot.proposer != p.ballot.proposer
            })
    })
}

/// A server that led crashed (and is down or restarted), and a command is chosen under
/// another server's higher ballot.
pub(super) fn chosen_after_leader_crash(
    model: &MultiPaxosModel,
    state: &MultiPaxosModelState,
) -> bool {
    let chosen = chosen(model, state);
    servers(state).any(|server| {
        let led = if server.crashed {
            server.trail.led
        } else {
            server.led_before_restart
        };
        led.is_some_and(|b| {
            chosen
                .iter()
                .any(|(_, p)| p.ballot > b && p.ballot.proposer != server.id)
        })
    })
}

/// A server that led, crashed and restarted made a proposal chosen by accepting it after its
/// restart, in a slot where another command was accepted too (judged on the step, by
/// [`judge`]): the restarted server's memory of that slot is what P2c rests on.
pub(super) fn chosen_after_restart_competing(
    _: &MultiPaxosModel,
    state: &MultiPaxosModelState,
) -> bool {
    state.history.chosen_after_restart
}

/// Witness for P2c: a server leads and re-proposes, in a slot, a command that another
/// server's lower ballot had got accepted there (phase 1 reported it).
pub(super) fn leader_change_with_reported_slot(
    _: &MultiPaxosModel,
    state: &MultiPaxosModelState,
) -> bool {
    let acceptances = Acceptances::of(state);
    servers(state).any(|s| {
        s.trail.issued.iter().any(|(slot, p)| {
            acceptances.0.iter().any(|(at, q, _)| {
                at == slot
                    && q.command == p.command
                    && q.ballot < p.ballot
                    && q.ballot.proposer != p.ballot.proposer
            })
        })
    })
}

/// A candidate holds a promise that came in pieces and has asked for the rest: phase 1 in
/// pieces, where only whole promises may count toward the majority. Only its step handling
/// such a piece keeps one (`partial`).
pub(super) fn promise_in_pieces(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).any(|s| {
        matches!(&s.state.proposer.role, Role::Candidate { partial, .. } if !partial.is_empty())
    })
}

/// Proposals were issued under three different ballots: two leader changes.
pub(super) fn second_leader_change(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let ballots: BTreeSet<Ballot> = servers(state)
        .flat_map(|s| s.trail.issued.iter().map(|(_, p)| p.ballot))
        .collect();
    ballots.len() >= 3
}

/// A server answered a replica's request to catch up on 2+ slots with 2+ of them in one
/// answer: as many `Chosen` slots, or its snapshot, which answers a gap that starts below it
/// (judged on the step that handled the request: [`took`]).
pub(super) fn catch_up_of_2_slots(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::CatchUpOf2Slots)
}

/// Whether the step into this state took `path` ([`Ghost::took`]).
fn took_any(state: &MultiPaxosModelState, path: Took) -> bool {
    state.history.took.contains(&path)
}

/// Witness for the snapshot rule: a candidate handled a promise that names a snapshot above
/// the slot it prepared from (the slots in between are chosen, and the acceptor reports none
/// of them; judged on the step: [`took`]).
pub(super) fn promise_names_snapshot(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::PromiseNamedSnapshot)
}

/// Witness for catching up from a snapshot: a replica installed a snapshot it received
/// (judged on the step that delivered its last piece: [`took`]).
pub(super) fn caught_up_from_snapshot(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::CaughtUpFromSnapshot)
}

/// Witness for a leader's slots below a snapshot: a leader with slots in flight below a
/// snapshot installed it (an acceptor answered its `Accept` there with its snapshot: the slot
/// is chosen), and so dropped them from its window (judged on the step: [`took`]).
pub(super) fn leader_behind_snapshot(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::LeaderBehindSnapshot)
}

/// Witness for pieces of a snapshot: a replica holds part of a snapshot and has asked for the
/// rest. Only its step handling a piece that leaves some out keeps one (`incoming`).
pub(super) fn snapshot_in_pieces(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).any(|s| s.state.replica.incoming.is_some())
}

/// Witness for slot agreement, learning only chosen commands and log consistency: two
/// different commands were accepted in one slot.
pub(super) fn competing_commands(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    acceptances
        .0
        .iter()
        .tuple_combinations()
        .any(|((s, p, _), (t, q, _))| s == t && p.command != q.command)
}

/// Witness for P1a: an acceptor refused an accept below its promise, and the leader handled
/// the refusal (judged on the step that delivered it: [`took`]).
pub(super) fn accept_refused(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::AcceptRefused)
}

/// Witness for the acceptor's record: an acceptor replaced the proposal it had accepted in
/// a slot by a higher one.
pub(super) fn acceptance_replaced(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).any(|s| {
        s.trail
            .accepted
            .iter()
            .tuple_windows()
            .any(|((a, _), (b, _))| a == b)
    })
}

/// Witness for at most once: one client command was accepted in two slots.
pub(super) fn command_in_two_slots(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    acceptances
        .0
        .iter()
        .filter(|(_, p, _)| matches!(p.command, Command::Batch(_)))
        .tuple_combinations()
        .any(|((s, p, _), (t, q, _))| {
            s != t && (p.command.clients().iter()).any(|c| q.command.clients().contains(c))
        })
}

/// Witness for batching: a slot holding two client commands or more is chosen.
pub(super) fn batch_of_2_chosen(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    chosen(model, state)
        .into_iter()
        .any(|(_, p)| p.command.clients().len() >= 2)
}

/// Witness for the hold (S6, [`Tuning::batch_wait`]): a batch of two commands or more
/// is chosen that holds the next request of a client the slot before answered. With one slot
/// in flight and no hold, that client's request always comes too late for a batch: the
/// requests that waited went into the next slot as it was chosen, or the request found the
/// window open and got a slot of its own.
pub(super) fn batch_held_for_a_client(
    model: &MultiPaxosModel,
    state: &MultiPaxosModelState,
) -> bool {
    let chosen: BTreeMap<Slot, &Proposal> = chosen(model, state).into_iter().collect();
    let clients =
        |p: &Proposal| -> BTreeSet<Id> { p.command.clients().iter().map(|c| c.client).collect() };
    chosen.iter().any(|(&slot, &p)| {
        let before = slot.checked_sub(1).and_then(|s| chosen.get(&s));
        p.command.clients().len() >= 2
            && before.is_some_and(|&q| !clients(p).is_disjoint(&clients(q)))
    })
}

/// Witness for linearizability, and the liveness property "every request answered": every
/// client's every call returned.
pub(super) fn all_answered(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let calls: usize = model
        .actors
        .iter()
        .map(|a| match a {
            Node::Client(c) => c.ops.len(),
            Node::Protocol(_) => 0,
        })
        .sum();
    state.history.calls.awaiting.is_empty() && state.history.submitted.len() == calls
}

/// Witness for "every request answered": a phase 2 message was lost, and every call returned
/// all the same (the leader re-sent).
pub(super) fn answered_after_loss(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.lost.0 > 0 && all_answered(model, state)
}

/// Witness for at most once across a leader change: a leader answered a client's request from
/// its at-most-once table, and another server's lower ballot had got that request accepted
/// (judged on the step, by [`judge_table`]).
pub(super) fn answered_from_table(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.answered_from_table
}

/// Witness for at most once across a leader change: a leader refused a client's request below
/// the client's last applied one, which its table holds, and another server's lower ballot had
/// got that request accepted (judged on the step, by [`judge_table`]).
pub(super) fn stale_refused(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.stale_refused
}

/// Witness for P2c and validity over several slots: a server, under one ballot, re-issued two
/// or more slots that phase 1 reported (each holds a command accepted there under a lower
/// ballot), filled a slot between two of them with a no-op of its own, and issued a client
/// command above the highest of them: a new leader recovered slots with a gap between them and
/// then took new commands.
pub(super) fn new_command_after_recovered_slots(
    _: &MultiPaxosModel,
    state: &MultiPaxosModelState,
) -> bool {
    let by_slot = Acceptances::of(state).by_slot();
    let reported = |slot: &Slot, p: &Proposal| {
        (by_slot.get(slot).into_iter().flatten())
            .any(|(q, _)| q.ballot < p.ballot && q.command == p.command)
    };
    servers(state).any(|s| {
        let terms = s.trail.issued.iter().into_group_map_by(|(_, p)| p.ballot);
        terms.values().any(|issued| {
            let recovered: Vec<Slot> = (issued.iter())
                .filter(|(slot, p)| reported(slot, p))
                .map(|(slot, _)| *slot)
                .collect();
            let (Some(low), Some(top)) = (recovered.iter().min(), recovered.iter().max()) else {
                return false;
            };
            let gap = issued.iter().any(|(slot, p)| {
                p.command == Command::Noop && low < slot && slot < top && !reported(slot, p)
            });
            let new = (issued.iter())
                .any(|(slot, p)| slot > top && matches!(p.command, Command::Batch(_)));
            gap && new
        })
    })
}

/// Witness: a server that does not lead followed a current leader's heartbeat (a step did).
pub(super) fn heartbeat_followed(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.heartbeat.0
}

/// Witness: a server handed the leader the requests it had queued for want of one (a step
/// did, on the leader's heartbeat).
pub(super) fn queued_handed_over(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.heartbeat.1
}
