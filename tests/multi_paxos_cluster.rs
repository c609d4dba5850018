//! Multi-Paxos on a real loopback network: three node processes, concurrent clients, one node
//! `kill -9`ed mid-load and restarted from its storage file. Every answer is recorded for
//! stateright's `LinearizabilityTester` against the model's key-value specification ([`Kv`]),
//! and every acknowledged append must be read back at the end.
//!
//! Reference: spec/runtime.md D1 (storage on disk before the message that depends on it) and
//! the model's "linearizable" property, now on UDP.
mod common;

use common::{temp_dir, BIN};
use paxos::protocol::multi_paxos::{Key, Kv, KvOp, KvRet, Storage};
use paxos::runtime::client::{Client, MultiPaxosCodec};
use paxos::runtime::node::free_loopback_addresses;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::fs::File;
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Node processes exit by themselves after this long, whatever happens to the test.
const NODE_LIFETIME_SECS: &str = "60";
const WORKERS: usize = 4;
const KEYS: [Key; 2] = ['x', 'y'];

struct Nodes {
    addresses: Vec<SocketAddrV4>,
    data_dir: PathBuf,
    children: Mutex<Vec<Option<Child>>>,
    starts: AtomicUsize,
}

impl Nodes {
    fn launch(&self, i: usize) {
        let peers: Vec<String> = (0..self.addresses.len())
            .filter(|&j| j != i)
            .map(|j| self.addresses[j].to_string())
            .collect();
        let start = self.starts.fetch_add(1, Ordering::Relaxed) + 1;
        let log = self.data_dir.join(format!("node-{i}-start-{start}.log"));
        let child = Command::new(BIN)
            .args(["spawn", "--protocol", "multi-paxos"])
            .args(["--address", &self.addresses[i].to_string()])
            .args(["--peers", &peers.join(",")])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--exit-after", NODE_LIFETIME_SECS])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(File::create(log).expect("log file"))
            .spawn()
            .expect("the built binary runs");
        self.children.lock().expect("no panic")[i] = Some(child);
    }

    /// The leader: the proposer of the highest ballot any node's storage promised.
    fn leader(&self) -> Option<usize> {
        let highest = (0..self.addresses.len())
            .filter_map(|i| {
                let path = paxos::runtime::storage::storage_path(&self.data_dir, self.addresses[i]);
                paxos::runtime::storage::load_storage::<Storage>(&path)
                    .ok()
                    .flatten()
            })
            .map(|saved| saved.promised)
            .max()?;
        let proposer = SocketAddrV4::from(highest.proposer);
        self.addresses.iter().position(|&a| a == proposer)
    }

    fn kill(&self, i: usize) {
        if let Some(mut child) = self.children.lock().expect("no panic")[i].take() {
            child.kill().expect("SIGKILL delivered");
            let _ = child.wait();
        }
    }

    /// A client of every node. Its per-attempt timeout exceeds the election timeout: a
    /// follower restarts its leader timer on each request it cannot serve.
    fn client(&self, first: usize) -> Client {
        let mut client =
            Client::new(self.addresses.clone(), Duration::from_millis(700), 6).expect("client");
        client.prefer(first);
        client
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..self.addresses.len() {
            self.kill(i);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// The recorded history: logical thread ids, a new one after an unanswered operation (it
/// stays in flight for ever: it may still take effect).
struct History {
    tester: Mutex<LinearizabilityTester<usize, Kv>>,
    /// (key, value) of every acknowledged append.
    acknowledged: Mutex<Vec<(Key, char)>>,
    unknown: AtomicUsize,
}

impl History {
    fn call(&self, thread: &mut usize, client: &mut Client, op: KvOp) -> Option<KvRet> {
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
                        .push((*key, *value));
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
    let addresses = free_loopback_addresses(3).expect("free loopback ports");
    let nodes = Nodes {
        addresses,
        data_dir: temp_dir("multi-paxos-cluster"),
        children: Mutex::new((0..3).map(|_| None).collect()),
        starts: AtomicUsize::new(0),
    };
    for i in 0..3 {
        nodes.launch(i);
    }
    // Ready: a leader is elected and answers a read.
    assert!(
        nodes
            .client(0)
            .call_with::<MultiPaxosCodec>(KvOp::Get { key: 'x' })
            .is_ok(),
        "the cluster does not answer after start"
    );

    let history = History {
        tester: Mutex::new(LinearizabilityTester::new(Kv::default())),
        acknowledged: Mutex::new(Vec::new()),
        unknown: AtomicUsize::new(0),
    };
    let stop = AtomicBool::new(false);
    // Every append writes a value no other append writes, so a read names the appends it saw.
    let next_value = AtomicU32::new(0x100);
    let fresh = || char::from_u32(next_value.fetch_add(1, Ordering::Relaxed)).expect("a char");
    std::thread::scope(|s| {
        for worker in 0..WORKERS {
            let (history, stop, fresh, nodes) = (&history, &stop, &fresh, &nodes);
            s.spawn(move || {
                let mut client = nodes.client(worker);
                let mut thread = worker;
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 400 {
                    let key = KEYS[(worker + n) % KEYS.len()];
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
        // kill -9 the leader mid-load,
        // then restart it from its storage.
        let acked = || history.acknowledged.lock().expect("recorded").len();
        std::thread::sleep(Duration::from_millis(800));
        let victim = nodes.leader().expect("a leader is elected");
        nodes.kill(victim);
        let at_kill = acked();
        std::thread::sleep(Duration::from_millis(1500));
        nodes.launch(victim);
        let at_restart = acked();
        std::thread::sleep(Duration::from_millis(1500));
        let at_stop = acked();
        stop.store(true, Ordering::Relaxed);
        eprintln!("acknowledged appends: {at_kill} at the kill, {at_restart} at the restart, {at_stop} at the end");
        // Mid-load: appends were acknowledged before the kill, while the node was down and
        // after its restart.
        assert!(
            0 < at_kill && at_kill < at_restart && at_restart < at_stop,
            "not mid-load: {at_kill}, {at_restart}, {at_stop}"
        );
    });

    // Every acknowledged append is read back.
    let acknowledged = history.acknowledged.lock().expect("recorded").clone();
    let mut reader = nodes.client(0);
    let mut thread = usize::MAX / 2;
    for key in KEYS {
        let read = history.call(&mut thread, &mut reader, KvOp::Get { key });
        let Some(KvRet::GetOk { value }) = read else {
            panic!("no answer to the final read of {key}: {read:?}");
        };
        let value = value.unwrap_or_default();
        for (_, appended) in acknowledged.iter().filter(|(k, _)| *k == key) {
            assert!(
                value.contains(*appended),
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
    for (i, child) in nodes
        .children
        .lock()
        .expect("no panic")
        .iter_mut()
        .enumerate()
    {
        let child = child.as_mut().expect("every node runs");
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "node {i} stopped on its own"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}
