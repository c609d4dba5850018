//! The protocols, pure state machines: they know `stateright::actor` and std, nothing else
//! (no sockets, clocks, files or encodings). The same actors run in the model checker
//! ([`crate::model`]) and on UDP ([`crate::runtime`]).
pub mod ballot;
pub mod multi_paxos;
pub mod paxos;
pub mod self_delivery;
pub mod sorted;
