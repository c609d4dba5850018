//! The catalogue of checked configurations: one TOML file per model in `models/`, each with
//! the outcome it is expected to have. Loading, judging a run against its expectations, and
//! the embedded default.
//!
//! # No property passes unjudged
//!
//! A model reports every property of its protocol: the `always` ones (safety), the
//! `sometimes` ones (witnesses: a path the bound is meant to cover was explored), and, where
//! the model claims liveness, the `eventually` one. A model file accounts for each of them:
//!
//! - `[expect.properties]` records its verdict (`holds`, `violated`, `reached`, `unreached`),
//!   which the run must confirm; or
//! - `[expect.not_judged]` names it with the reason the file does not judge it
//!   (`"snapshot in pieces" = "no snapshots in this configuration"`). The report prints the
//!   reason beside the property; an empty reason is refused.
//!
//! A file that does neither for some property does not load ([`CatalogueError::Invalid`],
//! exit status 2), and the message names the properties and both ways to fix it. Witnesses
//! fall under the rule as safety does: a witness nobody records could stop being reached
//! (the bound no longer covers that path) and every `holds` beside it would stay green.
//!
//! One rule stands in for the list: a model whose file records a violation (a deliberate bug)
//! is checked only until every recorded violation has a counterexample, so the run decides
//! nothing else. Every property such a file neither records nor excludes is, by this rule,
//! **not decided**: the report says so ([`Judgement::Undecided`]), and it neither passes as
//! judged nor fails the run. Such a file may still name a property under `[expect.not_judged]`
//! to give a more specific reason.
use crate::model::check::{self, Outcome, Settings, Strategy, Verdict};
use crate::model::multi_paxos::MultiPaxosConfig;
use crate::model::paxos::PaxosConfig;
use serde::Deserialize;
use stateright::Expectation;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The model `paxos check` runs with no argument: every witness of single-decree Paxos (two
/// values dueling, a retry after preemption, an adopted earlier value, a value chosen after a
/// crash, both reads) in one run of a few seconds. Exhaustively that configuration is over 19
/// million states, so the file samples it with seeded walks that are the same on every machine;
/// its exhaustive counterparts are named in its description (spec/paxos.md).
pub const DEFAULT_MODEL: (&str, &str) = (
    "paxos-3-servers-2-clients-3-ballots-reader-crash-simulation",
    include_str!("../../models/paxos-3-servers-2-clients-3-ballots-reader-crash-simulation.toml"),
);

/// One entry of `models/`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// What this configuration shows, in one sentence.
    pub description: String,
    /// `[check]`: how to check it.
    pub check: CheckSection,
    /// `[model]`: what to check.
    pub model: ProtocolModel,
    /// `[expect]`: the outcome recorded for it.
    pub expect: Expect,
}

/// How the model is checked unless the command line says otherwise.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSection {
    /// How the state space is explored.
    pub strategy: Strategy,
    /// Whether to use the model's symmetry reduction (DFS and simulation only).
    #[serde(default)]
    pub symmetry: bool,
    /// Whether `cargo test` re-checks this model (it finishes in well under 30 s on 2 cores).
    #[serde(default)]
    pub in_tests: bool,
    /// For the simulation strategy: how long to run.
    pub timeout_secs: Option<u64>,
    /// For the simulation strategy: stop once the walks have visited this many states. A
    /// file that sets it runs on one thread unless told otherwise, where the walks depend on
    /// the seed alone: every machine makes the same walks and reaches the same witnesses.
    pub walk_states: Option<usize>,
}

/// The protocol and its configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "protocol", rename_all = "kebab-case")]
pub enum ProtocolModel {
    /// `protocol = "paxos"`: single-decree Paxos.
    Paxos(PaxosConfig),
    /// `protocol = "multi-paxos"`: Multi-Paxos with a key-value store.
    MultiPaxos(MultiPaxosConfig),
}

/// The recorded outcome.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exact number of unique states of an exhaustive run.
    pub unique_states: Option<usize>,
    /// Each property's recorded verdict, which a run must confirm.
    #[serde(default)]
    pub properties: BTreeMap<String, Verdict>,
    /// The properties the file does not judge, each with the reason (never empty). Every
    /// property the model reports is in `properties` or here, except in a file that records a
    /// violation (see the module's doc).
    #[serde(default)]
    pub not_judged: BTreeMap<String, String>,
}

impl Expect {
    /// Whether the file records a violation: a deliberate bug, whose run stops at its
    /// counterexamples and so decides no property it does not record.
    pub fn expects_violation(&self) -> bool {
        self.properties.values().any(|v| *v == Verdict::Violated)
    }
}

/// A model file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// No file at that path, and no model of that name in the catalogue.
    #[error("no model named '{name}': give a path to a .toml file or one of: {}", available.join(", "))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names of the catalogue's models.
        available: Vec<String>,
    },
    /// The file exists but could not be read.
    #[error("cannot read model file {}: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        error: std::io::Error,
    },
    /// The file is not a valid model file.
    #[error("model file {path} is not valid: {reason}")]
    Invalid {
        /// The file, as given (or the embedded default's name).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where the catalogue lives: `models/` under the working directory, else under the crate.
pub fn models_dir() -> PathBuf {
    let local = PathBuf::from("models");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
    }
}

/// Every model file of the catalogue, sorted by name.
pub fn catalogue() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(models_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A loaded model: its name (for messages) and contents.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The file's name without `.toml`.
    pub name: String,
    /// How to name it on a command line.
    pub argument: String,
    /// What the file says.
    pub file: ModelFile,
}

/// Parses a model file's text; `origin` names it in errors.
pub fn parse(origin: &str, text: &str) -> Result<ModelFile, CatalogueError> {
    let file: ModelFile = toml::from_str(text).map_err(|e| CatalogueError::Invalid {
        path: origin.to_owned(),
        reason: e.to_string(),
    })?;
    validate(&file).map_err(|reason| CatalogueError::Invalid {
        path: origin.to_owned(),
        reason,
    })?;
    Ok(file)
}

fn validate(file: &ModelFile) -> Result<(), String> {
    accounts_for_every_property(file)?;
    if file.check.symmetry && file.check.strategy == Strategy::Bfs {
        return Err(
            "symmetry reduction needs strategy = \"dfs\" or \"simulation\" \
                    (stateright's BFS ignores it)"
                .to_owned(),
        );
    }
    let simulation = file.check.strategy == Strategy::Simulation;
    if simulation && file.check.timeout_secs.is_none() && file.check.walk_states.is_none() {
        return Err("a simulation runs until stopped: set timeout_secs or walk_states".to_owned());
    }
    if !simulation && file.check.walk_states.is_some() {
        return Err(
            "walk_states bounds a simulation: set strategy = \"simulation\" or \
                    drop walk_states"
                .to_owned(),
        );
    }
    if simulation && file.expect.unique_states.is_some() {
        return Err("a simulation explores a random part of the space: \
                    remove expect.unique_states"
            .to_owned());
    }
    file.model.validate()
}

/// Checks that the file's `[expect.properties]` and `[expect.not_judged]` name only
/// properties the model reports, never the same one twice, each exclusion with a reason, and,
/// unless the file records a violation, every property the model reports (the module's doc).
fn accounts_for_every_property(file: &ModelFile) -> Result<(), String> {
    let expect = &file.expect;
    let all = file.model.property_names();
    let reported = file.model.reported_properties();
    let tables = [
        (
            "[expect.properties]",
            expect.properties.keys().collect::<Vec<_>>(),
        ),
        ("[expect.not_judged]", expect.not_judged.keys().collect()),
    ];
    for (table, names) in tables {
        for name in names {
            if !all.contains(&name.as_str()) {
                return Err(format!(
                    "{table} names '{name}', which this protocol does not have; \
                     its properties are: {}",
                    all.join(", ")
                ));
            }
            if !reported.iter().any(|(n, _)| n == name) {
                return Err(format!(
                    "{table} names '{name}', which this model does not report: an \
                     `eventually` property is checked only where the model claims liveness \
                     (liveness = true)"
                ));
            }
        }
    }
    if let Some(name) = expect
        .properties
        .keys()
        .find(|n| expect.not_judged.contains_key(*n))
    {
        return Err(format!(
            "'{name}' is both recorded in [expect.properties] and excluded in \
             [expect.not_judged]: keep one"
        ));
    }
    if let Some(name) = expect
        .not_judged
        .iter()
        .find(|(_, reason)| reason.trim().is_empty())
        .map(|(name, _)| name)
    {
        return Err(format!(
            "[expect.not_judged] gives no reason for '{name}': say why this model does not \
             judge it (\"{name}\" = \"the reason\")"
        ));
    }
    if expect.expects_violation() {
        return Ok(());
    }
    let accounted =
        |n: &str| expect.properties.contains_key(n) || expect.not_judged.contains_key(n);
    let missing: Vec<String> = reported
        .iter()
        .filter(|(n, _)| !accounted(n))
        .map(|(n, kind)| format!("'{n}' ({})", kind_word(kind)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "it neither records nor excludes {}: every property the model reports is judged \
         unless the file says why not. Run the model (`paxos check FILE`) and record each \
         verdict under [expect.properties], or name the property under [expect.not_judged] \
         with the reason it is not judged (\"name\" = \"the reason\")",
        missing.join(", ")
    ))
}

/// How a report and an error name a property's kind.
pub fn kind_word(expectation: &Expectation) -> &'static str {
    match expectation {
        Expectation::Always => "always",
        Expectation::Sometimes => "sometimes",
        Expectation::Eventually => "eventually",
    }
}

/// Finds a model by path or by name in the catalogue; `None` is the embedded default.
pub fn load(argument: Option<&str>) -> Result<Loaded, CatalogueError> {
    let Some(argument) = argument else {
        let (name, text) = DEFAULT_MODEL;
        return Ok(Loaded {
            name: name.to_owned(),
            argument: name.to_owned(),
            file: parse(&format!("{name} (embedded)"), text)?,
        });
    };
    let as_path = PathBuf::from(argument);
    let path = if as_path.is_file() {
        as_path
    } else {
        let in_catalogue = models_dir().join(format!("{argument}.toml"));
        if !in_catalogue.is_file() {
            return Err(CatalogueError::NotFound {
                name: argument.to_owned(),
                available: catalogue().iter().map(|p| stem(p)).collect(),
            });
        }
        in_catalogue
    };
    let text = std::fs::read_to_string(&path).map_err(|error| CatalogueError::Unreadable {
        path: path.clone(),
        error,
    })?;
    Ok(Loaded {
        name: stem(&path),
        argument: argument.to_owned(),
        file: parse(&path.display().to_string(), &text)?,
    })
}

impl ProtocolModel {
    /// The names of the protocol's properties: the `always` ones, the `sometimes` ones, then
    /// the `eventually` ones.
    pub fn property_names(&self) -> Vec<&'static str> {
        let names = match self {
            ProtocolModel::Paxos(_) => crate::model::paxos::property_names,
            ProtocolModel::MultiPaxos(_) => crate::model::multi_paxos::property_names,
        };
        [
            Expectation::Always,
            Expectation::Sometimes,
            Expectation::Eventually,
        ]
        .into_iter()
        .flat_map(names)
        .collect()
    }

    /// The properties this model reports, with their kinds, in the order
    /// [`Self::property_names`] gives: all of them, but the `eventually` ones only where the
    /// model claims liveness.
    pub fn reported_properties(&self) -> Vec<(&'static str, Expectation)> {
        let (names, liveness): (fn(Expectation) -> Vec<&'static str>, bool) = match self {
            ProtocolModel::Paxos(_) => (crate::model::paxos::property_names, false),
            ProtocolModel::MultiPaxos(config) => {
                (crate::model::multi_paxos::property_names, config.liveness)
            }
        };
        [
            Expectation::Always,
            Expectation::Sometimes,
            Expectation::Eventually,
        ]
        .into_iter()
        .filter(|e| liveness || *e != Expectation::Eventually)
        .flat_map(|e| names(e.clone()).into_iter().map(move |n| (n, e.clone())))
        .collect()
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            ProtocolModel::Paxos(config) => config.validate(),
            ProtocolModel::MultiPaxos(config) => config.validate(),
        }
    }

    /// One line describing the configuration.
    pub fn summary(&self) -> String {
        match self {
            ProtocolModel::Paxos(config) => config.summary(),
            ProtocolModel::MultiPaxos(config) => config.summary(),
        }
    }

    /// Checks the model with `settings`.
    pub fn run(&self, settings: &Settings) -> Outcome {
        match self {
            ProtocolModel::Paxos(config) => {
                let mut model = config.clone().into_model();
                model.checked_by(settings.strategy);
                check::run(model, settings)
            }
            ProtocolModel::MultiPaxos(config) => {
                let mut model = config.clone().into_model();
                model.checked_by(settings.strategy);
                check::run(model, settings)
            }
        }
    }

    /// Serves stateright's Explorer for this model; blocks.
    pub fn explore(&self, address: &str, threads: usize) -> std::io::Result<()> {
        // Validate the address first: stateright's `serve` panics on a bad one.
        let addresses: Vec<std::net::SocketAddr> =
            std::net::ToSocketAddrs::to_socket_addrs(address)?.collect();
        std::net::TcpListener::bind(&addresses[..])?;
        // Blocks while the Explorer serves.
        match self {
            ProtocolModel::Paxos(config) => serve(config.clone().into_model(), threads, &addresses),
            ProtocolModel::MultiPaxos(config) => {
                serve(config.clone().into_model(), threads, &addresses)
            }
        }
        Ok(())
    }
}

/// Serves stateright's Explorer for `model` on `addresses`; blocks.
fn serve<M>(model: M, threads: usize, addresses: &[std::net::SocketAddr])
where
    M: stateright::Model + Send + Sync + 'static,
    M::Action: std::fmt::Debug + Send + Sync + Clone + PartialEq,
    M::State: std::fmt::Debug + std::hash::Hash + Send + Sync + Clone + PartialEq,
{
    model.checker().threads(threads).serve(addresses);
}

/// How a property's verdict compares with the recorded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judgement {
    /// As recorded.
    Ok,
    /// Not as recorded.
    Mismatch,
    /// The run stopped before it could tell (a timeout, or a simulation that found nothing).
    Inconclusive,
    /// Named in the file's `[expect.not_judged]`, which says why.
    Excluded,
    /// Not recorded in a file that records a violation: the run stops once every recorded
    /// violation has a counterexample, so it decides nothing else (the module's doc).
    Undecided,
    /// A state count from a run that explored the space otherwise than the file says (another
    /// strategy, symmetry or set of reductions): it cannot match the recorded one.
    NotComparable,
}

impl Judgement {
    /// Whether this judgement leaves the run as recorded.
    pub fn passes(self) -> bool {
        !matches!(self, Judgement::Mismatch | Judgement::Inconclusive)
    }
}

/// Why a property of a file that records a violation is not decided.
pub const UNDECIDED: &str = "not recorded, and the run stops at the recorded counterexamples";

/// Why a property that a file neither records nor excludes fails (the loader refuses such a
/// file; only an expectation built in code can have one).
pub const UNACCOUNTED: &str = "neither recorded nor excluded by the model file";

/// One row of the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct JudgedProperty {
    /// The property's name.
    pub name: String,
    /// Its verdict in this run.
    pub verdict: Verdict,
    /// Its recorded verdict, if any.
    pub expected: Option<Verdict>,
    /// How the two compare.
    pub judgement: Judgement,
    /// Why it is not judged: the file's reason ([`Judgement::Excluded`]) or the rule's
    /// ([`Judgement::Undecided`]).
    pub reason: Option<String>,
}

/// A run judged against a model file's expectations.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Judged {
    /// One row per property, in the order they are reported.
    pub rows: Vec<JudgedProperty>,
    /// The recorded unique-state count, if any, and how this run's compares with it.
    pub unique_states: Option<(usize, Judgement)>,
}

impl Judged {
    /// Whether the run meets the exit-status contract of `paxos check`: every property as
    /// recorded, and no `always` property violated (a recorded bug still exits non-zero).
    pub fn exit_ok(&self) -> bool {
        self.passed() && self.rows.iter().all(|r| r.verdict != Verdict::Violated)
    }

    /// Whether every recorded verdict (and state count) is as recorded. A property the file
    /// excludes, or one a bug's run does not decide, is reported as such and does not count.
    pub fn passed(&self) -> bool {
        self.rows.iter().all(|r| r.judgement.passes())
            && self.unique_states.is_none_or(|(_, j)| j.passes())
    }
}

/// Judges `outcome`; `comparable_count` says whether the run explored the space the same
/// way as the recorded one (same strategy and symmetry), so that its state count can match.
/// A property the file does not record is excluded by it or, in a file that records a
/// violation, not decided; any other is a mismatch (the loader refuses such a file:
/// [`parse`]).
pub fn judge(expect: &Expect, outcome: &Outcome, comparable_count: bool) -> Judged {
    let rows = outcome
        .properties
        .iter()
        .map(|p| {
            let verdict = p.verdict();
            let expected = expect.properties.get(p.name).copied();
            // Without a discovery, only an exhaustive search proves "holds" or "unreached";
            // a simulation's recorded "holds" claims no counterexample in its time budget.
            let simulated = outcome.strategy == Strategy::Simulation && !outcome.stopped_early;
            let proved = p.trace.is_some()
                || outcome.exhaustive()
                || (simulated && expected == Some(Verdict::Holds));
            let excluded = expect.not_judged.get(p.name);
            let (judgement, reason) = match expected {
                None if excluded.is_some() => (Judgement::Excluded, excluded.cloned()),
                None if expect.expects_violation() => {
                    (Judgement::Undecided, Some(UNDECIDED.to_owned()))
                }
                // The loader refuses such a file; an expectation built otherwise fails here.
                None => (Judgement::Mismatch, Some(UNACCOUNTED.to_owned())),
                Some(e) if e == verdict && proved => (Judgement::Ok, None),
                Some(e) if e == verdict => (Judgement::Inconclusive, None),
                Some(_) if !proved => (Judgement::Inconclusive, None),
                Some(_) => (Judgement::Mismatch, None),
            };
            JudgedProperty {
                name: p.name.to_owned(),
                verdict,
                expected,
                judgement,
                reason,
            }
        })
        .collect();
    let unique_states = expect.unique_states.map(|expected| {
        let judgement = if !comparable_count {
            Judgement::NotComparable
        } else if !outcome.exhaustive() {
            Judgement::Inconclusive
        } else if outcome.unique_states == expected {
            Judgement::Ok
        } else {
            Judgement::Mismatch
        };
        (expected, judgement)
    });
    Judged {
        rows,
        unique_states,
    }
}

/// The properties a file expects to be violated: the run may stop once all are found.
pub fn expected_violations(file: &ModelFile) -> Vec<&'static str> {
    file.model
        .property_names()
        .into_iter()
        .filter(|n| file.expect.properties.get(*n) == Some(&Verdict::Violated))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::check::{PropertyOutcome, Trace};

    /// The default model's file with `line` taken out of `[expect.properties]` and `extra`
    /// appended.
    fn default_without(line: &str, extra: &str) -> Result<ModelFile, CatalogueError> {
        let (name, text) = DEFAULT_MODEL;
        assert!(text.contains(line), "{line}");
        parse(name, &format!("{}{extra}", text.replace(line, "")))
    }

    fn invalid(result: Result<ModelFile, CatalogueError>) -> String {
        match result {
            Err(CatalogueError::Invalid { reason, .. }) => reason,
            other => panic!("refused as invalid, not {other:?}"),
        }
    }

    #[test]
    fn the_default_model_accounts_for_every_property() {
        let (name, text) = DEFAULT_MODEL;
        let file = parse(name, text).expect("loads");
        assert!(file.expect.not_judged.is_empty());
        assert_eq!(
            file.expect.properties.len(),
            file.model.reported_properties().len()
        );
    }

    // A safety property a correct model's file leaves out would be reported and never judged:
    // the file does not load, and the message names it and both ways to account for it.
    #[test]
    fn a_file_missing_a_property_is_refused() {
        let reason = invalid(default_without("P1a = \"holds\"\n", ""));
        assert!(reason.contains("'P1a' (always)"), "{reason}");
        assert!(reason.contains("[expect.properties]"), "{reason}");
        assert!(reason.contains("[expect.not_judged]"), "{reason}");
        // Witnesses fall under the same rule.
        let reason = invalid(default_without("\"value chosen\" = \"reached\"\n", ""));
        assert!(reason.contains("'value chosen' (sometimes)"), "{reason}");
    }

    #[test]
    fn an_exclusion_without_a_reason_is_refused() {
        for empty in ["\"\"", "\"  \""] {
            let extra = format!("\n[expect.not_judged]\nP1a = {empty}\n");
            let reason = invalid(default_without("P1a = \"holds\"\n", &extra));
            assert!(reason.contains("no reason for 'P1a'"), "{reason}");
        }
    }

    #[test]
    fn an_exclusion_with_a_reason_is_reported_with_it() {
        let extra = "\n[expect.not_judged]\nP1a = \"a reason\"\n";
        let file = default_without("P1a = \"holds\"\n", extra).expect("loads");
        let outcome = outcome(&file, &[]);
        let judged = judge(&file.expect, &outcome, true);
        let row = judged.rows.iter().find(|r| r.name == "P1a").expect("a row");
        assert_eq!(row.judgement, Judgement::Excluded);
        assert_eq!(row.reason.as_deref(), Some("a reason"));
        assert!(judged.passed());
    }

    #[test]
    fn a_property_both_recorded_and_excluded_is_refused() {
        let reason = invalid(default_without(
            "",
            "\n[expect.not_judged]\nP1a = \"why\"\n",
        ));
        assert!(reason.contains("both recorded"), "{reason}");
    }

    #[test]
    fn an_eventually_property_needs_a_model_that_claims_liveness() {
        let name = "multi-paxos-3-servers-1-client-liveness";
        let text =
            std::fs::read_to_string(models_dir().join(format!("{name}.toml"))).expect("reads");
        assert!(parse(name, &text).is_ok());
        let reason = invalid(parse(
            name,
            &text.replace("liveness = true", "liveness = false"),
        ));
        assert!(reason.contains("'every request answered'"), "{reason}");
        assert!(reason.contains("liveness = true"), "{reason}");
    }

    /// A run of `file`'s model in which exactly `violated` have counterexamples and the
    /// witnesses the file records as reached have examples: finished unless some are violated.
    fn outcome(file: &ModelFile, violated: &[&str]) -> Outcome {
        let trace = || Trace {
            steps: vec!["a step".to_owned()],
            explorer_path: String::new(),
        };
        let properties = file
            .model
            .reported_properties()
            .into_iter()
            .map(|(name, expectation)| PropertyOutcome {
                name,
                trace: (violated.contains(&name)
                    || file.expect.properties.get(name) == Some(&Verdict::Reached))
                .then(trace),
                expectation,
            })
            .collect();
        Outcome {
            strategy: file.check.strategy,
            threads: 1,
            states: 1,
            unique_states: file.expect.unique_states.unwrap_or(1),
            max_depth: 1,
            seconds: 0.0,
            timed_out: false,
            stopped_early: !violated.is_empty(),
            properties,
        }
    }

    // The rule for deliberate bugs: what such a file does not record, the run (stopped at its
    // counterexamples) does not decide, and the report says so, whatever the run saw of it.
    #[test]
    fn a_bug_models_unrecorded_properties_are_not_decided() {
        let text = std::fs::read_to_string(models_dir().join("paxos-bug-invent-value.toml"))
            .expect("reads");
        let file = parse("paxos-bug-invent-value", &text).expect("loads");
        let mut violated = expected_violations(&file);
        violated.push("agreement");
        let judged = judge(&file.expect, &outcome(&file, &violated), true);
        for row in &judged.rows {
            let recorded = file.expect.properties.contains_key(&row.name);
            let excluded = file.expect.not_judged.contains_key(&row.name);
            let want = match (recorded, excluded) {
                (true, _) => Judgement::Ok,
                (false, true) => Judgement::Excluded,
                (false, false) => Judgement::Undecided,
            };
            assert_eq!(row.judgement, want, "{}", row.name);
        }
        let agreement = judged.rows.iter().find(|r| r.name == "agreement");
        assert_eq!(
            agreement.map(|r| (r.judgement, r.reason.as_deref())),
            Some((Judgement::Undecided, Some(UNDECIDED)))
        );
        assert!(judged.passed() && !judged.exit_ok());
    }

    // An expectation that did not come through the loader, with a property neither recorded
    // nor excluded, fails: it cannot pass unjudged.
    #[test]
    fn an_unaccounted_property_fails_the_judgement() {
        let (name, text) = DEFAULT_MODEL;
        let mut file = parse(name, text).expect("loads");
        file.expect.properties.remove("P1a");
        let judged = judge(&file.expect, &outcome(&file, &[]), true);
        let row = judged.rows.iter().find(|r| r.name == "P1a").expect("a row");
        assert_eq!(row.judgement, Judgement::Mismatch);
        assert!(!judged.passed());
    }
}
