//! Re-checks the catalogue: every model marked `in_tests` must have exactly its recorded
//! outcome, and every deliberate bug must be caught by the property that exists for it.
use paxos::cli::{check, CheckOptions};
use paxos::model::catalogue::{self, ProtocolModel};
use paxos::model::check::{thousands, Strategy, Verdict};
use paxos::model::paxos::property_names;
use paxos::protocol::paxos::Variant;
use stateright::Expectation;
use std::collections::BTreeSet;

fn options() -> CheckOptions {
    CheckOptions {
        threads: Some(2),
        ..Default::default()
    }
}

fn load_all() -> Vec<catalogue::Loaded> {
    catalogue::catalogue()
        .iter()
        .map(|p| catalogue::load(p.to_str()).expect("every catalogue file parses"))
        .collect()
}

/// The models this test suite re-checks.
fn in_tests() -> Vec<catalogue::Loaded> {
    load_all()
        .into_iter()
        .filter(|m| m.file.check.in_tests)
        .collect()
}

#[test]
fn every_small_model_is_as_recorded() {
    let mut failures = Vec::new();
    for model in in_tests() {
        // Walks bounded by a state count run as the file says, on one thread: the same walks
        // as every other machine's.
        let threads = model.file.check.walk_states.is_none().then_some(2);
        let options = CheckOptions {
            threads,
            ..options()
        };
        let (outcome, judged) = check(&model, &options).expect("checks");
        eprintln!(
            "{}: {} unique states in {:.1}s, as recorded: {}",
            model.name,
            outcome.unique_states,
            outcome.seconds,
            judged.passed()
        );
        if !judged.passed() {
            failures.push(format!("{}: {:?}", model.name, judged));
        }
    }
    assert!(
        failures.is_empty(),
        "not as recorded:\n{}",
        failures.join("\n")
    );
}

/// The property each deliberate bug must break (Paxos Made Simple's name where it has one).
fn breaks(variant: Variant) -> &'static str {
    match variant {
        Variant::Correct => unreachable!("the protocol itself breaks nothing"),
        Variant::AcceptAlways => "P1a",
        // One client, one value: the amnesia shows as a falling promise (Voting's maxBal).
        Variant::ForgetOnCrash => "refines Voting",
        // Two values: a restarted acceptor that forgot its acceptance lets the other be chosen.
        Variant::ForgetAccepted => "agreement",
        Variant::IgnorePromisedValues
        | Variant::AdoptFirstValue
        | Variant::AdoptLowestValue
        | Variant::StalePromises
        | Variant::RetrySkipsPhase1 => "P2c",
        Variant::HalfQuorum => "agreement",
        Variant::SharedBallots => "unique proposal numbers",
        Variant::ReadByValue | Variant::ReadNoneEarly => "reads only chosen",
        Variant::InventValue => "validity",
        Variant::AcceptSilently => "acceptor state in trail",
    }
}

/// The correct in-tests model whose configuration each deliberate bug's model shares but for
/// the variant, so that only a safety property can tell them apart, never the
/// state-count pin.
fn base(variant: Variant) -> &'static str {
    match variant {
        Variant::Correct => unreachable!("the protocol is no bug"),
        Variant::AcceptAlways
        | Variant::HalfQuorum
        | Variant::IgnorePromisedValues
        | Variant::InventValue
        | Variant::SharedBallots => "paxos-3-servers-2-clients",
        Variant::StalePromises
        | Variant::AdoptLowestValue
        | Variant::AdoptFirstValue
        | Variant::RetrySkipsPhase1
        | Variant::AcceptSilently => "paxos-3-servers-2-clients-3-ballots-ordered",
        Variant::ForgetOnCrash => "paxos-3-servers-1-client-crash",
        Variant::ForgetAccepted => "paxos-3-servers-2-clients-3-ballots-crash-ordered",
        Variant::ReadNoneEarly => "paxos-3-servers-2-clients-reader-ordered",
        Variant::ReadByValue => "paxos-3-servers-2-clients-3-ballots-reader-ordered",
    }
}

#[test]
fn every_bug_model_is_a_correct_in_tests_model_but_for_the_variant() {
    let models = load_all();
    let named = |name: &str| {
        models
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no model {name}"))
    };
    for model in &models {
        let ProtocolModel::Paxos(config) = &model.file.model else {
            continue;
        };
        if config.variant == Variant::Correct {
            continue;
        }
        let base = named(base(config.variant));
        let ProtocolModel::Paxos(correct) = &base.file.model else {
            panic!("{} is a single-decree model", base.name);
        };
        assert_eq!(correct.variant, Variant::Correct, "{}", base.name);
        assert!(base.file.check.in_tests, "{} is re-checked", base.name);
        let mut same = config.clone();
        same.variant = Variant::Correct;
        assert_eq!(
            &same, correct,
            "{} is {} but for the variant",
            model.name, base.name
        );
        let property = breaks(config.variant);
        assert_eq!(
            base.file.expect.properties.get(property),
            Some(&Verdict::Holds),
            "{}: {property}",
            base.name
        );
    }
}

#[test]
fn every_bug_variant_is_caught_by_its_property() {
    let models = load_all();
    for variant in Variant::ALL.into_iter().filter(|v| *v != Variant::Correct) {
        let model = models
            .iter()
            .find(|m| matches!(&m.file.model, ProtocolModel::Paxos(c) if c.variant == variant))
            .unwrap_or_else(|| panic!("no model in models/ for {variant:?}"));
        assert!(
            model.file.check.in_tests,
            "{} is not re-checked",
            model.name
        );
        let (outcome, judged) = check(model, &options()).expect("checks");
        let property = breaks(variant);
        let found = outcome.property(property).expect("a known property");
        let trace = found
            .trace
            .as_ref()
            .unwrap_or_else(|| panic!("{variant:?}: no counterexample for {property}"));
        assert!(!trace.steps.is_empty());
        assert_eq!(found.verdict(), Verdict::Violated);
        // `paxos check` exits non-zero for it, although it is as recorded.
        assert!(judged.passed() && !judged.exit_ok(), "{}", model.name);
    }
}

#[test]
fn every_always_property_has_a_bug_that_breaks_it() {
    let broken: BTreeSet<&str> = load_all()
        .iter()
        .flat_map(|m| catalogue::expected_violations(&m.file))
        .collect();
    for property in property_names(Expectation::Always) {
        assert!(
            broken.contains(property),
            "no bug variant breaks {property}"
        );
    }
}

#[test]
fn correct_models_hold_every_always_property_and_reach_the_interesting_paths() {
    for model in load_all() {
        let ProtocolModel::Paxos(config) = &model.file.model else {
            continue; // tests/multi_paxos.rs covers Multi-Paxos.
        };
        if config.variant != Variant::Correct {
            continue;
        }
        let expect = &model.file.expect.properties;
        for property in property_names(Expectation::Always) {
            assert_eq!(
                expect.get(property),
                Some(&Verdict::Holds),
                "{}",
                model.name
            );
        }
        assert_eq!(
            expect.get("value chosen"),
            Some(&Verdict::Reached),
            "{}",
            model.name
        );
        let exhaustive = model.file.check.strategy != Strategy::Simulation;
        assert_eq!(
            exhaustive,
            model.file.expect.unique_states.is_some(),
            "{}",
            model.name
        );
    }
}

#[test]
fn every_sometimes_property_is_reached_by_a_correct_model() {
    let models = load_all();
    for property in property_names(Expectation::Sometimes) {
        let reached = models.iter().any(|m| {
            matches!(&m.file.model, ProtocolModel::Paxos(c) if c.variant == Variant::Correct)
                && m.file.expect.properties.get(property) == Some(&Verdict::Reached)
        });
        assert!(reached, "no correct model reaches {property}");
    }
}

#[test]
fn bfs_and_dfs_count_the_same_states() {
    let model = catalogue::load(Some("paxos-3-servers-2-clients-ordered")).expect("loads");
    let counts: Vec<usize> = [Strategy::Bfs, Strategy::Dfs]
        .into_iter()
        .map(|strategy| {
            let options = CheckOptions {
                strategy: Some(strategy),
                ..options()
            };
            check(&model, &options).expect("checks").0.unique_states
        })
        .collect();
    assert_eq!(counts[0], counts[1]);
    assert_eq!(Some(counts[0]), model.file.expect.unique_states);
}

/// The README's outcome column for a model, derived from its file: what a deliberate bug's
/// run catches (the violations it records, in the order the model reports them); else what
/// the run shows of the `always` properties (an exhaustive run with a pinned count proves them;
/// an exhaustive model without a pin does not finish; a simulation finds no counterexample
/// in its time), the `eventually` property where one holds, and how many witnesses the file
/// records as reached.
fn outcome_column(model: &catalogue::Loaded) -> String {
    let file = &model.file;
    let reported = file.model.reported_properties();
    let recorded = |name: &str| file.expect.properties.get(name).copied();
    let quoted = |(name, kind): &(&str, Expectation)| match kind {
        Expectation::Eventually => format!("`{name}` (eventually)"),
        _ => format!("`{name}`"),
    };
    let of_kind = |kind: Expectation, verdict: Verdict| -> Vec<String> {
        reported
            .iter()
            .filter(|(n, k)| *k == kind && recorded(n) == Some(verdict))
            .map(quoted)
            .collect()
    };
    let caught: Vec<String> = reported
        .iter()
        .filter(|(n, _)| recorded(n) == Some(Verdict::Violated))
        .map(quoted)
        .collect();
    if !caught.is_empty() {
        return format!("caught: {}", caught.join(", "));
    }
    let always = reported
        .iter()
        .filter(|(_, k)| *k == Expectation::Always)
        .count();
    let holds = of_kind(Expectation::Always, Verdict::Holds);
    let all_hold = holds.len() == always;
    let mut column = match (file.check.strategy, file.expect.unique_states) {
        (Strategy::Simulation, _) => {
            let budget = match (file.check.walk_states, file.check.timeout_secs) {
                (Some(states), _) => format!("{} walked states", thousands(states)),
                (None, Some(seconds)) => format!("{seconds} s"),
                (None, None) => panic!("{}: a simulation has a bound", model.name),
            };
            if all_hold {
                format!("not exhaustive: no counterexample in {budget}")
            } else {
                let which = holds.join(", ");
                format!("not exhaustive: no counterexample to {which} in {budget}")
            }
        }
        (_, Some(_)) if all_hold => "all `always` hold".to_owned(),
        (_, Some(_)) => format!("{} hold", holds.join(", ")),
        (_, None) => "does not finish on 2 cores: no `always` proved".to_owned(),
    };
    for eventually in of_kind(Expectation::Eventually, Verdict::Holds) {
        column.push_str(&format!("; {eventually} holds"));
    }
    let witnesses = reported
        .iter()
        .filter(|(_, k)| *k == Expectation::Sometimes)
        .count();
    let reached = of_kind(Expectation::Sometimes, Verdict::Reached).len();
    column.push_str(&format!("; {reached} of {witnesses} witnesses reached"));
    column
}

/// An exhaustive model without a pinned count is one that does not finish, and its file says
/// so: the README's outcome column reads it that way.
#[test]
fn every_unpinned_exhaustive_model_says_it_does_not_finish() {
    for model in load_all() {
        let file = &model.file;
        if file.check.strategy == Strategy::Simulation
            || file.expect.unique_states.is_some()
            || file.expect.expects_violation()
        {
            continue;
        }
        assert!(
            file.description.to_lowercase().contains("does not finish"),
            "{}: no unique_states pin, and its description does not say it does not finish",
            model.name
        );
    }
}

/// The README's catalogue table is the auditor's list of claims: one row per model file, with
/// the file's strategy, pinned count, outcome ([`outcome_column`]) and `in_tests`, and no row
/// for a file that is gone.
#[test]
fn the_readme_lists_every_model_as_recorded() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md reads");
    let header = "| model | strategy | unique states | outcome | in tests |";
    let rows: Vec<Vec<&str>> = readme
        .lines()
        .skip_while(|line| *line != header)
        .skip(2)
        .take_while(|line| line.starts_with("| `"))
        .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let models = load_all();
    let mut wrong = Vec::new();
    for model in &models {
        let name = format!("`{}`", model.name);
        let [row] = rows.iter().filter(|r| r[0] == name).collect::<Vec<_>>()[..] else {
            wrong.push(format!("{name}: not exactly one row"));
            continue;
        };
        let strategy = format!("{:?}", model.file.check.strategy).to_lowercase();
        let in_tests = if model.file.check.in_tests {
            "yes"
        } else {
            "no"
        };
        let states = model.file.expect.unique_states.map(thousands);
        let states_ok = match &states {
            Some(states) => row[2] == states,
            None => !row[2].starts_with(|c: char| c.is_ascii_digit()),
        };
        let outcome = outcome_column(model);
        if row.len() != 5
            || row[1] != strategy
            || !states_ok
            || row[3] != outcome
            || row[4] != in_tests
        {
            wrong.push(format!(
                "{name}: the README says {row:?}; the file says {strategy}, {states:?}, \
                 {outcome:?}, {in_tests}"
            ));
        }
    }
    for row in &rows {
        if !models.iter().any(|m| row[0] == format!("`{}`", m.name)) {
            wrong.push(format!("{}: a row for no model file", row[0]));
        }
    }
    assert!(
        wrong.is_empty(),
        "README.md's catalogue table:\n{}",
        wrong.join("\n")
    );
    assert_eq!(rows.len(), models.len());
}
