//! What the guard asks of a protocol to run it on UDP: how to classify its messages (H2, H3,
//! L1), how to bind a client's request to its source (R1) and which messages are over its size
//! limits (H4). Each protocol's answers are in a file of their own.
use crate::runtime::guard::drops::DropStats;
use serde::de::DeserializeOwned;
use serde::Serialize;
use stateright::actor::{Actor, Id};

/// What a runtime message is for, as far as the guard is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind {
    /// A request from a client: accepted from any address (R1 binds it to that address).
    ClientRequest,
    /// A reply meant for a client: a server never expects one.
    ClientReply,
    /// A peer-to-peer message: accepted only from a configured peer.
    Internal,
    /// A peer-to-peer message telling a proposer it was preempted: accepted only from a
    /// configured peer, and delivered after a random delay (L1).
    Preemption,
}

/// A protocol actor that can run on UDP: its messages and storage travel as JSON, and the
/// runtime knows which messages only peers may send.
pub trait WireProtocol: Actor + Send + 'static
where
    Self::Msg: Serialize + DeserializeOwned,
    Self::Storage: Serialize + DeserializeOwned,
{
    /// Larger messages are dropped unread (H1).
    const MAX_DATAGRAM: usize = 8 * 1024;

    /// Classifies a message for the guard (H2, H3).
    fn kind(msg: &Self::Msg) -> MsgKind;

    /// R1: a client request received straight from the client at `src`, made to speak in the
    /// name of that address only (a request rebound is counted in `drops`, and logged). The
    /// default keeps it as it is: for a protocol whose requests name no client, the reply
    /// already goes to the datagram's source.
    fn bind_to_source(msg: Self::Msg, _src: Id, _drops: &DropStats) -> Self::Msg {
        msg
    }

    /// H4: why a message must not reach the actor (it is over the protocol's size limits),
    /// `None` to let it. By default every message may.
    fn refuse(_msg: &Self::Msg) -> Option<String> {
        None
    }
}
