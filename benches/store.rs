//! What a save costs (rule D1's price): this disk's durable-write latency, then a Multi-Paxos save
//! with an empty log and with a 100,000-command log (kept as a node keeps it: a snapshot of the
//! store, and the slots since the last one), through the write-ahead log
//! (`runtime::wal::Store`, one record of what changed) and, for comparison, the way storage
//! was saved before it (the whole storage written with `storage::write_durably`, here as a
//! checksummed snapshot, `storage::encode_snapshot`, to a file of its own). Then
//! what the store does rarely: a compaction, and opening a node's storage at restart.
//!
//! For scale, a clone of the storage is timed too: the Multi-Paxos actor builds its `Storage`
//! for each save with a copy of its accepted log since its last snapshot (`o.save(Storage {
//! accepted: acceptor.accepted.clone(), .. })`; the snapshot itself is shared), a cost of the
//! protocol's, not of the store's.
//!
//! ```text
//! cargo bench --bench store                # STORE_SAVES=200 saves per figure
//! STORE_DIR=/path/on/the/data/disk cargo bench --bench store
//! ```
//!
//! Figures are medians (p50) and 99th percentiles of single operations, in microseconds or
//! milliseconds, from one run; the ratios inside a run are what to compare across machines.
use paxos::protocol::multi_paxos::{
    Ballot, ClientCommand, Command, KvOp, LastApplied, Proposal, Slot, Snapshot, StateMachine,
    Storage,
};
use paxos::runtime::node::SNAPSHOT_AFTER;
use paxos::runtime::storage::{encode_snapshot, write_durably};
use paxos::runtime::wal::{log_path, Journal, Store, COMPACT_AFTER};
use stateright::actor::Id;
use stateright::semantics::SequentialSpec;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median and 99th percentile of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn report(what: &str, samples: Vec<Duration>) -> Duration {
    let n = samples.len();
    let (p50, p99) = percentiles(samples);
    println!("{what:<58} p50 {p50:>12.3?}  p99 {p99:>12.3?}  (n={n})");
    p50
}

/// The accepted proposal of `slot`: an append by a client that no longer runs, under the
/// ballot of round 1 (about 130 bytes of JSON, as in a real log).
fn proposal(slot: Slot) -> Proposal {
    Proposal {
        ballot: Ballot {
            round: 1,
            proposer: Id::from(1),
        },
        command: Command::Batch(
            vec![ClientCommand {
                client: Id::from(9),
                request: u64::from(slot) + 1,
                op: KvOp::Append {
                    key: char::from_u32(0x4E00 + slot % 1000).unwrap_or('k'),
                    value: 'a',
                },
            }]
            .into(),
        ),
    }
}

/// A server's storage after `slots` commands, all decided, as a node on UDP keeps it: a
/// snapshot of the store after the slots below the last multiple of `node::SNAPSHOT_AFTER`,
/// and the accepted proposals from there on (the log below is truncated).
fn storage(slots: Slot) -> Storage {
    let upto = slots - slots % SNAPSHOT_AFTER;
    let mut machine = StateMachine::default();
    for slot in 0..upto {
        for cc in proposal(slot).command.clients() {
            let ret = machine.kv.invoke(&cc.op);
            let (request, op) = (cc.request, cc.op.clone());
            let last = LastApplied { request, op, ret };
            machine.last.insert(cc.client, last);
        }
    }
    Storage {
        round: 1,
        promised: proposal(0).ballot,
        accepted: (upto..slots).map(|slot| (slot, proposal(slot))).collect(),
        decided: slots,
        snapshot: Arc::new(Snapshot { upto, machine }),
    }
}

/// A fresh directory for one measurement.
fn scratch(root: &Path, tag: &str) -> PathBuf {
    let dir = root.join(format!("paxos-bench-store-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("the bench directory is writable");
    dir
}

/// One node's storage for the bench: a store, and the storage it last saved.
struct Node {
    dir: PathBuf,
    snapshot: PathBuf,
    store: Store<Storage>,
    current: Storage,
    /// The next slot to accept.
    next: Slot,
}

impl Node {
    /// A store whose first save (its snapshot) holds a log of `slots` commands.
    fn new(root: &Path, slots: Slot) -> Node {
        let dir = scratch(root, &format!("save-{slots}"));
        let snapshot = dir.join("node.storage");
        let store = Store::<Storage>::open(&snapshot, COMPACT_AFTER).expect("a fresh store");
        let current = storage(slots);
        store
            .save(&current)
            .expect("the first save writes the snapshot");
        Node {
            dir,
            snapshot,
            store,
            current,
            next: slots,
        }
    }

    /// Accepts one more slot: the time of the diff alone, and of the save through the store.
    fn accept_one(&mut self) -> (Duration, Duration) {
        let before = self.current.clone();
        let slot = self.next;
        self.next += 1;
        self.current.accepted.insert(slot, proposal(slot));
        let started = Instant::now();
        assert_eq!(self.current.changes(&before).len(), 1);
        let diff = started.elapsed();
        let started = Instant::now();
        self.store.save(&self.current).expect("saved");
        (diff, started.elapsed())
    }

    /// The whole storage written durably, as every save was before the log (to a file of its
    /// own: the store's snapshot stays the store's).
    fn rewrite_whole(&self) -> Duration {
        let started = Instant::now();
        let bytes = encode_snapshot(&self.current, 0).expect("encodes");
        write_durably(&self.snapshot.with_extension("whole"), &bytes).expect("written");
        started.elapsed()
    }
}

/// (a) and (b), interleaved so that each figure sees the same disk (whose latency drifts with
/// what else runs on the machine): the disk's durable write (a 200-byte append and
/// `fdatasync`, as a record is written); a save accepting one more slot with an empty log and
/// behind a log of `long` commands; and the same saves done the old way, the whole storage
/// rewritten (temporary file, fsync, rename, fsync of the directory). Returns the p50s.
fn saves(root: &Path, long: Slot, n: usize) -> [Duration; 5] {
    let dir = scratch(root, "fsync");
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("append"))
        .expect("a file");
    let (mut empty, mut behind) = (Node::new(root, 0), Node::new(root, long));
    let mut samples: [Vec<Duration>; 7] = Default::default();
    for _ in 0..n {
        let started = Instant::now();
        file.write_all(&[b'x'; 200]).expect("written");
        file.sync_data().expect("flushed");
        samples[0].push(started.elapsed());
        let (diff, save) = empty.accept_one();
        samples[1].push(save);
        samples[2].push(diff);
        let started = Instant::now();
        let copy = behind.current.clone();
        samples[3].push(started.elapsed());
        drop(copy);
        let (diff, save) = behind.accept_one();
        samples[4].push(save);
        samples[5].push(diff);
    }
    for _ in 0..n.min(50) {
        samples[6].push(empty.rewrite_whole());
    }
    let whole_empty = percentiles(std::mem::take(&mut samples[6])).0;
    for _ in 0..n.min(50) {
        samples[6].push(behind.rewrite_whole());
    }
    let [durable, save_empty, diff_empty, clone, save_behind, diff_behind, whole_behind] = samples;
    let durable = report("durable write: 200-byte append + fdatasync", durable);
    let empty_p50 = report("save, write-ahead log, empty log", save_empty);
    report("  of which the diff (changes), empty log", diff_empty);
    let behind_p50 = report(
        &format!("save, write-ahead log, log of {long}"),
        save_behind,
    );
    report(
        &format!("  of which the diff (changes), log of {long}"),
        diff_behind,
    );
    report(
        &format!("  not in it: a clone of the storage, log of {long}"),
        clone,
    );
    println!(
        "{:<58} p50 {whole_empty:>12.3?}",
        "save, whole storage rewritten, empty log"
    );
    let whole_behind = report(
        &format!("save, whole storage rewritten, log of {long}"),
        whole_behind,
    );
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&empty.dir);
    let _ = fs::remove_dir_all(&behind.dir);
    [durable, empty_p50, behind_p50, whole_empty, whole_behind]
}

/// What the store does rarely, behind a log of `slots` commands: a compaction (the whole
/// storage as a snapshot), and opening the storage at restart with an empty log and with a
/// log of [`COMPACT_AFTER`] bytes (the most a running node leaves), folded before `spawn`.
fn rare(root: &Path, slots: Slot) {
    let dir = scratch(root, "rare");
    let snapshot = dir.join("node.storage");
    let mut current = storage(slots);
    let store = Store::<Storage>::open(&snapshot, u64::MAX).expect("a fresh store");
    store.save(&current).expect("snapshot");
    let started = Instant::now();
    store.compact_now().expect("compacted");
    println!(
        "{:<58} {:>16.3?}  ({} bytes)",
        format!("compaction (snapshot of the whole storage), log of {slots}"),
        started.elapsed(),
        fs::metadata(&snapshot).map_or(0, |m| m.len())
    );
    let started = Instant::now();
    drop(Store::<Storage>::open(&snapshot, u64::MAX).expect("opens"));
    println!(
        "{:<58} {:>16.3?}",
        format!("restart: open, empty log, log of {slots}"),
        started.elapsed()
    );
    let mut records = 0;
    let mut slot = slots;
    while fs::metadata(log_path(&snapshot)).map_or(0, |m| m.len()) < COMPACT_AFTER {
        current.accepted.insert(slot, proposal(slot));
        current.decided = slot;
        store.save(&current).expect("saved");
        (slot, records) = (slot + 1, records + 1);
    }
    drop(store);
    let started = Instant::now();
    let reopened = Store::<Storage>::open(&snapshot, u64::MAX).expect("opens");
    println!(
        "{:<58} {:>16.3?}  ({records} records folded)",
        format!(
            "restart: open, {} MiB of log, log of {slots}",
            COMPACT_AFTER >> 20
        ),
        started.elapsed()
    );
    assert_eq!(reopened.saved(), Some(current));
    let _ = fs::remove_dir_all(&dir);
}

fn main() {
    let root = std::env::var_os("STORE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let n = knob("STORE_SAVES", 200);
    let long = knob("STORE_LOG", 100_000) as Slot;
    println!("storage bench in {} ({n} saves per figure)", root.display());
    let [durable, empty, behind, whole_empty, whole_behind] = saves(&root, long, n);
    rare(&root, long);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "ratios of p50s: save with a log of {long} / with an empty log: write-ahead log \
         {:.2}x, whole storage rewritten {:.1}x; write-ahead save / durable write: {:.2}x \
         (empty log), {:.2}x (log of {long})",
        ratio(behind, empty),
        ratio(whole_behind, whole_empty),
        ratio(empty, durable),
        ratio(behind, durable)
    );
}
