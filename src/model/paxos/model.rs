//! The Paxos model's types: its harness (the parts it is made of), the checked model and its
//! state.
use super::client::RegisterClient;
use super::config::PaxosConfig;
use super::ghost::Ghost;
use crate::model::harness::{Harness, ModelState};
use crate::model::harness_model::HarnessModel;
use crate::protocol::paxos::PaxosActor;
use std::sync::Arc;

/// The single-decree harness: Paxos actors, write-once-register clients, a model file's
/// configuration, and the ghost history.
#[derive(Debug)]
pub struct PaxosHarness;

impl Harness for PaxosHarness {
    type Actor = PaxosActor;
    type Client = RegisterClient;
    type Config = PaxosConfig;
    type History = Arc<Ghost>;
}

/// The single-decree model: Paxos actors and write-once-register clients.
pub type PaxosModel = HarnessModel<PaxosHarness>;
/// A state of [`PaxosModel`].
pub type PaxosModelState = ModelState<PaxosHarness>;
