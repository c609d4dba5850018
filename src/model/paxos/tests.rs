//! Unit tests of the Paxos harness: the witnesses each mean the path they name, and the judge of
//! transitions.
use super::client::GET;
use super::client::PUT;
use super::config::PaxosConfig;
use super::model::PaxosModelState;
use super::properties::dueling_proposers;
use super::properties::read_none_during_put;
use super::properties::retry_after_preemption;
use super::properties::trails;
use crate::model::catalogue::{self, ProtocolModel};
use crate::model::harness::{assert_judged_anew, explore};
use crate::model::harness_model::Step;
use crate::protocol::paxos::{Ballot, Msg};
use stateright::actor::Envelope;
use std::collections::BTreeSet;

/// The configuration of catalogue model `name`.
fn config(name: &str) -> PaxosConfig {
    match catalogue::load(Some(name))
        .expect("a catalogue model")
        .file
        .model
    {
        ProtocolModel::Paxos(config) => config,
        ProtocolModel::MultiPaxos(_) => panic!("{name} is a single-decree model"),
    }
}

/// The ballots of the prepares and accepts that can be delivered: what the witnesses read
/// before they were judged on steps.
fn ballots_in_flight(state: &PaxosModelState) -> BTreeSet<Ballot> {
    (state.network.iter_deliverable())
        .filter_map(|env| match env.msg {
            Msg::Prepare { ballot } => Some(*ballot),
            Msg::Accept { proposal } => Some(proposal.ballot),
            _ => None,
        })
        .collect()
}

// Reference: §2.4, two proposers "keep issuing a sequence of proposals with increasing
// numbers, none of which are ever chosen": an acceptor handled both proposers' ballots.
// Two ballots in flight (each server's acceptor has promised its own) is not it yet.
#[test]
fn dueling_proposers_is_an_acceptor_that_handled_two_proposers() {
    let model = config("paxos-3-servers-2-clients").into_model();
    let states = explore(&model, 10_000);
    let old = |s: &PaxosModelState| ballots_in_flight(s).len() >= 2;
    assert_judged_anew(&model, &states, old, dueling_proposers);
    // One proposer's two ballots are no duel: the one-client crash model, whose proposer
    // retries, reaches the old reading and never the witness.
    let model = config("paxos-3-servers-1-client-crash").into_model();
    let states = explore(&model, 50_000);
    assert!(states.iter().any(|s| ballots_in_flight(s).len() >= 2));
    assert!(!states.iter().any(|s| dueling_proposers(&model, s)));
}

// Reference: §2.4, "abandoning a proposal and trying again if it learns about some request
// with a higher proposal number": a second ballot after a timeout alone is not it.
#[test]
fn retry_after_preemption_is_a_new_ballot_on_a_refusal() {
    let model = config("paxos-3-servers-2-clients-3-ballots-ordered").into_model();
    let states = explore(&model, 50_000);
    let old = |s: &PaxosModelState| trails(s).any(|t| t.ballots >= 2);
    assert_judged_anew(&model, &states, old, retry_after_preemption);
}

// Reference: the register's linearizability: a read that returns `None` while a put is
// unanswered. A `None` answer still in flight to the reader is not one yet.
#[test]
fn read_none_during_put_is_a_none_the_reader_received() {
    let model = PaxosConfig {
        clients: 1,
        put_only: true,
        ..config("paxos-3-servers-2-clients-reader-ordered")
    }
    .into_model();
    let states = explore(&model, 50_000);
    let old = |s: &PaxosModelState| {
        let put_pending = s.history.calls.awaiting.values().any(|r| *r == PUT);
        let none = |env: Envelope<&Msg>| {
            matches!(
                env.msg,
                Msg::GetOk {
                    request: GET,
                    value: None
                }
            )
        };
        put_pending && s.network.iter_deliverable().any(none)
    };
    assert_judged_anew(&model, &states, old, read_none_during_put);
}

// `crashable` bounds which servers crash: in every state of a model where only server 2 may,
// servers 0 and 1 and the client are up, and server 2 is down in some.
#[test]
fn only_the_crashable_servers_crash() {
    let model = PaxosConfig {
        max_crashes: 1,
        crashable: Some(vec![2]),
        ..PaxosConfig::default()
    }
    .into_model();
    let states = explore(&model, 100_000);
    assert!(states
        .iter()
        .all(|s| !s.crashed[0] && !s.crashed[1] && !s.crashed[3]));
    assert!(states.iter().any(|s| s.crashed[2]));
}

// A `crashable` that cannot mean anything is refused, saying what to change.
#[test]
fn a_crashable_that_means_nothing_is_refused() {
    let refused = |crashable: Vec<usize>, max_crashes: usize| {
        PaxosConfig {
            max_crashes,
            crashable: Some(crashable),
            ..PaxosConfig::default()
        }
        .validate()
        .expect_err("refused")
    };
    assert!(refused(vec![3], 1).contains("servers are 0 to 2"));
    assert!(refused(vec![2], 0).contains("set max_crashes"));
    assert!(refused(vec![], 1).contains("at least one server"));
    assert!(refused(vec![2, 1], 1).contains("increasing order"));
    assert!(refused(vec![2], 2).contains("only 1"));
    let roles = PaxosConfig {
        layout: super::config::Layout::Roles {
            proposers: 2,
            acceptors: 3,
            learners: 1,
        },
        max_crashes: 1,
        crashable: Some(vec![2]),
        ..PaxosConfig::default()
    };
    assert!(roles
        .validate()
        .expect_err("refused")
        .contains("servers layout"));
}

// The exhaustive checkers refuse a step that leads outside the boundary before stateright
// copies the state for it, and take the result of a step run ahead for one that stays within
// (`HarnessModel::actor_step`): every step of every reachable state gives the successor it
// gives without them, or none where that one is outside the boundary; and both kinds of step
// that can leave it, a proposer's timeout and a delivered refusal, are refused somewhere.
#[test]
fn steps_run_ahead_give_the_same_successors_and_refuse_only_those_outside() {
    use stateright::actor::ActorModelAction::{Deliver, Timeout};
    use stateright::Model;
    use std::hash::{BuildHasher, RandomState};
    let models = [
        "paxos-3-servers-1-client-crash",
        "paxos-3-servers-2-clients-3-ballots-ordered",
    ];
    let (mut deliveries, mut timeouts) = (0, 0);
    for name in models {
        let refused = deliveries + timeouts;
        let plain = config(name).into_model();
        let mut ahead = config(name).into_model();
        ahead.exhaustive = true;
        let hasher = RandomState::new();
        let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
        let mut pending = plain.init_states();
        while let Some(state) = pending.pop() {
            if !seen.insert(hasher.hash_one(&state)) {
                continue;
            }
            let mut actions = Vec::new();
            plain.actions(&state, &mut actions);
            for action in actions {
                let expected = plain.next_state(&state, action.clone());
                match ahead.next_state(&state, action.clone()) {
                    Some(next) => {
                        assert!(expected.as_ref() == Some(&next), "{name}: {action:?}");
                        if plain.within_boundary(&next) {
                            pending.push(next);
                        }
                    }
                    None => match expected {
                        None => {}
                        Some(outside) => {
                            assert!(!plain.within_boundary(&outside), "{name}: {action:?}");
                            match action {
                                Step::Actor(Deliver { .. }) => deliveries += 1,
                                Step::Actor(Timeout(..)) => timeouts += 1,
                                _ => panic!("{name}: refused {action:?}"),
                            }
                        }
                    },
                }
            }
        }
        assert!(deliveries + timeouts > refused, "{name} refuses no step");
    }
    assert!(deliveries > 0 && timeouts > 0, "{deliveries}, {timeouts}");
}
