//! Paxos and Multi-Paxos written once as [`stateright`] actors, checked exhaustively against
//! the requirements of Lamport's *Paxos Made Simple*, and run as real clusters on UDP.
//!
//! The layers, each a module:
//! - [`protocol`]: the actors, pure state machines (no sockets, clocks or files);
//! - [`model`]: the model-checking harnesses, properties, checker driver and catalogue;
//! - [`runtime`]: the same actors on UDP, with durable storage, a client and a benchmark;
//! - [`validate`]: a real run's traces replayed through the model, above both;
//! - [`cli`]: the `paxos` command line.
//!
//! ```
//! use paxos::model::network::NetworkKind;
//! use paxos::model::paxos::{Layout, PaxosConfig};
//! use stateright::{Checker, Model};
//!
//! let model = PaxosConfig {
//!     layout: Layout::Servers { servers: 3 },
//!     network: NetworkKind::UnorderedNonduplicating,
//!     ..Default::default()
//! }
//! .into_model();
//! let checker = model.checker().spawn_bfs().join();
//! assert!(checker.discovery("agreement").is_none());
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod cli;
pub mod model;
pub mod protocol;
pub mod runtime;
pub mod validate;

pub use model::multi_paxos::MultiPaxosConfig;
pub use model::paxos::PaxosConfig;
pub use protocol::ballot::Ballot;
pub use protocol::multi_paxos::MultiPaxosActor;
pub use protocol::paxos::PaxosActor;
