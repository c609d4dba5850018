//! Multi-Paxos on UDP: which of its messages only peers may send (H2, H3) and which announce
//! a preemption (L1); a client's request bound to its source (R1); and the size limits of
//! spec/runtime.md ("Key and value sizes", S1-S5) that keep every message in one datagram,
//! which the guard enforces on whatever arrives (H4).
use crate::protocol::multi_paxos::{self, MultiPaxosActor};
use crate::runtime::guard::drops::{DropStats, Dropped};
use crate::runtime::guard::policy::{MsgKind, WireProtocol};
use stateright::actor::Id;

/// The most proposals a Multi-Paxos `Promise` reports: the most proposals of the largest
/// size whose `Promise` fits in one UDP datagram of 65,507 bytes, a cluster key's 36-byte seal
/// included (spec/runtime.md, "Key and value sizes").
///
/// The largest proposal holds the widest batch: [`BATCH`] commands whose keys and values add
/// up to [`BATCH_BYTES`] = 1,280 bytes (a key and a value at their limits,
/// [`MAX_KEY_BYTES`](multi_paxos::MAX_KEY_BYTES) = 256 and
/// [`MAX_VALUE_BYTES`](multi_paxos::MAX_VALUE_BYTES) = 1,024), made of control characters,
/// which JSON escapes as 6 bytes each (`\u0001`): 6 x 1,280 = 7,680 bytes of strings plus
/// 1,715 bytes of slot, ballot, 16 clients and requests, field names and separators at their
/// widest, 9,395 bytes. The `Promise` around them takes 128 bytes and the seal 36:
/// 36 + 128 + 6 x 9,395 = 56,534 <= 65,507, and a seventh proposal would not fit (65,929).
/// A unit test checks the worst case on the encoder itself.
pub const PIECE: usize = 6;

/// The most client commands one Multi-Paxos slot holds on UDP (a batch).
pub const BATCH: usize = 16;

/// The most UTF-8 bytes of keys and values a batch of several commands holds on UDP: one
/// command's at the limits ([`MAX_KEY_BYTES`](multi_paxos::MAX_KEY_BYTES) +
/// [`MAX_VALUE_BYTES`](multi_paxos::MAX_VALUE_BYTES) = 1,280), so that the widest batch, of
/// [`BATCH`] commands, is barely wider than the widest single command (see [`PIECE`]).
pub const BATCH_BYTES: usize = multi_paxos::MAX_KEY_BYTES + multi_paxos::MAX_VALUE_BYTES;

/// The most entries one piece of a Multi-Paxos snapshot carries on UDP
/// ([`multi_paxos::Msg::Snapshot`]).
/// The widest entry is a client of the at-most-once table whose last request appended a
/// 1,024-byte value to a 256-byte key and got back a 1,024-byte value, all control characters
/// (6 JSON bytes each): 6 x 2,304 = 13,824 bytes of strings, 13,975 with its numbers and field
/// names. Four of them, sealed, make 56,035 bytes <= 65,507, and a fifth would not fit (70,010).
/// A unit test checks it on the encoder itself.
pub const SNAPSHOT_PIECE: usize = 4;

/// A Multi-Paxos message on UDP: keys and values are strings.
type MpMsg = multi_paxos::Msg<String>;

impl WireProtocol for MultiPaxosActor<String> {
    /// A `Promise` carries at most a piece of the proposals accepted, sized to fit UDP's own
    /// limit ([`PIECE`]).
    const MAX_DATAGRAM: usize = 65_507;

    fn kind(msg: &MpMsg) -> MsgKind {
        use multi_paxos::Msg as M;
        match msg {
            // A client's request, or a follower forwarding one to the leader: R1 tells them
            // apart by the source address.
            M::Request { .. } => MsgKind::ClientRequest,
            M::Reply { .. } | M::Stale { .. } => MsgKind::ClientReply,
            M::Prepare { .. }
            | M::Promise { .. }
            | M::Accept { .. }
            | M::Accepted { .. }
            | M::Chosen { .. }
            | M::Heartbeat { .. }
            | M::CatchUp { .. }
            | M::Snapshot { .. }
            | M::SnapshotFrom { .. } => MsgKind::Internal,
            M::Rejected { .. } => MsgKind::Preemption,
        }
    }

    /// R1: the command is the source's, whatever client it names: the per-client table and
    /// the reply are that address's. (Only a configured peer forwards a request in another
    /// client's name; the guard does not call this for peers.)
    fn bind_to_source(msg: MpMsg, src: Id, drops: &DropStats) -> MpMsg {
        match msg {
            multi_paxos::Msg::Request { mut command } => {
                if command.client != src {
                    if let Some(count) = drops.worth_logging(Dropped::Rebound) {
                        log::warn!(
                            "Request names a client other than its source: taken in the \
                             source's name. src={src}, named={}, request={}, rebound={count}",
                            command.client,
                            command.request
                        );
                    }
                    command.client = src;
                }
                multi_paxos::Msg::Request { command }
            }
            other => other,
        }
    }

    /// H4: a key or value over [`multi_paxos::MAX_KEY_BYTES`] or
    /// [`multi_paxos::MAX_VALUE_BYTES`], in a request or in any command a peer's message
    /// carries, or a batch outside the leader's limits ([`BATCH`], [`BATCH_BYTES`]):
    /// every datagram a command travels in (a `Promise` of [`PIECE`] batches included) then
    /// fits in UDP's limit.
    fn refuse(msg: &MpMsg) -> Option<String> {
        use multi_paxos::{ClientCommand, Command, Msg as M};
        let command = |command: &Command<String>| match command {
            Command::Noop => None,
            Command::Batch(batch) if !ClientCommand::fits(batch, BATCH, BATCH_BYTES) => {
                let bytes: usize = batch.iter().map(|cc| cc.op.bytes()).sum();
                Some(format!(
                    "a batch of {} commands and {bytes} bytes of keys and values; the limits \
                     are 1 to {BATCH} commands and, for several, {BATCH_BYTES} bytes",
                    batch.len()
                ))
            }
            Command::Batch(batch) => batch
                .iter()
                .find_map(|cc| cc.op.check_size().err())
                .map(|too_large| too_large.to_string()),
        };
        match msg {
            M::Request { command } => command.op.check_size().err().map(|e| e.to_string()),
            M::Accept { proposal, .. } | M::Accepted { proposal, .. } => command(&proposal.command),
            M::Chosen { command: c, .. } => command(c),
            M::Promise { accepted, .. } => accepted.values().find_map(|p| command(&p.command)),
            M::Snapshot { entries, .. } if entries.len() > SNAPSHOT_PIECE => Some(format!(
                "a snapshot piece of {} entries; the limit is {SNAPSHOT_PIECE}",
                entries.len()
            )),
            M::Snapshot { entries, .. } => entries.iter().find_map(snapshot_entry),
            _ => None,
        }
    }
}

/// H4 for a snapshot's entry: a key or value over the limits, as a store on UDP never holds.
fn snapshot_entry(entry: &multi_paxos::SnapshotEntry<String>) -> Option<String> {
    use multi_paxos::{KvOp, KvRet, SnapshotEntry, MAX_VALUE_BYTES};
    let value = |value: &String| {
        (value.len() > MAX_VALUE_BYTES).then(|| {
            format!(
                "a stored value of {} bytes; the limit is {MAX_VALUE_BYTES}",
                value.len()
            )
        })
    };
    match entry {
        SnapshotEntry::Kv { key, value: v } => (KvOp::Get { key: key.clone() }.check_size())
            .err()
            .map(|e| e.to_string())
            .or_else(|| value(v)),
        SnapshotEntry::Last { last, .. } => {
            let reply = match &last.ret {
                KvRet::GetOk { value: Some(v) } | KvRet::AppendOk { value: v } => value(v),
                _ => None,
            };
            last.op.check_size().err().map(|e| e.to_string()).or(reply)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::multi_paxos::{
        Ballot, ClientCommand, Command, KvOp, Msg, Proposal, Slot, MAX_KEY_BYTES, MAX_VALUE_BYTES,
    };
    use crate::runtime::auth::TAG_BYTES;
    use crate::runtime::guard::codec::SEALED_MAGIC;
    use std::collections::BTreeMap;
    use std::net::SocketAddrV4;

    // H2, H3: the guard's classification of the Multi-Paxos messages: a Request is open to
    // anyone (a follower forwards a client's), a Reply is for clients only.
    #[test]
    fn multi_paxos_requests_are_open_to_anyone() {
        use crate::protocol::multi_paxos::{ClientCommand, KvOp, KvRet, Msg as M};
        type MultiPaxosActor = crate::protocol::multi_paxos::MultiPaxosActor<String>;
        let someone = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let command = ClientCommand {
            client: someone,
            request: 1,
            op: KvOp::Get {
                key: "x".to_owned(),
            },
        };
        assert_eq!(
            MultiPaxosActor::kind(&M::Request { command }),
            MsgKind::ClientRequest
        );
        let reply = MpMsg::Reply {
            request: 1,
            ret: KvRet::PutOk,
        };
        assert_eq!(MultiPaxosActor::kind(&reply), MsgKind::ClientReply);
        let prepare = MpMsg::Prepare {
            ballot: Ballot::default(),
            from: 0,
        };
        assert_eq!(MultiPaxosActor::kind(&prepare), MsgKind::Internal);
        let catch_up = MpMsg::CatchUp { from: 0, to: 1 };
        assert_eq!(MultiPaxosActor::kind(&catch_up), MsgKind::Internal);
        let rejected = MpMsg::Rejected {
            ballot: Ballot::default(),
            promised: Ballot::default(),
            slot: None,
        };
        assert_eq!(MultiPaxosActor::kind(&rejected), MsgKind::Preemption);
    }

    /// The widest batch a slot may hold on UDP: [`BATCH`] commands with the largest numbers,
    /// whose keys and values, made of control characters (which JSON escapes as 6 bytes
    /// each), add up to [`BATCH_BYTES`]; the first has its key and value at their limits.
    fn widest_batch() -> Vec<ClientCommand<String>> {
        let widest = Id::from(usize::MAX);
        let command = |key: usize, value: usize| ClientCommand {
            client: widest,
            request: u64::MAX,
            op: KvOp::Append {
                key: "\u{1}".repeat(key),
                value: "\u{1}".repeat(value),
            },
        };
        let mut batch = vec![command(MAX_KEY_BYTES, MAX_VALUE_BYTES)];
        batch.extend((1..BATCH).map(|_| command(0, 0)));
        assert!(ClientCommand::fits(&batch, BATCH, BATCH_BYTES));
        batch
    }

    /// The bytes on the wire of a sealed `Promise` of `n` proposals, each at its widest: the
    /// largest numbers, the widest batch, in the highest slots.
    fn widest_promise_bytes(n: usize) -> usize {
        let widest = Id::from(usize::MAX);
        let ballot = Ballot {
            round: u32::MAX,
            proposer: widest,
        };
        let proposal = Proposal {
            ballot,
            command: Command::Batch(widest_batch().into()),
        };
        let accepted: BTreeMap<Slot, Proposal<String>> = (0..n as Slot)
            .map(|i| (Slot::MAX - i, proposal.clone()))
            .collect();
        let promise = Msg::Promise {
            ballot,
            accepted,
            more: Some(Slot::MAX),
            snapshot: Slot::MAX,
        };
        let json = serde_json::to_vec(&promise).expect("a message serializes");
        SEALED_MAGIC.len() + TAG_BYTES + json.len()
    }

    // The arithmetic of PIECE's doc comment (spec/runtime.md, "Key and value sizes"): a
    // `Promise` of PIECE proposals of the largest size, each the widest batch, fits in one UDP
    // datagram, sealed; one more would not. The batch is at its limits: one more command, or
    // one more byte, and the leader would not make it (nor the guard let it in).
    #[test]
    fn a_promise_of_the_widest_proposals_fits_in_a_datagram() {
        let mut batch = widest_batch();
        let mut longer = batch.clone();
        longer.push(batch[1].clone());
        assert!(!ClientCommand::fits(&longer, BATCH, BATCH_BYTES));
        if let KvOp::Append { value, .. } = &mut batch[1].op {
            value.push('\u{1}');
        }
        assert!(!ClientCommand::fits(&batch, BATCH, BATCH_BYTES));
        let max = <MultiPaxosActor<String> as WireProtocol>::MAX_DATAGRAM;
        assert_eq!(max, 65_507, "UDP's limit over IPv4");
        let fits = widest_promise_bytes(PIECE);
        assert!(fits <= max, "{fits} bytes");
        let over = widest_promise_bytes(PIECE + 1);
        assert!(over > max, "PIECE could be larger: {over} bytes");
        eprintln!(
            "a sealed Promise of {PIECE} widest proposals: {fits} bytes; of one more: {over}"
        );
    }

    /// The bytes on the wire of a sealed piece of a snapshot of `n` entries, each at its
    /// widest: a client of the table whose last request appended a value at the limits to a
    /// key at the limits, and got back a value at the limit, all control characters.
    fn widest_snapshot_piece_bytes(n: usize) -> usize {
        use crate::protocol::multi_paxos::{KvRet, LastApplied, SnapshotEntry};
        let entry = SnapshotEntry::Last {
            client: Id::from(usize::MAX),
            last: LastApplied {
                request: u64::MAX,
                op: KvOp::Append {
                    key: "\u{1}".repeat(MAX_KEY_BYTES),
                    value: "\u{1}".repeat(MAX_VALUE_BYTES),
                },
                ret: KvRet::AppendOk {
                    value: "\u{1}".repeat(MAX_VALUE_BYTES),
                },
            },
        };
        let piece: Msg<String> = Msg::Snapshot {
            upto: Slot::MAX,
            at: usize::MAX,
            entries: vec![entry; n],
            total: usize::MAX,
        };
        let json = serde_json::to_vec(&piece).expect("a message serializes");
        SEALED_MAGIC.len() + TAG_BYTES + json.len()
    }

    // SNAPSHOT_PIECE's doc comment: a piece of a snapshot of SNAPSHOT_PIECE of the widest
    // entries fits in one UDP datagram, sealed; one more would not.
    #[test]
    fn a_snapshot_piece_of_the_widest_entries_fits_in_a_datagram() {
        let max = <MultiPaxosActor<String> as WireProtocol>::MAX_DATAGRAM;
        let fits = widest_snapshot_piece_bytes(SNAPSHOT_PIECE);
        assert!(fits <= max, "{fits} bytes");
        let over = widest_snapshot_piece_bytes(SNAPSHOT_PIECE + 1);
        assert!(over > max, "SNAPSHOT_PIECE could be larger: {over} bytes");
        eprintln!(
            "a sealed snapshot piece of {SNAPSHOT_PIECE} widest entries: {fits} bytes; \
             of one more: {over}"
        );
    }
}
