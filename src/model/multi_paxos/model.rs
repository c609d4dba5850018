//! The Multi-Paxos model's types: the checked model and its state.
use super::client::Client;
use super::config::MultiPaxosConfig;
use super::ghost::Ghost;
use crate::model::checked::Checked;
use crate::model::node::Node;
use crate::protocol::multi_paxos::MultiPaxosActor;
use stateright::actor::ActorModelState;
use std::sync::Arc;

/// The Multi-Paxos model: servers and key-value clients.
pub type MultiPaxosModel = Checked<MultiPaxosActor, Client, MultiPaxosConfig, Arc<Ghost>>;

/// A state of [`MultiPaxosModel`].
pub type MultiPaxosModelState = ActorModelState<Node<MultiPaxosActor, Client>, Arc<Ghost>>;
