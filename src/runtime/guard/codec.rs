//! The bytes `spawn` sends, receives and stores for a guarded actor: a datagram ([`Wire`]) is
//! the serde JSON of the protocol's message, or, between members of a cluster with a key,
//! [`SEALED_MAGIC`], the MAC, then that JSON (A1); storage is a snapshot in the store's format
//! (W1). Datagrams over the size limit or that do not decode are refused here (H1).
//!
//! `spawn` takes the codec as plain functions, which belong to no node: what they refuse is
//! counted for the whole process ([`CODEC_DROPS`]); what a guard refuses once a datagram has
//! reached it, in that guard's own [`DropStats`].
use crate::runtime::auth::{Tag, TAG_BYTES};
use crate::runtime::guard::drops::{DropStats, Dropped};
use crate::runtime::guard::policy::WireProtocol;
use crate::runtime::storage;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

/// H1: what the codec refused before any guard saw it, for every node of the process.
pub static CODEC_DROPS: DropStats = DropStats::new();

/// The first bytes of a sealed datagram (A1). No JSON text starts with them.
pub const SEALED_MAGIC: &[u8; 4] = b"PXM1";

/// A datagram as the guard sends and receives it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Wire<M> {
    /// A message as its JSON: client traffic, and every message of a cluster without a key
    /// (the wire format is then exactly the protocol's JSON).
    Plain(M),
    /// A1: a message between members of a cluster with a key: on the wire [`SEALED_MAGIC`],
    /// the 32-byte `tag`, then `body`, the message's JSON.
    Sealed {
        /// HMAC-SHA-256 over the sender, the receiver and `body`
        /// ([`ClusterKey::tag`](crate::runtime::auth::ClusterKey::tag)).
        tag: Tag,
        /// The message's JSON, parsed only once the tag checks out.
        body: Vec<u8>,
    },
}

impl<M: fmt::Debug> fmt::Debug for Wire<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wire::Plain(msg) => msg.fmt(f),
            Wire::Sealed { body, .. } => write!(f, "Sealed({})", String::from_utf8_lossy(body)),
        }
    }
}

/// Why a datagram or a storage file did not decode (what `spawn` logs before skipping it).
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the fields are read through Debug, in spawn's log line"
)]
pub(crate) enum CodecError {
    /// H1: the message is larger than the protocol's limit.
    Oversized { bytes: usize, max: usize },
    /// A sealed datagram too short to hold its tag.
    Truncated { bytes: usize },
    /// The bytes are not the JSON of a message.
    Json(serde_json::Error),
    /// W1, W3: the bytes are not a snapshot this build wrote: what is wrong with them.
    Snapshot(String),
}

/// A message or storage as bytes: its JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    serde_json::to_vec(value).map_err(CodecError::Json)
}

/// A datagram as bytes: a plain message is its JSON, as without the guard; a sealed one is
/// [`SEALED_MAGIC`], the tag, then the message's JSON.
pub(crate) fn encode_wire<M: Serialize>(wire: &Wire<M>) -> Result<Vec<u8>, CodecError> {
    match wire {
        Wire::Plain(msg) => encode(msg),
        Wire::Sealed { tag, body } => {
            let mut bytes = Vec::with_capacity(SEALED_MAGIC.len() + TAG_BYTES + body.len());
            bytes.extend_from_slice(SEALED_MAGIC);
            bytes.extend_from_slice(tag);
            bytes.extend_from_slice(body);
            Ok(bytes)
        }
    }
}

/// Storage from a snapshot's bytes ([`storage::decode_snapshot`], W1), with the error type
/// `spawn` wants for all four of its codecs. `spawn` reads `<address>.storage` from its
/// working directory with it; what it finds is not used (`Guard::on_start`), but it reads
/// the same format the store wrote, checks included.
pub(crate) fn decode_storage<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, CodecError> {
    storage::decode_snapshot(bytes)
        .map(|(storage, _)| storage)
        .map_err(CodecError::Snapshot)
}

/// H1: the size limit, before anything is parsed.
fn within_limit<A: WireProtocol>(bytes: usize, drops: &DropStats) -> Result<(), CodecError>
where
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Serialize + DeserializeOwned,
{
    if bytes <= A::MAX_DATAGRAM {
        return Ok(());
    }
    if let Some(dropped) = drops.worth_logging(Dropped::Oversized) {
        log::warn!(
            "Dropped oversized datagram. bytes={bytes}, max={}, dropped={dropped}",
            A::MAX_DATAGRAM
        );
    }
    Err(CodecError::Oversized {
        bytes,
        max: A::MAX_DATAGRAM,
    })
}

/// H1: a message's JSON, or a refusal, counted in `drops` and logged.
pub(crate) fn decode_json<A>(bytes: &[u8], drops: &DropStats) -> Result<A::Msg, CodecError>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Serialize + DeserializeOwned,
{
    serde_json::from_slice(bytes).map_err(|e| {
        if let Some(dropped) = drops.worth_logging(Dropped::Malformed) {
            log::warn!(
                "Dropped malformed datagram. bytes={}, err={e}, dropped={dropped}",
                bytes.len()
            );
        }
        CodecError::Json(e)
    })
}

/// H1: oversized or undecodable datagrams are refused here and logged; `spawn` then skips
/// them ("Unable to parse message. Ignoring."). A sealed datagram is only split into tag and
/// body: its body is parsed once the guard has checked the tag (A1). The size limit applies
/// to the message, without the 36 bytes of a seal.
pub(crate) fn decode_wire<A>(bytes: &[u8]) -> Result<Wire<A::Msg>, CodecError>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Serialize + DeserializeOwned,
{
    let Some(sealed) = bytes.strip_prefix(SEALED_MAGIC) else {
        within_limit::<A>(bytes.len(), &CODEC_DROPS)?;
        return decode_json::<A>(bytes, &CODEC_DROPS).map(Wire::Plain);
    };
    let Some((tag, body)) = sealed.split_first_chunk::<TAG_BYTES>() else {
        if let Some(dropped) = CODEC_DROPS.worth_logging(Dropped::Malformed) {
            log::warn!(
                "Dropped malformed datagram: a seal without its tag. bytes={}, dropped={dropped}",
                bytes.len()
            );
        }
        return Err(CodecError::Truncated { bytes: bytes.len() });
    };
    within_limit::<A>(body.len(), &CODEC_DROPS)?;
    Ok(Wire::Sealed {
        tag: *tag,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::paxos::{Msg, PaxosActor};

    // Without a key the wire format is the protocol's JSON, exactly; a sealed datagram is the
    // magic, the tag and the JSON; one too short for its tag is refused.
    #[test]
    fn the_wire_format_is_plain_json_unless_sealed() {
        let msg = Msg::Put {
            request: 7,
            value: 'A',
        };
        let plain = encode_wire(&Wire::Plain(msg)).expect("encodes");
        assert_eq!(plain, br#"{"Put":{"request":7,"value":"A"}}"#);
        assert_eq!(
            decode_wire::<PaxosActor>(&plain).ok(),
            Some(Wire::Plain(msg))
        );
        let body = serde_json::to_vec(&msg).expect("encodes");
        let sealed = Wire::<Msg>::Sealed {
            tag: [9; TAG_BYTES],
            body: body.clone(),
        };
        let bytes = encode_wire(&sealed).expect("encodes");
        assert_eq!(&bytes[..4], SEALED_MAGIC);
        assert_eq!(&bytes[4..36], &[9; TAG_BYTES]);
        assert_eq!(&bytes[36..], &body[..]);
        assert_eq!(decode_wire::<PaxosActor>(&bytes).ok(), Some(sealed));
        assert!(decode_wire::<PaxosActor>(&bytes[..20]).is_err());
        let mut huge = SEALED_MAGIC.to_vec();
        huge.extend([0; TAG_BYTES]);
        huge.extend(vec![b' '; PaxosActor::MAX_DATAGRAM + 1]);
        assert!(
            decode_wire::<PaxosActor>(&huge).is_err(),
            "H1 applies to sealed messages"
        );
    }
}
