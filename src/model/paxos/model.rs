//! The Paxos model's types: the checked model and its state.
use super::client::Client;
use super::config::PaxosConfig;
use super::ghost::Ghost;
use crate::model::checked::Checked;
use crate::model::node::Node;
use crate::protocol::paxos::PaxosActor;
use stateright::actor::ActorModelState;
use std::sync::Arc;

/// The single-decree model: Paxos actors and write-once-register clients.
pub type PaxosModel = Checked<PaxosActor, Client, PaxosConfig, Arc<Ghost>>;
/// A state of [`PaxosModel`].
pub type PaxosModelState = ActorModelState<Node<PaxosActor, Client>, Arc<Ghost>>;
