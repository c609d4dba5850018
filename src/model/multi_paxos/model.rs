//! The Multi-Paxos model's types: its harness (the parts it is made of), the checked model and
//! its state.
use super::client::KvClient;
use super::config::MultiPaxosConfig;
use super::ghost::Ghost;
use crate::model::harness::{Harness, ModelState};
use crate::model::harness_model::HarnessModel;
use crate::protocol::multi_paxos::MultiPaxosActor;
use std::sync::Arc;

/// The Multi-Paxos harness: servers, key-value clients, a model file's configuration, and the
/// ghost history.
#[derive(Debug)]
pub struct MultiPaxosHarness;

impl Harness for MultiPaxosHarness {
    type Actor = MultiPaxosActor;
    type Client = KvClient;
    type Config = MultiPaxosConfig;
    type History = Arc<Ghost>;
}

/// The Multi-Paxos model: servers and key-value clients.
pub type MultiPaxosModel = HarnessModel<MultiPaxosHarness>;

/// A state of [`MultiPaxosModel`].
pub type MultiPaxosModelState = ModelState<MultiPaxosHarness>;
