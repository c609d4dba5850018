//! The Multi-Paxos model's types: its harness (the parts it is made of), the checked model and
//! its state.
use crate::model::harness::ModelState;
use crate::model::harness_model::HarnessModel;

/// The Multi-Paxos harness: servers, key-value clients, a model file's configuration, and the
/// ghost history.
#[derive(Debug)]
pub struct MultiPaxosHarness;

/// The Multi-Paxos model: servers and key-value clients.
pub type MultiPaxosModel = HarnessModel<MultiPaxosHarness>;

/// A state of [`MultiPaxosModel`].
pub type MultiPaxosModelState = ModelState<MultiPaxosHarness>;
