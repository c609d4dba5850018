//! The catalogue of checked configurations: one TOML file per model in `models/`, each with
//! the outcome it is expected to have. Loading, judging a run against its expectations, and
//! the embedded default.
use crate::model::check::{self, Outcome, Settings, Strategy, Verdict};
use crate::model::multi_paxos::MultiPaxosConfig;
use crate::model::paxos::PaxosConfig;
use serde::Deserialize;
use stateright::Expectation;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The model `paxos check` runs with no argument.
pub const DEFAULT_MODEL: (&str, &str) = (
    "paxos-3-servers-2-clients",
    include_str!("../../models/paxos-3-servers-2-clients.toml"),
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
    /// Each property's verdict; a property not listed is reported but not judged.
    #[serde(default)]
    pub properties: BTreeMap<String, Verdict>,
}

/// A model file that could not be used.
#[derive(Debug)]
pub enum CatalogueError {
    /// No file at that path, and no model of that name in the catalogue.
    NotFound {
        /// The name asked for.
        name: String,
        /// The names of the catalogue's models.
        available: Vec<String>,
    },
    /// The file exists but could not be read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        error: std::io::Error,
    },
    /// The file is not a valid model file.
    Invalid {
        /// The file, as given (or the embedded default's name).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl std::fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogueError::NotFound { name, available } => write!(
                f,
                "no model named '{name}': give a path to a .toml file or one of: {}",
                available.join(", ")
            ),
            CatalogueError::Unreadable { path, error } => {
                write!(f, "cannot read model file {}: {error}", path.display())
            }
            CatalogueError::Invalid { path, reason } => {
                write!(f, "model file {path} is not valid: {reason}")
            }
        }
    }
}

impl std::error::Error for CatalogueError {}

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
    let names: Vec<&str> = file.model.property_names();
    for name in file.expect.properties.keys() {
        if !names.contains(&name.as_str()) {
            return Err(format!(
                "[expect.properties] names '{name}', which this protocol does not have; \
                 its properties are: {}",
                names.join(", ")
            ));
        }
    }
    if file.check.symmetry && file.check.strategy == Strategy::Bfs {
        return Err(
            "symmetry reduction needs strategy = \"dfs\" or \"simulation\" \
                    (stateright's BFS ignores it)"
                .to_owned(),
        );
    }
    if file.check.strategy == Strategy::Simulation && file.expect.unique_states.is_some() {
        return Err("a simulation explores a random part of the space: \
                    remove expect.unique_states"
            .to_owned());
    }
    file.model.validate()
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
                model.skip_noops = settings.strategy == Strategy::Simulation;
                check::run(model, settings)
            }
            ProtocolModel::MultiPaxos(config) => {
                let mut model = config.clone().into_model();
                model.skip_noops = settings.strategy == Strategy::Simulation;
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
    /// Nothing recorded for it.
    NotJudged,
}

/// One row of the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// The property's name.
    pub name: String,
    /// Its verdict in this run.
    pub verdict: Verdict,
    /// Its recorded verdict, if any.
    pub expected: Option<Verdict>,
    /// How the two compare.
    pub judgement: Judgement,
}

/// A run judged against a model file's expectations.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Judged {
    /// One row per property, in the order they are reported.
    pub rows: Vec<Row>,
    /// The recorded unique-state count, if any, and how this run's compares with it.
    pub unique_states: Option<(usize, Judgement)>,
}

impl Judged {
    /// Whether the run meets the exit-status contract of `paxos check`: every property as
    /// recorded, and no `always` property violated (a recorded bug still exits non-zero).
    pub fn exit_ok(&self) -> bool {
        self.passed() && self.rows.iter().all(|r| r.verdict != Verdict::Violated)
    }

    /// Whether every recorded verdict (and state count) is as recorded.
    pub fn passed(&self) -> bool {
        let rows_ok = self
            .rows
            .iter()
            .all(|r| matches!(r.judgement, Judgement::Ok | Judgement::NotJudged));
        let count_ok = self
            .unique_states
            .is_none_or(|(_, j)| matches!(j, Judgement::Ok | Judgement::NotJudged));
        rows_ok && count_ok
    }
}

/// Judges `outcome`; `comparable_count` says whether the run explored the space the same
/// way as the recorded one (same strategy and symmetry), so that its state count can match.
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
            let judgement = match expected {
                None => Judgement::NotJudged,
                Some(e) if e == verdict && proved => Judgement::Ok,
                Some(e) if e == verdict => Judgement::Inconclusive,
                Some(_) if !proved => Judgement::Inconclusive,
                Some(_) => Judgement::Mismatch,
            };
            Row {
                name: p.name.to_owned(),
                verdict,
                expected,
                judgement,
            }
        })
        .collect();
    let unique_states = expect.unique_states.map(|expected| {
        let judgement = if !comparable_count {
            Judgement::NotJudged
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
