//! The cluster always comes back (spec/runtime.md D2), on a real loopback network: a whole cluster
//! restarted behind a long log answers again, a leader's death costs about one election, lost
//! `Accept`s are sent again, and a fault-free run keeps one leader.
//!
//! The figures of docs/benchmarks.md come from the same tests with larger sizes (the knobs are
//! environment variables, the defaults keep CI short):
//!
//! ```text
//! AVAIL_LOG=100000 AVAIL_CLIENTS=16 AVAIL_SECS=60 \
//!     cargo test --release --test availability -- --nocapture --test-threads 1
//! ```
//!
//! Reference: spec/multi-paxos.md, "Availability and liveness"; spec/runtime.md D1, D2, F1.
mod common;

use common::{Cluster, Setup};
use paxos::protocol::multi_paxos::{Ballot, KvOp, KvRet, Storage};
use paxos::runtime::bench::{fabricate_multi_paxos_log, FABRICATED_KEYS};
use paxos::runtime::client::{MultiPaxosCodec, UdpClient};
use paxos::runtime::node::Protocol;
use paxos::runtime::wal::load_storage;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cluster at a time: the figures are timings.
static SERIAL: Mutex<()> = Mutex::new(());

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A client of every node of `cluster`.
fn client(cluster: &Cluster, nodes: &[usize]) -> UdpClient {
    let servers: Vec<SocketAddrV4> = nodes.iter().map(|&i| cluster.addresses[i]).collect();
    UdpClient::new(servers, Duration::from_millis(700), 40).expect("client")
}

/// The highest ballot any node's storage promised, and its node.
fn promised(cluster: &Cluster) -> (Ballot, Option<usize>) {
    let highest = (0..cluster.addresses.len())
        .filter_map(|i| {
            load_storage::<Storage>(&cluster.storage_path(i))
                .ok()
                .flatten()
        })
        .map(|saved| saved.promised)
        .max()
        .unwrap_or_default();
    let proposer = SocketAddrV4::from(highest.proposer);
    (
        highest,
        cluster.addresses.iter().position(|&a| a == proposer),
    )
}

/// Appends `value` to [`KEY`] through `client`: the time to the committed answer, and the length
/// of the value after it.
/// The first key of the fabricated log: slots 0, 1000, 2000 ... appended to it.
const KEY: char = '\u{4E00}';

fn timed_append(cluster: &Cluster, client: &mut UdpClient, value: char) -> (Duration, usize) {
    let started = Instant::now();
    let ret = client
        .call_with::<MultiPaxosCodec>(KvOp::Append { key: KEY, value })
        .unwrap_or_else(|e| panic!("unanswered ({e:?}):\n{}", cluster.logs()));
    let KvRet::AppendOk { value } = ret else {
        panic!("an append is answered with AppendOk, not {ret:?}");
    };
    (started.elapsed(), value.chars().count())
}

// Whole-cluster restart (kill -9 of all three, then start them) behind a long log: no datagram
// grows with the log (phase 1 and catch-up in pieces), and each node relearns its decided
// prefix from its own storage, so the new leader's phase 1 covers only the undecided tail.
// Then the leader is killed: the others elect a new one within a few heartbeats.
#[test]
fn whole_cluster_restart_behind_a_long_log_answers_and_survives_its_leader() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let log = knob("AVAIL_LOG", 10_000) as u32;
    let mut cluster = Cluster::start(Protocol::MultiPaxos, 3, "availability-restart");
    for i in 0..3 {
        cluster.kill(i);
    }
    fabricate_multi_paxos_log(&cluster.data_dir, &cluster.addresses, log).expect("storage");
    let started = Instant::now();
    for i in 0..3 {
        cluster.launch(i);
    }
    let mut everyone = client(&cluster, &[0, 1, 2]);
    let (_, length) = timed_append(&cluster, &mut everyone, 'b');
    let restart = started.elapsed();
    let fabricated = log.div_ceil(FABRICATED_KEYS) as usize;
    assert_eq!(length, fabricated + 1, "the store was rebuilt from the log");
    eprintln!("FIGURE restart: log={log} first committed answer {restart:?} after the start");

    let (_, leader) = promised(&cluster);
    let leader = leader.expect("a node leads");
    cluster.kill(leader);
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let mut survivors = client(&cluster, &others);
    let (recovery, length) = timed_append(&cluster, &mut survivors, 'c');
    assert_eq!(length, fabricated + 2);
    eprintln!("FIGURE leader killed: log={log} first committed answer {recovery:?} after the kill");
    assert!(
        restart < Duration::from_secs(20) && recovery < Duration::from_secs(20),
        "restart {restart:?}, recovery {recovery:?}\n{}",
        cluster.logs()
    );
}

// Lost Accepts (and Accepteds) are sent again by the leader's tick: with a fifth of the
// datagrams between the nodes lost (F1), every append is answered and read back.
#[test]
fn lost_accepts_are_sent_again() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup {
        faults: Some("drop=0.2".to_owned()),
        ..Setup::default()
    };
    let cluster = Cluster::start_with(Protocol::MultiPaxos, 3, "availability-lossy", setup);
    let mut client = client(&cluster, &[0, 1, 2]);
    let appends = 60;
    for n in 0..appends {
        let value = char::from_u32(0x100 + n).expect("a char");
        let ret = client.call_with::<MultiPaxosCodec>(KvOp::Append { key: 'y', value });
        assert!(
            ret.is_ok(),
            "append {n} unanswered: {ret:?}\n{}",
            cluster.logs()
        );
    }
    let ret = client
        .call_with::<MultiPaxosCodec>(KvOp::Get { key: 'y' })
        .expect("a read is answered");
    let KvRet::GetOk { value: Some(value) } = ret else {
        panic!("the appends are read back, not {ret:?}");
    };
    for n in 0..appends {
        let value_n = char::from_u32(0x100 + n).expect("a char");
        assert!(value.contains(value_n), "append {n} lost");
    }
    let [datagrams, lost, ..] = cluster.fault_totals();
    eprintln!("lossy run: {appends} appends answered; {lost} of {datagrams} datagrams lost");
}

// A fault-free run under load keeps its leader: followers hear its heartbeats and never
// campaign (the highest ballot promised does not change).
#[test]
fn fault_free_run_keeps_one_leader() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let clients = knob("AVAIL_CLIENTS", 8) as usize;
    let seconds = knob("AVAIL_SECS", 12);
    let cluster = Cluster::start(Protocol::MultiPaxos, 3, "availability-stable");
    let (before, _) = promised(&cluster);
    let stop = AtomicBool::new(false);
    let answered = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for k in 0..clients {
            let (stop, answered) = (&stop, &answered);
            let mut client = client(&cluster, &[k % 3, (k + 1) % 3, (k + 2) % 3]);
            s.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let op = if n % 2 == 0 {
                        KvOp::Append {
                            key: 'z',
                            value: 'z',
                        }
                    } else {
                        KvOp::Get { key: 'z' }
                    };
                    if client.call_with::<MultiPaxosCodec>(op).is_ok() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let (after, _) = promised(&cluster);
    let changes = after.round - before.round;
    eprintln!(
        "FIGURE stable leader: {clients} clients, {seconds} s, {} answers, {changes} leader \
         changes",
        answered.load(Ordering::Relaxed)
    );
    assert_eq!(
        before,
        after,
        "the leader changed without faults\n{}",
        cluster.logs()
    );
}
