//! The Multi-Paxos model put together: the table of every property in the order they are
//! reported, the actors and clients built from a configuration, and the boundary.
use super::client::KvClient;
use super::client::KEY;
use super::config::ModelCfg;
use super::config::MultiPaxosConfig;
use super::ghost::record_in;
use super::ghost::record_out;
use super::ghost::History;
use super::judge::judge;
use super::model::MultiPaxosHarness;
use super::model::MultiPaxosModel;
use super::model::MultiPaxosModelState;
use super::properties::acceptor_recorded;
use super::properties::at_most_once;
use super::properties::learn_only_chosen;
use super::properties::linearizable;
use super::properties::log_consistency;
use super::properties::p1a;
use super::properties::p2c;
use super::properties::refines_consensus;
use super::properties::refines_voting;
use super::properties::slot_agreement;
use super::properties::validity;
use super::witnesses::accept_refused;
use super::witnesses::acceptance_replaced;
use super::witnesses::all_answered;
use super::witnesses::answered_after_loss;
use super::witnesses::answered_from_table;
use super::witnesses::batch_held_for_a_client;
use super::witnesses::batch_of_2_chosen;
use super::witnesses::catch_up_of_2_slots;
use super::witnesses::caught_up_from_snapshot;
use super::witnesses::chosen_after_leader_crash;
use super::witnesses::chosen_after_restart_competing;
use super::witnesses::command_in_two_slots;
use super::witnesses::competing_commands;
use super::witnesses::gap_filled;
use super::witnesses::heartbeat_followed;
use super::witnesses::leader_behind_snapshot;
use super::witnesses::leader_change_with_reported_slot;
use super::witnesses::new_command_after_recovered_slots;
use super::witnesses::promise_in_pieces;
use super::witnesses::promise_names_snapshot;
use super::witnesses::queued_handed_over;
use super::witnesses::recovered_slot;
use super::witnesses::second_leader_change;
use super::witnesses::snapshot_in_pieces;
use super::witnesses::stale_refused;
use super::witnesses::steady_state;
use crate::model::harness;
use crate::model::harness::{Harness, Transition};
use crate::model::harness_model::HarnessModel;
use crate::model::network;
use crate::model::voting::{REFINES_CONSENSUS, REFINES_VOTING};
use crate::protocol::multi_paxos::{KvOp, Msg, MultiPaxosActor};
use stateright::actor::{Envelope, Id};
use stateright::{Expectation, Property};
use std::collections::BTreeMap;
use std::sync::Arc;

impl Harness for MultiPaxosHarness {
    type Actor = MultiPaxosActor;
    type Client = KvClient;
    type Config = MultiPaxosConfig;
    type History = super::ghost::History;

    fn judge(
        cfg: &ModelCfg,
        step: &Transition<Self>,
        before: &MultiPaxosModelState,
        after: &mut MultiPaxosModelState,
    ) {
        judge(cfg, step, before, after);
    }
}

/// Every property of the model, in the order they are reported: its name (the claim it
/// checks), whether it must hold always or be reached sometimes, and its condition. For the
/// actor model or its [`Simulated`] wrapper.
pub(super) fn properties() -> [Property<MultiPaxosModel>; 38] {
    [
        Property::always("slot agreement", slot_agreement),
        Property::always("P1a", p1a),
        Property::always("P2c", p2c),
        Property::always("acceptor recorded", acceptor_recorded),
        Property::always("replicas learn only chosen", learn_only_chosen),
        Property::always("log consistency", log_consistency),
        Property::always("validity", validity),
        Property::always("at most once", at_most_once),
        Property::always("linearizable", linearizable),
        Property::always(REFINES_VOTING, refines_voting),
        Property::always(REFINES_CONSENSUS, refines_consensus),
        Property::sometimes("steady state", steady_state),
        Property::sometimes("competing commands in a slot", competing_commands),
        Property::sometimes("accept refused", accept_refused),
        Property::sometimes("acceptance replaced", acceptance_replaced),
        Property::sometimes(
            "leader change with reported slot",
            leader_change_with_reported_slot,
        ),
        Property::sometimes("second leader change", second_leader_change),
        Property::sometimes("promise in pieces", promise_in_pieces),
        Property::sometimes("gap filled", gap_filled),
        Property::sometimes("catch-up of 2+ slots", catch_up_of_2_slots),
        Property::sometimes("command in two slots", command_in_two_slots),
        Property::sometimes("all answered", all_answered),
        Property::sometimes("recovered slot", recovered_slot),
        Property::sometimes("chosen after leader crash", chosen_after_leader_crash),
        Property::sometimes(
            "chosen after restart with competing commands",
            chosen_after_restart_competing,
        ),
        Property::sometimes("answered after a lost accept", answered_after_loss),
        Property::sometimes("batch of 2 chosen", batch_of_2_chosen),
        Property::sometimes("batch held for a client", batch_held_for_a_client),
        Property::sometimes("promise names a snapshot", promise_names_snapshot),
        Property::sometimes("caught up from a snapshot", caught_up_from_snapshot),
        Property::sometimes("snapshot in pieces", snapshot_in_pieces),
        Property::sometimes("leader behind a snapshot", leader_behind_snapshot),
        Property::sometimes(
            "retried request answered from the at-most-once table",
            answered_from_table,
        ),
        Property::sometimes("stale request refused", stale_refused),
        Property::sometimes(
            "new command after recovered slots",
            new_command_after_recovered_slots,
        ),
        Property::sometimes("heartbeat followed", heartbeat_followed),
        Property::sometimes("queued requests handed to the leader", queued_handed_over),
        // Liveness: judged only where a run ends (stateright reports an `eventually`
        // property at terminal states, see spec/multi-paxos.md).
        Property::eventually("every request answered", all_answered),
    ]
}

/// With [`MultiPaxosConfig::max_lost`]: the most copies of one message the network holds. A
/// leader's tick re-sends, and on a non-duplicating network each copy counts: this bounds
/// them. (A step that would make a third copy is left out; the copies already there can be
/// delivered, so no run is cut short by it.)
const MAX_COPIES: usize = 2;

/// Whether no message is in the network more than [`MAX_COPIES`] times. On an unordered
/// network it counts with stateright's `iter_all`, which yields a message held twice three
/// times: there the bound in force is one copy ([`network::envelopes`]). Counting each copy
/// once lets the liveness model grow from 3,338 to 13,710 states, with every request still
/// answered; the pin keeps the count as it was.
fn copies_bounded(state: &MultiPaxosModelState) -> bool {
    let mut copies: BTreeMap<Envelope<&Msg>, usize> = BTreeMap::new();
    network::envelopes(&state.network).all(|env| {
        let n = copies.entry(env).or_default();
        *n += 1;
        *n <= MAX_COPIES
    })
}

/// The names of the properties with `expectation`, in the order they are reported.
pub fn property_names(expectation: Expectation) -> Vec<&'static str> {
    harness::names(properties(), expectation)
}

fn within_boundary(cfg: &ModelCfg, state: &MultiPaxosModelState) -> bool {
    let (lost, excluded) = state.history.lost;
    let loss_ok = cfg
        .config
        .max_lost
        .is_none_or(|max| lost <= max && !excluded && copies_bounded(state));
    state.history.ballots <= cfg.config.ballots && loss_ok
}

impl MultiPaxosConfig {
    /// Builds the model: the servers, the clients, and every property.
    pub fn into_model(self) -> MultiPaxosModel {
        let servers = Id::vec_from(0..self.servers);
        let server_nodes = servers
            .iter()
            .map(|_| MultiPaxosActor {
                servers: servers.clone(),
                slots: self.slots,
                variant: self.variant,
                tuning: self.tuning(),
                text: std::marker::PhantomData,
            })
            .collect();
        let clients = (0..self.clients).map(|k| {
            let write = if k == 0 {
                KvOp::Put {
                    key: KEY,
                    value: 'A',
                }
            } else {
                KvOp::Append {
                    key: KEY,
                    value: (b'A' + k as u8) as char,
                }
            };
            let mut ops = vec![write];
            if self.reads {
                ops.push(KvOp::Get { key: KEY });
            }
            KvClient {
                index: k,
                servers: servers.clone(),
                ops,
                retries: self.client_retries,
            }
        });
        // Every server is an acceptor.
        let clients = clients.collect();
        let actors = harness::actor_model::<MultiPaxosHarness>(
            &self,
            servers.clone(),
            server_nodes,
            clients,
        )
        .record_msg_out(record_out)
        .record_msg_in(record_in)
        .within_boundary(within_boundary);
        // Liveness is claimed only where the configuration says so (`liveness`): elsewhere
        // the ballot and slot budgets end runs with requests still pending, and "every request
        // answered" would be judged on runs the bound cut short.
        let liveness = self.liveness;
        let properties = properties()
            .into_iter()
            .filter(move |p| liveness || p.expectation != Expectation::Eventually);
        let checked = HarnessModel::new(actors, properties)
            .finding(|property, ghost: &History| ghost.refinement.finding(property))
            .full_history(|ghost: &mut History| Arc::make_mut(ghost).calls.keep_full_history());
        if self.lose_chosen {
            checked.losing(|msg| matches!(msg, Msg::Chosen { .. }))
        } else {
            checked
        }
    }
}
