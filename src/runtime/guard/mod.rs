//! The runtime's wrapper around a protocol actor. The actor that runs is the actor the model
//! checks, handed to stateright's `spawn` unchanged inside a [`Guard`] that only decides
//! *whether* a datagram reaches it and *how* its storage reaches the disk. The rules it
//! enforces are in `spec/runtime.md`:
//!
//! - **H1** A datagram larger than [`WireProtocol::MAX_DATAGRAM`] or that does not decode
//!   as a message is dropped and logged (the decoder refuses it; `spawn` skips it).
//! - **H2** A peer-to-peer message from an address that is not a configured peer is dropped
//!   and logged: only client requests are accepted from anyone.
//! - **H3** A client reply sent to a server is dropped and logged.
//! - **H4** A client request over the protocol's size limits ([`WireProtocol::refuse`]: a
//!   Multi-Paxos key over 256 bytes, a value over 1,024) is dropped and logged.
//! - **R1** A client request that comes straight from a client (not from a peer) is taken in
//!   the name of its source address ([`WireProtocol::bind_to_source`]): a Multi-Paxos
//!   `Request` naming another client is served in its sender's name, and answered there.
//! - **A1** With a cluster key, every message to a peer is sealed with a MAC
//!   ([`crate::runtime::auth`]) and every datagram from a peer's address must carry a valid
//!   one: anything else from a peer's address is dropped and logged.
//! - **F1** (tests only) A fault layer ([`crate::runtime::faults`]) drops, duplicates, delays
//!   and partitions the traffic between peers.
//! - **L1** A peer's notice that a ballot was preempted (`Rejected`) reaches the actor after a
//!   random delay ([`BACKOFF`]), a network delay the protocol tolerates: proposers that
//!   preempt each other at once on every rejection would otherwise duel for ever.
//! - **D1** The actor's commands are carried out in the order it gave them: the messages
//!   before its save leave, the save is made durable ([`crate::runtime::storage`]), then the
//!   rest; a node that cannot save stops (exit status 1) instead of running on.
//!
//! On the wire a message is one datagram ([`Wire`]): the serde JSON of the protocol's `Msg`,
//! or, between members of a cluster with a key, [`SEALED_MAGIC`], the MAC, then that JSON.
//!
//! The files, one job each:
//! - [`policy`]: what the guard asks of a protocol ([`WireProtocol`], [`MsgKind`]);
//! - [`paxos`](mod@paxos) and [`multi_paxos`](mod@multi_paxos): each protocol's answers, and
//!   the size limits they enforce on UDP (H4);
//! - [`codec`]: the datagram and storage formats `spawn` reads and writes (H1, A1);
//! - [`drops`]: what a guard dropped, counted by kind for its log lines;
//! - [`stop`]: why a node stops, and waiting for it;
//! - [`actor`]: the guard itself, the actor `spawn` runs (H2-H4, R1, A1, F1, L1, D1).
pub mod actor;
pub mod codec;
pub mod drops;
pub mod multi_paxos;
pub mod paxos;
pub mod policy;
pub mod stop;

pub use actor::{Deferred, Guard, GuardTimer, BACKOFF, FLUSH_AFTER};
pub(crate) use codec::{decode_storage, decode_wire, encode, encode_wire};
pub use codec::{Wire, SEALED_MAGIC};
pub use drops::{DropCounts, DropStats};
pub use policy::{MsgKind, WireProtocol};
pub use stop::{Stop, Stopping};
