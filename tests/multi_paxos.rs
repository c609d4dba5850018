//! Model checks of Multi-Paxos: the catalogued models that are cheap enough re-checked with
//! their recorded outcome, and mutation checks: each broken variant yields a counterexample
//! for the property it exists to break.
use paxos::cli::{check, CheckOptions};
use paxos::model::catalogue::{self, Loaded, ProtocolModel};
use paxos::model::check::{Outcome, Strategy, Verdict};
use paxos::model::multi_paxos::property_names;
use paxos::protocol::multi_paxos::Variant;
use stateright::Expectation;
use std::collections::BTreeSet;

fn load(name: &str) -> Loaded {
    catalogue::load(Some(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn run(loaded: &Loaded) -> Outcome {
    let options = CheckOptions {
        threads: Some(2),
        ..CheckOptions::default()
    };
    let (outcome, judged) = check(loaded, &options).expect("a catalogued model checks");
    assert!(
        judged.passed(),
        "{} is not as recorded: {judged:?}",
        loaded.name
    );
    outcome
}

/// Every Multi-Paxos model of the catalogue, with its name.
fn multi_paxos_models() -> Vec<Loaded> {
    catalogue::catalogue()
        .iter()
        .map(|p| load(p.to_str().expect("a UTF-8 path")))
        .filter(|l| matches!(l.file.model, ProtocolModel::MultiPaxos(_)))
        .collect()
}

/// The base model of the bug models: a correct in-tests model whose
/// configuration they share but for the variant, so that only a safety property can tell them
/// apart (never the state-count pin).
const BASE: &str = "multi-paxos-3-servers-1-client-two-leader-changes";

/// Checks the broken-variant model `name` and asserts a counterexample for `property`. First
/// asserts that the model is the correct model `base` but for the variant, that `base` is
/// re-checked in the tests, and that it records `property` as holding.
fn caught(name: &str, base: &str, variant: Variant, property: &str) {
    let loaded = load(name);
    let ProtocolModel::MultiPaxos(config) = &loaded.file.model else {
        panic!("{name} is a Multi-Paxos model");
    };
    assert_eq!(config.variant, variant);
    let base = load(base);
    let ProtocolModel::MultiPaxos(correct) = &base.file.model else {
        panic!("{} is a Multi-Paxos model", base.name);
    };
    assert_eq!(correct.variant, Variant::Correct, "{}", base.name);
    assert!(
        base.file.check.in_tests,
        "{} is checked in tests",
        base.name
    );
    let mut same = config.clone();
    same.variant = Variant::Correct;
    assert_eq!(
        &same, correct,
        "{name} is {} but for the variant",
        base.name
    );
    let holds_in_base =
        |p: &str| base.file.expect.properties.get(p).copied() == Some(Verdict::Holds);
    assert!(
        holds_in_base(property),
        "{}: {property} is recorded as holding",
        base.name
    );
    let outcome = run(&loaded);
    let found = outcome.property(property).expect("a property of the model");
    assert_eq!(found.verdict(), Verdict::Violated, "{name}: {property}");
    assert!(!found
        .trace
        .as_ref()
        .expect("a counterexample")
        .steps
        .is_empty());
}

// Reference: Paxos Made Simple §3: a new leader runs phase 1 before proposing (P2c per slot).
#[test]
fn skipping_phase_1_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-skip-phase-1",
        BASE,
        Variant::SkipPhase1,
        "slot agreement",
    );
}

// Reference: P2c(b) per slot: propose the highest-numbered reported command.
#[test]
fn ignoring_reported_commands_breaks_p2c() {
    caught(
        "multi-paxos-bug-ignore-reported",
        BASE,
        Variant::IgnoreReported,
        "P2c",
    );
}

// Reference: §3: commands are executed in slot order, so replicas apply the same sequence.
#[test]
fn applying_past_a_gap_breaks_log_consistency() {
    caught(
        "multi-paxos-bug-apply-past-gap",
        BASE,
        Variant::ApplyPastGap,
        "log consistency",
    );
}

// Reference: at most once (spec/multi-paxos.md): a per-client table in the state machine,
// with a client's retry across a leader change.
#[test]
fn no_dedup_table_breaks_at_most_once() {
    caught(
        "multi-paxos-bug-no-dedup-table",
        "multi-paxos-3-servers-1-client-retries-unordered",
        Variant::NoDedupTable,
        "at most once",
    );
}

// Reference: P1a and the hand-off argument: a leader that sees a higher ballot steps down.
#[test]
fn keeping_on_after_a_higher_ballot_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-keep-proposing",
        "multi-paxos-3-servers-2-clients-1-slot-ordered",
        Variant::KeepProposing,
        "slot agreement",
    );
}

// Reference: §3: gaps are filled with no-ops; validity (only proposed values are chosen).
// The base is the model that reaches a gap (`gap filled`): one lost Accept on the ordered
// network.
#[test]
fn inventing_a_filler_breaks_validity() {
    caught(
        "multi-paxos-bug-invent-filler",
        "multi-paxos-3-servers-2-clients-gap",
        Variant::InventFiller,
        "validity",
    );
}

// Reference: §3: phase 1 runs "for infinitely many instances" from the first unknown one
// on, so a promise reports every slot from the prepare's `from`, that slot included.
#[test]
fn reporting_past_the_first_slot_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-report-past-from",
        BASE,
        Variant::ReportPastFrom,
        "slot agreement",
    );
}

// Reference: P2c(b) per slot: the command of the HIGHEST-numbered reported proposal.
#[test]
fn adopting_the_lowest_reported_command_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-adopt-lowest",
        "multi-paxos-3-servers-2-clients-1-slot-reads-ordered",
        Variant::AdoptLowest,
        "slot agreement",
    );
}

// Reference: §2.2 phase 2(a): only responses "to its prepare requests (numbered n)" count.
#[test]
fn counting_stale_promises_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-count-stale-promises",
        "multi-paxos-3-servers-1-client-promise-pieces",
        Variant::CountStalePromises,
        "slot agreement",
    );
}

// Reference: §2.2 P1a, per slot: accept n only if no prepare above n was answered.
#[test]
fn accepting_any_ballot_breaks_p1a() {
    caught(
        "multi-paxos-bug-accept-any-ballot",
        BASE,
        Variant::AcceptAnyBallot,
        "P1a",
    );
}

// Reference: acceptor recorded (spec/multi-paxos.md): the acceptor's state is in its ghost record.
#[test]
fn keeping_a_refused_proposal_breaks_the_acceptor_record() {
    caught(
        "multi-paxos-bug-keep-refused",
        BASE,
        Variant::KeepRefused,
        "acceptor recorded",
    );
}

// Reference: §2.2: "A value is chosen when a single proposal with that value has been
// accepted by a majority of the acceptors."
#[test]
fn learning_one_short_of_a_majority_breaks_learning_only_chosen() {
    caught(
        "multi-paxos-bug-learn-early",
        BASE,
        Variant::LearnEarly,
        "replicas learn only chosen",
    );
}

// Reference: linearizable (spec/multi-paxos.md): reads go through the log.
#[test]
fn local_reads_break_linearizability() {
    caught(
        "multi-paxos-bug-local-read",
        BASE,
        Variant::LocalRead,
        "linearizable",
    );
}

// Reference: batching (S4), spec/multi-paxos.md "Batching": each command of a batch is
// applied in order and its client gets its own command's reply; one reply for the whole slot
// (as before batching) gives a client a result its command could not have had.
#[test]
fn one_reply_per_slot_breaks_linearizability() {
    caught(
        "multi-paxos-bug-one-reply-per-slot",
        "multi-paxos-3-servers-3-clients-batch",
        Variant::OneReplyPerSlot,
        "linearizable",
    );
}

// Reference: spec/multi-paxos.md, "Availability and liveness": with a lost Accept (or
// Accepted), a leader that never re-sends leaves its slot in flight and the client unanswered
// at the end of a run: the liveness model's `eventually` property is violated.
#[test]
fn never_retransmitting_breaks_every_request_answered() {
    caught(
        "multi-paxos-bug-never-retransmits",
        "multi-paxos-3-servers-1-client-liveness",
        Variant::NeverRetransmits,
        "every request answered",
    );
}

// Reference: spec/multi-paxos.md, "Snapshots": P2 keeps every chosen value, so truncating the
// log below chosen slots is safe only if phase 1 is told where the acceptor's report starts;
// a promise that hides its snapshot lets a new leader take a chosen, truncated slot for free
// (P2c(b) taken over a slot the acceptor no longer reports).
#[test]
fn hiding_the_snapshot_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-hide-snapshot",
        "multi-paxos-3-servers-2-clients-1-slot-snapshot",
        Variant::HideSnapshot,
        "slot agreement",
    );
}

/// The correct crash model with two competing commands and two slots: the base of the
/// durability variants that lose what a restarted server's acceptor held.
const CRASH_BASE: &str = "multi-paxos-3-servers-2-clients-crash";

// Reference: Paxos Made Simple §2.2, "an acceptor must remember this information even if it
// fails and then restarts", and §2.5, "An acceptor records its intended response in stable
// storage before actually sending the response": a restarted acceptor that forgot its
// acceptances reports nothing where a command was chosen.
#[test]
fn forgetting_accepted_proposals_on_restart_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-forget-accepted",
        CRASH_BASE,
        Variant::ForgetAccepted,
        "slot agreement",
    );
}

// Reference: Paxos Made Simple §2.2, "an acceptor must remember this information even if it
// fails and then restarts": a slot known chosen is still one the acceptor must report until
// a snapshot stands for it (§3: phase 1 from the first slot not known chosen).
#[test]
fn forgetting_the_decided_prefix_on_restart_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-forget-decided",
        CRASH_BASE,
        Variant::ForgetDecided,
        "slot agreement",
    );
}

// Reference: Paxos Made Simple §2.2, "an acceptor must remember this information even if it
// fails and then restarts": a restart from an older snapshot than the log's truncation loses
// the chosen slots between them.
#[test]
fn restarting_from_a_stale_snapshot_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-stale-snapshot",
        "multi-paxos-3-servers-2-clients-1-slot-snapshot-crash",
        Variant::StaleSnapshot,
        "slot agreement",
    );
}

// Reference: Paxos Made Simple §2.5, "An acceptor records its intended response in stable
// storage before actually sending the response", and spec/runtime.md D1: an `Accepted` given
// before its save may leave before the save, and a crash between the two loses an acceptance
// that was counted. The correct crash model crashes servers inside their steps, between the
// messages given before a save and the save.
#[test]
fn answering_before_the_save_breaks_slot_agreement() {
    caught(
        "multi-paxos-bug-answer-before-save",
        CRASH_BASE,
        Variant::AnswerBeforeSave,
        "slot agreement",
    );
}

/// Every broken variant has a model, and every Always property is broken by one of them:
/// no property is vacuous.
#[test]
fn every_always_property_has_a_variant_that_breaks_it() {
    let models = multi_paxos_models();
    let mut variants = BTreeSet::new();
    let mut broken = BTreeSet::new();
    for loaded in &models {
        let ProtocolModel::MultiPaxos(config) = &loaded.file.model else {
            unreachable!("filtered above");
        };
        variants.insert(format!("{:?}", config.variant));
        for (name, verdict) in &loaded.file.expect.properties {
            if *verdict == Verdict::Violated {
                assert_ne!(config.variant, Variant::Correct, "{}", loaded.name);
                broken.insert(name.clone());
            }
        }
    }
    for variant in Variant::ALL {
        assert!(
            variants.contains(&format!("{variant:?}")),
            "{variant:?} has no model"
        );
    }
    for name in property_names(Expectation::Always) {
        assert!(broken.contains(name), "no variant breaks {name}");
    }
}

/// The correct models marked `in_tests` check with their recorded outcome and state count.
#[test]
fn catalogued_correct_models_are_as_recorded() {
    let mut checked = 0;
    for loaded in multi_paxos_models() {
        let ProtocolModel::MultiPaxos(config) = &loaded.file.model else {
            unreachable!("filtered above");
        };
        if config.variant != Variant::Correct || !loaded.file.check.in_tests {
            continue;
        }
        let outcome = run(&loaded);
        if loaded.file.check.strategy != Strategy::Simulation {
            assert!(outcome.exhaustive(), "{}", loaded.name);
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "no correct Multi-Paxos model is re-checked in tests"
    );
}

/// BFS and DFS explore the same space: the default model's recorded (DFS) count holds for BFS.
#[test]
fn default_model_count_is_the_same_with_bfs() {
    let loaded = load("multi-paxos-3-servers-1-client-ordered");
    let options = CheckOptions {
        strategy: Some(Strategy::Bfs),
        threads: Some(1),
        ..CheckOptions::default()
    };
    let (outcome, judged) = check(&loaded, &options).expect("a catalogued model checks");
    assert!(outcome.exhaustive());
    assert_eq!(
        Some(outcome.unique_states),
        loaded.file.expect.unique_states,
        "BFS and DFS disagree on the number of states"
    );
    assert!(judged
        .rows
        .iter()
        .all(|r| r.expected.is_none_or(|e| e == r.verdict)));
}
