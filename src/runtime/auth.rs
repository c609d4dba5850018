//! The cluster key and the MAC that peer messages carry with it (A1-A3 of `spec/runtime.md`).
//!
//! - **A1** With a key, every message from one cluster member to another carries an
//!   HMAC-SHA-256 tag over [`CONTEXT`], the sender's address, the receiver's address and the
//!   message's JSON bytes ([`ClusterKey::tag`]); a receiving node recomputes it with the
//!   datagram's source address as sender and its own address as receiver, so that a message
//!   is accepted only from the member that sealed it and only by the member it was sealed
//!   for.
//! - **A2** The key is the whole content of `--cluster-key-file`, at least
//!   [`MIN_KEY_BYTES`] and at most [`MAX_KEY_BYTES`] bytes ([`ClusterKey::load`]); a node
//!   whose key file is missing, unreadable, too short or too long refuses to start.
//! - **A3** A replayed valid message is a duplicate: the MAC says who sent it, not when.
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use stateright::actor::Id;
use std::fmt;
use std::io::Read;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

/// A2: the shortest key accepted: HMAC-SHA-256's output length (RFC 2104 section 3).
pub const MIN_KEY_BYTES: usize = 32;
/// A2: the longest key file read. A longer file is not a key someone made on purpose (a
/// path to the wrong file, or to `/dev/urandom` itself, which would never end).
pub const MAX_KEY_BYTES: usize = 4096;
/// The length of a tag: HMAC-SHA-256's output.
pub const TAG_BYTES: usize = 32;
/// A1: the first bytes of every MAC input, so that a tag made for this wire format serves
/// nothing else made with the same key.
pub const CONTEXT: &[u8] = b"paxos peer message v1\0";

/// A tag as sent on the wire.
pub type Tag = [u8; TAG_BYTES];

/// The key every member of a cluster shares. Its bytes are never printed.
#[derive(Clone)]
pub struct ClusterKey {
    /// HMAC-SHA-256 with the key already absorbed: cloned for each message.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

/// The advice every [`KeyError`] ends with.
const KEY_ADVICE: &str = "give a file of at least 32 random bytes, the same file on every node \
                          (e.g. `head -c 32 /dev/urandom > cluster.key`)";

/// A2: why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file is missing or cannot be read.
    #[error("cannot read cluster key file {}: {source}; {KEY_ADVICE}", path.display())]
    Unreadable {
        /// The file as given.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file holds fewer than [`MIN_KEY_BYTES`] bytes.
    #[error(
        "cluster key file {} holds {bytes} bytes, fewer than {MIN_KEY_BYTES}; {KEY_ADVICE}",
        path.display()
    )]
    TooShort {
        /// The file as given.
        path: PathBuf,
        /// How many bytes it holds.
        bytes: usize,
    },
    /// The file holds more than [`MAX_KEY_BYTES`] bytes.
    #[error(
        "cluster key file {} holds more than {MAX_KEY_BYTES} bytes: is it the right file? \
         {KEY_ADVICE}",
        path.display()
    )]
    TooLong {
        /// The file as given.
        path: PathBuf,
    },
}

impl ClusterKey {
    /// A2: the key is every byte of the file (a trailing newline included), between
    /// [`MIN_KEY_BYTES`] and [`MAX_KEY_BYTES`] of them.
    pub fn load(path: &Path) -> Result<ClusterKey, KeyError> {
        let unreadable = |source| KeyError::Unreadable {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let mut bytes = Vec::new();
        file.take(MAX_KEY_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong {
                path: path.to_owned(),
            });
        }
        ClusterKey::from_bytes(&bytes).ok_or(KeyError::TooShort {
            path: path.to_owned(),
            bytes: bytes.len(),
        })
    }

    /// A key from its bytes; `None` when there are fewer than [`MIN_KEY_BYTES`].
    pub fn from_bytes(key: &[u8]) -> Option<ClusterKey> {
        if key.len() < MIN_KEY_BYTES {
            return None;
        }
        // HMAC takes a key of any length: this never fails.
        let mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        Some(ClusterKey { mac })
    }

    /// The MAC state over everything but the message: context, sender, receiver.
    fn keyed(&self, sender: Id, receiver: Id) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(CONTEXT);
        for id in [sender, receiver] {
            let address = SocketAddrV4::from(id);
            mac.update(&address.ip().octets());
            mac.update(&address.port().to_be_bytes());
        }
        mac
    }

    /// A1: the tag of `body` (a message's JSON) sent by `sender` to `receiver`: HMAC-SHA-256
    /// over `CONTEXT || sender IPv4 (4 bytes) || sender port (2, big-endian) || receiver IPv4
    /// || receiver port || body`. Every part but the body has a fixed length, so no two
    /// inputs run together.
    pub fn tag(&self, sender: Id, receiver: Id, body: &[u8]) -> Tag {
        let mut mac = self.keyed(sender, receiver);
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// A1: whether `tag` is the tag of `body` from `sender` to `receiver`, compared in
    /// constant time.
    pub fn verify(&self, sender: Id, receiver: Id, body: &[u8], tag: &Tag) -> bool {
        let mut mac = self.keyed(sender, receiver);
        mac.update(body);
        mac.verify_slice(tag).is_ok()
    }
}

/// Whether users other than the file's owner may read or write the key file (Unix
/// permission bits): worth a warning, since whoever reads the key can speak for any member.
#[cfg(unix)]
pub fn open_to_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

/// Whether users other than the file's owner may read the key file: unknown off Unix.
#[cfg(not(unix))]
pub fn open_to_others(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(port: u16) -> Id {
        Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), port))
    }

    fn key(byte: u8) -> ClusterKey {
        ClusterKey::from_bytes(&[byte; MIN_KEY_BYTES]).expect("long enough")
    }

    // A1: the tag is HMAC-SHA-256 over exactly the documented bytes.
    #[test]
    fn the_tag_covers_context_sender_receiver_and_body() {
        let (sender, receiver, body) = (id(3000), id(3001), br#"{"Get":{"request":1}}"#);
        let mut expected = Hmac::<Sha256>::new_from_slice(&[7; MIN_KEY_BYTES]).expect("a key");
        expected.update(CONTEXT);
        expected.update(&[127, 0, 0, 1, 0x0b, 0xb8, 127, 0, 0, 1, 0x0b, 0xb9]);
        expected.update(body);
        let expected: Tag = expected.finalize().into_bytes().into();
        assert_eq!(key(7).tag(sender, receiver, body), expected);
    }

    // A1: a tag verifies for its own sender, receiver, body and key, and for nothing else.
    #[test]
    fn a_tag_binds_sender_receiver_body_and_key() {
        let (a, b, c) = (id(1), id(2), id(3));
        let body = b"{}";
        let tag = key(1).tag(a, b, body);
        assert!(key(1).verify(a, b, body, &tag));
        assert!(!key(1).verify(c, b, body, &tag), "another sender");
        assert!(!key(1).verify(a, c, body, &tag), "another receiver");
        assert!(!key(1).verify(b, a, body, &tag), "reflected back");
        assert!(!key(1).verify(a, b, b"{ }", &tag), "another body");
        assert!(!key(2).verify(a, b, body, &tag), "another key");
        let mut flipped = tag;
        flipped[31] ^= 1;
        assert!(!key(1).verify(a, b, body, &flipped), "a flipped bit");
    }

    // A2: missing, short and oversized key files are refused; the key is every byte.
    #[test]
    fn key_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("paxos-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let missing = dir.join("missing.key");
        assert!(matches!(
            ClusterKey::load(&missing),
            Err(KeyError::Unreadable { .. })
        ));
        let short = dir.join("short.key");
        std::fs::write(&short, [1; MIN_KEY_BYTES - 1]).expect("written");
        assert!(matches!(
            ClusterKey::load(&short),
            Err(KeyError::TooShort { bytes: 31, .. })
        ));
        let long = dir.join("long.key");
        std::fs::write(&long, vec![1; MAX_KEY_BYTES + 1]).expect("written");
        assert!(matches!(
            ClusterKey::load(&long),
            Err(KeyError::TooLong { .. })
        ));
        let good = dir.join("good.key");
        let mut bytes = vec![5; MIN_KEY_BYTES];
        std::fs::write(&good, &bytes).expect("written");
        let loaded = ClusterKey::load(&good).expect("a good key");
        let tag = loaded.tag(id(1), id(2), b"x");
        assert!(key(5).verify(id(1), id(2), b"x", &tag));
        // A trailing newline is part of the key.
        bytes.push(b'\n');
        std::fs::write(&good, &bytes).expect("written");
        let with_newline = ClusterKey::load(&good).expect("a good key");
        assert!(!with_newline.verify(id(1), id(2), b"x", &tag));
        assert!(
            !format!("{loaded:?}").contains('5'),
            "the key is never printed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
