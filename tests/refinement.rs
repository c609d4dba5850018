//! Teeth of the refinement (spec/refinement.md): every deliberate bug that breaks safety is
//! also caught as a step that refines neither `Voting` nor `Consensus`, and its counterexample
//! ends at that step, naming the abstract action that was not allowed and why.
use paxos::cli::{check, CheckOptions};
use paxos::model::catalogue;
use paxos::model::check::Verdict;

/// Each safety bug's model, and for each refinement property it breaks, what the last step of
/// its trace must say: the abstract action and the enabling condition it breaks.
const CAUGHT: &[(&str, &[(&str, &str)])] = &[
    // Reference: §2.2 P1a; Voting's VoteFor needs maxBal[a] <= b.
    (
        "paxos-bug-accept-always",
        &[
            ("refines Voting", "is not allowed: maxBal["),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // Reference: §2.2, an acceptor "must remember this information even if it fails".
    (
        "paxos-bug-forget-on-crash",
        &[("refines Voting", "falling from")],
    ),
    // The promise is kept but the acceptance forgotten: the ghost record still holds the
    // vote, so the other value is not SafeAt the next ballot.
    (
        "paxos-bug-forget-accepted",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // Reference: §2.2 P2c; Voting's VoteFor needs SafeAt(b, v).
    (
        "paxos-bug-ignore-promised-values",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "paxos-bug-adopt-first-value",
        &[(
            "refines Voting",
            "is not allowed: no quorum Q has ShowsSafeAt(",
        )],
    ),
    (
        "paxos-bug-adopt-lowest-value",
        &[(
            "refines Voting",
            "is not allowed: no quorum Q has ShowsSafeAt(",
        )],
    ),
    (
        "paxos-bug-stale-promises",
        &[(
            "refines Voting",
            "is not allowed: no quorum Q has ShowsSafeAt(",
        )],
    ),
    (
        "paxos-bug-retry-skips-phase-1",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // Reference: §2.2, quorums are majorities.
    (
        "paxos-bug-half-quorum",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // Reference: §2.5, numbers from disjoint sets; Voting's OneValuePerBallot.
    (
        "paxos-bug-shared-ballots",
        &[
            ("refines Voting", "already voted"),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // Reference: §2.1, "Only a value that has been proposed may be chosen".
    (
        "paxos-bug-invent-value",
        &[("refines Consensus", "Choose('?') is not allowed")],
    ),
    // Multi-Paxos: one Voting instance per slot (§3).
    (
        "multi-paxos-bug-accept-any-ballot",
        &[("refines Voting", "is not allowed: maxBal[")],
    ),
    (
        "multi-paxos-bug-skip-phase-1",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-ignore-reported",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-report-past-from",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-keep-proposing",
        &[
            ("refines Voting", "VoteFor("),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-count-stale-promises",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-adopt-lowest",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // A promise that hides its snapshot: P2c taken over a truncated, chosen slot.
    (
        "multi-paxos-bug-hide-snapshot",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // A restart that loses acceptances (all, the decided prefix's, or those a stale snapshot
    // no longer covers): the ghost record keeps the votes.
    (
        "multi-paxos-bug-forget-accepted",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-forget-decided",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-stale-snapshot",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    // An answer that leaves before its save, and a crash between the two: the ghost record
    // keeps the vote the acceptor's storage lost.
    (
        "multi-paxos-bug-answer-before-save",
        &[
            (
                "refines Voting",
                "is not allowed: no quorum Q has ShowsSafeAt(",
            ),
            ("refines Consensus", "Consensus: chosen"),
        ],
    ),
    (
        "multi-paxos-bug-invent-filler",
        &[("refines Consensus", "is not allowed: Batch(")],
    ),
    // The replicated log is the sequence of the slots' Consensus instances.
    (
        "multi-paxos-bug-apply-past-gap",
        &[("refines Consensus", "as log entry 0 is not allowed")],
    ),
    (
        "multi-paxos-bug-learn-early",
        &[("refines Consensus", "as log entry 0 is not allowed")],
    ),
];

/// The bugs that are not Voting-level (spec/refinement.md says why): reads, linearizability,
/// at-most-once, and state changes that hide from the ghost record.
const NOT_VOTING_LEVEL: &[&str] = &[
    "paxos-bug-read-by-value",
    "paxos-bug-read-none-early",
    "paxos-bug-accept-silently",
    "multi-paxos-bug-local-read",
    "multi-paxos-bug-no-dedup-table",
    "multi-paxos-bug-keep-refused",
    "multi-paxos-bug-never-retransmits",
    "multi-paxos-bug-one-reply-per-slot",
];

/// One thread: the breadth-first search then finds the shortest counterexample, the same one
/// every time (with two, whichever thread gets there first).
fn options() -> CheckOptions {
    CheckOptions {
        threads: Some(1),
        ..Default::default()
    }
}

#[test]
fn every_safety_bug_fails_to_refine_at_a_step_that_names_the_abstract_action() {
    for (name, expected) in CAUGHT {
        let model = catalogue::load(Some(name)).expect("the model loads");
        let (outcome, judged) = check(&model, &options()).expect("checks");
        assert!(judged.passed(), "{name}: not as recorded: {judged:?}");
        for (property, says) in *expected {
            let found = outcome.property(property).expect("a refinement property");
            assert_eq!(found.verdict(), Verdict::Violated, "{name}: {property}");
            let trace = found.trace.as_ref().expect("a counterexample");
            let last = trace.steps.last().expect("a step");
            assert!(
                last.contains(" is not allowed: ") && last.contains(says),
                "{name}: {property}'s last step does not say {says:?}: {last}"
            );
        }
    }
}

#[test]
fn every_bug_is_either_caught_by_the_refinement_or_listed_as_not_voting_level() {
    let spec = std::fs::read_to_string("spec/refinement.md").expect("spec/refinement.md");
    for path in catalogue::catalogue() {
        let model = catalogue::load(path.to_str()).expect("parses");
        if !model.name.contains("-bug-") {
            continue;
        }
        let caught = CAUGHT.iter().any(|(n, _)| *n == model.name);
        let listed = NOT_VOTING_LEVEL.contains(&model.name.as_str());
        assert!(
            caught != listed,
            "{}: caught and listed, or neither",
            model.name
        );
        let rows = &model.file.expect.properties;
        let judged = rows.contains_key("refines Voting") || rows.contains_key("refines Consensus");
        assert_eq!(caught, judged, "{}: the catalogue disagrees", model.name);
        let variant = model.name.split("-bug-").nth(1).unwrap_or_default();
        if listed {
            let named = format!("`{variant}`");
            assert!(
                spec.contains(&named),
                "{named} is not in spec/refinement.md"
            );
        }
    }
}

/// Traceability (spec/paxos.md, spec/multi-paxos.md): every `` `src/...rs:N fn name` `` the
/// tables cite is a line that still declares that function.
#[test]
fn every_cited_line_of_the_traceability_tables_still_declares_its_function() {
    let mut cited = 0;
    for spec in ["spec/paxos.md", "spec/multi-paxos.md"] {
        let text = std::fs::read_to_string(spec).expect("the spec reads");
        let section = text
            .split("## Traceability")
            .nth(1)
            .unwrap_or_else(|| panic!("{spec} has no traceability table"));
        for span in section.split('`').skip(1).step_by(2) {
            let Some((at, name)) = span.split_once(" fn ") else {
                continue;
            };
            let Some((file, line)) = at.split_once(':') else {
                continue;
            };
            let Ok(line) = line.parse::<usize>() else {
                continue; // The table's legend, `file:line fn name`.
            };
            let source = std::fs::read_to_string(file).expect("the cited file");
            let declared = source.lines().nth(line - 1).unwrap_or_default();
            assert!(
                declared.contains(&format!("fn {name}")),
                "{spec}: {file}:{line} no longer declares fn {name}: {declared:?}"
            );
            cited += 1;
        }
    }
    assert!(cited >= 20, "only {cited} citations found");
}
