//! A node's storage as a snapshot and a write-ahead log (spec/runtime.md, "Durability": D1,
//! D2, W1-W4): what a save writes, what a restart reads back, torn tails cut off, corruption
//! and missing files refused, a log and a snapshot that do not meet refused, compaction, and a
//! crash in the middle of a first save or of a compaction; then the same rules through the
//! built binary, and a stopped node of a real cluster damaged some 200 ways.
//!
//! Reference: spec/runtime.md, W1-W4, D1, D2, SN4.
mod common;

use common::{run_binary, temp_dir, TempDir};
use paxos::protocol::multi_paxos::{
    Ballot, ClientCommand, Command, KvOp, Proposal, Slot, Snapshot, Storage,
};
use paxos::runtime::storage::{decode_snapshot, encode_snapshot, storage_path, write_durably};
use paxos::runtime::wal::{
    load_storage, log_header, log_path, read_log_header, record, scan, Journal, Store, HEADER,
    LOG_HEADER,
};
use stateright::actor::Id;
use std::fs;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The storage of a server that promised round `round` and accepted a put in each slot below
/// `slots` under it, the first `decided` of them known chosen.
fn storage(round: u32, slots: Slot, decided: Slot) -> Storage {
    let ballot = Ballot {
        round,
        proposer: Id::from(1),
    };
    let proposal = |slot: Slot| Proposal {
        ballot,
        command: Command::Batch(
            vec![ClientCommand {
                client: Id::from(9),
                request: u64::from(slot) + 1,
                op: KvOp::Put {
                    key: 'k',
                    value: char::from_u32(0x4E00 + slot).unwrap_or('v'),
                },
            }]
            .into(),
        ),
    };
    Storage {
        round,
        promised: ballot,
        accepted: (0..slots).map(|slot| (slot, proposal(slot))).collect(),
        decided,
        snapshot: Default::default(),
    }
}

/// `storage` truncated below a snapshot of the store after the slots below `upto` (SN1).
fn truncated(mut storage: Storage, upto: Slot) -> Storage {
    storage.accepted = storage.accepted.split_off(&upto);
    let mut snapshot = Snapshot {
        upto,
        ..Snapshot::default()
    };
    snapshot.machine.kv.data.insert('k', format!("{upto}"));
    storage.snapshot = Arc::new(snapshot);
    storage
}

/// A history of saves: promises, accepts, a higher ballot re-accepting slots, decided moving,
/// a snapshot truncating the log, and a save after it.
fn history() -> Vec<Storage> {
    let mut saves = vec![storage(1, 0, 0)];
    for slots in 1..=6 {
        saves.push(storage(1, slots, slots - 1));
    }
    saves.push(storage(2, 6, 5));
    saves.push(storage(2, 8, 7));
    saves.push(truncated(storage(2, 8, 7), 5));
    saves.push(truncated(storage(2, 9, 8), 5));
    saves
}

/// A fresh snapshot path in a directory of its own.
fn fresh(tag: &str) -> (TempDir, PathBuf) {
    let dir = temp_dir(&format!("store-{tag}"));
    let snapshot = dir.join("node.storage");
    (dir, snapshot)
}

/// Saves `saves` in order through a store at `snapshot` that never compacts.
fn save_all(snapshot: &Path, saves: &[Storage]) {
    let store = Store::<Storage>::open(snapshot, u64::MAX).expect("a fresh store");
    for save in saves {
        store.save(save).expect("saved");
    }
}

/// Where each record of the log at `log` starts, and its end.
fn record_starts(log: &Path) -> (Vec<usize>, usize) {
    let bytes = fs::read(log).expect("the log");
    let scanned = scan(&bytes, LOG_HEADER).expect("whole");
    assert_eq!(scanned.torn, None);
    let starts = scanned.payloads.iter().map(|p| p.start - HEADER).collect();
    (starts, bytes.len())
}

/// The storage in the snapshot at `path`, and the number of the first record it does not hold.
fn snapshot_of(path: &Path) -> (Storage, u64) {
    decode_snapshot(&fs::read(path).expect("a snapshot")).expect("a whole snapshot")
}

// W1, D1: the first save writes the log (its record 0: the whole save) and the snapshot, each
// later one a record of exactly what changed (one more slot: a few hundred bytes, not the
// whole storage); a save that changes nothing writes nothing; the storage read back, and
// reopened, is the last one saved.
#[test]
fn saves_round_trip_through_snapshot_and_log() {
    let (dir, snapshot) = fresh("round-trip");
    let saves = history();
    let store = Store::<Storage>::open(&snapshot, u64::MAX).expect("a fresh store");
    assert_eq!(load_storage::<Storage>(&snapshot).expect("readable"), None);
    store.save(&saves[0]).expect("saved");
    let first_snapshot = fs::read(&snapshot).expect("the first save writes the snapshot");
    assert_eq!(snapshot_of(&snapshot), (saves[0].clone(), 1));
    let first = fs::read(log_path(&snapshot)).expect("and the log");
    let changes = serde_json::to_vec(&saves[0].changes(&Storage::default())).expect("encodes");
    assert_eq!(
        first,
        [log_header(0), record(&changes)].concat(),
        "record 0"
    );
    for (n, pair) in saves.windows(2).enumerate() {
        let (previous, save) = (&pair[0], &pair[1]);
        let before = fs::metadata(log_path(&snapshot)).map_or(0, |m| m.len());
        store.save(save).expect("saved");
        let grown = fs::metadata(log_path(&snapshot)).expect("a log").len() - before;
        let changes = serde_json::to_vec(&save.changes(previous)).expect("encodes");
        assert_eq!(grown, record(&changes).len() as u64, "save {n}: one record");
        if save.round == previous.round {
            assert!(grown < 400, "save {n}: {grown} bytes for one more slot");
        }
        store.save(save).expect("saved again");
        let again = fs::metadata(log_path(&snapshot)).expect("a log").len() - before;
        assert_eq!(again, grown, "an unchanged save writes nothing");
        assert_eq!(
            load_storage::<Storage>(&snapshot).expect("readable"),
            Some(save.clone())
        );
    }
    assert_eq!(fs::read(&snapshot).expect("snapshot"), first_snapshot);
    let (records, _) = record_starts(&log_path(&snapshot));
    assert_eq!(records.len(), saves.len());
    drop(store);
    // W4: a restart folds the log into the snapshot, and starts with a log of one empty
    // record, the first the snapshot does not hold.
    let reopened = Store::<Storage>::open(&snapshot, u64::MAX).expect("reopened");
    let last = saves.last().cloned();
    assert_eq!(reopened.saved(), last);
    let n = saves.len() as u64;
    assert_eq!(
        fs::read(log_path(&snapshot)).expect("log"),
        [log_header(n), record(b"[]")].concat()
    );
    let (folded, next) = snapshot_of(&snapshot);
    assert_eq!((Some(folded), next), (last, n));
    let _ = fs::remove_dir_all(&dir);
}

// W2: a last record cut short at any byte, or with a byte flipped, or followed by zeros, is a
// torn tail: the store opens with every save before it, cuts it off and folds the rest.
#[test]
fn a_torn_tail_is_cut_off_and_the_saves_before_it_kept() {
    let saves = history();
    let (dir, snapshot) = fresh("torn");
    save_all(&snapshot, &saves);
    let whole = fs::read(log_path(&snapshot)).expect("the log");
    let (starts, end) = record_starts(&log_path(&snapshot));
    let last = *starts.last().expect("records");
    let before_last = &saves[saves.len() - 2];
    let original = fs::read(&snapshot).expect("snapshot");
    let mut damaged_logs: Vec<Vec<u8>> = (last + 1..end).map(|cut| whole[..cut].to_vec()).collect();
    for i in last..end {
        let mut flipped = whole.clone();
        flipped[i] ^= 0x20;
        damaged_logs.push(flipped);
    }
    damaged_logs.push([&whole[..last], &[0; 64]].concat());
    for damaged in damaged_logs {
        fs::write(&snapshot, &original).expect("snapshot restored");
        fs::write(log_path(&snapshot), &damaged).expect("log written");
        assert_eq!(
            load_storage::<Storage>(&snapshot).expect("a torn tail is not corruption"),
            Some(before_last.clone()),
            "reading leaves it out"
        );
        let store = Store::<Storage>::open(&snapshot, u64::MAX).expect("opens");
        assert_eq!(store.saved().as_ref(), Some(before_last));
        let folded = fs::read(log_path(&snapshot)).expect("log");
        let n = saves.len() as u64;
        assert_eq!(
            folded,
            [log_header(n - 1), record(b"[]")].concat(),
            "folded"
        );
        // The store goes on from there: the lost save can be made again.
        store.save(saves.last().expect("saves")).expect("saved");
        drop(store);
        let store = Store::<Storage>::open(&snapshot, u64::MAX).expect("opens");
        assert_eq!(store.saved().as_ref(), saves.last());
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Opening must fail, leave both files as they were, and say why.
fn assert_refused(snapshot: &Path, expected: &str) {
    let files = |p: &Path| fs::read(p).ok();
    let (snapshot_before, log_before) = (files(snapshot), files(&log_path(snapshot)));
    let refused = Store::<Storage>::open(snapshot, u64::MAX).expect_err("refused");
    let message = refused.to_string();
    assert!(message.contains(expected), "{message}");
    assert!(load_storage::<Storage>(snapshot).is_err());
    assert_eq!(
        files(snapshot),
        snapshot_before,
        "the snapshot is left as it was"
    );
    assert_eq!(
        files(&log_path(snapshot)),
        log_before,
        "the log is left as it was"
    );
}

// W3, D2: damage followed by a whole record is no torn write: every byte of every record but
// the last, flipped in turn, makes the store refuse to open; so does every byte of the log's
// header.
#[test]
fn a_damaged_record_followed_by_a_whole_one_is_refused() {
    let saves = history();
    let (dir, snapshot) = fresh("corrupt-middle");
    save_all(&snapshot, &saves);
    let whole = fs::read(log_path(&snapshot)).expect("the log");
    let (starts, _) = record_starts(&log_path(&snapshot));
    let last = *starts.last().expect("records");
    for i in 0..last {
        let mut flipped = whole.clone();
        flipped[i] ^= 0x01;
        fs::write(log_path(&snapshot), &flipped).expect("log written");
        let expected = if i < 4 {
            "it does not start with the log magic"
        } else if i < LOG_HEADER {
            "its header's checksum fails"
        } else {
            "yet a whole record follows"
        };
        assert_refused(&snapshot, expected);
    }
    // A whole record (checksums right) that is not a list of changes: refused too.
    let mut odd = whole[..last].to_vec();
    odd.extend(record(b"{\"not\":\"changes\"}"));
    fs::write(log_path(&snapshot), &odd).expect("log written");
    assert_refused(&snapshot, "is whole but does not decode");
    let _ = fs::remove_dir_all(&dir);
}

// W3, D2: a snapshot that cannot be read is refused, and so is a log whose snapshot is gone,
// a snapshot whose log is gone, and a log that holds no whole record (zeros, or cut inside its
// header or its first record): each refused, never cut to nothing.
#[test]
fn a_damaged_or_missing_file_is_refused() {
    let saves = history();
    let (dir, snapshot) = fresh("corrupt-snapshot");
    save_all(&snapshot, &saves);
    let original = fs::read(&snapshot).expect("snapshot");
    let mut changed = original.clone();
    *changed.last_mut().expect("bytes") ^= 0x02;
    for garbage in [
        &b""[..],
        &original[..original.len() / 2],
        b"\xff\xfe",
        &changed,
        &vec![0; original.len()],
    ] {
        fs::write(&snapshot, garbage).expect("written");
        assert_refused(&snapshot, "cannot be used");
    }
    fs::remove_file(&snapshot).expect("removed");
    assert_refused(&snapshot, "the file is missing, yet its log");
    fs::write(&snapshot, &original).expect("restored");
    let log = fs::read(log_path(&snapshot)).expect("the log");
    let (starts, _) = record_starts(&log_path(&snapshot));
    for (damaged, expected) in [
        (vec![0; log.len()], "does not start with the log magic"),
        (Vec::new(), "the file is empty"),
        (log[..LOG_HEADER - 1].to_vec(), "shorter than a log's"),
        (log[..LOG_HEADER].to_vec(), "it holds no whole record"),
        (
            log[..starts[1] - 1].to_vec(),
            "only a damaged one at byte 20",
        ),
    ] {
        fs::write(log_path(&snapshot), &damaged).expect("log written");
        assert_refused(&snapshot, expected);
    }
    fs::remove_file(log_path(&snapshot)).expect("removed");
    assert_refused(&snapshot, "the file is missing, yet its snapshot");
    let _ = fs::remove_dir_all(&dir);
}

// W3: a log and a snapshot that do not overlap are refused: a log that starts after the
// snapshot's last record (saves in between missing), or that ends before it (shorter than the
// snapshot says it must be).
#[test]
fn a_log_that_does_not_overlap_its_snapshot_is_refused() {
    let saves = history();
    let (dir, snapshot) = fresh("overlap");
    save_all(&snapshot, &saves);
    let log = fs::read(log_path(&snapshot)).expect("the log");
    let n = saves.len() as u64;
    let last = saves.last().expect("saves");
    // The snapshot holds every record of the log, and claims one more.
    write_durably(&snapshot, &encode_snapshot(last, n + 1).expect("encodes")).expect("written");
    assert_refused(
        &snapshot,
        "the log is shorter than its snapshot says it must be",
    );
    // A log renumbered to start at record 3, beside a snapshot of the saves before record 2:
    // record 2 is missing.
    let renumbered = [log_header(3), log[LOG_HEADER..].to_vec()].concat();
    fs::write(log_path(&snapshot), &renumbered).expect("written");
    write_durably(&snapshot, &encode_snapshot(&saves[1], 2).expect("encodes")).expect("written");
    assert_refused(&snapshot, "it starts at record 3, yet its snapshot");
    // Renumbered to start at record 2, the first the snapshot does not hold: it meets it.
    let renumbered = [log_header(2), log[LOG_HEADER..].to_vec()].concat();
    fs::write(log_path(&snapshot), &renumbered).expect("written");
    assert!(load_storage::<Storage>(&snapshot).is_ok());
    let _ = fs::remove_dir_all(&dir);
}

// W1: a crash inside a node's first save, after its log and before its snapshot, leaves the
// log alone, holding that whole save from the empty storage: the node starts with it. A log
// alone with a second record is a deleted snapshot: refused.
#[test]
fn a_crash_inside_the_first_save_is_safe() {
    let saves = history();
    let (dir, snapshot) = fresh("first-save");
    save_all(&snapshot, &saves[..1]);
    fs::remove_file(&snapshot).expect("the snapshot not yet written");
    assert_eq!(
        load_storage::<Storage>(&snapshot).expect("readable"),
        Some(saves[0].clone())
    );
    let store = Store::<Storage>::open(&snapshot, u64::MAX).expect("opens");
    assert_eq!(store.saved().as_ref(), Some(&saves[0]));
    assert_eq!(
        snapshot_of(&snapshot),
        (saves[0].clone(), 1),
        "written at open"
    );
    store.save(&saves[1]).expect("saved");
    drop(store);
    fs::remove_file(&snapshot).expect("removed");
    assert_refused(&snapshot, "the file is missing, yet its log");
    let _ = fs::remove_dir_all(&dir);
}

// W4: with a small bound the log is compacted again and again while the storage grows: a
// save compacts exactly when the records appended since the log was written take it past the
// bound and the snapshot's size, and leaves a log of its own record; every save reads back,
// and a restart finds the last one.
#[test]
fn compaction_keeps_every_save_and_bounds_the_log() {
    let (dir, snapshot) = fresh("compaction");
    let bound = 2_000;
    let store = Store::<Storage>::open(&snapshot, bound).expect("a fresh store");
    let size = |p: &Path| fs::metadata(p).map_or(0, |m| m.len());
    let mut previous = storage(1, 0, 0);
    store
        .save(&previous)
        .expect("the first save writes the snapshot");
    let mut compactions = 0;
    let mut appended = 0;
    for slots in 1..300 {
        let save = storage(1 + slots / 100, slots, slots.saturating_sub(2));
        let changes = serde_json::to_vec(&save.changes(&previous)).expect("encodes");
        let added = record(&changes);
        let before = size(&log_path(&snapshot));
        appended += added.len() as u64;
        let compacts = appended > bound.max(size(&snapshot));
        store.save(&save).expect("saved");
        if compacts {
            compactions += 1;
            appended = 0;
            let log = fs::read(log_path(&snapshot)).expect("log");
            assert_eq!(
                &log[LOG_HEADER..],
                &record(b"[]")[..],
                "save {slots} compacted"
            );
            assert_eq!(
                snapshot_of(&snapshot).0,
                save,
                "the new snapshot holds the save"
            );
        } else {
            let grown = before + added.len() as u64;
            assert_eq!(size(&log_path(&snapshot)), grown, "save {slots} appended");
        }
        assert_eq!(
            load_storage::<Storage>(&snapshot)
                .expect("readable")
                .as_ref(),
            Some(&save)
        );
        previous = save;
    }
    assert!(compactions >= 5, "{compactions} compactions");
    drop(store);
    let reopened = Store::<Storage>::open(&snapshot, bound).expect("reopened");
    assert_eq!(reopened.saved(), Some(previous));
    let _ = fs::remove_dir_all(&dir);
}

// W4: a crash after a compaction's snapshot is written but before its log is replaced leaves
// a snapshot newer than the log's first records, which are skipped by their number: from a
// snapshot of any save of the history (record k is save k), the log brings the store to the
// last save. A crash before the snapshot's rename leaves the old snapshot and the whole log
// (and a temporary file, ignored).
#[test]
fn a_crash_between_snapshot_and_log_truncation_is_safe() {
    let saves = history();
    let (dir, snapshot) = fresh("crash-compaction");
    save_all(&snapshot, &saves);
    let log = fs::read(log_path(&snapshot)).expect("the log");
    for (k, newer) in saves.iter().enumerate() {
        let bytes = encode_snapshot(newer, k as u64 + 1).expect("encodes");
        write_durably(&snapshot, &bytes).expect("snapshot written");
        fs::write(log_path(&snapshot), &log).expect("the log as it was");
        assert_eq!(
            load_storage::<Storage>(&snapshot)
                .expect("readable")
                .as_ref(),
            saves.last()
        );
        let store = Store::<Storage>::open(&snapshot, u64::MAX).expect("opens");
        assert_eq!(store.saved().as_ref(), saves.last());
    }
    write_durably(&snapshot, &encode_snapshot(&saves[0], 1).expect("encodes")).expect("written");
    let mut temporary = snapshot.clone().into_os_string();
    temporary.push(".tmp");
    fs::write(&temporary, b"{\"round\":").expect("a temporary file cut short");
    fs::write(log_path(&snapshot), &log).expect("the log as it was");
    let store = Store::<Storage>::open(&snapshot, u64::MAX).expect("opens");
    assert_eq!(store.saved().as_ref(), saves.last());
    let _ = fs::remove_dir_all(&dir);
}

/// A Multi-Paxos node at a free address with `saves` on disk, and its data directory.
fn node_with_saves(tag: &str, saves: &[Storage]) -> (TempDir, SocketAddrV4, PathBuf) {
    let dir = temp_dir(&format!("store-{tag}"));
    let address = paxos::runtime::node::free_loopback_addresses(1).expect("a free port")[0];
    let snapshot = storage_path(&dir, address);
    save_all(&snapshot, saves);
    (dir, address, snapshot)
}

fn spawn_briefly(dir: &Path, address: SocketAddrV4) -> (Option<i32>, String) {
    let data_dir = dir.to_string_lossy().into_owned();
    let args = [
        "spawn",
        "--protocol",
        "multi-paxos",
        "--address",
        &address.to_string(),
        "--data-dir",
        &data_dir,
        "--exit-after",
        "1",
    ];
    run_binary(&args, dir)
}

// W2, W4 through the binary: a node whose log ends with a torn record starts, says so, and
// leaves a snapshot holding every save before it and an empty log.
#[test]
fn a_node_starts_after_cutting_off_a_torn_tail() {
    let saves = history();
    let (dir, address, snapshot) = node_with_saves("node-torn", &saves);
    let log = fs::read(log_path(&snapshot)).expect("the log");
    fs::write(log_path(&snapshot), &log[..log.len() - 3]).expect("torn");
    let (code, stderr) = spawn_briefly(&dir, address);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("ends with a save cut short by a crash"),
        "{stderr}"
    );
    let n = saves.len() as u64;
    let (folded, next) = snapshot_of(&snapshot);
    assert_eq!((&folded, next), (&saves[saves.len() - 2], n - 1));
    // The old records are folded away: the log starts with an empty record, the first the
    // snapshot does not hold. It may hold new ones: restarted holding a promise, the node runs its
    // election timer and may campaign (and save) within its second.
    let after = fs::read(log_path(&snapshot)).expect("log");
    assert_eq!(read_log_header(&after), Ok(n - 1));
    assert!(after[LOG_HEADER..].starts_with(&record(b"[]")));
    let _ = fs::remove_dir_all(&dir);
}

// W3, D2 through the binary: a damaged record followed by a whole one: the node refuses to
// start (exit status 1), says where and what to do, and touches neither file.
#[test]
fn a_node_refuses_to_start_on_a_damaged_log() {
    let saves = history();
    let (dir, address, snapshot) = node_with_saves("node-corrupt", &saves);
    let mut log = fs::read(log_path(&snapshot)).expect("the log");
    log[LOG_HEADER + HEADER + 2] ^= 0x01;
    fs::write(log_path(&snapshot), &log).expect("damaged");
    let before = fs::read(&snapshot).expect("snapshot");
    let (code, stderr) = spawn_briefly(&dir, address);
    assert_eq!(code, Some(1), "{stderr}");
    for words in [
        "refusing to start",
        "is damaged",
        "byte 20",
        "restore both files from a copy taken while this node was stopped",
        "keep this node down",
        "Do not delete",
    ] {
        assert!(stderr.contains(words), "{words}: {stderr}");
    }
    assert_eq!(fs::read(log_path(&snapshot)).expect("log"), log);
    assert_eq!(fs::read(&snapshot).expect("snapshot"), before);
    let _ = fs::remove_dir_all(&dir);
}

/// Which of a node's two files a damage touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum File {
    Snapshot,
    Log,
}

impl File {
    /// This file of the node whose snapshot is `snapshot`.
    fn path(self, snapshot: &Path) -> PathBuf {
        match self {
            File::Snapshot => snapshot.to_owned(),
            File::Log => log_path(snapshot),
        }
    }
}

/// One damage done to one file of a stopped node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    /// The byte at this offset XOR-ed with 0x01 (a digit stays a digit: a stored token becomes
    /// another one).
    Flip(File, usize),
    /// Every byte set to zero, the length kept.
    Zero(File),
    /// The file removed.
    Delete(File),
    /// The file cut to this many bytes.
    Truncate(File, usize),
}

impl Damage {
    /// The file it damages.
    fn file(self) -> File {
        match self {
            Damage::Flip(file, _)
            | Damage::Zero(file)
            | Damage::Delete(file)
            | Damage::Truncate(file, _) => file,
        }
    }
}

/// What a node does with its damaged files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Exit status 1, saying which file, what is wrong, and what to do (D2).
    Refuses,
    /// It starts serving.
    Starts,
}

/// A stopped node's two files, as bytes.
struct Files {
    snapshot: Vec<u8>,
    log: Vec<u8>,
}

impl Files {
    fn read(snapshot: &Path) -> Files {
        Files {
            snapshot: fs::read(snapshot).expect("the snapshot"),
            log: fs::read(log_path(snapshot)).expect("the log"),
        }
    }

    fn get(&self, file: File) -> &[u8] {
        match file {
            File::Snapshot => &self.snapshot,
            File::Log => &self.log,
        }
    }

    /// Writes the files at `snapshot` and its log; a temporary file left by an earlier run is
    /// removed.
    fn restore(&self, snapshot: &Path) {
        for file in [File::Snapshot, File::Log] {
            let path = file.path(snapshot);
            let mut temporary = path.clone().into_os_string();
            temporary.push(".tmp");
            let _ = fs::remove_file(temporary);
            fs::write(path, self.get(file)).expect("written");
        }
    }

    /// [`Files::restore`], then `damage` done.
    fn write_damaged(&self, snapshot: &Path, damage: Damage) {
        self.restore(snapshot);
        let path = |file: File| file.path(snapshot);
        match damage {
            Damage::Flip(file, at) => {
                let mut bytes = self.get(file).to_vec();
                bytes[at] ^= 0x01;
                fs::write(path(file), bytes).expect("written");
            }
            Damage::Zero(file) => {
                fs::write(path(file), vec![0; self.get(file).len()]).expect("written")
            }
            Damage::Delete(file) => fs::remove_file(path(file)).expect("removed"),
            Damage::Truncate(file, len) => {
                fs::write(path(file), &self.get(file)[..len]).expect("written")
            }
        }
    }
}

/// Runs the node at `address` on the files in `dir`, alone, until it exits or says it serves
/// (then it is killed): its verdict and standard error.
fn probe(dir: &Path, address: SocketAddrV4) -> (Verdict, Option<i32>, String) {
    let log = dir.join("probe.log");
    let mut child = std::process::Command::new(common::BIN)
        .args(["spawn", "--protocol", "multi-paxos"])
        .args(["--address", &address.to_string()])
        .arg("--data-dir")
        .arg(dir)
        .args(["--exit-after", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("the built binary runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stderr = fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            let stderr = fs::read_to_string(&log).unwrap_or_default();
            return (Verdict::Refuses, status.code(), stderr);
        }
        if stderr.contains("paxos: serving") {
            let _ = child.kill();
            let _ = child.wait();
            return (Verdict::Starts, None, stderr);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node neither refused nor started: {stderr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Every damage of the test, for a snapshot of `snapshot` bytes and a log whose records start
/// at `starts` and end at `end`: each byte of both headers flipped; every `len / 40`-th byte
/// of each file flipped; in each of a sample of records (the first two, one in the middle,
/// the last two) its magic, length, checksums, first and last payload bytes flipped; a byte
/// of a value stored in the snapshot flipped (`value`); each file zeroed and deleted; each
/// cut at 0, 1, inside and at the end of its header, at the ends of the sampled records and
/// one byte into each, and at every tenth of its length.
fn damages(snapshot: usize, starts: &[usize], end: usize, value: usize) -> Vec<Damage> {
    use paxos::runtime::storage::SNAPSHOT_HEADER;
    let mut all = vec![Damage::Flip(File::Snapshot, value)];
    for (file, len, header) in [
        (File::Snapshot, snapshot, SNAPSHOT_HEADER),
        (File::Log, end, LOG_HEADER),
    ] {
        all.extend((0..header).map(|at| Damage::Flip(file, at)));
        all.extend(
            (header..len)
                .step_by(len / 40)
                .map(|at| Damage::Flip(file, at)),
        );
        all.push(Damage::Flip(file, len - 1));
        all.extend([Damage::Zero(file), Damage::Delete(file)]);
        let cuts = [0, 1, header - 1, header, header + 1, len / 2, len - 1];
        all.extend(cuts.map(|cut| Damage::Truncate(file, cut)));
        all.extend((1..10).map(|tenth| Damage::Truncate(file, len * tenth / 10)));
    }
    let m = starts.len();
    for i in [0, 1, m / 2, m - 2, m - 1] {
        let (start, stop) = (starts[i], starts.get(i + 1).copied().unwrap_or(end));
        for at in [
            start,
            start + 4,
            start + 8,
            start + 12,
            start + HEADER,
            stop - 1,
        ] {
            all.push(Damage::Flip(File::Log, at));
        }
        all.extend([stop, start + 1].map(|cut| Damage::Truncate(File::Log, cut)));
    }
    all.retain(|d| !matches!(*d, Damage::Truncate(File::Log, cut) if cut >= end));
    all.sort_by_key(|d| format!("{d:?}"));
    all.dedup();
    all
}

/// What each damage must do (W2, W3): a damaged snapshot, a damaged or missing log header, a
/// damaged record before the last, a log without a whole record or deleted: refused. A
/// damaged last record, or a log cut inside a record after its first one, is a torn tail,
/// cut off; a log cut at a record boundary after its first record cannot be told from one
/// whose later saves never happened: it starts.
fn expected(damage: Damage, starts: &[usize]) -> Verdict {
    let last = *starts.last().expect("records");
    match damage {
        Damage::Flip(File::Log, at) if at >= last => Verdict::Starts,
        Damage::Truncate(File::Log, len) if len >= starts[1] => Verdict::Starts,
        _ => Verdict::Refuses,
    }
}

/// The proposer of the highest ballot the storage of `nodes` promised.
fn leader_among(cluster: &common::Cluster, nodes: &[usize]) -> Option<usize> {
    use paxos::protocol::multi_paxos::Storage as KvStorage;
    let promised = nodes
        .iter()
        .filter_map(|&i| load_storage::<KvStorage<String>>(&cluster.storage_path(i)).ok())
        .flatten()
        .map(|saved| saved.promised)
        .max()?;
    let proposer = SocketAddrV4::from(promised.proposer);
    cluster.addresses.iter().position(|&a| a == proposer)
}

/// Reads every key through `client`: each holds exactly the appends acknowledged to it, in
/// order (nothing lost, nothing never written), and a key never written reads as none.
fn read_back(
    client: &mut paxos::runtime::client::UdpClient,
    expected: &[(String, String)],
    when: &str,
) {
    use paxos::protocol::multi_paxos::{KvOp, KvRet};
    use paxos::runtime::client::MultiPaxosCodec;
    let never = ("never-written".to_owned(), None);
    let keys = expected.iter().map(|(k, v)| (k.clone(), Some(v.clone())));
    for (key, value) in keys.chain([never]) {
        let read = client.call_with::<MultiPaxosCodec>(KvOp::Get { key: key.clone() });
        assert!(
            matches!(&read, Ok(KvRet::GetOk { value: read }) if *read == value),
            "{when}: {key} reads {read:?}, expected {value:?}"
        );
    }
}

// D2, W1-W4 on real processes, as an operator would damage a node. A 3-node Multi-Paxos
// cluster takes 360 appends or more to 6 keys, each acknowledged with the value expected; the
// victim (a follower) is restarted after 300 of them (or more, until it has taken a snapshot
// of its store, SN1), so that its snapshot file holds a store of values and its log the
// 60-odd saves since; then it is stopped (kill -9) and its two files kept. For each damage of [`damages`] (201 with the files of a typical run: both headers
// byte by byte, every 40th byte of each file, the fields of 5 sampled records, a value stored
// in the snapshot; each file zeroed, deleted, and cut at 16 or more points), the files are
// restored, damaged, and the node started alone at a scratch address. It refuses with exit
// status 1, naming the file, what is wrong and what to do, touching neither file; or it
// starts, and the damage is one of the torn tails and record-boundary cuts that [`expected`]
// lists (24 of them). Meanwhile the other two serve every key, also beside the node refusing
// at its own address. Then each damage it starts with is done again at its own address, with
// the third member, which holds every save (the leader of the writes is stopped): the
// damaged node campaigns first and most often leads (13 to 22 of 24 in five runs), and every
// key reads back exactly, a key never written as none.
// Takes about 30 s in release mode on 2 cores (cargo test --release --test store
// a_damaged_node).
#[test]
fn a_damaged_node_refuses_or_loses_nothing() {
    use common::{Cluster, Setup};
    use paxos::protocol::multi_paxos::{KvOp, KvRet, Storage as KvStorage};
    use paxos::runtime::client::{MultiPaxosCodec, UdpClient};
    use paxos::runtime::node::{free_loopback_addresses, Protocol, SNAPSHOT_AFTER};
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let setup = Setup {
        untraced: true,
        ..Setup::default()
    };
    let mut cluster = Cluster::start_with(Protocol::MultiPaxos, 3, "store-damage", setup);
    let leader = leader_among(&cluster, &[0, 1, 2]).expect("a leader is elected");
    let (victim, other, third) = ((leader + 1) % 3, leader, (leader + 2) % 3);
    let keys: Vec<String> = (0..6).map(|k| format!("key-{k}")).collect();
    let mut values: Vec<(String, String)> =
        keys.iter().map(|k| (k.clone(), String::new())).collect();
    let mut writer = UdpClient::new(cluster.addresses.clone(), Duration::from_millis(700), 10)
        .expect("a client");
    writer.prefer(leader);
    let mut append = |n: usize| {
        let (key, value) = &mut values[n % keys.len()];
        let token = format!("{n}.");
        let op = KvOp::Append {
            key: key.clone(),
            value: token.clone(),
        };
        let ret = writer.call_with::<MultiPaxosCodec>(op);
        value.push_str(&token);
        assert!(
            matches!(&ret, Ok(KvRet::AppendOk { value: after }) if after == value),
            "append {n}: {ret:?}"
        );
    };
    // Appends until the victim has taken a snapshot of its store (SN1: after 256 applied
    // slots, so about 260 appends; a follower that lags takes it later).
    let snapshotted = |cluster: &Cluster| {
        load_storage::<KvStorage<String>>(&cluster.storage_path(victim))
            .ok()
            .flatten()
            .is_some_and(|saved| saved.snapshot.upto >= SNAPSHOT_AFTER)
    };
    let mut n = 0;
    while n < 600 && (n < 300 || !snapshotted(&cluster)) {
        (n..n + 20).for_each(&mut append);
        n += 20;
    }
    cluster.kill(victim);
    cluster.restart(victim);
    (n..n + 60).for_each(&mut append);
    // The victim has accepted and learned every slot the others have.
    std::thread::sleep(Duration::from_millis(500));
    cluster.kill(victim);
    let snapshot = cluster.storage_path(victim);
    let pristine = Files::read(&snapshot);
    let saved = load_storage::<KvStorage<String>>(&snapshot)
        .expect("readable")
        .expect("saved");
    assert!(
        saved.snapshot.upto >= SNAPSHOT_AFTER,
        "SN1: a store of values"
    );
    let (on_disk, _) = decode_snapshot::<KvStorage<String>>(&pristine.snapshot).expect("whole");
    assert!(
        on_disk.snapshot.upto >= SNAPSHOT_AFTER,
        "in the snapshot file"
    );
    let scanned = scan(&pristine.log, LOG_HEADER).expect("whole");
    assert_eq!(scanned.torn, None);
    let starts: Vec<usize> = scanned.payloads.iter().map(|p| p.start - HEADER).collect();
    assert!(starts.len() >= 20, "{} records in the log", starts.len());
    let pattern = b"\"key-3\":\"";
    let value = pristine
        .snapshot
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("a stored value in the snapshot")
        + pattern.len();
    let all = damages(pristine.snapshot.len(), &starts, pristine.log.len(), value);
    eprintln!(
        "ready in {:?}: snapshot {} bytes, log {} bytes in {} records; {} damages",
        started.elapsed(),
        pristine.snapshot.len(),
        pristine.log.len(),
        starts.len(),
        all.len()
    );

    // Phase 1: each damage, the node alone at a scratch address.
    let scratch = common::temp_dir("store-damage-probe");
    let address = free_loopback_addresses(1).expect("a free port")[0];
    let probe_snapshot = storage_path(&scratch, address);
    let mut starting = Vec::new();
    for &damage in &all {
        pristine.write_damaged(&probe_snapshot, damage);
        let before = (
            fs::read(&probe_snapshot).ok(),
            fs::read(log_path(&probe_snapshot)).ok(),
        );
        let (verdict, code, stderr) = probe(&scratch, address);
        assert_eq!(verdict, expected(damage, &starts), "{damage:?}: {stderr}");
        match verdict {
            Verdict::Refuses => {
                assert_eq!(code, Some(1), "{damage:?}: {stderr}");
                let file = damage.file().path(&probe_snapshot);
                let named = format!("storage file {} cannot be used", file.display());
                for words in [
                    "refusing to start",
                    named.as_str(),
                    "restore both files from a copy",
                    "keep this node down",
                    "Do not delete",
                ] {
                    assert!(stderr.contains(words), "{damage:?}: {words:?} in {stderr}");
                }
                let after = (
                    fs::read(&probe_snapshot).ok(),
                    fs::read(log_path(&probe_snapshot)).ok(),
                );
                assert!(
                    after == before,
                    "{damage:?}: D2, the files are left as they were"
                );
            }
            Verdict::Starts => starting.push(damage),
        }
    }
    let refused = all.len() - starting.len();
    eprintln!(
        "phase 1 in {:?}: {refused} refused, {} started",
        started.elapsed(),
        starting.len()
    );
    // The other two served all along.
    let mut reader = UdpClient::new(
        vec![cluster.addresses[other], cluster.addresses[third]],
        Duration::from_millis(700),
        10,
    )
    .expect("a client");
    read_back(&mut reader, &values, "the other two");
    // One refusal at the node's own address, among its peers: they keep serving.
    pristine.write_damaged(&snapshot, Damage::Zero(File::Log));
    cluster.launch(victim);
    read_back(&mut reader, &values, "beside a refusing node");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.running(victim) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!cluster.running(victim), "the zeroed log is refused");

    // Phase 2: each damage the node starts with, at its own address, with the third member
    // (the other is stopped for good): every majority holds the damaged node. Each run starts
    // from the same state: the third's files as it was stopped, which hold every save (it
    // answered all along), and the damaged node's. The damaged node starts first and
    // campaigns (its election timer runs at once, L2) while the third is still down; once up,
    // the third promises to it before its own timer runs: the damaged node leads, from what
    // its files held, and catches up from the third.
    cluster.kill(other);
    cluster.kill(third);
    let third_snapshot = cluster.storage_path(third);
    let third_files = Files::read(&third_snapshot);
    let mut led = 0;
    for &damage in &starting {
        third_files.restore(&third_snapshot);
        pristine.write_damaged(&snapshot, damage);
        let round = |path: &Path| {
            load_storage::<KvStorage<String>>(path)
                .ok()
                .flatten()
                .map(|saved| saved.round)
        };
        let before = round(&snapshot);
        cluster.launch(victim);
        let deadline = Instant::now() + Duration::from_secs(5);
        while round(&snapshot) == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        cluster.launch(third);
        let mut client = UdpClient::new(
            vec![cluster.addresses[victim], cluster.addresses[third]],
            Duration::from_millis(1000),
            10,
        )
        .expect("a client");
        read_back(&mut client, &values, &format!("{damage:?}"));
        if leader_among(&cluster, &[victim, third]) == Some(victim) {
            led += 1;
        }
        cluster.kill(victim);
        cluster.kill(third);
    }
    eprintln!(
        "phase 2 in {:?}: {} damages the node started with, every key read back; the damaged \
         node led in {led}",
        started.elapsed(),
        starting.len()
    );
    let _ = fs::remove_dir_all(&scratch);
}
