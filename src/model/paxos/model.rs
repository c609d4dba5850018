//! The Paxos model's types: its harness (the parts it is made of), the checked model and its
//! state.
use crate::model::harness::ModelState;
use crate::model::harness_model::HarnessModel;

/// The single-decree harness: Paxos actors, write-once-register clients, a model file's
/// configuration, and the ghost history.
#[derive(Debug)]
pub struct PaxosHarness;

/// The single-decree model: Paxos actors and write-once-register clients.
pub type PaxosModel = HarnessModel<PaxosHarness>;
/// A state of [`PaxosModel`].
pub type PaxosModelState = ModelState<PaxosHarness>;
