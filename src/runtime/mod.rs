//! The UDP runtime: the protocol actors run through stateright's `spawn` behind a guard,
//! with durable storage; a client and a benchmark.
pub mod bench;
pub mod client;
pub mod node;
