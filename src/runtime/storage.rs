//! A node's durable storage on disk: a snapshot, `<data dir>/<address>.storage` (a header with
//! its format version and a checksum, then the JSON of the whole storage), and a write-ahead
//! log of the changes since, `<address>.wal` ([`crate::runtime::wal`]: both formats, W1-W4).
//! The rules are in `spec/runtime.md`:
//!
//! - **D1** A save is on disk before any message that depends on it is sent: a log record
//!   appended and flushed, or a file written to a temporary file, flushed with `fsync`,
//!   renamed over the old one with the directory flushed ([`write_durably`]). A node that
//!   cannot save stops (exit status 1) instead of running on ([`crate::runtime::guard`] does
//!   the saving).
//! - **D2** A node whose snapshot or log exists but cannot be used, or whose log is missing
//!   beside its snapshot, refuses to start ([`crate::runtime::wal::Store::open`]), naming the
//!   file and what is wrong with it: an acceptor that forgets its promises and acceptances
//!   breaks agreement (Paxos Made Simple §2.5, stable storage).
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

/// D2: a storage file exists but cannot be used (or is missing beside the other one).
#[derive(Debug, thiserror::Error)]
#[error("storage file {} cannot be used ({reason})", path.display())]
pub struct Unreadable {
    /// The storage file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// The storage file of the node at `address`: the name `spawn` gives it.
pub fn storage_path(data_dir: &Path, address: SocketAddrV4) -> PathBuf {
    data_dir.join(format!("{address}.storage"))
}

/// W1: the first bytes of a snapshot. 0xFF is in no UTF-8 text, so no JSON file (a snapshot
/// of the format before this one) starts with it.
pub const SNAPSHOT_MAGIC: [u8; 4] = [0xFF, b'S', b'N', b'P'];

/// W1: the snapshot format this build writes, and the only one it reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// W1: the bytes of a snapshot's header: the magic, the format version, the number of the
/// first log record the snapshot does not hold, the length of the storage's JSON, and the
/// CRC-32 of every other byte of the file.
pub const SNAPSHOT_HEADER: usize = 28;

/// Where the checksum sits in a snapshot's header.
const SNAPSHOT_CRC: std::ops::Range<usize> = 24..28;

/// W1: the CRC-32 of a snapshot's bytes, all but the checksum's own.
fn snapshot_crc(bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[..SNAPSHOT_CRC.start]);
    hasher.update(&bytes[SNAPSHOT_CRC.end..]);
    hasher.finalize()
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let word: [u8; 4] = bytes[at..at + 4].try_into().expect("four bytes");
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let word: [u8; 8] = bytes[at..at + 8].try_into().expect("eight bytes");
    u64::from_le_bytes(word)
}

/// W1: the bytes of a snapshot of `storage` that holds every log record numbered below `next`.
pub fn encode_snapshot<S: Serialize>(storage: &S, next: u64) -> serde_json::Result<Vec<u8>> {
    let mut bytes = vec![0; SNAPSHOT_HEADER];
    serde_json::to_writer(&mut bytes, storage)?;
    let length = (bytes.len() - SNAPSHOT_HEADER) as u64;
    bytes[0..4].copy_from_slice(&SNAPSHOT_MAGIC);
    bytes[4..8].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    bytes[8..16].copy_from_slice(&next.to_le_bytes());
    bytes[16..24].copy_from_slice(&length.to_le_bytes());
    let crc = snapshot_crc(&bytes);
    bytes[SNAPSHOT_CRC].copy_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

/// W1, W3: the storage in the bytes of a snapshot and the number of the first log record it
/// does not hold, or what is wrong with them. Every byte is checked: the header's fields, and
/// the checksum over the whole file, before the JSON is decoded.
pub fn decode_snapshot<S: DeserializeOwned>(bytes: &[u8]) -> Result<(S, u64), String> {
    if bytes.is_empty() {
        return Err("the file is empty".to_owned());
    }
    if bytes.len() < SNAPSHOT_HEADER || bytes[..4] != SNAPSHOT_MAGIC {
        if bytes.starts_with(b"{") {
            return Err(
                "it is bare JSON without a snapshot header: the format of an older version of \
                 paxos, which carries no checksum, so it is not read"
                    .to_owned(),
            );
        }
        if bytes.len() < SNAPSHOT_HEADER {
            return Err(format!(
                "the file is {} bytes, shorter than a snapshot's {SNAPSHOT_HEADER}-byte header",
                bytes.len()
            ));
        }
        return Err(format!(
            "it does not start with the snapshot magic {}",
            hex(&SNAPSHOT_MAGIC)
        ));
    }
    let held = (bytes.len() - SNAPSHOT_HEADER) as u64;
    let length = u64_at(bytes, 16);
    if length != held {
        return Err(format!(
            "its header says {length} bytes of storage follow it, the file holds {held}: the \
             file was cut short or grown, or its header changed, since it was written"
        ));
    }
    let (stored, computed) = (u32_at(bytes, SNAPSHOT_CRC.start), snapshot_crc(bytes));
    if stored != computed {
        return Err(format!(
            "its checksum fails (CRC-32 {stored:08x} stored, {computed:08x} computed): bytes \
             of it changed since it was written"
        ));
    }
    let version = u32_at(bytes, 4);
    if version != SNAPSHOT_VERSION {
        return Err(format!(
            "its format version is {version}, and this build reads version {SNAPSHOT_VERSION}"
        ));
    }
    let storage = serde_json::from_slice(&bytes[SNAPSHOT_HEADER..]).map_err(|e| {
        format!(
            "its checksum holds, but its storage does not decode ({e}): written by another build?"
        )
    })?;
    Ok((storage, u64_at(bytes, 8)))
}

/// `bytes` as hexadecimal pairs, for messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// D2: the snapshot at `path`, with the number of the first log record it does not hold and
/// its size; `None` if there is no file, an error if there is one that cannot be used.
pub(crate) fn load_snapshot<S: DeserializeOwned>(
    path: &Path,
) -> Result<Option<(S, u64, u64)>, Unreadable> {
    let unreadable = |reason: String| Unreadable {
        path: path.to_owned(),
        reason,
    };
    match fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unreadable(e.to_string())),
        Ok(bytes) => decode_snapshot(&bytes)
            .map(|(storage, next)| Some((storage, next, bytes.len() as u64)))
            .map_err(unreadable),
    }
}

/// D1: replaces `path` with `bytes` so that a crash at any point leaves either the old or the
/// new content, flushed to the device.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    sync_parent(path)
}

/// Flushes the directory holding `path`, so that a file created or renamed there stays.
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty());
    fs::File::open(directory.unwrap_or(Path::new(".")))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::paxos::Storage;

    fn saved() -> Storage {
        Storage {
            round: 3,
            ..Storage::default()
        }
    }

    // D2, W1: a snapshot reads back with the number it was written with; with any byte
    // changed, cut anywhere, grown, empty, or in the old bare-JSON format, it is refused.
    #[test]
    fn a_snapshot_reads_back_or_is_refused() {
        let bytes = encode_snapshot(&saved(), 7).expect("encodes");
        assert_eq!(decode_snapshot::<Storage>(&bytes).ok(), Some((saved(), 7)));
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut damaged = bytes.clone();
                damaged[i] ^= flip;
                assert!(
                    decode_snapshot::<Storage>(&damaged).is_err(),
                    "byte {i} ^ {flip}"
                );
            }
        }
        for cut in 0..bytes.len() {
            assert!(
                decode_snapshot::<Storage>(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let grown = [&bytes[..], b" "].concat();
        let reason = decode_snapshot::<Storage>(&grown).expect_err("grown");
        assert!(reason.contains("the file holds"), "{reason}");
        let mut flipped = bytes.clone();
        flipped[SNAPSHOT_HEADER + 3] ^= 0x01;
        let reason = decode_snapshot::<Storage>(&flipped).expect_err("flipped");
        assert!(reason.contains("checksum fails"), "{reason}");
        let json = serde_json::to_vec(&saved()).expect("encodes");
        let reason = decode_snapshot::<Storage>(&json).expect_err("bare JSON");
        assert!(reason.contains("older version"), "{reason}");
        let reason = decode_snapshot::<Storage>(b"").expect_err("empty");
        assert!(reason.contains("empty"), "{reason}");
        let zeros = vec![0; bytes.len()];
        let reason = decode_snapshot::<Storage>(&zeros).expect_err("zeros");
        assert!(reason.contains("magic"), "{reason}");
    }

    // W1: another format version, with a checksum that holds, is named as such.
    #[test]
    fn another_format_version_is_named() {
        let mut bytes = encode_snapshot(&saved(), 1).expect("encodes");
        bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
        let crc = snapshot_crc(&bytes);
        bytes[SNAPSHOT_CRC].copy_from_slice(&crc.to_le_bytes());
        let reason = decode_snapshot::<Storage>(&bytes).expect_err("version 2");
        assert!(reason.contains("format version is 2"), "{reason}");
    }
}
