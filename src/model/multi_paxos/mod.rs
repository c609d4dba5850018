//! The model-checking harness for Multi-Paxos: clients of the key-value store, a ghost record of
//! every acceptance, the properties of the replicated log, and the
//! [`ActorModel`](stateright::actor::ActorModel) that puts them together. The servers are the
//! unmodified [`MultiPaxosActor`](crate::protocol::multi_paxos::MultiPaxosActor).
mod assemble;
mod client;
mod config;
mod ghost;
mod judge;
mod model;
mod properties;
#[cfg(test)]
mod tests;
mod witnesses;

pub use assemble::property_names;
pub use client::{KvClient, KvClientState};
pub use config::ModelCfg;
pub use config::MultiPaxosConfig;
pub use ghost::{Ghost, History, LedBeforeRestart, Took, Trail};
pub use model::{MultiPaxosHarness, MultiPaxosModel, MultiPaxosModelState};
pub(crate) use properties::{applied_prefix_consistent, run_twice};
