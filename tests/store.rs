//! A node's storage as a snapshot and a write-ahead log (spec/runtime.md, "Durability": D1,
//! D2, W1-W4): what a save writes, what a restart reads back, torn tails cut off, corruption
//! and missing files refused, a log and a snapshot that do not meet refused, compaction, and a
//! crash in the middle of a first save or of a compaction; then the same rules through the
//! built binary.
//!
//! Reference: spec/runtime.md, W1-W4, D1, D2, SN4.
mod common;

use common::{run_binary, temp_dir};
use paxos::protocol::multi_paxos::{
    Ballot, ClientCommand, Command, KvOp, Proposal, Slot, Snapshot, Storage,
};
use paxos::runtime::storage::{
    decode_snapshot, encode_snapshot, load_storage, storage_path, write_durably,
};
use paxos::runtime::wal::{
    log_header, log_path, read_log_header, record, scan, Journal, Store, HEADER, LOG_HEADER,
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
fn fresh(tag: &str) -> (PathBuf, PathBuf) {
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
fn node_with_saves(tag: &str, saves: &[Storage]) -> (PathBuf, SocketAddrV4, PathBuf) {
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
