//! The Paxos model put together: the actors, the clients and every property, within the
//! bounds of its configuration.
use super::client::Client;
use super::config::Layout;
use super::config::PaxosConfig;
use super::ghost::record_in;
use super::ghost::record_out;
use super::ghost::Ghost;
use super::judge::judge;
use super::properties::paxos_states;
use super::properties::properties;
use super::properties::trails;
use super::symmetry::representative;
use crate::model::checked::Checked;
use crate::model::harness::{self, Node};
use crate::protocol::paxos::{PaxosActor, Roles};
use stateright::actor::{model_timeout, ActorModelState};
use stateright::Expectation;
use std::sync::Arc;

/// The model's configuration as the properties see it.
pub type ModelCfg = harness::ModelCfg<PaxosConfig>;

/// The single-decree model: Paxos actors and write-once-register clients.
pub type PaxosModel = Checked<PaxosActor, Client, PaxosConfig, Arc<Ghost>>;
/// A state of [`PaxosModel`].
pub type PaxosModelState = ActorModelState<Node<PaxosActor, Client>, Arc<Ghost>>;

/// The names of the properties with `expectation`, in the order they are reported.
pub fn property_names(expectation: Expectation) -> Vec<&'static str> {
    harness::names(properties(), expectation)
}

/// The boundary: clients never crash, and the proposers together start at most
/// `ballots` ballots.
fn within_boundary(cfg: &ModelCfg, state: &PaxosModelState) -> bool {
    let config = &cfg.config;
    cfg.clients_up(state)
        && config
            .ballots
            .is_none_or(|b| trails(state).map(|t| t.ballots).sum::<u32>() <= b)
        && config.max_round.is_none_or(|max| {
            paxos_states(state).all(|s| s.proposer.as_ref().is_none_or(|p| p.ballot.round <= max))
        })
}

impl PaxosConfig {
    /// Builds the model: the Paxos actors, the clients, and every property.
    pub fn into_model(self) -> PaxosModel {
        let (proposers, acceptors, learners) = self.layout.groups();
        let paxos = |roles| PaxosActor {
            roles,
            acceptors: acceptors.clone(),
            learners: learners.clone(),
            variant: self.variant,
            retry_after: model_timeout(),
        };
        let servers: Vec<PaxosActor> = match self.layout {
            Layout::Servers { servers } => (0..servers).map(|_| paxos(Roles::SERVER)).collect(),
            Layout::Roles { .. } => std::iter::empty()
                .chain(proposers.iter().map(|_| paxos(Roles::PROPOSER)))
                .chain(acceptors.iter().map(|_| paxos(Roles::ACCEPTOR)))
                .chain(learners.iter().map(|_| paxos(Roles::LEARNER)))
                .collect(),
        };
        // Client k starts at proposer k (mod their number) and goes on round the others.
        let clients = (0..self.clients + self.readers)
            .map(|k| Client {
                value: (k < self.clients).then(|| (b'A' + k as u8) as char),
                servers: (0..proposers.len())
                    .map(|i| proposers[(k + i) % proposers.len()])
                    .collect(),
                retries: self.retries,
                put_only: self.put_only,
                read_elsewhere: self.read_elsewhere,
            })
            .collect();
        let actors = harness::actor_model(&self, acceptors, servers, clients)
            .record_msg_out(record_out)
            .record_msg_in(record_in)
            .within_boundary(within_boundary);
        Checked::new(actors, properties(), judge)
            .symmetry(representative)
            .finding(|property, ghost: &Arc<Ghost>| ghost.refinement.finding(property))
            .full_history(|ghost: &mut Arc<Ghost>| Arc::make_mut(ghost).calls.keep_full_history())
    }
}
