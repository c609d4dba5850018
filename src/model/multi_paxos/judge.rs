//! The judge of transitions: what each step did that the states do not show (P1a on each
//! acceptance, the ballots started, the refinement of Voting and Consensus, the losses, the
//! paths witnesses name), written into the history.
use super::config::ModelCfg;
use super::ghost::Took;
use super::model::MultiPaxosHarness;
use super::model::MultiPaxosModelState;
use super::properties::servers;
use super::properties::Acceptances;
use crate::model::harness;
use crate::model::harness::Transition;
use crate::model::node::protocol_actors;
use crate::model::node::ActionOf;
use crate::model::voting::{order_matters, Event, Illegal, Voting};
use crate::protocol::ballot::{may_accept, Ballot};
use crate::protocol::multi_paxos::{
    Applied, Command, Msg, MultiPaxosActor, MultiPaxosState, Proposal, Role, Slot, Table,
};
use stateright::actor::{ActorModelAction, Id};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Judges each transition, server by server: counts the ballots started (a server's own
/// ballot moved up: phase 1 began), and checks P1a on each acceptance the step made against
/// the promise the acceptor held before it, the promises and acceptances it made earlier in
/// the same step included ([`sent_in_order`]); and judges the refinement ([`refine`]) and,
/// with [`MultiPaxosConfig::max_lost`], the losses ([`judge_loss`]); and records the paths of
/// [`Took`] the step took ([`took`]) for their witnesses, until the next step that takes one or
/// changes an actor ([`harness::Took`]). Writes into the history only what the step did.
pub(super) fn judge(
    cfg: &ModelCfg,
    step: &Transition<MultiPaxosHarness>,
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let took = took(cfg, step.action, before, after);
    if let Some(took) = harness::retake(before, after, &after.history.took, took) {
        Arc::make_mut(&mut after.history).took = took;
    }
    if cfg.config.max_lost.is_some() {
        judge_loss(step.action, after);
    }
    let sent = sent_in_order(step, before, after);
    let mut started = 0;
    let mut p1a_broken = false;
    for ((id, b), (_, a)) in protocol_actors(before).zip(protocol_actors(after)) {
        if std::ptr::eq(a, b) {
            continue;
        }
        let (was, is) = (b.state.proposer.ballot, a.state.proposer.ballot);
        if is.proposer == id && is.round > was.round {
            started += 1;
        }
        if a.trail.accepted.len() > b.trail.accepted.len() {
            // The promise held before the step, or made in a message, whichever is higher.
            let held = b.state.acceptor.promised.max(b.trail.promised);
            if step.actor() == Some(id) {
                p1a_broken |= breaks_p1a_in_order(held, &sent, &b.trail.accepted);
            }
            p1a_broken |= a
                .trail
                .accepted
                .difference(&b.trail.accepted)
                .any(|(_, p)| !may_accept(held, p.ballot));
        }
    }
    if started > 0 {
        let history = Arc::make_mut(&mut after.history);
        history.ballots = history.ballots.saturating_add(started);
    }
    if p1a_broken {
        Arc::make_mut(&mut after.history).p1a_broken = true;
    }
    if !after.history.chosen_after_restart && chosen_by_a_restarted_leader(cfg, before, after) {
        Arc::make_mut(&mut after.history).chosen_after_restart = true;
    }
    judge_table(cfg, step.action, before, after);
    judge_heartbeat(step.action, before, after);
    refine(cfg, step, &sent, before, after);
}

/// Whether an acceptor that held the promise `held` and had accepted `had` before a step,
/// and sent `sent` in it in this order, accepted a proposal below a promise made earlier in
/// the step (P1a, event by event: its acceptances raise its promise too).
pub(super) fn breaks_p1a_in_order(
    held: Ballot,
    sent: &[Msg],
    had: &BTreeSet<(Slot, Proposal)>,
) -> bool {
    let mut promised = held;
    sent.iter().any(|msg| match msg {
        Msg::Promise { ballot, .. } => {
            promised = promised.max(*ballot);
            false
        }
        Msg::Accepted { slot, proposal } => {
            let new = !had.contains(&(*slot, proposal.clone()));
            let broken = new && !may_accept(promised, proposal.ballot);
            promised = promised.max(proposal.ballot);
            broken
        }
        _ => false,
    })
}

/// The messages the stepping server sent in the step, in order, where the order of its
/// acceptor's promises and acceptances in it can change a verdict ([`order_matters`]): the
/// state after the step holds them, but not their order. None otherwise.
fn sent_in_order(
    step: &Transition<MultiPaxosHarness>,
    before: &MultiPaxosModelState,
    after: &MultiPaxosModelState,
) -> Vec<Msg> {
    let Some((_, b, a)) = step.nodes(before, after) else {
        return Vec::new();
    };
    let cast = a.trail.accepted.difference(&b.trail.accepted);
    let (was, is) = (b.state.acceptor.promised, a.state.acceptor.promised);
    if order_matters(was, is, cast.map(|(_, p)| p.ballot)) {
        step.sent(before)
    } else {
        Vec::new()
    }
}

/// Judges a step that delivers a client's request to a leader: the path it takes through the
/// at-most-once table is the one [`ReplicaState::table`] names for the leader's state before
/// the step, as `handle_request` asks it. Sets the sticky witnesses "retried request answered
/// from the at-most-once table" and "stale request refused" when the request is one that
/// another server's lower ballot had got accepted: it reached this leader across a leader
/// change, and the table that answers it came through the log.
fn judge_table(
    cfg: &ModelCfg,
    step: &ActionOf<MultiPaxosActor>,
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let ActorModelAction::Deliver {
        dst,
        msg: Msg::Request { command },
        ..
    } = step
    else {
        return;
    };
    let Some(leader) = servers(before).find(|s| s.id == *dst && s.state.is_leader()) else {
        return;
    };
    let history = &after.history;
    let path = leader
        .state
        .replica
        .table(command, cfg.config.variant.at_most_once());
    let unseen = match path {
        Some(Table::Answered(_)) => !history.answered_from_table,
        Some(Table::Stale(_)) => !history.stale_refused,
        None => false,
    };
    let ballot = leader.state.proposer.ballot;
    let across = || {
        Acceptances::of(before).0.iter().any(|(_, p, _)| {
            p.ballot < ballot
                && p.ballot.proposer != leader.id
                && (p.command.clients().iter())
                    .any(|c| (c.client, c.request) == (command.client, command.request))
        })
    };
    if !unseen || !across() {
        return;
    }
    let history = Arc::make_mut(&mut after.history);
    match path {
        Some(Table::Answered(_)) => history.answered_from_table = true,
        _ => history.stale_refused = true,
    }
}

/// The state of server `id`.
pub(super) fn server(state: &MultiPaxosModelState, id: Id) -> Option<&MultiPaxosState> {
    protocol_actors(state).find_map(|(i, node)| (i == id).then_some(&node.state))
}

/// The paths of [`Took`] that the step `before -> after` took: a delivery the receiver handled
/// by that path, read off the message and the receiver before and after it.
pub(super) fn took(
    cfg: &ModelCfg,
    step: &ActionOf<MultiPaxosActor>,
    before: &MultiPaxosModelState,
    after: &MultiPaxosModelState,
) -> BTreeSet<Took> {
    let mut took = BTreeSet::new();
    let ActorModelAction::Deliver { dst, msg, .. } = step else {
        return took;
    };
    let (Some(was), Some(is)) = (server(before, *dst), server(after, *dst)) else {
        return took;
    };
    match msg {
        // §2.2: an acceptor that promised a higher ballot refused the leader's accept: the
        // leader, of that ballot still, handles the refusal (`handle_rejected`'s guard).
        Msg::Rejected {
            ballot,
            promised,
            slot: Some(_),
        } if was.is_leader() && was.proposer.ballot == *ballot && promised > ballot => {
            took.insert(Took::AcceptRefused);
        }
        // `handle_catch_up`: the snapshot if it covers the gap's first slot, else the first
        // `burst` chosen slots of the gap.
        Msg::CatchUp { from, to } => {
            let replica = &was.replica;
            let answered = if *from < replica.base {
                (*to).min(replica.base).saturating_sub(*from)
            } else {
                let known = replica.chosen.range(from..to).count();
                known.min(cfg.config.tuning().burst) as Slot
            };
            if answered >= 2 {
                took.insert(Took::CatchUpOf2Slots);
            }
        }
        Msg::Promise { snapshot, .. } => {
            let from = match &was.proposer.role {
                Role::Candidate { from, .. } => *from,
                _ => return took,
            };
            // Handled: the candidate counted it, or kept its piece (`handle_promise`).
            if *snapshot > from && is.proposer != was.proposer {
                took.insert(Took::PromiseNamedSnapshot);
            }
        }
        // `handle_snapshot`: the last piece installs it, and the replica goes on from `upto`.
        Msg::Snapshot { upto, .. } if was.replica.applied() < *upto && is.replica.base >= *upto => {
            took.insert(Took::CaughtUpFromSnapshot);
            if let Role::Leader { in_flight, .. } = &was.proposer.role {
                if in_flight.range(..*upto).next().is_some() {
                    took.insert(Took::LeaderBehindSnapshot);
                }
            }
        }
        _ => {}
    }
    took
}

/// Whether, in the step `before -> after`, a server that led before its last restart (so it
/// is up again) accepted a proposal and so made it chosen, in a slot where another command
/// was accepted: a command chosen after a restart, over a competing one.
fn chosen_by_a_restarted_leader(
    cfg: &ModelCfg,
    before: &MultiPaxosModelState,
    after: &MultiPaxosModelState,
) -> bool {
    let restarted = servers(before)
        .zip(servers(after))
        .find(|(b, a)| a.led_before_restart.is_some() && a.trail.accepted != b.trail.accepted);
    let Some((b, a)) = restarted else {
        return false;
    };
    let was = Acceptances::of(before).chosen(cfg.majority());
    let acceptances = Acceptances::of(after);
    let is = acceptances.chosen(cfg.majority());
    a.trail
        .accepted
        .difference(&b.trail.accepted)
        .any(|(slot, p)| {
            is.contains(&(*slot, p))
                && !was.contains(&(*slot, p))
                && acceptances
                    .0
                    .iter()
                    .any(|(s, q, _)| s == slot && q.command != p.command)
        })
}

/// The refinement mapping (spec/refinement.md): one `Voting` instance per slot, in which
/// `maxBal[a]` is server `a`'s `promised` (one promise for all slots; frozen while it is down,
/// restored from its storage when it restarts) and `votes[a]` the proposals its trail says it
/// accepted in that slot. This is `slot`'s instance.
fn voting(state: &MultiPaxosModelState, slot: Slot) -> Voting<Command> {
    let mut instance = Voting::default();
    for server in servers(state) {
        instance.set_max_bal(server.id, server.state.acceptor.promised);
        for (_, p) in server.trail.accepted.iter().filter(|(s, _)| *s == slot) {
            instance.add_vote(server.id, p.ballot, p.command.clone());
        }
    }
    instance
}

/// What a replica learned in a step, for [`refine`]: a new entry of its log, or a slot below
/// a snapshot it received.
enum Learned {
    /// A log entry and its position `i` in the log, for the slot its position says
    /// (`base + i`).
    Entry(usize, Applied),
    /// A slot below a received snapshot.
    Snapshot,
}

/// Judges the refinement of the step `before -> after` (any step that changes no server's
/// acceptances or applied log, and lowers no promise, maps to a stutter or `IncreaseMaxBal`):
/// the `Voting` step of each slot whose votes changed (or of slot 0 for a fallen promise:
/// `maxBal` is one for all slots) and
/// the `Consensus` step it maps to, whose values are the commands clients submitted and
/// no-ops; and each new entry of a replica's log, since the log is the sequence of the slots'
/// `Consensus` instances: entry `i` must be the command chosen in slot `base + i`; and each slot
/// a replica skips by installing a snapshot must have a chosen command (the snapshot's state
/// machine itself is judged by "log consistency").
fn refine(
    cfg: &ModelCfg,
    step: &Transition<MultiPaxosHarness>,
    sent: &[Msg],
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let mut slots = BTreeSet::new();
    let mut promised = false;
    let mut learned = Vec::new();
    for ((id, b), (_, a)) in protocol_actors(before).zip(protocol_actors(after)) {
        if std::ptr::eq(a, b) {
            continue;
        }
        // A rise of the promise alone is `IncreaseMaxBal`, always enabled: only a fall needs
        // judging.
        promised |= a.state.acceptor.promised < b.state.acceptor.promised;
        let (had, has) = (&b.trail.accepted, &a.trail.accepted);
        slots.extend(had.symmetric_difference(has).map(|(slot, _)| *slot));
        let (old, new) = (&b.state.replica, &a.state.replica);
        // Entry `i` of a log is slot `base + i`: an entry is kept if the old log held it for
        // the same slot (a snapshot truncates the log's front, and the entries move up).
        let at = |i: usize| {
            let slot = (new.base + i as Slot).checked_sub(old.base)?;
            old.log.get(usize::try_from(slot).ok()?)
        };
        let kept = (new.log.iter().enumerate())
            .take_while(|(i, e)| at(*i) == Some(e))
            .count();
        learned.extend(
            new.log
                .iter()
                .enumerate()
                .skip(kept)
                .map(|(i, e)| (id, new.base + i as Slot, Learned::Entry(i, e.clone()))),
        );
        // A snapshot received: the replica learned every slot it had not applied below it.
        learned.extend((old.applied()..new.base).map(|slot| (id, slot, Learned::Snapshot)));
    }
    if promised && slots.is_empty() {
        slots.insert(0);
    }
    if slots.is_empty() && learned.is_empty() {
        return;
    }
    let n = cfg.acceptors.len();
    let mut refinement = after.history.refinement.clone();
    let submitted = |c: &Command| {
        let submitted = &after.history.submitted;
        c.clients().iter().all(|cc| submitted.contains(cc))
    };
    for slot in slots {
        let (was, is) = (voting(before, slot), voting(after, slot));
        // The stepping acceptor's events in this slot's instance, in order: an acceptance in
        // another slot raises the promise every slot shares.
        let events: Vec<Event<Command>> = (step.actor().into_iter())
            .flat_map(|id| {
                sent.iter().filter_map(move |msg| match msg {
                    Msg::Promise { ballot, .. } => Some(Event::Promise(id, *ballot)),
                    Msg::Accepted { slot: s, proposal } if *s == slot => {
                        Some(Event::Vote(id, proposal.ballot, proposal.command.clone()))
                    }
                    Msg::Accepted { proposal, .. } => Some(Event::Promise(id, proposal.ballot)),
                    _ => None,
                })
            })
            .collect();
        refinement.judge(
            Some(format!("slot {slot}")),
            n,
            &was,
            &is,
            &events,
            submitted,
        );
    }
    for (id, i, learned) in learned {
        if refinement.consensus.is_some() {
            break;
        }
        let chosen = voting(after, i).chosen(n);
        let action = match learned {
            Learned::Entry(at, entry) if entry.slot != i || !chosen.contains(&entry.command) => {
                let base = if i as usize == at {
                    String::new()
                } else {
                    format!(" (slot {i}: the log starts at slot {})", i - at as Slot)
                };
                format!(
                    "server {} learning {:?} (slot {}) as log entry {at}{base}",
                    usize::from(id),
                    entry.command,
                    entry.slot
                )
            }
            // The snapshot's state machine is judged by "log consistency" (`replay`): here,
            // that the slot it covers has a chosen command at all.
            Learned::Snapshot if chosen.is_empty() => format!(
                "server {} learning slot {i} from a snapshot",
                usize::from(id)
            ),
            _ => continue,
        };
        refinement.consensus = Some(Illegal {
            action,
            reason: format!(
                "the log is the sequence of Consensus instances, and slot {i} has chosen \
                 {chosen:?}"
            ),
        });
    }
    if refinement != after.history.refinement {
        Arc::make_mut(&mut after.history).refinement = refinement;
    }
}

/// With [`MultiPaxosConfig::max_lost`]: counts the phase 2 messages lost, and marks the loss
/// of any other message, which the configuration excludes. A loss is stateright's `Drop`
/// step, told by the step itself: on an ordered network, losing a channel's head and
/// delivering it to an actor it leaves unchanged lead to the same state.
fn judge_loss(step: &ActionOf<MultiPaxosActor>, after: &mut MultiPaxosModelState) {
    let ActorModelAction::Drop(env) = step else {
        return;
    };
    let excluded = !matches!(env.msg, Msg::Accept { .. } | Msg::Accepted { .. });
    let history = Arc::make_mut(&mut after.history);
    let (count, outside) = history.lost;
    history.lost = (count.saturating_add(1), outside || excluded);
}

/// Marks the step that delivers a current leader's `Heartbeat` to a server that does not lead
/// (it puts off its election: the heartbeat path of `handle_heartbeat`), and the one where
/// such a server hands the leader the requests it had queued ([`Ghost::heartbeat`]).
fn judge_heartbeat(
    step: &ActionOf<MultiPaxosActor>,
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let ActorModelAction::Deliver {
        dst,
        msg: Msg::Heartbeat { ballot, .. },
        ..
    } = step
    else {
        return;
    };
    let server = |state: &MultiPaxosModelState| {
        protocol_actors(state)
            .find(|(id, _)| id == dst)
            .map(|(_, node)| {
                (
                    node.state.acceptor.promised,
                    node.state.proposer.queue.is_empty(),
                    node.state.is_leader(),
                )
            })
    };
    let (Some((promised, had_none, _)), Some((_, has_none, leads))) =
        (server(before), server(after))
    else {
        return;
    };
    let followed = *ballot >= promised && !leads;
    let handed = followed && !had_none && has_none;
    let (had_followed, had_handed) = after.history.heartbeat;
    if (followed && !had_followed) || (handed && !had_handed) {
        let history = Arc::make_mut(&mut after.history);
        history.heartbeat = (had_followed || followed, had_handed || handed);
    }
}
