//! Paxos and Multi-Paxos written once as [`stateright`] actors, checked exhaustively against
//! the requirements of Lamport's *Paxos Made Simple*.
//!
//! ```
//! use paxos::paxos_model::{Layout, NetworkKind, PaxosConfig};
//! use stateright::{Checker, Model};
//!
//! let model = PaxosConfig {
//!     layout: Layout::Servers { servers: 3 },
//!     clients: 1,
//!     readers: 0,
//!     network: NetworkKind::UnorderedNonduplicating,
//!     lossy: false,
//!     max_crashes: 0,
//!     max_round: 1,
//!     variant: Default::default(),
//! }
//! .into_model();
//! let checker = model.checker().spawn_bfs().join();
//! assert!(checker.discovery("agreement").is_none());
//! ```
pub mod bench;
pub mod catalogue;
pub mod check;
pub mod cli;
pub mod client;
pub mod multi_paxos;
pub mod multi_paxos_model;
pub mod paxos;
pub mod paxos_model;
pub mod runtime;

/// Model checking allocates and frees millions of small states from several threads: glibc's
/// allocator spends much of that time on lock contention, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub mod local;
