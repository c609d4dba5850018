//! The UDP runtime: the protocol actors run through stateright's `spawn` behind a guard,
//! with durable storage; a client and a benchmark. Configured with plain structs
//! ([`node::NodeConfig`], [`bench::BenchConfig`]); the command line lives in [`crate::cli`].
//!
//! - [`guard`]: what reaches the actor (H1-H3, L1 of `spec/runtime.md`) and the wire codec;
//! - [`storage`]: the storage file (D1, D2);
//! - [`node`]: a node's configuration and serving it on UDP;
//! - [`client`]: a client that retries across servers;
//! - [`bench`](mod@bench): the loopback benchmark.
pub mod bench;
pub mod client;
pub mod guard;
pub mod node;
pub mod storage;
