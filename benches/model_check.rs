//! Model-checking capacity, next to stateright's own Paxos example, in one run:
//! `cargo bench --bench model_check`. Each row runs in a child process of this benchmark so
//! that its CPU time and peak memory are its own (from `wait4`'s rusage). Configurations that
//! do not finish are stopped at [`BUDGET`] seconds and say so. Both models run on the
//! allocator the `paxos` binary runs on ([`paxos::cli::Mimalloc`]), on 2 threads unless
//! `-- --threads N` says otherwise; `-- --only NAME,NAME` runs only the rows named.
//!
//! `cargo bench --bench model_check -- --sources [CLIENTS]` instead explores the single-decree
//! model with `CLIENTS` clients (default 2) and counts how many of its unique states differ
//! only in the ghost trail, the history, the storage, the network or the clients.
mod stateright_paxos;

use paxos::model::catalogue::{self, ProtocolModel};
use paxos::model::check::{Reduction, Runnable, Settings, Strategy};
use paxos::model::multi_paxos::MultiPaxosConfig;
use paxos::model::node::NodeState;
use paxos::model::paxos::{Ghost, PaxosConfig, PaxosModelState, Trail};
use stateright::actor::Network;
use stateright::{Checker, Model};
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::process::Command;
use std::time::{Duration, Instant};

/// The allocator `paxos check` runs on, for both our model and stateright's example.
#[global_allocator]
static ALLOCATOR: paxos::cli::Mimalloc = paxos::cli::Mimalloc;

/// Checker threads, unless `--threads` says otherwise.
const THREADS: usize = 2;

/// Seconds after which a configuration is stopped (and reported as not finished).
const BUDGET: u64 = 120;

/// The configurations, by name: what each child process checks.
const RUNS: [&str; 14] = [
    "stateright-example-2-clients-dfs",
    "default-dfs",
    "default-dfs-without-forget-storage",
    "default-dfs-without-history-summary",
    "default-dfs-without-any",
    "default-bfs",
    "stateright-example-3-clients-dfs",
    "3-clients-dfs",
    "3-clients-dfs-without-history-summary",
    "roles-1-client-dfs",
    "roles-1-client-dfs-without-symmetry",
    "roles-1-client-dfs-without-any",
    "mp-3x2x3-slots-ballots-3-dfs",
    "mp-3x2x3-slots-ballots-3-loss-crash-dfs",
];

/// The model of `name` in the catalogue, and whether its file turns symmetry reduction on (as
/// `paxos check` does: a model file without `symmetry = true` is checked without it).
fn catalogued(name: &str) -> (ProtocolModel, bool) {
    let file = catalogue::load(Some(name)).expect("the model loads").file;
    (file.model, file.check.symmetry)
}

/// The single-decree model of `name` in the catalogue.
fn paxos_model(name: &str) -> PaxosConfig {
    match catalogued(name).0 {
        ProtocolModel::Paxos(config) => config,
        ProtocolModel::MultiPaxos(_) => unreachable!("{name} is a single-decree model"),
    }
}

/// The value after `flag` in the arguments, if any.
fn arg<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

/// Checks one configuration on `threads` threads; returns (unique states, states, finished).
fn child(name: &str, threads: usize) -> (usize, usize, bool) {
    let run = |(model, symmetry): (ProtocolModel, bool), strategy, without: &[Reduction]| {
        let outcome = model.run(&Settings {
            strategy,
            threads,
            timeout: Some(Duration::from_secs(BUDGET)),
            finish_when: None,
            symmetry,
            without: without.to_vec(),
            progress: false,
            seed: 0,
            walk_states: None,
        });
        (outcome.unique_states, outcome.states, !outcome.timed_out)
    };
    use Reduction::{ForgetStorage, HistorySummary, Symmetry};
    let none: &[Reduction] = &[];
    let default = || catalogued("paxos-3-servers-2-clients");
    let three = || catalogued("paxos-3-servers-3-clients");
    let roles = || catalogued("paxos-roles-2-proposers-3-acceptors-2-learners");
    let mp = |lossy, max_crashes| match catalogued("multi-paxos-3-servers-2-clients-3-slots") {
        (ProtocolModel::MultiPaxos(config), symmetry) => {
            let config = MultiPaxosConfig {
                lossy,
                max_crashes,
                ..config
            };
            (ProtocolModel::MultiPaxos(config), symmetry)
        }
        (ProtocolModel::Paxos(_), _) => unreachable!("a Multi-Paxos model"),
    };
    let theirs = |client_count| {
        let started = Instant::now();
        let checker = stateright_paxos::PaxosModelCfg {
            client_count,
            server_count: 3,
            network: Network::new_unordered_nonduplicating([]),
        }
        .into_model()
        .checker()
        .threads(threads)
        .timeout(Duration::from_secs(BUDGET))
        .spawn_dfs()
        .join();
        let finished = started.elapsed() < Duration::from_secs(BUDGET);
        (
            checker.unique_state_count(),
            checker.state_count(),
            finished,
        )
    };
    match name {
        "stateright-example-2-clients-dfs" => theirs(2),
        "stateright-example-3-clients-dfs" => theirs(3),
        "default-dfs" => run(default(), Strategy::Dfs, none),
        "default-dfs-without-forget-storage" => run(default(), Strategy::Dfs, &[ForgetStorage]),
        "default-dfs-without-history-summary" => run(default(), Strategy::Dfs, &[HistorySummary]),
        "default-dfs-without-any" => run(default(), Strategy::Dfs, &Reduction::ALL),
        "default-bfs" => run(default(), Strategy::Bfs, none),
        "3-clients-dfs" => run(three(), Strategy::Dfs, none),
        "3-clients-dfs-without-history-summary" => run(three(), Strategy::Dfs, &[HistorySummary]),
        "roles-1-client-dfs" => run(roles(), Strategy::Dfs, none),
        "roles-1-client-dfs-without-symmetry" => run(roles(), Strategy::Dfs, &[Symmetry]),
        "roles-1-client-dfs-without-any" => run(roles(), Strategy::Dfs, &Reduction::ALL),
        "mp-3x2x3-slots-ballots-3-dfs" => run(mp(false, 0), Strategy::Dfs, none),
        "mp-3x2x3-slots-ballots-3-loss-crash-dfs" => run(mp(true, 1), Strategy::Dfs, none),
        _ => panic!("unknown configuration {name}"),
    }
}

/// Runs `name` in a child process on `threads` threads; returns its report, wall and CPU
/// seconds, peak MB.
#[allow(clippy::zombie_processes)] // Reaped by `wait4`, which also reports its rusage.
fn measure(name: &str, threads: usize) -> (String, f64, f64, f64) {
    let start = Instant::now();
    let mut process = Command::new(std::env::current_exe().expect("the benchmark's own path"))
        .args(["--child", name, "--threads", &threads.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawns itself");
    let pid = process.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; both pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let wall = start.elapsed().as_secs_f64();
    let mut report = String::new();
    std::io::Read::read_to_string(process.stdout.as_mut().expect("piped stdout"), &mut report)
        .expect("reads the child's report");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    let peak_mb = usage.ru_maxrss as f64 / 1024.0;
    (report.trim().to_owned(), wall, cpu, peak_mb)
}

/// What a projection of a state keeps.
#[derive(Clone, Copy)]
struct Keep {
    trail: bool,
    history: History,
    storage: bool,
    network: bool,
    clients: bool,
}

/// What a projection keeps of the history.
#[derive(Clone, Copy)]
enum History {
    All,
    None,
    ButCalls,
    CallsOnly,
}

const ALL: Keep = Keep {
    trail: true,
    history: History::All,
    storage: true,
    network: true,
    clients: true,
};

/// A fingerprint of what `keep` keeps of `state`.
fn project(state: &PaxosModelState, keep: Keep) -> u64 {
    let mut h = DefaultHasher::new();
    for actor in &state.actor_states {
        match &***actor {
            NodeState::Protocol(node) => {
                node.state.hash(&mut h);
                if keep.trail {
                    node.trail.hash(&mut h);
                } else {
                    Trail::default().hash(&mut h);
                }
                if keep.storage {
                    node.saved.hash(&mut h);
                }
            }
            NodeState::Client(client) if keep.clients => client.hash(&mut h),
            NodeState::Client(_) => {}
        }
    }
    match keep.history {
        History::All => state.history.hash(&mut h),
        History::None => Ghost::default().hash(&mut h),
        History::ButCalls => Ghost {
            calls: Ghost::default().calls,
            ..Ghost::clone(&state.history)
        }
        .hash(&mut h),
        History::CallsOnly => state.history.calls.hash(&mut h),
    }
    state.timers_set.hash(&mut h);
    if keep.network {
        state.network.hash(&mut h);
    }
    state.crashed.hash(&mut h);
    if keep.storage {
        state.actor_storages.hash(&mut h);
    }
    h.finish()
}

/// Explores the single-decree default with `clients` clients (with the reductions not in
/// `without`) and prints how many unique states remain when each part of the state is left
/// out.
fn sources(clients: usize, without: &[Reduction]) {
    let mut model = PaxosConfig {
        clients,
        ..paxos_model("paxos-3-servers-2-clients")
    }
    .into_model();
    model.reduce(without);
    let projections: [(&str, Keep); 9] = [
        ("everything", ALL),
        (
            "without the trails",
            Keep {
                trail: false,
                ..ALL
            },
        ),
        (
            "without the history",
            Keep {
                history: History::None,
                ..ALL
            },
        ),
        (
            "without the history's calls",
            Keep {
                history: History::ButCalls,
                ..ALL
            },
        ),
        (
            "with only the history's calls",
            Keep {
                history: History::CallsOnly,
                ..ALL
            },
        ),
        (
            "without the storage",
            Keep {
                storage: false,
                ..ALL
            },
        ),
        (
            "without the network",
            Keep {
                network: false,
                ..ALL
            },
        ),
        (
            "without the clients",
            Keep {
                clients: false,
                ..ALL
            },
        ),
        (
            "without trails, history, storage",
            Keep {
                trail: false,
                history: History::None,
                storage: false,
                ..ALL
            },
        ),
    ];
    let mut seen: Vec<HashSet<u64>> = vec![HashSet::new(); projections.len()];
    let mut stack = model.init_states();
    let mut accepted_in_flight = 0usize;
    let mut in_flight = 0usize;
    seen[0].extend(stack.iter().map(|s| project(s, ALL)));
    let mut actions = Vec::new();
    while let Some(state) = stack.pop() {
        for (set, (_, keep)) in seen.iter_mut().zip(&projections).skip(1) {
            set.insert(project(&state, *keep));
        }
        for env in state.network.iter_deliverable() {
            in_flight += 1;
            if matches!(env.msg, paxos::protocol::paxos::Msg::Accepted { .. }) {
                accepted_in_flight += 1;
            }
        }
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            if model.within_boundary(&next) && seen[0].insert(project(&next, ALL)) {
                stack.push(next);
            }
        }
    }
    let total = seen[0].len();
    println!(
        "Single-decree, 3 servers, {clients} clients, without {without:?}: where the unique states come from."
    );
    for ((what, _), set) in projections.iter().zip(&seen) {
        println!(
            "  {what:<34} {:>10} unique  ({:.2}x fewer)",
            set.len(),
            total as f64 / set.len() as f64
        );
    }
    println!(
        "  messages in flight per state: {:.2}, of which Accepted: {:.2}",
        in_flight as f64 / total as f64,
        accepted_in_flight as f64 / total as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads = match arg(&args, "--threads").map(str::parse::<usize>) {
        None => THREADS,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("--threads takes a number of threads, 1 or more");
            std::process::exit(2);
        }
    };
    if let Some(name) = arg(&args, "--child") {
        let (unique, states, finished) = child(name, threads);
        println!("{unique} {states} {finished}");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--sources") {
        let clients = args.get(i + 1).and_then(|c| c.parse().ok()).unwrap_or(2);
        sources(clients, &[]);
        sources(clients, &Reduction::ALL);
        return;
    }
    let only: Option<Vec<&str>> = arg(&args, "--only").map(|names| names.split(',').collect());
    if let Some(unknown) = (only.iter().flatten()).find(|name| !RUNS.contains(name)) {
        eprintln!(
            "no configuration {unknown}; the configurations: {}",
            RUNS.join(", ")
        );
        std::process::exit(2);
    }
    println!(
        "Model checking on {threads} threads, each row one child process, stopped after {BUDGET} s."
    );
    println!(
        "{:<40} {:>10} {:>11} {:>8} {:>8} {:>8} {:>12} {:>12} {:>8}",
        "configuration",
        "unique",
        "states",
        "finished",
        "wall s",
        "CPU s",
        "unique/CPU-s",
        "states/CPU-s",
        "peak MB"
    );
    let runs = RUNS
        .iter()
        .filter(|name| only.as_ref().is_none_or(|o| o.contains(name)));
    for name in runs {
        let (report, wall, cpu, peak) = measure(name, threads);
        let mut fields = report.split_whitespace();
        let mut number = || {
            fields
                .next()
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let (unique, states) = (number(), number());
        let finished = report.ends_with("true");
        println!(
            "{:<40} {:>10} {:>11} {:>8} {:>8.2} {:>8.2} {:>12.0} {:>12.0} {:>8.1}",
            name,
            unique,
            states,
            if finished { "yes" } else { "NO" },
            wall,
            cpu,
            unique / cpu,
            states / cpu,
            peak
        );
    }
}
