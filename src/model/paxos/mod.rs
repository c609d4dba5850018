//! The model-checking harness for single-decree Paxos: clients, a ghost history of everything that
//! ever happened, the properties of *Paxos Made Simple*, and the
//! [`ActorModel`](stateright::actor::ActorModel) that puts them together. The servers are the
//! unmodified [`PaxosActor`](crate::protocol::paxos::PaxosActor) that also runs on UDP.
mod assemble;
mod client;
mod config;
mod ghost;
mod judge;
mod model;
mod properties;
mod symmetry;
#[cfg(test)]
mod tests;

pub use assemble::property_names;
pub use client::{RegisterClient, RegisterClientState};
pub use config::ModelCfg;
pub use config::{Layout, PaxosConfig};
pub use ghost::{Ghost, History, Took, Trail};
pub use model::{PaxosHarness, PaxosModel, PaxosModelState};
