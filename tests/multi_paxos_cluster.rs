//! Multi-Paxos on a real loopback network: three node processes, concurrent clients, one node
//! `kill -9`ed mid-load and restarted from its storage file. Every answer is recorded for
//! stateright's `LinearizabilityTester` against the model's key-value specification ([`Kv`]),
//! and every acknowledged append must be read back at the end.
//!
//! The same history checks on a network that loses, duplicates, delays and reorders the
//! datagrams between the nodes and cuts the leader off for a while (F1), with a cluster key,
//! on multi-character, non-ASCII keys and values; and the size limits of keys and values end
//! to end, through `paxos client` and raw datagrams.
//!
//! Reference: spec/runtime.md D1 (storage on disk before the message that depends on it), F1,
//! A1, and the model's "linearizable" property, now on UDP.
mod common;

use common::{Cluster, Setup};
use paxos::protocol::multi_paxos::{
    ClientCommand, Kv, KvOp, KvRet, Msg, Storage, MAX_KEY_BYTES, MAX_VALUE_BYTES,
};
use paxos::runtime::client::{MultiPaxosCodec, UdpClient};
use paxos::runtime::node::Protocol;
use paxos::runtime::wal::load_storage;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WORKERS: usize = 4;
/// The kill-and-restart test's keys: one character each, so that `paxos validate` replays its
/// traces through the model, whose keys and values are `char`s. Four of them, so that no value
/// reaches the store's 1,024-byte limit (which the model's `char` store does not have): at most
/// 4 x 400 x 2/3 appends of a 2-byte character, 534 bytes per key.
const KEYS: [&str; 4] = ["x", "y", "z", "w"];
/// The faulty-network test's keys: strings, not ASCII.
const STRING_KEYS: [&str; 3] = ["clé ✓", "ключ", "鍵-2"];

/// A Multi-Paxos operation on UDP.
type Op = KvOp<String>;

/// The leader: the proposer of the highest ballot any node's storage promised.
fn leader(cluster: &Cluster) -> Option<usize> {
    let highest = (0..cluster.addresses.len())
        .filter_map(|i| {
            load_storage::<Storage<String>>(&cluster.storage_path(i))
                .ok()
                .flatten()
        })
        .map(|saved| saved.promised)
        .max()?;
    let proposer = SocketAddrV4::from(highest.proposer);
    cluster.addresses.iter().position(|&a| a == proposer)
}

/// A read of `key`.
fn get(key: &str) -> Op {
    KvOp::Get {
        key: key.to_owned(),
    }
}

/// A client of every node, starting with node `first`. Its per-attempt timeout exceeds the
/// election timeout: a follower restarts its leader timer on each request it cannot serve.
fn client(cluster: &Cluster, first: usize) -> UdpClient {
    let mut client =
        UdpClient::new(cluster.addresses.clone(), Duration::from_millis(700), 6).expect("client");
    client.prefer(first);
    client
}

/// The recorded history: logical thread ids, a new one after an unanswered operation (it
/// stays in flight for ever: it may still take effect).
struct History {
    tester: Mutex<LinearizabilityTester<usize, Kv<String>>>,
    /// (key, value) of every acknowledged append.
    acknowledged: Mutex<Vec<(String, String)>>,
    unknown: AtomicUsize,
}

impl History {
    fn call(&self, thread: &mut usize, client: &mut UdpClient, op: Op) -> Option<KvRet> {
        self.tester
            .lock()
            .expect("no recorder panicked")
            .on_invoke(*thread, op.clone())
            .expect("one operation at a time per logical thread");
        match client.call_with::<MultiPaxosCodec>(op.clone()) {
            Ok(ret) => {
                self.tester
                    .lock()
                    .expect("no recorder panicked")
                    .on_return(*thread, ret.clone())
                    .expect("an invocation is in flight");
                if let (KvOp::Append { key, value }, KvRet::AppendOk { .. }) = (&op, &ret) {
                    self.acknowledged
                        .lock()
                        .expect("no recorder panicked")
                        .push((key.clone(), value.clone()));
                }
                Some(ret)
            }
            Err(_) => {
                self.unknown.fetch_add(1, Ordering::Relaxed);
                *thread += WORKERS;
                None
            }
        }
    }
}

// Linearizable (the model's property) across a kill -9 and restart of one node, on UDP; D1:
// the restarted node's promises and accepts come back from its storage file.
#[test]
fn acknowledged_writes_survive_kill_and_restart() {
    let started = Instant::now();
    // Ready: a leader is elected and every node answers a read.
    let mut cluster = Cluster::start(Protocol::MultiPaxos, 3, "multi-paxos-cluster");

    let history = History {
        tester: Mutex::new(LinearizabilityTester::new(Kv::default())),
        acknowledged: Mutex::new(Vec::new()),
        unknown: AtomicUsize::new(0),
    };
    let stop = AtomicBool::new(false);
    // Every append writes a value no other append writes, so a read names the appends it saw.
    let next_value = AtomicU32::new(0x100);
    let fresh = || {
        let c = char::from_u32(next_value.fetch_add(1, Ordering::Relaxed)).expect("a char");
        c.to_string()
    };
    std::thread::scope(|s| {
        for worker in 0..WORKERS {
            let (history, stop, fresh) = (&history, &stop, &fresh);
            let mut client = client(&cluster, worker);
            s.spawn(move || {
                let mut thread = worker;
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 400 {
                    let key = KEYS[(worker + n) % KEYS.len()].to_owned();
                    let op = if n % 3 == 2 {
                        KvOp::Get { key }
                    } else {
                        KvOp::Append {
                            key,
                            value: fresh(),
                        }
                    };
                    history.call(&mut thread, &mut client, op);
                    n += 1;
                    // Paced, so that the 400 operations outlast the kill and the restart
                    // (about 4 s) on a fast cluster: unpaced, they were all answered before
                    // the restart.
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
        // kill -9 the leader mid-load,
        // then restart it from its storage.
        let acked = || history.acknowledged.lock().expect("recorded").len();
        std::thread::sleep(Duration::from_millis(800));
        let victim = leader(&cluster).expect("a leader is elected");
        cluster.kill(victim);
        let at_kill = acked();
        std::thread::sleep(Duration::from_millis(1500));
        cluster.restart(victim);
        let at_restart = acked();
        std::thread::sleep(Duration::from_millis(1500));
        let at_stop = acked();
        stop.store(true, Ordering::Relaxed);
        eprintln!(
            "acknowledged appends: {at_kill} at the kill, {at_restart} at the restart, \
             {at_stop} at the end"
        );
        // Mid-load: appends were acknowledged before the kill, while the node was down and
        // after its restart.
        assert!(
            0 < at_kill && at_kill < at_restart && at_restart < at_stop,
            "not mid-load: {at_kill}, {at_restart}, {at_stop}"
        );
    });

    // Every acknowledged append is read back.
    let acknowledged = history.acknowledged.lock().expect("recorded").clone();
    let mut reader = client(&cluster, 0);
    let mut thread = usize::MAX / 2;
    for key in KEYS {
        let read = history.call(&mut thread, &mut reader, get(key));
        let Some(KvRet::GetOk { value }) = read else {
            panic!("no answer to the final read of {key}: {read:?}");
        };
        let value = value.unwrap_or_default();
        for (_, appended) in acknowledged.iter().filter(|(k, _)| k == key) {
            assert!(
                value.contains(appended.as_str()),
                "acknowledged append {appended:?} to {key} lost: read {value:?}"
            );
        }
    }
    assert!(
        acknowledged.len() >= 20,
        "too few acknowledged appends to mean anything: {} (unknown {})",
        acknowledged.len(),
        history.unknown.load(Ordering::Relaxed)
    );
    let tester = history.tester.lock().expect("recorded").clone();
    let len = tester.len();
    eprintln!(
        "operations={len}, acknowledged appends={}, unanswered={}",
        acknowledged.len(),
        history.unknown.load(Ordering::Relaxed)
    );
    let verdict = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || tester.is_consistent())
        .expect("a checker thread")
        .join()
        .expect("the checker does not panic");
    assert!(
        verdict,
        "linearizable: the history of {len} operations is not"
    );
    for i in 0..3 {
        assert!(cluster.running(i), "node {i} stopped on its own");
    }
    // V1-V5: the run, kill -9 and restart of the leader included, replays through the model
    // with every always property, the refinement included, holding on every state.
    assert!(started.elapsed() < Duration::from_secs(60));
    let verdict = cluster.kill_all_and_validate();
    assert!(verdict.ok, "{}", verdict.report);
    assert!(verdict.events > 0, "nothing traced");
    eprintln!("{}", verdict.report.lines().next().unwrap_or_default());
}

/// Waits until `count()` reaches `target` (at most `within`).
fn await_count(count: impl Fn() -> usize, target: usize, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while count() < target {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// F1: the faults every node injects into what it sends its peers.
const FAULTS: &str = "drop=0.1,duplicate=0.1,delay=0.3,delay-ms=1-40";

// F1 with the model's "linearizable" property: with a cluster key (A1), on a network that
// loses, duplicates (a duplicate of a sealed message is a replay, A3), delays and reorders the
// datagrams between the nodes, the leader is cut off from its peers mid-load and healed; the
// others elect a new leader and go on, the cluster makes progress after the partition heals,
// the node that was cut off answers again, the history is linearizable and every
// acknowledged append is read back.
#[test]
fn a_faulty_network_loses_no_acknowledged_write() {
    let started = Instant::now();
    let setup = Setup {
        key: Some(b"multi-paxos fault test: a key 32+".to_vec()),
        faults: Some(FAULTS.to_owned()),
        ..Setup::default()
    };
    let cluster = Cluster::start_with(Protocol::MultiPaxos, 3, "multi-paxos-faults", setup);
    let history = History {
        tester: Mutex::new(LinearizabilityTester::new(Kv::default())),
        acknowledged: Mutex::new(Vec::new()),
        unknown: AtomicUsize::new(0),
    };
    let stop = AtomicBool::new(false);
    // Multi-character, not ASCII, and delimited, so that one never reads as part of another.
    let next_value = AtomicU32::new(0);
    let fresh = || format!("⟨é{}⟩", next_value.fetch_add(1, Ordering::Relaxed));
    let acked = || history.acknowledged.lock().expect("recorded").len();
    let (victim, counts) = std::thread::scope(|s| {
        for worker in 0..WORKERS {
            let (history, stop, fresh) = (&history, &stop, &fresh);
            let mut client = client(&cluster, worker);
            s.spawn(move || {
                let mut thread = worker;
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 400 {
                    let key = STRING_KEYS[(worker + n) % STRING_KEYS.len()].to_owned();
                    let op = if n % 3 == 2 {
                        KvOp::Get { key }
                    } else {
                        KvOp::Append {
                            key,
                            value: fresh(),
                        }
                    };
                    history.call(&mut thread, &mut client, op);
                    n += 1;
                }
            });
        }
        let within = Duration::from_secs(15);
        let before = await_count(acked, 30, within);
        // Cut the leader off, until the others have gone on without it.
        let victim = leader(&cluster).expect("a leader is elected");
        cluster.partition(victim);
        let at_partition = acked();
        let during = before && await_count(acked, at_partition + 30, within);
        cluster.heal(victim);
        let at_heal = acked();
        let after = during && await_count(acked, at_heal + 30, within);
        stop.store(true, Ordering::Relaxed);
        let at_stop = acked();
        eprintln!(
            "acknowledged appends: {at_partition} when node {victim} (the leader) was cut off, \
             {at_heal} when it healed, {at_stop} at the end"
        );
        (victim, (before, during, after))
    });
    let (before, during, after) = counts;
    assert!(before, "no progress before the partition");
    assert!(during, "no progress with the leader cut off");
    assert!(after, "no progress after the partition healed");

    // The node that was cut off answers on its own again (it forwards to the leader, or
    // leads), and every acknowledged append is read back.
    let mut alone = UdpClient::new(
        vec![cluster.addresses[victim]],
        Duration::from_millis(700),
        10,
    )
    .expect("client");
    let mut thread = usize::MAX / 2;
    let read = history.call(&mut thread, &mut alone, get(STRING_KEYS[0]));
    assert!(
        read.is_some(),
        "node {victim} does not answer after healing"
    );
    let acknowledged = history.acknowledged.lock().expect("recorded").clone();
    let mut reader = client(&cluster, 0);
    for key in STRING_KEYS {
        let read = history.call(&mut thread, &mut reader, get(key));
        let Some(KvRet::GetOk { value }) = read else {
            panic!("no answer to the final read of {key}: {read:?}");
        };
        let value = value.unwrap_or_default();
        for (_, appended) in acknowledged.iter().filter(|(k, _)| k == key) {
            assert!(
                value.contains(appended.as_str()),
                "acknowledged append {appended:?} to {key} lost: read {value:?}"
            );
        }
    }
    let tester = history.tester.lock().expect("recorded").clone();
    let len = tester.len();
    let [datagrams, lost, duplicated, delayed] = cluster.fault_totals();
    eprintln!(
        "operations={len}, acknowledged appends={}, unanswered={}; at least {datagrams} \
         datagrams between nodes, {lost} lost, {duplicated} duplicated, {delayed} copies \
         delayed; {:?}",
        acknowledged.len(),
        history.unknown.load(Ordering::Relaxed),
        started.elapsed()
    );
    let verdict = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || tester.is_consistent())
        .expect("a checker thread")
        .join()
        .expect("the checker does not panic");
    assert!(
        verdict,
        "linearizable: the history of {len} operations is not"
    );
    let logs = cluster.logs();
    assert!(
        lost > 0 && duplicated > 0 && delayed > 0,
        "the fault layer did nothing"
    );
    assert!(
        logs.contains("partition healed"),
        "the partition never took effect"
    );
    assert!(
        !logs.contains("bad MAC") && !logs.contains("unauthenticated"),
        "a genuine peer message was refused:\n{logs}"
    );
    assert!(!logs.contains("panicked"), "a node panicked:\n{logs}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// Runs `paxos client --protocol multi-paxos` against `cluster` with `op`: exit code and
/// standard output.
fn paxos_client(cluster: &Cluster, op: &[&str]) -> (Option<i32>, String) {
    let servers: Vec<String> = cluster.addresses.iter().map(|a| a.to_string()).collect();
    let servers = servers.join(",");
    let mut args = vec![
        "client",
        "--protocol",
        "multi-paxos",
        "--servers",
        &servers,
        "--timeout-ms",
        "700",
    ];
    args.extend_from_slice(op);
    let out = std::process::Command::new(common::BIN)
        .args(&args)
        .output()
        .expect("the built binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), stdout)
}

// S1-S3 (spec/runtime.md, "Key and value sizes"), end to end: multi-character, non-ASCII keys
// and values through `paxos client` and the client library, a key and a value at their
// limits, a raw request over them dropped by every server (which go on serving), and an
// append past the stored limit refused with `TooLong`, changing nothing.
#[test]
fn string_keys_and_values_and_their_limits_end_to_end() {
    let cluster = Cluster::start(Protocol::MultiPaxos, 3, "multi-paxos-strings");
    let key = "user:1 name";
    assert_eq!(
        paxos_client(&cluster, &["put", key, "Zoë"]),
        (Some(0), "PutOk\n".to_owned())
    );
    assert_eq!(
        paxos_client(&cluster, &["append", key, " Ångström"]),
        (Some(0), "AppendOk: Zoë Ångström\n".to_owned())
    );
    assert_eq!(
        paxos_client(&cluster, &["get", key]),
        (Some(0), "GetOk: Zoë Ångström\n".to_owned())
    );

    // At the limits: 128 two-byte characters make a 256-byte key, 512 a 1,024-byte value.
    let mut client = client(&cluster, 0);
    let (widest_key, widest_value) = (
        "é".repeat(MAX_KEY_BYTES / 2),
        "ü".repeat(MAX_VALUE_BYTES / 2),
    );
    let put = KvOp::Put {
        key: widest_key.clone(),
        value: widest_value.clone(),
    };
    assert_eq!(
        client.call_with::<MultiPaxosCodec>(put).ok(),
        Some(KvRet::PutOk)
    );
    let read = client.call_with::<MultiPaxosCodec>(get(&widest_key)).ok();
    assert_eq!(
        read,
        Some(KvRet::GetOk {
            value: Some(widest_value.clone())
        })
    );

    // S2: a request one byte over the value limit, sent raw to every server, is dropped:
    // no answer, a log line, and the same socket's next request within the limits is served.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a client socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("a timeout");
    let std::net::SocketAddr::V4(me) = socket.local_addr().expect("bound") else {
        unreachable!("bound to an IPv4 address");
    };
    let raw = |request: u64, value: String| {
        let msg = Msg::Request {
            command: ClientCommand {
                client: stateright::actor::Id::from(me),
                request,
                op: KvOp::Put {
                    key: "raw".to_owned(),
                    value,
                },
            },
        };
        serde_json::to_vec(&msg).expect("encodes")
    };
    let answers = |bytes: &[u8]| {
        let mut replies = Vec::new();
        for _ in 0..10 {
            for server in &cluster.addresses {
                socket.send_to(bytes, server).expect("sent");
            }
            let mut buf = [0u8; 65_535];
            while let Ok((n, _)) = socket.recv_from(&mut buf) {
                replies.push(serde_json::from_slice::<Msg<String>>(&buf[..n]).expect("decodes"));
            }
            if !replies.is_empty() {
                break;
            }
        }
        replies
    };
    let oversized = raw(1, "v".repeat(MAX_VALUE_BYTES + 1));
    assert_eq!(
        answers(&oversized),
        vec![],
        "an oversized request is not answered"
    );
    let logs = cluster.logs();
    assert!(
        logs.contains("Dropped client request over the size limits: the value is 1025 bytes"),
        "{logs}"
    );
    let within = answers(&raw(2, "v".to_owned()));
    assert!(
        within.iter().all(|m| *m
            == Msg::Reply {
                request: 2,
                ret: KvRet::PutOk
            })
            && !within.is_empty(),
        "{within:?}"
    );

    // S3: the stored value may not outgrow the limit either.
    let append = KvOp::Append {
        key: widest_key.clone(),
        value: "!".to_owned(),
    };
    assert_eq!(
        client.call_with::<MultiPaxosCodec>(append).ok(),
        Some(KvRet::TooLong {
            bytes: MAX_VALUE_BYTES + 1,
            limit: MAX_VALUE_BYTES
        })
    );
    let read = client.call_with::<MultiPaxosCodec>(get(&widest_key)).ok();
    assert_eq!(
        read,
        Some(KvRet::GetOk {
            value: Some(widest_value)
        }),
        "unchanged"
    );
    let (code, stdout) = paxos_client(&cluster, &["append", &widest_key, "!"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.starts_with("TooLong: not done"), "{stdout}");

    let mut cluster = cluster;
    for i in 0..3 {
        assert!(cluster.running(i), "node {i} stopped");
    }
    assert!(!cluster.logs().contains("panicked"));
}

// Snapshots on UDP: a node that was down while the others applied more than
// `node::SNAPSHOT_AFTER` slots finds them truncated below a snapshot, catches up from that
// snapshot (in pieces of `guard::multi_paxos::SNAPSHOT_PIECE` entries) and keeps it as its
// own; the cluster then serves every write, whoever leads.
#[test]
fn a_node_behind_a_snapshot_catches_up_from_it() {
    use paxos::runtime::node::SNAPSHOT_AFTER;
    let mut cluster = Cluster::start(Protocol::MultiPaxos, 3, "multi-paxos-snapshot");
    let leader_index = leader(&cluster).expect("a leader is elected");
    let behind = (leader_index + 1) % 3;
    cluster.kill(behind);
    let mut writer = client(&cluster, leader_index);
    // One client, one slot per put: more slots than a snapshot covers, each its own key.
    let puts = SNAPSHOT_AFTER as usize + 40;
    for i in 0..puts {
        let op = KvOp::Put {
            key: format!("key {i}"),
            value: format!("value {i}"),
        };
        let ret = writer.call_with::<MultiPaxosCodec>(op);
        assert!(matches!(ret, Ok(KvRet::PutOk)), "put {i}: {ret:?}");
    }
    let leader_saved = load_storage::<Storage<String>>(&cluster.storage_path(leader_index))
        .expect("readable")
        .expect("saved");
    assert!(
        leader_saved.snapshot.upto >= SNAPSHOT_AFTER,
        "the leader took a snapshot"
    );
    assert!(
        leader_saved
            .accepted
            .keys()
            .all(|s| *s >= leader_saved.snapshot.upto),
        "and truncated its log below it"
    );
    cluster.restart(behind);
    // The restarted node hears the leader's heartbeat, asks to catch up from slot 0, and gets
    // the snapshot: its storage then holds it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let caught_up = loop {
        let saved = load_storage::<Storage<String>>(&cluster.storage_path(behind))
            .expect("readable")
            .unwrap_or_default();
        if saved.snapshot.upto >= SNAPSHOT_AFTER || Instant::now() > deadline {
            break saved;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        caught_up.snapshot.upto >= SNAPSHOT_AFTER,
        "node {behind} did not catch up from the snapshot: its snapshot covers {} slots",
        caught_up.snapshot.upto
    );
    // The snapshot holds the puts of the slots below it: all but the slots of the start's
    // reads, in order.
    let upto = caught_up.snapshot.upto as usize;
    let data = &caught_up.snapshot.machine.kv.data;
    assert!(
        upto - 10 < data.len() && data.len() < upto,
        "{} keys",
        data.len()
    );
    for i in 0..data.len() {
        assert_eq!(data[&format!("key {i}")], format!("value {i}"));
    }
    // Without the leader, the caught-up node and the third one make the majority.
    cluster.kill(leader_index);
    let mut reader = client(&cluster, behind);
    for i in [0, data.len() - 1, puts - 1] {
        let ret = reader.call_with::<MultiPaxosCodec>(get(&format!("key {i}")));
        let expected = Some(format!("value {i}"));
        assert!(
            matches!(&ret, Ok(KvRet::GetOk { value }) if *value == expected),
            "key {i}: {ret:?}"
        );
    }
}
