//! A real 3-node cluster: separate processes on loopback, concurrent clients, `kill -9` of a
//! node in the middle of the load, restart from storage; the whole history is checked with
//! the linearizability tester the model uses. Also the node's refusals to start.
//! Reference: spec/runtime.md (D1, D2, S1-S3).
mod common;

use common::{run_binary, temp_dir, Cluster, History, Rng};
use paxos::runtime::client::{Client, Op, Reply};
use paxos::runtime::node::Protocol;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WORKERS: usize = 4;
/// A worker stops when told, or after this many operations.
const MAX_OPS_PER_WORKER: usize = 150;
/// How many answers the workers may run ahead of the fault schedule. Past that they wait for
/// the test thread to inject the next fault: on a loaded machine the test thread can be
/// descheduled long enough for the workers to spend their whole budget (after the decision
/// an answer takes about a millisecond), and a load that has stopped shows no progress.
const AHEAD: usize = 30;

/// Waits until `history` has at least `target` answered operations (at most 10 s).
fn await_answers(history: &History, target: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while history.completed.load(Ordering::SeqCst) < target {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// One cluster, one decision: WORKERS clients put their own value or get, against servers
/// picked at random, while node `victim` is killed once `kill_after` operations were answered,
/// restarted once 15 more were, and the load goes on for 15 more.
fn run_round(round: u64, victim: usize, kill_after: usize) {
    let mut cluster = Cluster::start(Protocol::Paxos, 3, &format!("kill-{round}"));
    let history = History::default();
    let servers = cluster.addresses.clone();
    let stop = AtomicBool::new(false);
    // Workers start no operation once this many were answered, until the schedule moves on.
    let limit = AtomicUsize::new(kill_after + AHEAD);
    std::thread::scope(|s| {
        for worker in 0..WORKERS {
            let history = &history;
            let servers = servers.clone();
            let (stop, limit) = (&stop, &limit);
            s.spawn(move || {
                let mut rng = Rng::new(round * 100 + worker as u64);
                let mut client =
                    Client::new(servers, Duration::from_millis(250), 8).expect("client");
                let mut recorder = history.recorder(worker, WORKERS);
                let value = (b'A' + worker as u8) as char;
                for _ in 0..MAX_OPS_PER_WORKER {
                    while history.completed.load(Ordering::SeqCst) >= limit.load(Ordering::SeqCst)
                        && !stop.load(Ordering::SeqCst)
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    client.prefer(rng.below(3) as usize);
                    let op = if rng.below(3) == 0 {
                        Op::Put(value)
                    } else {
                        Op::Get
                    };
                    recorder.call(&mut client, op);
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        // The fault, in the middle of the load.
        let started = await_answers(&history, kill_after);
        cluster.kill(victim);
        let killed_at = history.completed.load(Ordering::SeqCst);
        limit.store(killed_at + 15 + AHEAD, Ordering::SeqCst);
        // S2: the load goes on without the node.
        let without = await_answers(&history, killed_at + 15);
        if without {
            cluster.restart(victim);
        }
        let restarted_at = history.completed.load(Ordering::SeqCst);
        limit.store(restarted_at + 15 + AHEAD, Ordering::SeqCst);
        let with = without && await_answers(&history, restarted_at + 15);
        stop.store(true, Ordering::SeqCst);
        assert!(started, "round {round}: the load did not start");
        assert!(
            without,
            "round {round}: the cluster made no progress with node {victim} down"
        );
        assert!(
            with,
            "round {round}: no progress after node {victim} restarted"
        );
    });

    // S3: the restarted node catches up. Its own proposal learns the chosen value (a put
    // runs a ballot, which adopts the value a majority accepted), then reads return it.
    let mut catch_up = history.recorder(1000, 1000);
    let mut restarted = cluster.client_of(victim);
    let put = catch_up.call(&mut restarted, Op::Put('Q'));
    assert!(
        put.is_some(),
        "round {round}: the restarted node does not answer"
    );
    let acknowledged = history.acknowledged.lock().expect("workers done").clone();
    for i in 0..3 {
        let mut client = cluster.client_of(i);
        let read = catch_up.call(&mut client, Op::Get);
        let Some(Reply::GetOk(Some(value))) = read else {
            panic!("round {round}: node {i} read {read:?} after the decision");
        };
        // S1: acknowledged writes are never lost.
        for v in &acknowledged {
            assert_eq!(*v, value, "round {round}: acknowledged put of {v} lost");
        }
    }
    let completed = history.completed.load(Ordering::SeqCst);
    let unknown = history.unknown.load(Ordering::SeqCst);
    let (linearizable, len) = history.linearizable();
    eprintln!(
        "round {round}: victim {victim}, {completed} operations answered, {unknown} unanswered, \
         {len} in the history, {} acknowledged puts of {:?}",
        acknowledged.len(),
        acknowledged
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(
        linearizable,
        "round {round}: the history is not linearizable"
    );
    assert!(
        unknown * 4 <= completed,
        "round {round}: too many operations unanswered"
    );
    // D1: the restarted node still has its storage, and it parses.
    let storage = std::fs::read(cluster.storage_path(victim)).unwrap_or_default();
    assert!(
        serde_json::from_slice::<paxos::protocol::paxos::Storage>(&storage).is_ok(),
        "round {round}: the victim's storage is unreadable"
    );
}

// S1-S3: kill -9 of one node (each of the three in turn) at different points of the load:
// before the decision, around it, after it.
#[test]
fn kill_nine_in_the_middle_of_the_load_loses_nothing() {
    let started = Instant::now();
    run_round(0, 0, 0);
    run_round(1, 1, 8);
    run_round(2, 2, 40);
    assert!(started.elapsed() < Duration::from_secs(60));
}

// D2: a storage file that exists but cannot be read makes the node refuse to start, with a
// clear error and exit status 1; it does not start with empty acceptor state.
#[test]
fn corrupt_storage_file_refuses_to_start() {
    let dir = temp_dir("corrupt");
    let address = paxos::runtime::node::free_loopback_addresses(1).expect("a free port")[0];
    let path = paxos::runtime::storage::storage_path(&dir, address);
    for content in [
        &b""[..],
        b"{\"round\":1,\"promised\":",
        b"not json at all \xff",
    ] {
        std::fs::write(&path, content).expect("written");
        let data_dir = dir.to_string_lossy().into_owned();
        let args = [
            "spawn",
            "--address",
            &address.to_string(),
            "--data-dir",
            &data_dir,
            "--exit-after",
            "5",
        ];
        let (code, stderr) = run_binary(&args, &dir);
        assert_eq!(code, Some(1), "{content:?}: {stderr}");
        assert!(stderr.contains("refusing to start"), "{stderr}");
        // The file is left for the operator, untouched.
        assert_eq!(std::fs::read(&path).expect("still there"), content);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// The node's other refusals: clear message and non-zero exit status.
#[test]
fn bad_addresses_and_data_dirs_are_refused() {
    let dir = temp_dir("refusals");
    let data_dir = dir.to_string_lossy().into_owned();
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("a free port");
    let taken = taken.local_addr().expect("bound").to_string();
    let (code, stderr) = run_binary(
        &["spawn", "--address", &taken, "--data-dir", &data_dir],
        &dir,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");

    for malformed in ["127.0.0.1", "127.0.0.1:99999", "[::1]:3000", "nowhere:3000"] {
        let (code, stderr) = run_binary(&["spawn", "--address", malformed], &dir);
        assert_eq!(code, Some(2), "{malformed}: {stderr}");
        assert!(stderr.contains("malformed address"), "{stderr}");
    }

    // A data directory below a regular file cannot be created (even by root).
    let file = dir.join("a-file");
    std::fs::write(&file, b"").expect("written");
    let below = file.join("data").to_string_lossy().into_owned();
    let free =
        paxos::runtime::node::free_loopback_addresses(1).expect("a free port")[0].to_string();
    let (code, stderr) = run_binary(&["spawn", "--address", &free, "--data-dir", &below], &dir);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot be written"), "{stderr}");

    let _ = std::fs::remove_dir_all(&dir);
}

// The command-line client: answers, exit statuses, and no answer from a silent address.
#[test]
fn command_line_client_puts_and_gets() {
    let cluster = Cluster::start(Protocol::Paxos, 3, "cli");
    let servers: Vec<String> = cluster.addresses.iter().map(|a| a.to_string()).collect();
    let servers = servers.join(",");
    let dir = &cluster.data_dir;
    let (code, _) = run_binary(&["client", "--servers", &servers, "put", "K"], dir);
    assert_eq!(code, Some(0));
    let (code, _) = run_binary(&["client", "--servers", &servers, "put", "L"], dir);
    assert_eq!(code, Some(1), "a second value is refused (PutFail)");
    let mut client =
        Client::new(cluster.addresses.clone(), Duration::from_millis(200), 10).expect("client");
    assert_eq!(client.call(Op::Get).ok(), Some(Reply::GetOk(Some('K'))));
    let silent =
        paxos::runtime::node::free_loopback_addresses(1).expect("a free port")[0].to_string();
    let (code, stderr) = run_binary(
        &[
            "client",
            "--servers",
            &silent,
            "--timeout-ms",
            "50",
            "--attempts",
            "2",
            "get",
        ],
        dir,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no server answered"), "{stderr}");
}

// The benchmark harness runs end to end (a smoke test: figures come from `paxos bench`).
#[test]
fn bench_runs_and_reports() {
    let dir = temp_dir("bench");
    let log = dir.join("bench.out");
    let mut child = std::process::Command::new(common::BIN)
        .args([
            "bench",
            "--seconds",
            "0.2",
            "--clients",
            "1,4",
            "--puts",
            "2",
        ])
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the built binary runs");
    let status = common::wait_for_exit(&mut child, Duration::from_secs(30));
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{out}");
    for target in ["udp echo", "paxos get", "paxos put"] {
        assert!(out.contains(target), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
