//! Model-checking speed and memory, next to stateright's own Paxos example, in one run:
//! `cargo bench --bench model_check`. Each configuration runs in a child process of this
//! benchmark so that its CPU time and peak memory are its own (from `wait4`'s rusage).
mod stateright_paxos;

use paxos::model::check::{self, Settings, Strategy};
use paxos::model::harness::NetworkKind;
use paxos::model::paxos::{Layout, PaxosConfig};
use stateright::actor::Network;
use stateright::{Checker, Model};
use std::process::Command;
use std::time::Instant;

const THREADS: usize = 2;

/// The configurations, by name: what each child process checks.
const RUNS: [&str; 6] = [
    "stateright-example-bfs",
    "stateright-example-dfs",
    "default-bfs",
    "default-dfs",
    "roles-1-client-dfs",
    "roles-1-client-dfs-symmetry",
];

/// Checks one configuration; returns (unique states, states).
fn child(name: &str) -> (usize, usize) {
    let ours = |config: PaxosConfig, strategy, symmetry| {
        let settings = Settings {
            strategy,
            threads: THREADS,
            timeout: None,
            finish_when: None,
            symmetry,
            progress: false,
            seed: 0,
        };
        let outcome = check::run(config.into_model(), &settings);
        (outcome.unique_states, outcome.states)
    };
    let default = || {
        let loaded = paxos::model::catalogue::load(None).expect("the embedded default loads");
        match loaded.file.model {
            paxos::model::catalogue::ProtocolModel::Paxos(config) => config,
            _ => unreachable!("the default model is single-decree Paxos"),
        }
    };
    let roles = PaxosConfig {
        layout: Layout::Roles {
            proposers: 2,
            acceptors: 3,
            learners: 2,
        },
        clients: 1,
        readers: 0,
        put_only: false,
        network: NetworkKind::UnorderedNonduplicating,
        lossy: false,
        max_crashes: 0,
        max_round: Some(1),
        ballots: None,
        read_elsewhere: false,
        retries: 0,
        variant: Default::default(),
    };
    let theirs = || {
        stateright_paxos::PaxosModelCfg {
            client_count: 2,
            server_count: 3,
            network: Network::new_unordered_nonduplicating([]),
        }
        .into_model()
        .checker()
        .threads(THREADS)
    };
    match name {
        "stateright-example-bfs" => {
            let c = theirs().spawn_bfs().join();
            (c.unique_state_count(), c.state_count())
        }
        "stateright-example-dfs" => {
            let c = theirs().spawn_dfs().join();
            (c.unique_state_count(), c.state_count())
        }
        "default-bfs" => ours(default(), Strategy::Bfs, false),
        "default-dfs" => ours(default(), Strategy::Dfs, false),
        "roles-1-client-dfs" => ours(roles, Strategy::Dfs, false),
        "roles-1-client-dfs-symmetry" => ours(roles, Strategy::Dfs, true),
        _ => panic!("unknown configuration {name}"),
    }
}

/// Runs `name` in a child process; returns its report and rusage.
#[allow(clippy::zombie_processes)] // Reaped by `wait4`, which also reports its rusage.
fn measure(name: &str) -> (String, f64, f64, f64) {
    let start = Instant::now();
    let mut process = Command::new(std::env::current_exe().expect("the benchmark's own path"))
        .args(["--child", name])
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let (unique, states) = child(&args[i + 1]);
        println!("{unique} {states}");
        return;
    }
    println!("Model checking on {THREADS} threads; each row is one child process.");
    println!(
        "{:<29} {:>10} {:>11} {:>7} {:>7} {:>13} {:>13} {:>8}",
        "configuration",
        "unique",
        "states",
        "wall s",
        "CPU s",
        "unique/CPU-s",
        "states/CPU-s",
        "peak MB"
    );
    for name in RUNS {
        let (report, wall, cpu, peak) = measure(name);
        let mut fields = report
            .split_whitespace()
            .map(|f| f.parse::<f64>().unwrap_or(0.0));
        let unique = fields.next().unwrap_or(0.0);
        let states = fields.next().unwrap_or(0.0);
        println!(
            "{:<29} {:>10} {:>11} {:>7.2} {:>7.2} {:>13.0} {:>13.0} {:>8.1}",
            name,
            unique,
            states,
            wall,
            cpu,
            unique / cpu,
            states / cpu,
            peak
        );
    }
}
