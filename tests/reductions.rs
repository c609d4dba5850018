//! The reductions of the state space change how many states a check visits, never a verdict
//! (spec/reductions.md): every model that `cargo test` re-checks is checked again without each
//! reduction that applies to it, and every property must get the same verdict.
use paxos::cli::{check, CheckOptions};
use paxos::model::catalogue::{self, Loaded, ProtocolModel};
use paxos::model::check::{Outcome, Reduction, Strategy, Verdict};

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
    }
}

/// The largest models (by recorded unique states) compared here. Above it, a model checked
/// without a reduction costs minutes (each is checked up to four times), so the comparison is
/// left to `paxos check NAME --without REDUCTION` (spec/reductions.md); smaller models of every
/// kind (crashes, two clients, readers, both protocols) are still compared.
const LARGEST: usize = 1_000_000;

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
