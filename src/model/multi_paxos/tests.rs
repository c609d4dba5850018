//! Unit tests of the Multi-Paxos harness: the witnesses each mean the path they name, and the
//! judge of transitions.
use super::client::KEY;
use super::config::MultiPaxosConfig;
use super::judge::breaks_p1a_in_order;
use super::model::MultiPaxosModel;
use super::model::MultiPaxosModelState;
use super::properties::applied_prefix_consistent;
use super::properties::replay;
use super::properties::run_twice;
use super::properties::servers;
use super::witnesses::accept_refused;
use super::witnesses::catch_up_of_2_slots;
use super::witnesses::caught_up_from_snapshot;
use super::witnesses::leader_behind_snapshot;
use super::witnesses::promise_in_pieces;
use super::witnesses::promise_names_snapshot;
use super::witnesses::snapshot_in_pieces;
use crate::model::catalogue::{self, ProtocolModel};
use crate::model::harness::{assert_judged_anew, explore};
use crate::protocol::ballot::Ballot;
use crate::protocol::multi_paxos::Snapshot;
use crate::protocol::multi_paxos::{
    Applied, ClientCommand, Command, KvOp, Msg, MultiPaxosState, Proposal, RequestId, Role, Slot,
    StateMachine,
};
use stateright::actor::Id;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn put(client: usize, request: RequestId, value: char) -> ClientCommand {
    ClientCommand {
        client: Id::from(client),
        request,
        op: KvOp::Put { key: KEY, value },
    }
}

fn applied(slot: Slot, cc: &ClientCommand, executed: bool) -> Applied {
    Applied {
        slot,
        command: Command::Batch(vec![cc.clone()].into()),
        executed: vec![executed],
    }
}

// Reference: §2.2 P1a, judged per event: a promise of (3, 1) followed, in the same step,
// by an acceptance of (2, 0) breaks it; the other order does not.
#[test]
fn an_acceptance_after_a_higher_promise_in_one_step_breaks_p1a() {
    let ballot = |round, proposer: usize| Ballot {
        round,
        proposer: Id::from(proposer),
    };
    let promise = Msg::Promise {
        ballot: ballot(3, 1),
        accepted: BTreeMap::new(),
        more: None,
        snapshot: 0,
    };
    let proposal = Proposal {
        ballot: ballot(2, 0),
        command: Command::Noop,
    };
    let accepted = Msg::Accepted { slot: 0, proposal };
    let (held, had) = (ballot(2, 0), BTreeSet::new());
    let promise_then_accept = [promise.clone(), accepted.clone()];
    assert!(breaks_p1a_in_order(held, &promise_then_accept, &had));
    assert!(!breaks_p1a_in_order(held, &[accepted, promise], &had));
}

/// A server that applied `a` in slot 0, took a snapshot there, and applied `log` after
/// it.
fn after_snapshot(a: &ClientCommand, log: Vec<Applied>) -> MultiPaxosState {
    let mut machine = StateMachine::default();
    machine.apply(a, true);
    let mut state = MultiPaxosState::default();
    state.replica.base = 1;
    state.replica.log = log;
    state.acceptor.snapshot = Arc::new(Snapshot { upto: 1, machine });
    state
}

/// The model of catalogue model `name`, and every state it reaches.
fn explored(name: &str, most: usize) -> (MultiPaxosModel, Vec<MultiPaxosModelState>) {
    let loaded = catalogue::load(Some(name)).expect("a catalogue model");
    let ProtocolModel::MultiPaxos(config) = loaded.file.model else {
        panic!("{name} is a Multi-Paxos model");
    };
    let model = config.into_model();
    let states = explore(&model, most);
    (model, states)
}

/// Whether a message `matches` can be delivered to a server whose state `to` accepts: how
/// the witnesses read the network before they were judged on steps.
fn deliverable(
    state: &MultiPaxosModelState,
    matches: impl Fn(&Msg) -> bool,
    to: impl Fn(&Msg, &MultiPaxosState) -> bool,
) -> bool {
    state.network.iter_deliverable().any(|env| {
        matches(env.msg) && servers(state).any(|s| s.id == env.dst && to(env.msg, s.state))
    })
}

// Reference: §2.2 P1a, "it should probably inform the proposer": the leader handled the
// refusal; one only in flight is not it yet.
#[test]
fn accept_refused_is_a_refusal_the_leader_handled() {
    let (model, states) = explored("multi-paxos-3-servers-2-clients-1-slot-ordered", 20_000);
    let old = |s: &MultiPaxosModelState| {
        let refused = |m: &Msg| matches!(m, Msg::Rejected { slot: Some(_), .. });
        deliverable(s, refused, |_, _| true)
    };
    assert_judged_anew(&model, &states, old, accept_refused);
}

// Reference: §3's phase 1 "for infinitely many instances", reported in pieces: the
// candidate kept a piece and asked for the rest.
#[test]
fn promise_in_pieces_is_a_piece_the_candidate_kept() {
    let (model, states) = explored("multi-paxos-3-servers-1-client-promise-pieces", 60_000);
    let old = |s: &MultiPaxosModelState| {
        let piece = |m: &Msg| matches!(m, Msg::Promise { more: Some(_), .. });
        deliverable(s, piece, |_, _| true)
    };
    assert_judged_anew(&model, &states, old, promise_in_pieces);
}

// Reference: §3, a replica that learns a slot past a gap catches up: a server answered a
// request for 2+ slots with 2+ of them (here its snapshot, which covers the gap).
#[test]
fn catch_up_of_2_slots_is_an_answer_sent() {
    let (model, states) = explored("multi-paxos-3-servers-2-clients-gap-snapshot", 150_000);
    let old = |s: &MultiPaxosModelState| {
        let gap = |m: &Msg| matches!(m, Msg::CatchUp { from, to } if *to >= from + 2);
        let knows = |m: &Msg, server: &MultiPaxosState| {
            let (Msg::CatchUp { from, to }, replica) = (m, &server.replica) else {
                return false;
            };
            if *from < replica.base {
                *to <= replica.base
            } else {
                (*from..*to).all(|slot| replica.chosen.contains_key(&slot))
            }
        };
        deliverable(s, gap, knows)
    };
    assert_judged_anew(&model, &states, old, catch_up_of_2_slots);
}

/// The snapshot model: one slot, snapshots sent a piece of one entry at a time.
const SNAPSHOTS: &str = "multi-paxos-3-servers-2-clients-1-slot-snapshot";

// Reference: §3 (phase 1 from the first slot not known chosen), with snapshots: the
// candidate handled a promise naming a snapshot above its `from`.
#[test]
fn promise_names_a_snapshot_is_a_promise_the_candidate_handled() {
    let (model, states) = explored(SNAPSHOTS, 20_000);
    let old = |s: &MultiPaxosModelState| {
        let names = |m: &Msg, server: &MultiPaxosState| match (m, &server.proposer.role) {
            (Msg::Promise { snapshot, .. }, Role::Candidate { from, .. }) => snapshot > from,
            _ => false,
        };
        deliverable(s, |_| true, names)
    };
    assert_judged_anew(&model, &states, old, promise_names_snapshot);
}

/// The old reading of "caught up from a snapshot": the piece that would complete a
/// snapshot can be delivered to a replica that has not applied the slots it covers.
fn completing_piece_deliverable(state: &MultiPaxosModelState) -> bool {
    let completes = |m: &Msg, server: &MultiPaxosState| {
        let Msg::Snapshot {
            upto,
            at,
            entries,
            total,
        } = m
        else {
            return false;
        };
        let replica = &server.replica;
        let has = (replica.incoming.as_ref())
            .filter(|incoming| incoming.upto == *upto)
            .map_or(0, |incoming| incoming.len());
        at + entries.len() >= *total && replica.applied() < *upto && (*at == 0 || has == *at)
    };
    deliverable(state, |_| true, completes)
}

// Reference: §3, "the ith state machine command in the sequence": a snapshot received
// stands for them; the replica installed it.
#[test]
fn caught_up_from_a_snapshot_is_a_snapshot_installed() {
    let (model, states) = explored(SNAPSHOTS, 20_000);
    assert_judged_anew(
        &model,
        &states,
        completing_piece_deliverable,
        caught_up_from_snapshot,
    );
}

// Reference: §3, a leader's slot that is chosen leaves its window: the leader installed
// the snapshot an acceptor answered its accept with.
#[test]
fn leader_behind_a_snapshot_is_a_snapshot_the_leader_installed() {
    let (model, states) = explored(SNAPSHOTS, 20_000);
    let old = |s: &MultiPaxosModelState| {
        let behind = |m: &Msg, server: &MultiPaxosState| match (m, &server.proposer.role) {
            (Msg::Snapshot { upto, .. }, Role::Leader { in_flight, .. }) => {
                in_flight.range(..*upto).next().is_some()
            }
            _ => false,
        };
        deliverable(s, |_| true, behind)
    };
    assert_judged_anew(&model, &states, old, leader_behind_snapshot);
}

// Reference: a snapshot is sent in pieces so that no datagram grows with the store: the
// replica holds a piece and asked for the rest.
#[test]
fn snapshot_in_pieces_is_a_piece_the_replica_holds() {
    let (model, states) = explored(SNAPSHOTS, 20_000);
    let old = |s: &MultiPaxosModelState| {
        let asks = |m: &Msg| matches!(m, Msg::SnapshotFrom { at, .. } if *at > 0);
        deliverable(s, asks, |_, _| true)
    };
    assert_judged_anew(&model, &states, old, snapshot_in_pieces);
}

// Reference: at most once (spec/multi-paxos.md), across a snapshot: the request ran
// before the snapshot, whose table holds it, and runs again after it.
#[test]
fn a_request_run_before_and_after_a_snapshot_runs_twice() {
    let (a, b) = (put(3, 1, 'A'), put(4, 1, 'B'));
    let again = after_snapshot(&a, vec![applied(1, &a, true)]);
    let snapshot = &again.acceptor.snapshot.machine;
    assert_eq!(run_twice(&again.replica, snapshot), vec![a.clone()]);
    // Caught by the table (not run), or another client's request: once.
    let caught = after_snapshot(&a, vec![applied(1, &a, false), applied(2, &b, true)]);
    let snapshot = &caught.acceptor.snapshot.machine;
    assert!(run_twice(&caught.replica, snapshot).is_empty());
    // No snapshot: twice in the log.
    let mut twice = MultiPaxosState::default();
    twice.replica.log = vec![applied(0, &a, true), applied(1, &a, true)];
    let none = StateMachine::default();
    assert_eq!(run_twice(&twice.replica, &none), vec![a]);
}

// Reference: §3, commands are executed in slot order: entry i of a truncated log is slot
// base + i, and the snapshot below it is the chosen prefix applied.
#[test]
fn a_truncated_log_is_judged_by_slot_and_its_snapshot_by_the_chosen_prefix() {
    let (a, b) = (put(3, 1, 'A'), put(4, 1, 'B'));
    let (ca, cb) = (
        Command::Batch(vec![a.clone()].into()),
        Command::Batch(vec![b.clone()].into()),
    );
    let chosen: BTreeMap<Slot, BTreeSet<&Command>> =
        [(0, BTreeSet::from([&ca])), (1, BTreeSet::from([&cb]))].into();
    let good = after_snapshot(&a, vec![applied(1, &b, true)]);
    assert!(applied_prefix_consistent(&good, &chosen, true));
    // The entry of slot 1 said to be slot 0's (its position, not its slot).
    let shifted = after_snapshot(&a, vec![applied(0, &b, true)]);
    assert!(!applied_prefix_consistent(&shifted, &chosen, true));
    // A snapshot of another command than slot 0's.
    let wrong = after_snapshot(&b, vec![applied(1, &b, true)]);
    assert!(!applied_prefix_consistent(&wrong, &chosen, true));
    // A snapshot that is not at the replica's base.
    let mut moved = good.clone();
    moved.replica.base = 0;
    moved.replica.log.clear();
    assert!(!applied_prefix_consistent(&moved, &chosen, true));
    // Two commands chosen in a slot below the snapshot: no prefix to compare with.
    let both: BTreeMap<Slot, BTreeSet<&Command>> =
        [(0, BTreeSet::from([&ca, &cb])), (1, BTreeSet::from([&cb]))].into();
    assert!(!applied_prefix_consistent(&good, &both, true));
    assert_eq!(
        replay(&chosen, 1, true),
        Some(good.acceptor.snapshot.machine.clone())
    );
}

// The default configuration is the one its documentation names.
#[test]
fn the_default_is_the_ordered_one_client_model() {
    let loaded =
        catalogue::load(Some("multi-paxos-3-servers-1-client-ordered")).expect("a catalogue model");
    let ProtocolModel::MultiPaxos(config) = loaded.file.model else {
        panic!("multi-paxos-3-servers-1-client-ordered is a Multi-Paxos model");
    };
    assert_eq!(config, MultiPaxosConfig::default());
}
