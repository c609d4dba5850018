//! `paxos check`, `paxos explore` and `paxos models`: the catalogue of models on the command
//! line, and the report of a check (a table of verdicts, the traces of counterexamples, or
//! JSON).
use crate::cli::error::{printed, Error};
use crate::model::catalogue::{self, Judged, Judgement, Loaded};
use crate::model::check::{thousands, Outcome, Reduction, Settings, Strategy, Verdict};
use crate::model::config::count_in_words;
use stateright::Expectation;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::time::Duration;

/// `paxos check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A model: a path to a .toml file, or the name of one in models/. Default: the
    /// embedded paxos-3-servers-2-clients-3-ballots-reader-crash-simulation.
    model: Option<String>,
    /// Override the model file's strategy.
    #[arg(long, value_enum)]
    strategy: Option<Strategy>,
    /// Checker threads (default: every core; one for a simulation whose model file sets
    /// walk_states, so that its walks are the same on every machine).
    #[arg(long)]
    threads: Option<usize>,
    /// Stop after this many seconds (a stopped exhaustive run proves nothing).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Seed of the simulation strategy.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the result as JSON on standard output (progress still goes to standard error).
    #[arg(long)]
    json: bool,
    /// Also print the example trace of each reached `sometimes` property.
    #[arg(long)]
    examples: bool,
    /// Check without this reduction of the state space (repeatable): the verdicts stay the
    /// same, the state counts do not (spec/reductions.md).
    #[arg(long, value_enum, value_name = "REDUCTION")]
    without: Vec<Reduction>,
}

/// `paxos explore`.
#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// A model, as for `check`.
    model: Option<String>,
    /// Where to serve the Explorer.
    #[arg(long, default_value = "127.0.0.1:3000")]
    address: String,
}

/// Runs `paxos check`: checks, prints the report, and says whether the outcome meets the
/// exit-status contract.
pub(super) fn check_command(args: &CheckArgs) -> Result<bool, Error> {
    let loaded = catalogue::load(args.model.as_deref())?;
    let options = CheckOptions {
        strategy: args.strategy,
        threads: args.threads,
        timeout: args.timeout,
        seed: args.seed,
        progress: true,
        without: args.without.clone(),
    };
    let (outcome, judged) = check(&loaded, &options)?;
    let out = &mut io::stdout().lock();
    printed(if args.json {
        print_json(out, &loaded, &outcome, &judged)
    } else {
        print_report(out, &loaded, &outcome, &judged, args.examples)
    })?;
    let violated = outcome
        .properties
        .iter()
        .any(|p| p.verdict() == Verdict::Violated);
    // An exhaustive check stopped at the timeout decided nothing: its own exit status (3), so
    // that a script can tell "ran out of time" from "not as recorded". A counterexample found
    // before the timeout is a verdict all the same (1).
    if outcome.timed_out && outcome.strategy.is_exhaustive() && !violated {
        return Err(Error::TimedOut {
            seconds: outcome.seconds,
            states: outcome.states,
            unique_states: outcome.unique_states,
        });
    }
    // A reader that stopped reading early does not change the verdict.
    Ok(judged.exit_ok())
}

/// Runs `paxos explore`: serves until stopped; returns only on an error.
pub(super) fn explore_command(args: &ExploreArgs) -> Result<bool, Error> {
    let loaded = catalogue::load(args.model.as_deref())?;
    let address = &args.address;
    // The banner is for a person; the Explorer serves whether or not anyone reads it.
    let _ = writeln!(
        io::stdout(),
        "Explorer for {} ({}) on http://{address}/ (Ctrl-C to stop)",
        loaded.name,
        loaded.file.model.summary()
    );
    loaded
        .file
        .model
        .explore(address, default_threads())
        .map_err(|source| Error::Explorer {
            address: address.clone(),
            source,
        })?;
    Ok(true)
}

/// Runs `paxos models`: each model's name and description.
pub(super) fn models_command() -> Result<bool, Error> {
    printed(print_models(&mut io::stdout().lock()))?;
    Ok(true)
}

fn print_models(out: &mut impl Write) -> io::Result<()> {
    for path in catalogue::catalogue() {
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| catalogue::parse(&name, &t).map_err(|e| e.to_string()))
        {
            Ok(file) => writeln!(out, "{name}\n    {}", file.description)?,
            Err(e) => writeln!(out, "{name}\n    UNREADABLE: {e}")?,
        }
    }
    Ok(())
}

/// Options of one check, from the command line or a test.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// The search strategy; `None`: the model file's.
    pub strategy: Option<Strategy>,
    /// Checker threads; `None`: every core.
    pub threads: Option<usize>,
    /// Seconds before the checker stops; `None`: the model file's timeout, if any.
    pub timeout: Option<u64>,
    /// Seed of the simulation strategy.
    pub seed: u64,
    /// Report progress on standard error.
    pub progress: bool,
    /// The reductions to leave out (by default a check uses every one that applies).
    pub without: Vec<Reduction>,
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Checks a loaded model and judges the outcome against its recorded expectations.
pub fn check(loaded: &Loaded, options: &CheckOptions) -> Result<(Outcome, Judged), Error> {
    let file = &loaded.file;
    let strategy = options.strategy.unwrap_or(file.check.strategy);
    let symmetry = file.check.symmetry
        && strategy != Strategy::Bfs
        && !options.without.contains(&Reduction::Symmetry);
    let timeout = options.timeout.or(file.check.timeout_secs);
    let walk_states = file
        .check
        .walk_states
        .filter(|_| strategy == Strategy::Simulation);
    if strategy == Strategy::Simulation && timeout.is_none() && walk_states.is_none() {
        return Err(Error::Usage(
            "the simulation strategy runs until stopped: give --timeout SECS".to_owned(),
        ));
    }
    // Walks bounded by a state count are the same on every machine on one thread only.
    let threads = options.threads.unwrap_or_else(|| match walk_states {
        Some(_) => 1,
        None => default_threads(),
    });
    let violations = catalogue::expected_violations(file);
    let settings = Settings {
        strategy,
        threads,
        timeout: timeout.map(Duration::from_secs),
        finish_when: (!violations.is_empty())
            .then(|| violations.iter().copied().collect::<BTreeSet<_>>()),
        symmetry,
        without: options.without.clone(),
        progress: options.progress,
        seed: options.seed,
        walk_states,
    };
    if options.progress {
        eprintln!("Checking {}: {}", loaded.name, file.model.summary());
        eprintln!(
            "Checking by {strategy}{}{} on {}{}{}.",
            if symmetry {
                " with symmetry reduction"
            } else {
                ""
            },
            if options.without.is_empty() {
                String::new()
            } else {
                format!(
                    " without {}",
                    options
                        .without
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            count_in_words(settings.threads, "thread", "threads"),
            timeout.map_or(String::new(), |t| format!(", timeout {t}s")),
            walk_states.map_or(String::new(), |n| format!(
                ", seed {}, until {} states",
                options.seed,
                thousands(n)
            )),
        );
    }
    let outcome = file.model.run(&settings);
    // The recorded count is the one with every reduction the file asks for.
    let comparable = strategy == file.check.strategy
        && symmetry == file.check.symmetry
        && options.without.iter().all(|r| *r == Reduction::Symmetry);
    let judged = catalogue::judge(&file.expect, &outcome, comparable);
    Ok((outcome, judged))
}

fn print_report(
    out: &mut impl Write,
    loaded: &Loaded,
    outcome: &Outcome,
    judged: &Judged,
    examples: bool,
) -> io::Result<()> {
    writeln!(
        out,
        "Model {}: {}",
        loaded.name,
        loaded.file.model.summary()
    )?;
    let how = if outcome.timed_out {
        " (stopped at the timeout: not exhaustive)"
    } else if outcome.stopped_early {
        " (stopped once the expected counterexamples were found)"
    } else if !outcome.strategy.is_exhaustive() {
        " (not exhaustive)"
    } else {
        ""
    };
    writeln!(
        out,
        "Explored {} states ({} unique, depth {}) in {:.1}s by {} on {}{how}.",
        thousands(outcome.states),
        thousands(outcome.unique_states),
        outcome.max_depth,
        outcome.seconds,
        outcome.strategy,
        count_in_words(outcome.threads, "thread", "threads"),
    )?;
    writeln!(out)?;
    // As wide as the longest name, so that the columns line up.
    let width = judged
        .rows
        .iter()
        .map(|r| r.name.len())
        .fold(24, usize::max);
    writeln!(
        out,
        "  {:<width$} {:<10} {:<10} {:<10} result",
        "property", "kind", "verdict", "expected"
    )?;
    for (row, p) in judged.rows.iter().zip(&outcome.properties) {
        let kind = catalogue::kind_word(&p.expectation);
        let expected = row.expected.map_or("-".to_owned(), |e| e.to_string());
        // Without a discovery, only an exhaustive run proves "holds" or "unreached".
        let verdict = match p.expectation {
            _ if p.trace.is_some() || outcome.exhaustive() => row.verdict.to_string(),
            Expectation::Always => "held".to_owned(),
            _ => "not seen".to_owned(),
        };
        writeln!(
            out,
            "  {:<width$} {:<10} {:<10} {:<10} {}",
            row.name,
            kind,
            verdict,
            expected,
            judgement_word(row.judgement)
        )?;
    }
    if let Some((expected, judgement)) = judged.unique_states {
        writeln!(
            out,
            "  {:<width$} {:<10} {:<10} {:<10} {}",
            "unique states",
            "count",
            thousands(outcome.unique_states),
            thousands(expected),
            judgement_word(judgement)
        )?;
    }
    if !outcome.exhaustive() {
        writeln!(
            out,
            "  (held: no state this run visited breaks it; only an exhaustive run proves it holds)"
        )?;
    }
    print_unjudged(out, judged)?;
    for p in &outcome.properties {
        let Some(trace) = &p.trace else { continue };
        let counterexample = p.expectation != stateright::Expectation::Sometimes;
        if !counterexample && !examples {
            continue;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{} for \"{}\" ({} steps):",
            if counterexample {
                "Counterexample"
            } else {
                "Example"
            },
            p.name,
            trace.steps.len()
        )?;
        for (i, step) in trace.steps.iter().enumerate() {
            writeln!(out, "  {:>3}. {step}", i + 1)?;
        }
        writeln!(
            out,
            "  Open it in the Explorer: `paxos explore {}`, then http://127.0.0.1:3000/#/steps/{}",
            loaded.argument, trace.explorer_path
        )?;
    }
    writeln!(out)?;
    let failed: Vec<&str> = judged
        .rows
        .iter()
        .filter(|r| !r.judgement.passes())
        .map(|r| r.name.as_str())
        .chain(
            judged
                .unique_states
                .filter(|(_, j)| !j.passes())
                .map(|_| "unique states"),
        )
        .collect();
    let violated = |recorded: bool| -> Vec<&str> {
        judged
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Violated)
            .filter(|r| (r.expected == Some(Verdict::Violated)) == recorded)
            .map(|r| r.name.as_str())
            .collect()
    };
    // A violation the file does not record (a bug's run may meet one before it stops; a
    // property the file does not judge may have one) is a counterexample all the same.
    let (caught, unrecorded) = (violated(true), violated(false));
    let undecided = outcome.timed_out && outcome.strategy.is_exhaustive();
    let excluded = judged
        .rows
        .iter()
        .filter(|r| r.judgement == Judgement::Excluded)
        .count();
    if !failed.is_empty() {
        return writeln!(out, "FAIL: not as recorded: {}.", failed.join(", "));
    }
    match (caught.is_empty(), unrecorded.is_empty()) {
        (true, true) if undecided => writeln!(
            out,
            "TIMED OUT: nothing recorded was contradicted, but the search is not exhaustive."
        ),
        (true, true) if excluded > 0 => writeln!(
            out,
            "PASS: every property is as recorded, except {excluded} the model file does not \
             judge (listed above)."
        ),
        (true, true) => writeln!(out, "PASS: every property is as recorded."),
        (false, true) => writeln!(
            out,
            "FAIL: {} violated, as recorded for this model (the bug is caught).",
            caught.join(", ")
        ),
        (false, false) => writeln!(
            out,
            "FAIL: {} violated, as recorded for this model (the bug is caught); also violated, \
             not recorded: {}.",
            caught.join(", "),
            unrecorded.join(", ")
        ),
        (true, false) => writeln!(
            out,
            "FAIL: {} violated: the model file does not judge it, but the counterexample stands.",
            unrecorded.join(", ")
        ),
    }
}

fn judgement_word(j: Judgement) -> &'static str {
    match j {
        Judgement::Ok => "ok",
        Judgement::Mismatch => "MISMATCH",
        Judgement::Inconclusive => "INCONCLUSIVE",
        Judgement::Excluded => "not judged",
        Judgement::Undecided => "not decided",
        Judgement::NotComparable => "not comparable",
    }
}

/// Says why each property marked "not judged" is (the model file's reason), and, in one line,
/// why the ones marked "not decided" are.
fn print_unjudged(out: &mut impl Write, judged: &Judged) -> io::Result<()> {
    let excluded: Vec<&catalogue::JudgedProperty> = judged
        .rows
        .iter()
        .filter(|r| r.judgement == Judgement::Excluded)
        .collect();
    if !excluded.is_empty() {
        writeln!(out)?;
        writeln!(out, "Not judged, as the model file says:")?;
        for row in excluded {
            writeln!(
                out,
                "  {}: {}",
                row.name,
                row.reason.as_deref().unwrap_or_default()
            )?;
        }
    }
    let undecided = judged
        .rows
        .iter()
        .filter(|r| r.judgement == Judgement::Undecided)
        .count();
    if undecided > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "Not decided ({undecided} properties): {}.",
            catalogue::UNDECIDED
        )?;
    }
    let unaccounted: Vec<&str> = judged
        .rows
        .iter()
        .filter(|r| r.reason.as_deref() == Some(catalogue::UNACCOUNTED))
        .map(|r| r.name.as_str())
        .collect();
    if !unaccounted.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Neither recorded nor excluded by the model file: {}.",
            unaccounted.join(", ")
        )?;
    }
    Ok(())
}

fn print_json(
    out: &mut impl Write,
    loaded: &Loaded,
    outcome: &Outcome,
    judged: &Judged,
) -> io::Result<()> {
    let value = serde_json::json!({
        "model": loaded.name,
        "summary": loaded.file.model.summary(),
        "as_recorded": judged.passed(),
        "exit_ok": judged.exit_ok(),
        "outcome": outcome,
        "judged": judged,
    });
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&value).expect("a report always serializes")
    )
}
