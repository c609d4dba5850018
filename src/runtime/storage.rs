//! A node's durable storage on disk: a snapshot, `<data dir>/<address>.storage` (the JSON of
//! the whole storage, under the name and in the format of stateright's `spawn`), and a write-ahead log of
//! the changes since, `<address>.wal` ([`crate::runtime::wal`]: its format, W1-W4). The rules
//! are in `spec/runtime.md`:
//!
//! - **D1** A save is on disk before any message that depends on it is sent: a log record
//!   appended and flushed, or a snapshot written to a temporary file, flushed with `fsync`,
//!   renamed over `<address>.storage` with the directory flushed ([`write_durably`]). A node
//!   that cannot save stops (exit status 1) instead of running on
//!   ([`crate::runtime::guard`] does the saving).
//! - **D2** A node whose snapshot or log exists but cannot be used refuses to start
//!   ([`crate::runtime::wal::Store::open`]): `spawn` would start it with no storage, and an
//!   acceptor that forgets its promises breaks agreement.
use crate::runtime::wal::{self, Journal};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::fs;
use std::io::Write;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

/// D2: a storage file exists but cannot be used.
#[derive(Debug)]
pub struct Unreadable {
    /// The storage file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "storage file {} cannot be used ({})",
            self.path.display(),
            self.reason
        )
    }
}

impl std::error::Error for Unreadable {}

/// The storage file of the node at `address`: the name `spawn` gives it.
pub fn storage_path(data_dir: &Path, address: SocketAddrV4) -> PathBuf {
    data_dir.join(format!("{address}.storage"))
}

/// The storage's bytes on disk: its JSON.
pub(crate) fn encode<S: Serialize>(storage: &S) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(storage)
}

/// Storage from the bytes [`encode`] wrote.
pub(crate) fn decode<S: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<S> {
    serde_json::from_slice(bytes)
}

/// D2: the storage a node saved, its snapshot at `path` with its log applied
/// ([`wal::read`]), without changing either file: `None` if the node never saved, an error if
/// they cannot be used.
pub fn load_storage<S: Journal>(path: &Path) -> Result<Option<S>, Unreadable> {
    wal::read(path).map(|recovered| recovered.storage)
}

/// D2: the snapshot at `path`, `None` if there is no file yet, an error if there is one that
/// cannot be used (an empty file included: a save that never finished).
pub(crate) fn load_snapshot<S: DeserializeOwned>(path: &Path) -> Result<Option<S>, Unreadable> {
    let unreadable = |reason: String| Unreadable {
        path: path.to_owned(),
        reason,
    };
    match fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unreadable(e.to_string())),
        Ok(bytes) if bytes.is_empty() => Err(unreadable("the file is empty".to_owned())),
        Ok(bytes) => decode(&bytes)
            .map(Some)
            .map_err(|e| unreadable(format!("Json({e:?})"))),
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

/// Replaces the whole storage of a node that is not running: its log ([`wal::log_path`]) is
/// removed, then its snapshot written durably. For tools and tests that fabricate a node's
/// storage: writing the snapshot alone would leave the records of the old log to be replayed
/// over the new one (W4). A crash in between leaves the old snapshot without its log.
pub fn replace_storage<S: Serialize>(path: &Path, storage: &S) -> std::io::Result<()> {
    let bytes = encode(storage).map_err(std::io::Error::other)?;
    match fs::remove_file(wal::log_path(path)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => sync_parent(path)?,
    }
    write_durably(path, &bytes)
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

    // D2: an empty or garbled file is refused, a missing one is a fresh node.
    #[test]
    fn storage_is_loaded_or_refused() {
        let dir = std::env::temp_dir().join(format!("paxos-runtime-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir is writable");
        let path = dir.join("node.storage");
        let _ = fs::remove_file(&path);
        assert!(matches!(load_storage::<Storage>(&path), Ok(None)));
        let saved = Storage {
            round: 3,
            ..Storage::default()
        };
        write_durably(&path, &encode(&saved).expect("storage encodes")).expect("saved");
        assert_eq!(load_storage::<Storage>(&path).ok().flatten(), Some(saved));
        for garbage in [&b""[..], b"{\"round\":", b"\x00\xff"] {
            fs::write(&path, garbage).expect("written");
            assert!(load_storage::<Storage>(&path).is_err());
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
