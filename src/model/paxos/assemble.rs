//! The Paxos model put together: the table of every property in the order they are
//! reported, the actors and clients built from a configuration, and the boundary.
use super::client::RegisterClient;
use super::config::Layout;
use super::config::ModelCfg;
use super::config::PaxosConfig;
use super::ghost::record_in;
use super::ghost::record_out;
use super::ghost::History;
use super::judge::judge;
use super::model::PaxosHarness;
use super::model::PaxosModel;
use super::model::PaxosModelState;
use super::properties::acceptor_in_trail;
use super::properties::adopted_earlier_value;
use super::properties::agreement;
use super::properties::chosen_after_crash;
use super::properties::chosen_after_crash_competing;
use super::properties::dueling_proposers;
use super::properties::learners_agree;
use super::properties::linearizable;
use super::properties::p1a;
use super::properties::p2b;
use super::properties::p2c;
use super::properties::read_after_put;
use super::properties::read_none_during_put;
use super::properties::reads_only_chosen;
use super::properties::refines_consensus;
use super::properties::refines_voting;
use super::properties::retry_after_preemption;
use super::properties::two_values_accepted;
use super::properties::unique_numbers;
use super::properties::validity;
use super::properties::value_chosen;
use super::symmetry::representative;
use crate::model::harness;
use crate::model::harness::{ActorState, Harness, Transition};
use crate::model::harness_model::HarnessModel;
use crate::model::node::protocol_nodes;
use crate::model::voting::{REFINES_CONSENSUS, REFINES_VOTING};
use crate::protocol::paxos::{PaxosActor, PaxosState, Roles};
use stateright::actor::model_timeout;
use stateright::{Expectation, Property};
use std::sync::Arc;

impl Harness for PaxosHarness {
    type Actor = PaxosActor;
    type Client = RegisterClient;
    type Config = PaxosConfig;
    type History = super::ghost::History;

    /// The boundary counts the ballots the trails record and reads the proposers' rounds,
    /// which neither the judge nor a reduction changes.
    fn actors_within_boundary<'a>(
        cfg: &ModelCfg,
        actors: impl Iterator<Item = &'a ActorState<Self>> + Clone,
    ) -> Option<bool> {
        Some(actors_within_boundary(cfg, actors))
    }

    /// A proposer past round `max_round`. Its round never falls within a step: each ballot it
    /// starts is numbered higher than the last (§2.5: it "begins phase 1 with a higher
    /// proposal number than any it has already used"; a retry and a rejection start a higher
    /// round), so a step whose handler takes it past `max_round` ends past it.
    fn actor_past_boundary(cfg: &ModelCfg, state: &PaxosState) -> bool {
        past_max_round(cfg, state)
    }

    fn judge(
        cfg: &ModelCfg,
        step: &Transition<Self>,
        before: &PaxosModelState,
        after: &mut PaxosModelState,
    ) {
        judge(cfg, step, before, after);
    }
}

/// Every property of the model, in the order they are reported: its name (the claim it
/// checks), whether it must hold always or be reached sometimes, and its condition.
pub(super) fn properties() -> [Property<PaxosModel>; 21] {
    [
        Property::always("agreement", agreement),
        Property::always("validity", validity),
        Property::always("P1a", p1a),
        Property::always("P2c", p2c),
        Property::always("P2b", p2b),
        Property::always("learners agree", learners_agree),
        Property::always("reads only chosen", reads_only_chosen),
        Property::always("linearizable", linearizable),
        Property::always("unique proposal numbers", unique_numbers),
        Property::always("acceptor state in trail", acceptor_in_trail),
        Property::always(REFINES_VOTING, refines_voting),
        Property::always(REFINES_CONSENSUS, refines_consensus),
        Property::sometimes("value chosen", value_chosen),
        Property::sometimes("dueling proposers", dueling_proposers),
        Property::sometimes("two values accepted", two_values_accepted),
        Property::sometimes("retry after preemption", retry_after_preemption),
        Property::sometimes("adopted earlier value", adopted_earlier_value),
        Property::sometimes("chosen after crash", chosen_after_crash),
        Property::sometimes(
            "chosen after crash with competing values",
            chosen_after_crash_competing,
        ),
        Property::sometimes("read None during put", read_none_during_put),
        Property::sometimes("read after put", read_after_put),
    ]
}

/// The names of the properties with `expectation`, in the order they are reported.
pub fn property_names(expectation: Expectation) -> Vec<&'static str> {
    harness::names(properties(), expectation)
}

/// The boundary: the proposers together start at most `ballots` ballots, and none goes past
/// round `max_round` (clients never crash: the model has no such step).
fn within_boundary(cfg: &ModelCfg, state: &PaxosModelState) -> bool {
    actors_within_boundary(cfg, state.actor_states.iter().map(|s| &**s))
}

/// The boundary ([`within_boundary`]) as the actors' states alone show it.
fn actors_within_boundary<'a>(
    cfg: &ModelCfg,
    actors: impl Iterator<Item = &'a ActorState<PaxosHarness>> + Clone,
) -> bool {
    let nodes = || protocol_nodes(actors.clone()).map(|(_, n)| n);
    let config = &cfg.config;
    config
        .ballots
        .is_none_or(|b| nodes().map(|n| n.trail.ballots).sum::<u32>() <= b)
        && nodes().all(|n| !past_max_round(cfg, &n.state))
}

/// Whether `state` is a proposer's past round `max_round`, outside the boundary.
fn past_max_round(cfg: &ModelCfg, state: &PaxosState) -> bool {
    let max = cfg.config.max_round;
    let proposer = state.proposer.as_ref();
    max.is_some_and(|max| proposer.is_some_and(|p| p.ballot.round > max))
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
            .map(|k| RegisterClient {
                value: (k < self.clients).then(|| (b'A' + k as u8) as char),
                servers: (0..proposers.len())
                    .map(|i| proposers[(k + i) % proposers.len()])
                    .collect(),
                retries: self.retries,
                put_only: self.put_only,
                read_elsewhere: self.read_elsewhere,
            })
            .collect();
        let actors = harness::actor_model::<PaxosHarness>(&self, acceptors, servers, clients)
            .record_msg_out(record_out)
            .record_msg_in(record_in)
            .within_boundary(within_boundary);
        HarnessModel::new(actors, properties())
            .symmetry(representative)
            .finding(|property, ghost: &History| ghost.refinement.finding(property))
            .full_history(|ghost: &mut History| Arc::make_mut(ghost).calls.keep_full_history())
    }
}
