//! The words of single-decree Paxos on the wire and on disk: values, proposals, messages,
//! timers and stable storage. The UDP runtime sends [`Msg`] as serde JSON, so a variant's
//! name and fields are its wire format.
use crate::protocol::ballot::Ballot;
use serde::{Deserialize, Serialize};
use stateright::actor::Id;

/// A client's value. The model gives client `k` the value `'A' + k`.
pub type Value = char;

/// A client's request number, unique per client.
pub type RequestId = u64;

/// A proposal: a value under a proposal number.
///
/// §2.2: "A value is chosen when a single proposal with that value has been accepted by a
/// majority of the acceptors."
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Proposal {
    /// The proposal number.
    pub ballot: Ballot,
    /// The value proposed.
    pub value: Value,
}

/// Short, for traces: `(round, proposer)='value'`.
impl std::fmt::Debug for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}={:?}", self.ballot, self.value)
    }
}

/// Every message of the protocol, client requests and replies included. `Copy`, as each of its
/// fields is: the model checker then copies a state's network of envelopes as one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Client to proposer: write `value` into the write-once register.
    Put {
        /// The client's request number.
        request: RequestId,
        /// The value the client proposes.
        value: Value,
    },
    /// Client to any server: read the register.
    Get {
        /// The client's request number.
        request: RequestId,
    },
    /// Reply: the register holds the client's value.
    PutOk {
        /// The `Put` answered.
        request: RequestId,
    },
    /// Reply: the register holds another value.
    PutFail {
        /// The `Put` answered.
        request: RequestId,
    },
    /// Reply to `Get`: the register's value, `None` if nothing was chosen when read.
    GetOk {
        /// The `Get` answered.
        request: RequestId,
        /// The chosen value, if any.
        value: Option<Value>,
    },

    /// Phase 1(a): proposer to acceptors.
    Prepare {
        /// The proposal number `n` of the prepare request.
        ballot: Ballot,
    },
    /// Phase 1(b): acceptor to proposer, with the highest-numbered proposal it accepted.
    Promise {
        /// The prepare request answered.
        ballot: Ballot,
        /// The highest-numbered proposal the acceptor accepted, if any.
        accepted: Option<Proposal>,
    },
    /// Phase 2(a): proposer to acceptors.
    Accept {
        /// The proposal to accept.
        proposal: Proposal,
    },
    /// Phase 2(b): acceptor to the learners and the proposer that asked (§2.3).
    Accepted {
        /// The proposal accepted.
        proposal: Proposal,
    },
    /// Acceptor to proposer: `ballot` was refused because the acceptor promised `promised`
    /// (§2.2: "it should probably inform the proposer, who should then abandon its proposal").
    Rejected {
        /// The number refused.
        ballot: Ballot,
        /// The higher number the acceptor responded to.
        promised: Ballot,
    },

    /// Quorum read: server to acceptors, on behalf of `client`'s `request` (§2.3: "The
    /// learner could ask the acceptors what proposals they have accepted").
    Read {
        /// The client waiting for the read.
        client: Id,
        /// The client's `Get`.
        request: RequestId,
    },
    /// Quorum read: an acceptor's accepted proposal.
    ReadReply {
        /// The client waiting for the read.
        client: Id,
        /// The client's `Get`.
        request: RequestId,
        /// The acceptor's accepted proposal, if any.
        accepted: Option<Proposal>,
    },
}

/// The protocol's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A proposer's current ballot made no progress: start a higher one.
    Retry,
}

/// Durable state, saved before any message that depends on it is sent.
///
/// §2.5: "An acceptor records its intended response in stable storage before actually sending
/// the response", and "Each proposer remembers (in stable storage) the highest-numbered
/// proposal it has tried to issue".
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Storage {
    /// The highest round this proposer used, so that a restart never reuses a ballot.
    pub round: u32,
    /// The acceptor's promise.
    pub promised: Ballot,
    /// The acceptor's accepted proposal.
    pub accepted: Option<Proposal>,
}
