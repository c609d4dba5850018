//! The reductions of the state space change how many states a check visits, never a verdict
//! (spec/reductions.md): every model that `cargo test` re-checks is checked again without each
//! reduction that applies to it, and every property must get the same verdict.
use paxos::cli::{check, CheckOptions};
use paxos::model::catalogue::{self, Loaded, ProtocolModel};
use paxos::model::check::{Outcome, Reduction, Runnable, Strategy, Verdict};
use paxos::model::multi_paxos::MultiPaxosModel;
use paxos::model::paxos::PaxosModel;
use stateright::Model;
use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Whether `reduction` can change anything in `model`'s states: symmetry where its file asks
/// for it, forgotten storage where no actor can crash, the history summary where at least two
/// clients call at once.
fn applies(reduction: Reduction, model: &Loaded) -> bool {
    let (crashes, clients) = match &model.file.model {
        ProtocolModel::Paxos(c) => (c.max_crashes, c.clients + c.readers),
        ProtocolModel::MultiPaxos(c) => (c.max_crashes, c.clients),
    };
    match reduction {
        Reduction::Symmetry => model.file.check.symmetry,
        Reduction::ForgetStorage => crashes == 0,
        Reduction::HistorySummary => clients >= 2,
        Reduction::InertMessages => true,
    }
}

/// The largest models (by recorded unique states, with every reduction) compared here. Above
/// it, a model checked without a reduction (without R4 it has 5 to 20 times the states) costs
/// minutes, so the comparison is left to `paxos check NAME --without REDUCTION`
/// (spec/reductions.md); smaller models of every kind (crashes, two clients, readers, both
/// protocols) are still compared.
const LARGEST: usize = 100_000;

fn run(model: &Loaded, without: &[Reduction]) -> Outcome {
    let options = CheckOptions {
        threads: Some(2),
        without: without.to_vec(),
        ..Default::default()
    };
    check(model, &options).expect("checks").0
}

/// Each property's verdict; where a run stopped at its expected counterexamples, only those
/// (which properties the search happened to settle before it stopped depends on its order).
fn verdicts(model: &Loaded, outcome: &Outcome) -> Vec<(&'static str, Verdict)> {
    let expected = catalogue::expected_violations(&model.file);
    outcome
        .properties
        .iter()
        .filter(|p| outcome.exhaustive() || expected.contains(&p.name))
        .map(|p| (p.name, p.verdict()))
        .collect()
}

#[test]
fn every_reduction_keeps_every_verdict_of_the_tested_models() {
    let mut compared = [0; Reduction::ALL.len()];
    for path in catalogue::catalogue() {
        let model = catalogue::load(path.to_str()).expect("every catalogue file parses");
        // A simulation's verdicts depend on its time budget: checked by tests/catalogue.rs.
        if !model.file.check.in_tests || model.file.check.strategy == Strategy::Simulation {
            continue;
        }
        if model.file.expect.unique_states.is_some_and(|n| n > LARGEST) {
            eprintln!(
                "{}: larger than {LARGEST} states, not compared here",
                model.name
            );
            continue;
        }
        let reduced = run(&model, &[]);
        for (i, reduction) in Reduction::ALL.into_iter().enumerate() {
            if !applies(reduction, &model) {
                continue;
            }
            let full = run(&model, &[reduction]);
            assert_eq!(
                verdicts(&model, &reduced),
                verdicts(&model, &full),
                "{} without {reduction:?}",
                model.name
            );
            assert_eq!(reduced.exhaustive(), full.exhaustive(), "{}", model.name);
            if reduced.exhaustive() {
                // A reduction only merges states.
                assert!(
                    reduced.unique_states <= full.unique_states,
                    "{} without {reduction:?}: {} > {}",
                    model.name,
                    reduced.unique_states,
                    full.unique_states
                );
            }
            eprintln!(
                "{} without {reduction:?}: {} unique states ({} with every reduction), same verdicts",
                model.name, full.unique_states, reduced.unique_states
            );
            compared[i] += 1;
        }
    }
    // Each reduction was compared on some model: the test is not vacuous.
    assert!(compared.iter().all(|n| *n > 0), "{compared:?}");
}

/// The fingerprints of every state of `model` within its boundary, each as `project` leaves
/// it, explored breadth-first; `None` if there are more than `most`.
fn reachable<M>(model: &M, project: impl Fn(&mut M::State), most: usize) -> Option<HashSet<u64>>
where
    M: Model,
    M::State: Clone + Hash,
{
    let fingerprint = |state: &M::State| {
        let mut hasher = DefaultHasher::new();
        state.hash(&mut hasher);
        hasher.finish()
    };
    let mut seen = HashSet::new();
    let mut projected = HashSet::new();
    let mut queue: VecDeque<M::State> = model.init_states().into();
    for state in &queue {
        seen.insert(fingerprint(state));
    }
    let mut actions = Vec::new();
    while let Some(state) = queue.pop_front() {
        let mut shown = state.clone();
        project(&mut shown);
        projected.insert(fingerprint(&shown));
        if seen.len() > most {
            return None;
        }
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            if model.within_boundary(&next) && seen.insert(fingerprint(&next)) {
                queue.push_back(next);
            }
        }
    }
    Some(projected)
}

/// R4 exactly: the states of a model that drops inert messages are the states of the model
/// that keeps them, with those messages taken out. So the reduction loses no behaviour (every
/// state of the full model has its twin) and invents none; compared on every small in-tests
/// model, correct and broken, whose network loses nothing (a lossy model's loss budget may
/// also be spent on an inert message, which then has no twin: its verdicts are compared
/// above).
#[test]
fn dropping_inert_messages_keeps_exactly_the_other_states() {
    const MOST: usize = 100_000;
    let mut compared = 0;
    for path in catalogue::catalogue() {
        let model = catalogue::load(path.to_str()).expect("every catalogue file parses");
        let lossy = match &model.file.model {
            ProtocolModel::Paxos(c) => c.lossy,
            ProtocolModel::MultiPaxos(c) => c.lossy,
        };
        if !model.file.check.in_tests || lossy {
            continue;
        }
        let same = match model.file.model.clone() {
            ProtocolModel::Paxos(config) => {
                let (reduced, full) = (config.clone().into_model(), {
                    let mut m = config.into_model();
                    m.reduce(&[Reduction::InertMessages]);
                    m
                });
                same_states(&reduced, &full, PaxosModel::drop_inert_messages, MOST)
            }
            ProtocolModel::MultiPaxos(config) => {
                let (reduced, full) = (config.clone().into_model(), {
                    let mut m = config.into_model();
                    m.reduce(&[Reduction::InertMessages]);
                    m
                });
                same_states(&reduced, &full, MultiPaxosModel::drop_inert_messages, MOST)
            }
        };
        match same {
            Some(states) => {
                eprintln!(
                    "{}: the {states} states with R4 are those without, inert messages dropped",
                    model.name
                );
                compared += 1;
            }
            None => eprintln!(
                "{}: more than {MOST} states without R4, not compared",
                model.name
            ),
        }
    }
    assert!(compared >= 12, "only {compared} models compared");
}

/// Whether `reduced` (the model with R4) reaches exactly the states that `full` (without it)
/// reaches once `drop` has dropped their inert messages: the count, `None` where the model is
/// too large to compare.
fn same_states<M: Model>(
    reduced: &M,
    full: &M,
    drop: impl Fn(&M, &mut M::State),
    most: usize,
) -> Option<usize>
where
    M::State: Clone + Hash,
{
    let with = reachable(reduced, |_| {}, most)?;
    let without = reachable(full, |s| drop(full, s), most)?;
    assert_eq!(with.len(), without.len(), "as many states");
    assert!(with == without, "the same states");
    Some(with.len())
}
