//! A node's storage as a snapshot and a write-ahead log of changes, so that a save costs what
//! changed, not the whole storage (the Multi-Paxos storage holds the acceptor's whole log).
//! The rules are in `spec/runtime.md`, "Durability":
//!
//! - **W1** `<address>.storage` is a snapshot: a 28-byte header (the magic
//!   [`storage::SNAPSHOT_MAGIC`], the format version, the number of the first log record it
//!   does not hold, the length of what follows, a CRC-32 of every other byte of the file),
//!   then the whole storage as JSON. `<address>.wal` is the log: a 20-byte header (the magic
//!   [`LOG_MAGIC`], the format version, the number of its first record, a CRC-32 of the
//!   header), then one record per save, appended and flushed (`fdatasync`) before the step's
//!   messages are sent (D1). A record is a 16-byte header (the magic [`MAGIC`], the
//!   payload's length, the payload's CRC-32, the CRC-32 of the header's first 12 bytes) and a
//!   payload: the JSON list of the [`Journal::Change`]s since the previous save. Records are
//!   numbered in order from the log's first. A save that changes nothing writes nothing. A
//!   node's first save writes the log (its record 0: the changes from the empty storage),
//!   then the snapshot (holding record 0); from then on both files exist.
//! - **W2** At start, a damaged record (cut short, or failing a checksum) after at least one
//!   whole record, after which no whole record follows anywhere in the file, is a *torn
//!   tail*: a save a crash cut short, whose messages were never sent. It is logged and cut
//!   off; the node starts with every record before it.
//! - **W3** Anything else damaged refuses to start (D2): a snapshot whose header or checksum
//!   fails, or that does not decode; a log missing beside its snapshot; a log whose header
//!   fails, or that holds no whole record; a damaged record followed by a whole one; a whole
//!   record whose payload does not decode; a log that does not meet its snapshot (it starts
//!   after the first record the snapshot does not hold, or ends before it: records are
//!   missing); a log without its snapshot, but for the state a crash leaves inside a node's
//!   first save.
//! - **W4** Compaction: when the records appended since the log was last written outgrow
//!   [`COMPACT_AFTER`] and the snapshot, the whole storage is written as a new snapshot
//!   ([`storage::write_durably`]), and only then the log is replaced by one that holds a
//!   single empty record (no change), numbered as the first the snapshot does not hold: a log
//!   always holds at least one record, so one cut to its bare header is refused. A crash
//!   between the two leaves the new snapshot and the old log, whose records the snapshot holds
//!   are skipped by their number. At start, a log of more than one record is folded into the
//!   snapshot the same way.
use crate::protocol::{multi_paxos, paxos};
use crate::runtime::storage::{self, Unreadable};
use itertools::{EitherOrBoth, Itertools};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Storage that can be saved as what changed since the previous save. W1: a node's first
/// save is the changes from the default, empty storage, which a node that never saved starts
/// without.
pub trait Journal: Clone + Default + Serialize + DeserializeOwned + Send + 'static {
    /// One change. W4: it sets a part of the storage to a value, so that applying it to
    /// storage that already holds it changes nothing.
    type Change: Serialize + DeserializeOwned + Send;

    /// What changed from `before` to `self`: `before` with them applied, in order, is `self`.
    fn changes(&self, before: &Self) -> Vec<Self::Change>;

    /// Applies one change.
    fn apply(&mut self, change: Self::Change);
}

/// Single-decree storage is three small fields: a change is the whole of it.
impl Journal for paxos::Storage {
    type Change = paxos::Storage;

    fn changes(&self, before: &Self) -> Vec<paxos::Storage> {
        if self == before {
            Vec::new()
        } else {
            vec![self.clone()]
        }
    }

    fn apply(&mut self, change: paxos::Storage) {
        *self = change;
    }
}

/// A change of Multi-Paxos storage: one field, or one slot of the accepted log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "V: multi_paxos::Text")]
pub enum MultiPaxosChange<V = char> {
    /// `round` is now this.
    Round(u32),
    /// `promised` is now this.
    Promised(multi_paxos::Ballot),
    /// `decided` is now this.
    Decided(multi_paxos::Slot),
    /// The slot's accepted proposal is now this one.
    Accepted(multi_paxos::Slot, multi_paxos::Proposal<V>),
    /// The slot holds no accepted proposal any more.
    Unaccepted(multi_paxos::Slot),
    /// The snapshot is now this one. It comes before the changes of the accepted slots that
    /// go with it (the truncation below it).
    Snapshot(std::sync::Arc<multi_paxos::Snapshot<V>>),
}

impl<V: multi_paxos::Text> Journal for multi_paxos::Storage<V> {
    type Change = MultiPaxosChange<V>;

    fn changes(&self, before: &Self) -> Vec<MultiPaxosChange<V>> {
        let mut changes = Vec::new();
        if self.round != before.round {
            changes.push(MultiPaxosChange::Round(self.round));
        }
        if self.promised != before.promised {
            changes.push(MultiPaxosChange::Promised(self.promised));
        }
        if self.decided != before.decided {
            changes.push(MultiPaxosChange::Decided(self.decided));
        }
        // The same snapshot is shared by every save until a new one is taken: comparing the
        // pointers first spares comparing whole stores.
        let (new, old) = (&self.snapshot, &before.snapshot);
        if !std::sync::Arc::ptr_eq(new, old) && new != old {
            changes.push(MultiPaxosChange::Snapshot(new.clone()));
        }
        let slots = before
            .accepted
            .iter()
            .merge_join_by(&self.accepted, |(a, _), (b, _)| a.cmp(b));
        for slot in slots {
            match slot {
                EitherOrBoth::Both(old, (&slot, new)) if old.1 != new => {
                    changes.push(MultiPaxosChange::Accepted(slot, new.clone()));
                }
                EitherOrBoth::Both(..) => {}
                EitherOrBoth::Right((&slot, new)) => {
                    changes.push(MultiPaxosChange::Accepted(slot, new.clone()));
                }
                EitherOrBoth::Left((&slot, _)) => changes.push(MultiPaxosChange::Unaccepted(slot)),
            }
        }
        changes
    }

    fn apply(&mut self, change: MultiPaxosChange<V>) {
        match change {
            MultiPaxosChange::Round(round) => self.round = round,
            MultiPaxosChange::Promised(ballot) => self.promised = ballot,
            MultiPaxosChange::Decided(slot) => self.decided = slot,
            MultiPaxosChange::Accepted(slot, proposal) => {
                self.accepted.insert(slot, proposal);
            }
            MultiPaxosChange::Unaccepted(slot) => {
                self.accepted.remove(&slot);
            }
            MultiPaxosChange::Snapshot(snapshot) => self.snapshot = snapshot,
        }
    }
}

/// W1: the first bytes of every record. 0xFF is in no UTF-8 text, so no JSON payload holds it.
pub const MAGIC: [u8; 4] = [0xFF, b'W', b'A', b'L'];

/// W1: the bytes of a record's header.
pub const HEADER: usize = 16;

/// W1: the first bytes of a log, its header's magic.
pub const LOG_MAGIC: [u8; 4] = [0xFF, b'L', b'O', b'G'];

/// W1: the log format this build writes, and the only one it reads.
pub const LOG_VERSION: u32 = 1;

/// W1: the bytes of a log's header: the magic, the format version, the number of its first
/// record, the CRC-32 of the 16 bytes before it.
pub const LOG_HEADER: usize = 20;

/// W4: the log is compacted once the records appended since it was last written hold more
/// bytes than this and than the snapshot: each compaction then writes at most as much as the
/// records it replaces, and a restart replays at most this much or one snapshot's worth.
pub const COMPACT_AFTER: u64 = 4 << 20;

/// The log that goes with the snapshot at `snapshot` (`<address>.storage` → `<address>.wal`).
pub fn log_path(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("wal")
}

/// W1: the header of a log whose first record is numbered `first`.
pub fn log_header(first: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(LOG_HEADER);
    bytes.extend_from_slice(&LOG_MAGIC);
    bytes.extend_from_slice(&LOG_VERSION.to_le_bytes());
    bytes.extend_from_slice(&first.to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// W1, W3: the number of the first record of the log `bytes`, or what is wrong with its
/// header.
pub fn read_log_header(bytes: &[u8]) -> Result<u64, String> {
    if bytes.is_empty() {
        return Err("the file is empty".to_owned());
    }
    let Some(header) = bytes.get(..LOG_HEADER) else {
        return Err(format!(
            "the file is {} bytes, shorter than a log's {LOG_HEADER}-byte header",
            bytes.len()
        ));
    };
    if header[..4] != LOG_MAGIC {
        return Err(format!(
            "it does not start with the log magic {}: overwritten, or not a log of this format",
            storage::hex(&LOG_MAGIC)
        ));
    }
    if crc32fast::hash(&header[..16]) != u32_at(header, 16) {
        return Err("its header's checksum fails".to_owned());
    }
    let version = u32_at(header, 4);
    if version != LOG_VERSION {
        return Err(format!(
            "its format version is {version}, and this build reads version {LOG_VERSION}"
        ));
    }
    let first: [u8; 8] = header[8..16].try_into().expect("eight bytes");
    Ok(u64::from_le_bytes(first))
}

/// W1: the record holding `payload`.
pub fn record(payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("a save's changes are far below 4 GiB");
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let header_crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&header_crc.to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Why the bytes at an offset are not a whole record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside the header.
    ShortHeader,
    /// The header does not start with [`MAGIC`].
    NoMagic,
    /// The header's checksum fails.
    HeaderChecksum,
    /// The file ends inside the payload.
    ShortPayload,
    /// The payload's checksum fails.
    PayloadChecksum,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Damage::ShortHeader => "the file ends inside its header",
            Damage::NoMagic => "it does not start with the record magic",
            Damage::HeaderChecksum => "its header checksum fails",
            Damage::ShortPayload => "the file ends inside its payload",
            Damage::PayloadChecksum => "its payload checksum fails",
        })
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let word: [u8; 4] = bytes[at..at + 4].try_into().expect("four bytes");
    u32::from_le_bytes(word)
}

/// The payload of the whole record at `at`, or what is wrong with it.
fn record_at(bytes: &[u8], at: usize) -> Result<Range<usize>, Damage> {
    let header = bytes.get(at..at + HEADER).ok_or(Damage::ShortHeader)?;
    if header[..4] != MAGIC {
        return Err(Damage::NoMagic);
    }
    if crc32fast::hash(&header[..12]) != u32_at(header, 12) {
        return Err(Damage::HeaderChecksum);
    }
    let start = at + HEADER;
    let end = usize::try_from(u32_at(header, 4))
        .ok()
        .and_then(|length| start.checked_add(length))
        .filter(|&end| end <= bytes.len())
        .ok_or(Damage::ShortPayload)?;
    if crc32fast::hash(&bytes[start..end]) != u32_at(header, 8) {
        return Err(Damage::PayloadChecksum);
    }
    Ok(start..end)
}

/// A log's bytes, read record by record.
#[derive(Debug, PartialEq, Eq)]
pub struct Scan {
    /// The payload of each whole record, in order.
    pub payloads: Vec<Range<usize>>,
    /// A damaged record after which no whole record follows: where it starts and why it is
    /// not whole. W2: a torn tail if whole records come before it.
    pub torn: Option<(usize, Damage)>,
}

/// W3: a log that cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// Where the damaged record starts.
    pub at: usize,
    /// Why it is not a whole record.
    pub damage: Damage,
    /// Where the first whole record after it starts.
    pub next: usize,
}

/// W2, W3: the whole records of `bytes` from byte `from` on (past the log's header), then
/// either its end, a damaged last record, or the damage that makes it unusable.
pub fn scan(bytes: &[u8], from: usize) -> Result<Scan, Corrupt> {
    let mut payloads = Vec::new();
    let mut at = from;
    while at < bytes.len() {
        match record_at(bytes, at) {
            Ok(payload) => {
                at = payload.end;
                payloads.push(payload);
            }
            Err(damage) => {
                // W2 or W3: a torn write only ever damages the last record.
                return match (at + 1..bytes.len()).find(|&i| record_at(bytes, i).is_ok()) {
                    Some(next) => Err(Corrupt { at, damage, next }),
                    None => Ok(Scan {
                        payloads,
                        torn: Some((at, damage)),
                    }),
                };
            }
        }
    }
    Ok(Scan {
        payloads,
        torn: None,
    })
}

/// A node's storage as read from its snapshot and log.
#[derive(Debug)]
pub struct Recovered<S> {
    /// The snapshot with every whole record it does not hold applied; `None` for a node that
    /// never saved.
    pub storage: Option<S>,
    /// The number of the log's first record (0 when there is no log).
    pub first: u64,
    /// How many whole records the log holds.
    pub records: usize,
    /// The number of the first record the snapshot does not hold; `None` without a snapshot.
    pub snapshot_next: Option<u64>,
    /// The snapshot's size in bytes (0 without one).
    pub snapshot_bytes: u64,
    /// W2: where the log's torn tail starts, and why.
    pub torn: Option<(usize, Damage)>,
}

/// W1-W3: the storage a node saved, read without changing anything: the snapshot at
/// `snapshot` with every whole record of its log it does not hold applied, a torn tail left
/// out; `None` if neither file exists. The log is read before the snapshot, so that a node
/// compacting meanwhile (W4) makes the snapshot newer than the log, never older; the log read
/// may then end before the snapshot's first record, and be refused
/// ([`load_storage`] reads again).
pub fn read<S: Journal>(snapshot: &Path) -> Result<Recovered<S>, Unreadable> {
    let log = log_path(snapshot);
    let refused = |path: &Path, reason: String| Unreadable {
        path: path.to_owned(),
        reason,
    };
    let bytes = match fs::read(&log) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(refused(&log, e.to_string())),
        Ok(bytes) => Some(bytes),
    };
    let saved = storage::load_snapshot::<S>(snapshot)?;
    let Some(bytes) = bytes else {
        return match saved {
            // A node that never saved.
            None => Ok(Recovered {
                storage: None,
                first: 0,
                records: 0,
                snapshot_next: None,
                snapshot_bytes: 0,
                torn: None,
            }),
            // W3: the saves since the snapshot are lost.
            Some(_) => Err(refused(
                &log,
                format!(
                    "the file is missing, yet its snapshot {} exists: the log holds every save \
                     since that snapshot, and a node that has saved always has both files",
                    snapshot.display()
                ),
            )),
        };
    };
    // W3: the log's header, then its records.
    let first = read_log_header(&bytes).map_err(|reason| refused(&log, reason))?;
    let scan = scan(&bytes, LOG_HEADER).map_err(|c| {
        refused(
            &log,
            format!(
                "the record at byte {} is damaged ({}), yet a whole record follows at byte {}: \
                 not a write cut short by a crash, but a damaged disk or an edited file",
                c.at, c.damage, c.next
            ),
        )
    })?;
    if scan.payloads.is_empty() {
        let damaged = match scan.torn {
            Some((at, damage)) => format!(", only a damaged one at byte {at} ({damage})"),
            None => String::new(),
        };
        return Err(refused(
            &log,
            format!(
                "it holds no whole record{damaged}, yet a log always holds at least one (W4): \
                 it was cut or overwritten, and the saves it held are lost"
            ),
        ));
    }
    let records = scan.payloads.len() as u64;
    let Some(end) = first.checked_add(records) else {
        return Err(refused(
            &log,
            format!("its first record's number, {first}, is too large to count its records from"),
        ));
    };
    let (mut storage, next, snapshot_bytes) = match saved {
        Some((storage, next, bytes)) => {
            // W3: the log meets its snapshot: it holds the first record the snapshot does
            // not, or records are missing between the two.
            if first > next {
                return Err(refused(
                    &log,
                    format!(
                        "it starts at record {first}, yet its snapshot {} holds only the saves \
                         before record {next}: the saves in between are missing (is the \
                         snapshot an older copy?)",
                        snapshot.display()
                    ),
                ));
            }
            if end < next {
                return Err(refused(
                    &log,
                    format!(
                        "its records end at record {}, yet its snapshot {} holds the saves up \
                         to record {}: the log is shorter than its snapshot says it must be \
                         (cut, or an older copy)",
                        end - 1,
                        snapshot.display(),
                        next - 1
                    ),
                ));
            }
            (storage, next, Some(bytes))
        }
        // W1: a crash inside a node's first save, after its log and before its snapshot: the
        // log holds that whole save, from the empty storage.
        None if first == 0 && records == 1 && scan.torn.is_none() => (S::default(), 0, None),
        None => {
            return Err(refused(
                snapshot,
                format!(
                    "the file is missing, yet its log {} holds saves (records {first} to {}) \
                     that apply to it",
                    log.display(),
                    end - 1
                ),
            ))
        }
    };
    // W4: the records the snapshot holds are skipped by their number.
    let unheld = usize::try_from(next - first).expect("next <= end, checked above");
    for payload in &scan.payloads[unheld..] {
        let changes: Vec<S::Change> =
            serde_json::from_slice(&bytes[payload.clone()]).map_err(|e| {
                refused(
                    &log,
                    format!(
                        "the record at byte {} is whole but does not decode ({e})",
                        payload.start - HEADER
                    ),
                )
            })?;
        changes.into_iter().for_each(|change| storage.apply(change));
    }
    Ok(Recovered {
        storage: Some(storage),
        first,
        records: scan.payloads.len(),
        snapshot_next: snapshot_bytes.map(|_| next),
        snapshot_bytes: snapshot_bytes.unwrap_or(0),
        torn: scan.torn,
    })
}

/// A node's durable storage: its snapshot and its log, and what they hold.
pub struct Store<S> {
    snapshot: PathBuf,
    log: PathBuf,
    compact_after: u64,
    saved: Mutex<OnDisk<S>>,
}

/// What the disk holds, as the store last wrote it.
struct OnDisk<S> {
    /// The storage the snapshot and the log hold together; `None` before the first save.
    storage: Option<S>,
    /// The log, open for appending, once the store has appended to it.
    file: Option<File>,
    /// The number the next record appended gets.
    next: u64,
    /// The number of the first record the snapshot does not hold; `None` without a snapshot.
    snapshot_next: Option<u64>,
    /// The bytes appended to the log since it was last written whole (W4).
    appended: u64,
    /// The snapshot's length.
    snapshot_bytes: u64,
}

impl<S> fmt::Debug for Store<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("snapshot", &self.snapshot)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl<S: Journal> Store<S> {
    /// W1-W4: the store of the snapshot at `snapshot`, compacted once the records appended to
    /// its log hold more than `compact_after` bytes (and more than the snapshot). A torn tail
    /// is logged and cut off (W2); a log of more than one record, or without its snapshot, is
    /// folded into the snapshot (W4); anything unusable is refused (W3, D2) and left as it is.
    pub fn open(snapshot: &Path, compact_after: u64) -> Result<Store<S>, Unreadable> {
        let recovered = read::<S>(snapshot)?;
        let log = log_path(snapshot);
        if let Some((at, damage)) = recovered.torn {
            log::warn!(
                "Cutting off the torn tail of the storage log: a save cut short by a crash. \
                 log={}, at={at}, damage={damage}",
                log.display()
            );
            eprintln!(
                "paxos: warning: storage log {} ends with a save cut short by a crash ({damage}); \
                 cutting it off at byte {at}",
                log.display()
            );
        }
        // W4: a snapshot, and a log of one record, as a compaction leaves them.
        let compacted =
            recovered.snapshot_next.is_some() && recovered.records == 1 && recovered.torn.is_none();
        let next = recovered.first + recovered.records as u64;
        let store = Store {
            snapshot: snapshot.to_owned(),
            log,
            compact_after,
            saved: Mutex::new(OnDisk {
                storage: recovered.storage,
                file: None,
                next,
                snapshot_next: recovered.snapshot_next,
                appended: 0,
                snapshot_bytes: recovered.snapshot_bytes,
            }),
        };
        let mut saved = store.lock();
        if saved.storage.is_some() && !compacted {
            store.compact(&mut saved).map_err(|e| Unreadable {
                path: snapshot.to_owned(),
                reason: format!("cannot fold its log into it: {e}"),
            })?;
        }
        drop(saved);
        Ok(store)
    }

    /// The snapshot's path (`<address>.storage`).
    pub fn path(&self) -> &Path {
        &self.snapshot
    }

    /// The storage on disk, as the store last wrote it.
    pub fn saved(&self) -> Option<S> {
        self.lock().storage.clone()
    }

    /// `f` of the storage on disk, as the store last wrote it, without a copy of it (a node
    /// starts from it).
    pub fn with_saved<R>(&self, f: impl FnOnce(&Option<S>) -> R) -> R {
        f(&self.lock().storage)
    }

    /// What saving `storage` would append (T2: a step's trace line records it): its changes
    /// since the last save, or `None` before the first save, which writes the whole of it.
    pub fn changes(&self, storage: &S) -> Option<Vec<S::Change>> {
        let saved = self.lock();
        saved.storage.as_ref().map(|before| storage.changes(before))
    }

    /// D1, W1: `storage` is on disk when this returns: one record of what changed since the
    /// last save, appended and flushed; or, at the first save, the log and the snapshot. W4:
    /// compacts the log when it has grown enough.
    pub fn save(&self, storage: &S) -> io::Result<()> {
        let mut saved = self.lock();
        let changes = match &saved.storage {
            Some(before) => storage.changes(before),
            None => Vec::new(),
        };
        self.write(&mut saved, storage, changes)
    }

    /// [`Store::save`] of `storage` whose `changes` since the storage on disk the caller has
    /// computed already (as [`Store::changes`] returns them, with no save in between): the
    /// same record, without comparing the two storages again. Before the first save, the
    /// whole of `storage` is written and `changes` are not used.
    pub fn save_changes(&self, storage: &S, changes: Vec<S::Change>) -> io::Result<()> {
        self.write(&mut self.lock(), storage, changes)
    }

    /// W4: compacts now: the storage on disk as a new snapshot, and a log of one empty record
    /// (what a save does once the log has grown enough; benchmarks time it).
    pub fn compact_now(&self) -> io::Result<()> {
        let mut saved = self.lock();
        if saved.storage.is_none() {
            return Ok(());
        }
        saved.snapshot_next = None;
        self.compact(&mut saved)
    }

    /// D1, W1, W4: [`Store::save`], once the changes are known.
    fn write(&self, saved: &mut OnDisk<S>, storage: &S, changes: Vec<S::Change>) -> io::Result<()> {
        if saved.storage.is_none() {
            return self.write_first(saved, storage);
        }
        if changes.is_empty() {
            return Ok(());
        }
        let record = record(&serde_json::to_vec(&changes).map_err(io::Error::other)?);
        let file = match &mut saved.file {
            Some(file) => file,
            file @ None => file.insert(self.open_log()?),
        };
        file.write_all(&record)?;
        file.sync_data()?;
        saved.appended += record.len() as u64;
        saved.next += 1;
        let on_disk = saved.storage.as_mut().expect("checked above");
        changes.into_iter().for_each(|change| on_disk.apply(change));
        if saved.appended > self.compact_after.max(saved.snapshot_bytes) {
            self.compact(saved)?;
        }
        Ok(())
    }

    /// D1, W1: a node's first save: the log, its record 0 the changes from the empty storage
    /// to `storage`; then the snapshot of `storage`, which holds record 0. A crash between the
    /// two leaves the log alone, which holds the whole save (W3 lets it start).
    fn write_first(&self, saved: &mut OnDisk<S>, storage: &S) -> io::Result<()> {
        let changes = storage.changes(&S::default());
        let record = record(&serde_json::to_vec(&changes).map_err(io::Error::other)?);
        storage::write_durably(&self.log, &[log_header(0), record].concat())?;
        let bytes = storage::encode_snapshot(storage, 1).map_err(io::Error::other)?;
        storage::write_durably(&self.snapshot, &bytes)?;
        *saved = OnDisk {
            storage: Some(storage.clone()),
            file: None,
            next: 1,
            snapshot_next: Some(1),
            appended: 0,
            snapshot_bytes: bytes.len() as u64,
        };
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OnDisk<S>> {
        self.saved
            .lock()
            .expect("a save never panics while it holds the store")
    }

    /// The log, open for appending. It exists from the first save on: if it is gone, the
    /// save fails (and the node stops) rather than start a log its snapshot does not match.
    fn open_log(&self) -> io::Result<File> {
        OpenOptions::new().append(true).open(&self.log)
    }

    /// W4: the storage on disk as a new snapshot, written durably (unless the snapshot holds
    /// it already); then, and only then, a new log of one empty record, numbered as the first
    /// the snapshot does not hold.
    fn compact(&self, saved: &mut OnDisk<S>) -> io::Result<()> {
        let storage = saved.storage.as_ref().expect("a log applies to a snapshot");
        if saved.snapshot_next != Some(saved.next) {
            let bytes = storage::encode_snapshot(storage, saved.next).map_err(io::Error::other)?;
            storage::write_durably(&self.snapshot, &bytes)?;
            saved.snapshot_bytes = bytes.len() as u64;
            saved.snapshot_next = Some(saved.next);
        }
        saved.file = None;
        let empty =
            record(&serde_json::to_vec(&Vec::<S::Change>::new()).map_err(io::Error::other)?);
        storage::write_durably(&self.log, &[log_header(saved.next), empty].concat())?;
        log::info!(
            "Compacted the storage log into a snapshot. snapshot={}, snapshot_bytes={}, \
             log_bytes_appended={}, next_record={}",
            self.snapshot.display(),
            saved.snapshot_bytes,
            saved.appended,
            saved.next
        );
        saved.next += 1;
        saved.appended = 0;
        Ok(())
    }
}

/// D2: the storage a node saved, its snapshot at `path` with its log applied
/// ([`read`]), without changing either file: `None` if the node never saved, an error if
/// they cannot be used. The node may be running: a read that a compaction overtook (the log
/// read before it, ending before the snapshot read after it, W4) is made again, twice at most.
pub fn load_storage<S: Journal>(path: &Path) -> Result<Option<S>, Unreadable> {
    let mut result = read(path);
    for _ in 0..2 {
        if result.is_ok() {
            break;
        }
        result = read(path);
    }
    result.map(|recovered| recovered.storage)
}

/// Replaces the whole storage of a node that is not running, for tools and tests that
/// fabricate it: its snapshot and its log ([`log_path`]) are removed, then `storage` is
/// saved as a fresh node's first save (W1). A crash in between leaves no files, or a log
/// without its snapshot (refused, W3), or the new storage.
pub fn replace_storage<S: Journal>(path: &Path, storage: &S) -> std::io::Result<()> {
    for file in [path.to_owned(), log_path(path)] {
        match fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    storage::sync_parent(path)?;
    let store = Store::<S>::open(path, COMPACT_AFTER).map_err(std::io::Error::other)?;
    store.save(storage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::multi_paxos::{Ballot, ClientCommand, Command, KvOp, Proposal};
    use stateright::actor::Id;

    fn proposal(round: u32, request: u64) -> Proposal {
        Proposal {
            ballot: Ballot {
                round,
                proposer: Id::from(1),
            },
            command: Command::Batch(
                vec![ClientCommand {
                    client: Id::from(9),
                    request,
                    op: KvOp::Put {
                        key: 'x',
                        value: 'y',
                    },
                }]
                .into(),
            ),
        }
    }

    /// Multi-Paxos storage with the given accepted slots (slot, round).
    fn multi(round: u32, decided: u32, slots: &[(u32, u32)]) -> multi_paxos::Storage {
        multi_paxos::Storage {
            round,
            promised: Ballot {
                round,
                proposer: Id::from(1),
            },
            accepted: slots
                .iter()
                .map(|&(slot, round)| (slot, proposal(round, u64::from(slot))))
                .collect(),
            decided,
            snapshot: Default::default(),
        }
    }

    /// `storage` truncated at a snapshot of the slots below `upto`.
    fn snapshotted(mut storage: multi_paxos::Storage, upto: u32) -> multi_paxos::Storage {
        let mut snapshot = multi_paxos::Snapshot {
            upto,
            ..Default::default()
        };
        snapshot.machine.kv.data.insert('x', "ABC".to_owned());
        storage.snapshot = std::sync::Arc::new(snapshot);
        storage
    }

    // W1: the changes are exact: applied to `before` they give `after`, for each pair of a set
    // of storages that covers every field changing, slots added, re-accepted and dropped; and
    // W4: applied again to `after` they change nothing.
    #[test]
    fn multi_paxos_changes_are_exact_and_idempotent() {
        let storages = [
            multi_paxos::Storage::default(),
            multi(1, 0, &[]),
            multi(1, 0, &[(0, 1)]),
            multi(1, 1, &[(0, 1), (1, 1)]),
            multi(2, 1, &[(0, 1), (1, 2), (5, 2)]),
            multi(2, 3, &[(1, 2), (5, 2)]),
            snapshotted(multi(2, 3, &[(5, 2)]), 3),
        ];
        for before in &storages {
            for after in &storages {
                let changes = after.changes(before);
                assert_eq!(changes.is_empty(), before == after);
                let mut replayed = before.clone();
                changes.iter().for_each(|c| replayed.apply(c.clone()));
                assert_eq!(&replayed, after);
                changes.into_iter().for_each(|c| replayed.apply(c));
                assert_eq!(&replayed, after, "W4: replaying twice is harmless");
            }
        }
        // Only what changed is written: one new slot is one change.
        let grown = multi(2, 1, &[(0, 1), (1, 2), (5, 2), (6, 2)]);
        assert_eq!(
            grown.changes(&storages[4]),
            vec![MultiPaxosChange::Accepted(6, proposal(2, 6))]
        );
    }

    #[test]
    fn paxos_changes_are_the_whole_storage() {
        let before = paxos::Storage::default();
        let after = paxos::Storage {
            round: 2,
            ..paxos::Storage::default()
        };
        assert!(before.changes(&before).is_empty());
        let mut replayed = before.clone();
        after
            .changes(&before)
            .into_iter()
            .for_each(|c| replayed.apply(c));
        assert_eq!(replayed, after);
    }

    // W2, W3: whole records are read back; damage in the last record is a torn tail, damage
    // followed by a whole record is corruption.
    #[test]
    fn scan_tells_a_torn_tail_from_corruption() {
        let (a, b) = (record(b"[1]"), record(b"[2,3]"));
        let log = [a.clone(), b.clone()].concat();
        let whole = scan(&log, 0).expect("whole");
        assert_eq!(whole.payloads, vec![16..19, 35..40]);
        assert_eq!(whole.torn, None);
        for cut in 1..b.len() {
            let torn = scan(&log[..a.len() + cut], 0).expect("a torn tail");
            assert_eq!(torn.payloads, vec![16..19]);
            assert_eq!(torn.torn.map(|t| t.0), Some(a.len()), "cut at {cut}");
        }
        // Any byte of the first record flipped, with the second whole after it: corrupt.
        for i in 0..a.len() {
            let mut damaged = log.clone();
            damaged[i] ^= 0x55;
            let corrupt = scan(&damaged, 0).expect_err("corrupt");
            assert_eq!((corrupt.at, corrupt.next), (0, a.len()), "byte {i}");
        }
        // The same byte flipped in the last record: a torn tail.
        for i in 0..b.len() {
            let mut damaged = log.clone();
            damaged[a.len() + i] ^= 0x55;
            let torn = scan(&damaged, 0).expect("a torn tail");
            assert_eq!(torn.torn.map(|t| t.0), Some(a.len()), "byte {i}");
        }
        // A tail of zeros (a file extended by a crash but not written): torn.
        let zeros = [log.clone(), vec![0; 40]].concat();
        assert_eq!(
            scan(&zeros, 0).expect("torn").torn,
            Some((40, Damage::NoMagic))
        );
    }

    // W1, W3: a log's header reads back; any byte of it changed, or the file cut inside it,
    // is refused, and zeros are named as not a log.
    #[test]
    fn a_log_header_reads_back_or_is_refused() {
        let header = log_header(41);
        assert_eq!(header.len(), LOG_HEADER);
        let log = [header.clone(), record(b"[]")].concat();
        assert_eq!(read_log_header(&log), Ok(41));
        for i in 0..LOG_HEADER {
            let mut damaged = log.clone();
            damaged[i] ^= 0x10;
            assert!(read_log_header(&damaged).is_err(), "byte {i}");
        }
        for cut in 0..LOG_HEADER {
            assert!(read_log_header(&log[..cut]).is_err(), "cut at {cut}");
        }
        let zeros = read_log_header(&vec![0; log.len()]).expect_err("zeros");
        assert!(zeros.contains("magic"), "{zeros}");
    }

    // D2: no files is a fresh node; a snapshot alone (its log missing) is refused.
    #[test]
    fn storage_is_loaded_or_refused() {
        let saved = paxos::Storage {
            round: 3,
            ..paxos::Storage::default()
        };
        let dir = std::env::temp_dir().join(format!("paxos-runtime-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir is writable");
        let path = dir.join("node.storage");
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(log_path(&path));
        assert!(matches!(load_storage::<paxos::Storage>(&path), Ok(None)));
        replace_storage(&path, &saved).expect("saved");
        assert_eq!(
            load_storage::<paxos::Storage>(&path).ok().flatten(),
            Some(saved)
        );
        fs::remove_file(log_path(&path)).expect("removed");
        let refused =
            load_storage::<paxos::Storage>(&path).expect_err("a snapshot without its log");
        assert!(refused.to_string().contains("missing"), "{refused}");
        let _ = fs::remove_dir_all(&dir);
    }
}
