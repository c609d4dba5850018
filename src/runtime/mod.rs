//! The UDP runtime: the protocol actors run through stateright's `spawn` behind a guard,
//! with durable storage; a client and a benchmark. Configured with plain structs
//! ([`node::NodeConfig`], [`bench::BenchConfig`]); the command line lives in [`crate::cli`].
//!
//! - [`guard`]: what reaches the actor (H1-H4, R1, A1, L1 of `spec/runtime.md`), each
//!   protocol's wire policy and size limits, and the wire codec;
//! - [`auth`]: the cluster key and the MAC of peer messages (A1-A3);
//! - [`faults`]: the test-only fault layer between peers (F1);
//! - [`storage`]: the storage files (D1, D2);
//! - [`wal`]: a node's storage as a snapshot and a write-ahead log of changes (W1-W4);
//! - [`node`]: a node's configuration and serving it on UDP;
//! - [`client`]: a client that retries across servers;
//! - [`bench`](mod@bench): the loopback benchmark;
//! - [`trace`]: recording what each node's actor handles, for `paxos validate` (T1, T2).
pub mod auth;
pub mod bench;
pub mod client;
pub mod faults;
pub mod guard;
pub mod node;
pub mod storage;
pub mod trace;
pub mod wal;
