//! The `paxos` command line: check a model, explore it, list the catalogue.
use crate::model::catalogue::{self, Judged, Judgement, Loaded};
use crate::model::check::{thousands, Outcome, Settings, Strategy, Verdict};
use clap::{Parser, Subcommand};
use std::collections::BTreeSet;
use std::time::Duration;

/// Paxos and Multi-Paxos as stateright actors, checked against Paxos Made Simple.
#[derive(Debug, Parser)]
#[command(name = "paxos", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Model-check a configuration and compare each property with its recorded verdict.
    ///
    /// Exit status: 0 when every property holds (or is reached) as the model file records,
    /// 1 when an `always` property is violated (even when the file records that bug) or
    /// anything is not as recorded or could not be decided, 2 for a bad command line or
    /// model file.
    Check {
        /// A model: a path to a .toml file, or the name of one in models/. Default: the
        /// embedded paxos-3-servers-2-clients.
        model: Option<String>,
        /// Override the model file's strategy.
        #[arg(long, value_enum)]
        strategy: Option<Strategy>,
        /// Checker threads (default: every core).
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
    },
    /// Serve stateright's Explorer for a model, to click through its states.
    Explore {
        /// A model, as for `check`.
        model: Option<String>,
        /// Where to serve the Explorer.
        #[arg(long, default_value = "127.0.0.1:3000")]
        address: String,
    },
    /// List the models of the catalogue with their descriptions.
    Models,
    /// Run a node (or, with --local N, a whole cluster) of the model-checked actors on UDP.
    ///
    /// Durable state lives in `<data-dir>/<address>.storage`; a node refuses to start when that
    /// file exists but cannot be read. Runs until stopped (or --exit-after). Log level:
    /// RUST_LOG (e.g. RUST_LOG=info). Exit status: 1 when the node cannot start or stops,
    /// 2 for a bad command line.
    Spawn(crate::runtime::node::SpawnArgs),
    /// Put a value into, or get the value of, the cluster's register over UDP.
    ///
    /// Exit status: 0 for PutOk or GetOk, 1 for PutFail or when no server answered (the
    /// outcome of the put is then unknown), 2 for a bad command line.
    Client(crate::runtime::client::ClientArgs),
    /// Measure a 3-node loopback cluster with 1, 4 and 16 clients next to a raw UDP echo.
    Bench(crate::runtime::bench::BenchArgs),
}

/// What went wrong, in terms a user can act on.
#[derive(Debug)]
pub enum Error {
    Catalogue(catalogue::CatalogueError),
    Usage(String),
    Io(std::io::Error),
    Runtime(crate::runtime::node::Error),
    Client(crate::runtime::client::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Catalogue(e) => e.fmt(f),
            Error::Usage(message) => f.write_str(message),
            Error::Io(e) => e.fmt(f),
            Error::Runtime(e) => e.fmt(f),
            Error::Client(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<catalogue::CatalogueError> for Error {
    fn from(e: catalogue::CatalogueError) -> Self {
        Error::Catalogue(e)
    }
}

impl From<crate::runtime::node::Error> for Error {
    fn from(e: crate::runtime::node::Error) -> Self {
        Error::Runtime(e)
    }
}

impl From<crate::runtime::client::Error> for Error {
    fn from(e: crate::runtime::client::Error) -> Self {
        Error::Client(e)
    }
}

impl Error {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Catalogue(_) | Error::Usage(_) => 2,
            Error::Io(_) | Error::Client(_) => 1,
            Error::Runtime(e) => e.exit_code(),
        }
    }
}

/// Runs a command; `Ok(false)` means a check did not meet its expectations.
pub fn run(cli: Cli) -> Result<bool, Error> {
    match cli.command {
        Command::Check {
            model,
            strategy,
            threads,
            timeout,
            seed,
            json,
            examples,
        } => {
            let loaded = catalogue::load(model.as_deref())?;
            let options = CheckOptions {
                strategy,
                threads,
                timeout,
                seed,
                progress: true,
            };
            let (outcome, judged) = check(&loaded, &options)?;
            if json {
                print_json(&loaded, &outcome, &judged);
            } else {
                print_report(&loaded, &outcome, &judged, examples);
            }
            Ok(judged.exit_ok())
        }
        Command::Explore { model, address } => {
            let loaded = catalogue::load(model.as_deref())?;
            println!(
                "Explorer for {} ({}) on http://{address}/ (Ctrl-C to stop)",
                loaded.name,
                loaded.file.model.summary()
            );
            loaded
                .file
                .model
                .explore(&address, default_threads())
                .map_err(|e| {
                    Error::Usage(format!("cannot serve the Explorer on {address}: {e}"))
                })?;
            Ok(true)
        }
        Command::Models => {
            for path in catalogue::catalogue() {
                let name = path.file_stem().unwrap_or_default().to_string_lossy();
                match std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| catalogue::parse(&name, &t).map_err(|e| e.to_string()))
                {
                    Ok(file) => println!("{name}\n    {}", file.description),
                    Err(e) => println!("{name}\n    UNREADABLE: {e}"),
                }
            }
            Ok(true)
        }
        Command::Spawn(args) => Ok(crate::runtime::node::command(&args)?),
        Command::Client(args) => Ok(crate::runtime::client::command(&args)?),
        Command::Bench(args) => Ok(crate::runtime::bench::command(&args)?),
    }
}

/// Options of one check, from the command line or a test.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    pub strategy: Option<Strategy>,
    pub threads: Option<usize>,
    pub timeout: Option<u64>,
    pub seed: u64,
    pub progress: bool,
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Checks a loaded model and judges the outcome against its recorded expectations.
pub fn check(loaded: &Loaded, options: &CheckOptions) -> Result<(Outcome, Judged), Error> {
    let file = &loaded.file;
    let strategy = options.strategy.unwrap_or(file.check.strategy);
    let symmetry = file.check.symmetry && strategy != Strategy::Bfs;
    let timeout = options.timeout.or(file.check.timeout_secs);
    if strategy == Strategy::Simulation && timeout.is_none() {
        return Err(Error::Usage(
            "the simulation strategy runs until stopped: give --timeout SECS".to_owned(),
        ));
    }
    let violations = catalogue::expected_violations(file);
    let settings = Settings {
        strategy,
        threads: options.threads.unwrap_or_else(default_threads),
        timeout: timeout.map(Duration::from_secs),
        finish_when: (!violations.is_empty())
            .then(|| violations.iter().copied().collect::<BTreeSet<_>>()),
        symmetry,
        progress: options.progress,
        seed: options.seed,
    };
    if options.progress {
        eprintln!("Checking {}: {}", loaded.name, file.model.summary());
        eprintln!(
            "Strategy {strategy:?}{} on {} threads{}.",
            if symmetry {
                " with symmetry reduction"
            } else {
                ""
            },
            settings.threads,
            timeout.map_or(String::new(), |t| format!(", timeout {t}s")),
        );
    }
    let outcome = file.model.run(&settings);
    let comparable = strategy == file.check.strategy && symmetry == file.check.symmetry;
    let judged = catalogue::judge(&file.expect, &outcome, comparable);
    Ok((outcome, judged))
}

fn print_report(loaded: &Loaded, outcome: &Outcome, judged: &Judged, examples: bool) {
    println!("Model {}: {}", loaded.name, loaded.file.model.summary());
    let how = if outcome.timed_out {
        " (stopped at the timeout: not exhaustive)"
    } else if outcome.stopped_early {
        " (stopped once the expected counterexamples were found)"
    } else if !outcome.strategy.is_exhaustive() {
        " (simulation: not exhaustive)"
    } else {
        ""
    };
    println!(
        "Explored {} states ({} unique, depth {}) in {:.1}s with {:?} on {} threads{how}.",
        thousands(outcome.states),
        thousands(outcome.unique_states),
        outcome.max_depth,
        outcome.seconds,
        outcome.strategy,
        outcome.threads,
    );
    println!();
    println!(
        "  {:<24} {:<10} {:<10} {:<10} result",
        "property", "kind", "verdict", "expected"
    );
    for (row, p) in judged.rows.iter().zip(&outcome.properties) {
        let kind = format!("{:?}", p.expectation).to_lowercase();
        let expected = row.expected.map_or("-".to_owned(), |e| e.to_string());
        // Without a discovery, only an exhaustive run proves "holds" or "unreached".
        let verdict = if p.trace.is_none() && !outcome.exhaustive() {
            "not seen".to_owned()
        } else {
            row.verdict.to_string()
        };
        println!(
            "  {:<24} {:<10} {:<10} {:<10} {}",
            row.name,
            kind,
            verdict,
            expected,
            judgement_word(row.judgement)
        );
    }
    if let Some((expected, judgement)) = judged.unique_states {
        println!(
            "  {:<24} {:<10} {:<10} {:<10} {}",
            "unique states",
            "count",
            thousands(outcome.unique_states),
            thousands(expected),
            judgement_word(judgement)
        );
    }
    for p in &outcome.properties {
        let Some(trace) = &p.trace else { continue };
        let counterexample = p.expectation != stateright::Expectation::Sometimes;
        if !counterexample && !examples {
            continue;
        }
        println!();
        println!(
            "{} for \"{}\" ({} steps):",
            if counterexample {
                "Counterexample"
            } else {
                "Example"
            },
            p.name,
            trace.steps.len()
        );
        for (i, step) in trace.steps.iter().enumerate() {
            println!("  {:>3}. {step}", i + 1);
        }
        println!(
            "  Open it in the Explorer: `paxos explore {}`, then http://127.0.0.1:3000/#/steps/{}",
            loaded.argument, trace.explorer_path
        );
    }
    println!();
    let failed: Vec<&str> = judged
        .rows
        .iter()
        .filter(|r| !matches!(r.judgement, Judgement::Ok | Judgement::NotJudged))
        .map(|r| r.name.as_str())
        .chain(
            judged
                .unique_states
                .filter(|(_, j)| !matches!(j, Judgement::Ok | Judgement::NotJudged))
                .map(|_| "unique states"),
        )
        .collect();
    let violated: Vec<&str> = judged
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Violated)
        .map(|r| r.name.as_str())
        .collect();
    match (failed.is_empty(), violated.is_empty()) {
        (true, true) => println!("PASS: every property is as recorded."),
        (true, false) => println!(
            "FAIL: {} violated, as recorded for this model (the bug is caught).",
            violated.join(", ")
        ),
        (false, _) => println!("FAIL: not as recorded: {}.", failed.join(", ")),
    }
}

fn judgement_word(j: Judgement) -> &'static str {
    match j {
        Judgement::Ok => "ok",
        Judgement::Mismatch => "MISMATCH",
        Judgement::Inconclusive => "INCONCLUSIVE",
        Judgement::NotJudged => "-",
    }
}

fn print_json(loaded: &Loaded, outcome: &Outcome, judged: &Judged) {
    let value = serde_json::json!({
        "model": loaded.name,
        "summary": loaded.file.model.summary(),
        "as_recorded": judged.passed(),
        "exit_ok": judged.exit_ok(),
        "outcome": outcome,
        "judged": judged,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&value).expect("a report always serializes")
    );
}
