//! A real 3-node cluster: separate processes on loopback, concurrent clients, `kill -9` of a
//! node in the middle of the load, restart from storage; the whole history is checked with
//! the linearizability tester the model uses. The same under network faults between the
//! nodes (loss, duplication, delay, reordering, a partition). Also the node's refusals to
//! start.
//! Reference: spec/runtime.md (D1, D2, S1-S3, F1, A2).
mod common;

use common::{run_binary, temp_dir, write_private, Cluster, History, Rng, Setup};
use paxos::runtime::client::{Op, Reply, UdpClient};
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
                    UdpClient::new(servers, Duration::from_millis(250), 8).expect("client");
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
    // V1-V5: the run, kill -9 and restart included, replays through the model with every
    // always property holding on every state.
    let verdict = cluster.kill_all_and_validate();
    assert!(verdict.ok, "round {round}: {}", verdict.report);
    assert!(verdict.events > 0, "round {round}: nothing traced");
    // D1: the restarted node still has its storage, and it reads (W1-W3).
    let storage = paxos::runtime::wal::load_storage::<paxos::protocol::paxos::Storage>(
        &cluster.storage_path(victim),
    );
    assert!(
        matches!(storage, Ok(Some(_))),
        "round {round}: the victim's storage is unreadable: {storage:?}"
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

/// F1: the faults every node injects into what it sends its peers, in the fault tests.
pub const FAULTS: &str = "drop=0.1,duplicate=0.1,delay=0.3,delay-ms=1-40";

/// One cluster, one decision, on a faulty network (F1): WORKERS clients put their own value
/// or get, against servers picked at random, while node `partitioned` is cut off from its
/// peers until 40 operations were answered; the load goes on for 40 more after it heals.
fn faulty_round(round: u64, partitioned: usize) {
    let started = Instant::now();
    let setup = Setup {
        faults: Some(FAULTS.to_owned()),
        ..Setup::default()
    };
    let tag = format!("paxos-faults-{round}");
    let cluster = Cluster::start_with(Protocol::Paxos, 3, &tag, setup);
    cluster.partition(partitioned);
    let history = History::default();
    let servers = cluster.addresses.clone();
    let stop = AtomicBool::new(false);
    let (during, after) = std::thread::scope(|s| {
        for worker in 0..WORKERS {
            let (history, stop, servers) = (&history, &stop, servers.clone());
            s.spawn(move || {
                let mut rng = Rng::new(round * 100 + 50 + worker as u64);
                let mut client =
                    UdpClient::new(servers, Duration::from_millis(250), 8).expect("client");
                let mut recorder = history.recorder(worker, WORKERS);
                let value = (b'A' + worker as u8) as char;
                for _ in 0..MAX_OPS_PER_WORKER {
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
                }
            });
        }
        // S2 with a partition: the two other nodes go on.
        let during = await_answers(&history, 40);
        cluster.heal(partitioned);
        let healed_at = history.completed.load(Ordering::SeqCst);
        let after = await_answers(&history, healed_at + 40);
        stop.store(true, Ordering::SeqCst);
        (during, after)
    });
    assert!(
        during,
        "round {round}: no progress while node {partitioned} was cut off"
    );
    assert!(
        after,
        "round {round}: no progress after the partition healed"
    );

    // Progress after healing on the node that was cut off: on its own, it learns the chosen
    // value (its put runs a ballot with its peers) and reads it.
    let mut checks = history.recorder(1000, 1000);
    let mut alone = cluster.client_of(partitioned);
    let put = checks.call(&mut alone, Op::Put('Q'));
    assert!(
        put.is_some(),
        "round {round}: node {partitioned} does not answer after healing"
    );
    let acknowledged = history.acknowledged.lock().expect("workers done").clone();
    for i in 0..3 {
        let mut client = cluster.client_of(i);
        let read = checks.call(&mut client, Op::Get);
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
    let logs = cluster.logs();
    let [datagrams, lost, duplicated, delayed] = cluster.fault_totals();
    eprintln!(
        "round {round}: node {partitioned} cut off then healed: {completed} operations \
         answered, {unknown} unanswered, {len} in the history, {} acknowledged puts; at least \
         {datagrams} datagrams between nodes, {lost} lost, {duplicated} duplicated, {delayed} \
         copies delayed; {:?}",
        acknowledged.len(),
        started.elapsed()
    );
    assert!(
        linearizable,
        "round {round}: the history is not linearizable"
    );
    assert!(
        logs.contains("partition healed"),
        "round {round}: the partition never took effect"
    );
    assert!(
        lost > 0 && duplicated > 0 && delayed > 0,
        "round {round}: the fault layer did nothing"
    );
    assert!(
        !logs.contains("panicked"),
        "round {round}: a node panicked:\n{logs}"
    );
}

// F1 with S1-S3 and linearizable: on a network that loses, duplicates, delays and reorders
// the datagrams between the nodes, with one node cut off from its peers for the first part
// of the load (each node in turn), the history is linearizable, every acknowledged put is
// what every node reads, and after the partition heals the cluster makes progress: more
// operations are answered, and the node that was cut off answers on its own.
#[test]
fn a_faulty_network_loses_nothing() {
    let started = Instant::now();
    for round in 0..3 {
        faulty_round(round, round as usize);
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}

// A2: a cluster key file that is missing, unreadable or too short makes the node refuse to
// start with a message saying what to do, exit status 2 (a bad command line, as for a model
// file `paxos check` cannot use); a good one starts it, with or without a trailing newline.
#[test]
fn bad_cluster_key_files_are_refused() {
    let dir = temp_dir("keys");
    let free = paxos::runtime::node::free_loopback_addresses(1).expect("a free port")[0];
    let data_dir = dir.join("data").to_string_lossy().into_owned();
    let spawn = |key: &std::path::Path, exit_after: &str| {
        let key = key.to_string_lossy().into_owned();
        let address = free.to_string();
        let args = [
            "spawn",
            "--address",
            &address,
            "--data-dir",
            &data_dir,
            "--cluster-key-file",
            &key,
            "--exit-after",
            exit_after,
        ];
        run_binary(&args, &dir)
    };
    let (code, stderr) = spawn(&dir.join("missing.key"), "5");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read cluster key file") && stderr.contains("head -c 32"),
        "{stderr}"
    );
    let short = dir.join("short.key");
    write_private(&short, b"too short\n");
    let (code, stderr) = spawn(&short, "5");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("holds 10 bytes, fewer than 32"), "{stderr}");
    let (code, stderr) = spawn(&dir, "5");
    assert_eq!(code, Some(2), "a directory: {stderr}");
    let good = dir.join("good.key");
    write_private(&good, b"0123456789abcdef0123456789abcdef\n");
    let (code, stderr) = spawn(&good, "0.5");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("authenticated with the cluster key"),
        "{stderr}"
    );
    assert!(!stderr.contains("open to other users"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
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
        UdpClient::new(cluster.addresses.clone(), Duration::from_millis(200), 10).expect("client");
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
