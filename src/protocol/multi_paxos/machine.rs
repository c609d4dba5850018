//! The replicated state machine: the store with its at-most-once table of each client's last
//! applied request, and the client commands it applies.
use super::kv::{Kv, KvOp, KvRet, Text};
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::semantics::SequentialSpec;
use std::collections::BTreeMap;

/// A client's command: who asked, which of its requests, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub struct ClientCommand<V = char> {
    /// The client, which gets the reply.
    pub client: Id,
    /// The client's request number.
    pub request: RequestId,
    /// The operation on the store.
    pub op: KvOp<V>,
}

/// A client's request number: 1, 2, ... in the order the client issues them.
pub type RequestId = u64;

impl<V: Text> ClientCommand<V> {
    /// Whether `batch` is one a slot may hold: not empty, at most `commands` commands, and, if
    /// more than one, at most `bytes` UTF-8 bytes of keys and values together. The leader
    /// makes its batches so; the UDP guard drops a peer's message with any other.
    pub fn fits(batch: &[Self], commands: usize, bytes: usize) -> bool {
        let size = || batch.iter().map(|cc| cc.op.bytes()).sum::<usize>();
        !batch.is_empty() && batch.len() <= commands && (batch.len() == 1 || size() <= bytes)
    }
}

/// The state machine a replica applies the log to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub struct StateMachine<V = char> {
    /// The store.
    pub kv: Kv<V>,
    /// At most once: each client's last applied request, its operation and its reply.
    pub last: BTreeMap<Id, LastApplied<V>>,
}

/// A client's last applied request, in the at-most-once table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub struct LastApplied<V = char> {
    /// The request number.
    pub request: RequestId,
    /// Its operation: a retry of the number with another one is stale (R3 in spec/runtime.md).
    pub op: KvOp<V>,
    /// Its reply.
    pub ret: KvRet,
}

impl<V: Text> StateMachine<V> {
    /// Applies one client command: returns the reply to send, if any, and whether the store
    /// ran it. With `dedup`, a request at or below the client's last applied one is not run
    /// again; the last one is answered from the table.
    pub(crate) fn apply(&mut self, cc: &ClientCommand<V>, dedup: bool) -> (Option<KvRet>, bool) {
        if dedup {
            if let Some(last) = self.last.get(&cc.client) {
                if cc.request == last.request {
                    return (Some(last.ret.clone()), false);
                }
                if cc.request < last.request {
                    return (None, false);
                }
            }
        }
        let ret = self.kv.invoke(&cc.op);
        let (request, op) = (cc.request, cc.op.clone());
        let last = LastApplied {
            request,
            op,
            ret: ret.clone(),
        };
        self.last.insert(cc.client, last);
        (Some(ret), true)
    }
}
