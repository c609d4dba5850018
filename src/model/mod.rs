//! Model checking: the harnesses that wrap the protocol actors with clients, ghost records
//! and the properties of *Paxos Made Simple*; the checker driver; the catalogue of models.
pub mod ahead;
pub mod catalogue;
pub mod check;
pub mod config;
pub mod crash;
pub mod harness;
pub mod harness_model;
pub mod hashed;
pub mod linearizability;
pub mod multi_paxos;
pub mod network;
pub mod node;
pub mod paxos;
pub mod view;
pub mod voting;
