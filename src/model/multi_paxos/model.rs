//! The Multi-Paxos model put together: the servers, the clients and every property, within
//! the bounds of its configuration.
use super::client::Client;
use super::client::KEY;
use super::config::MultiPaxosConfig;
use super::ghost::record_in;
use super::ghost::record_out;
use super::ghost::Ghost;
use super::judge::judge;
use super::properties::properties;
use crate::model::checked::Checked;
use crate::model::harness::{self, Node};
use crate::protocol::multi_paxos::{KvOp, Msg, MultiPaxosActor};
use stateright::actor::{model_timeout, ActorModelState, Envelope, Id};
use stateright::Expectation;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The model's configuration as the properties see it: every server is an acceptor.
pub type ModelCfg = harness::ModelCfg<MultiPaxosConfig>;

/// The Multi-Paxos model: servers and key-value clients.
pub type MultiPaxosModel = Checked<MultiPaxosActor, Client, MultiPaxosConfig, Arc<Ghost>>;

/// A state of [`MultiPaxosModel`].
pub type MultiPaxosModelState = ActorModelState<Node<MultiPaxosActor, Client>, Arc<Ghost>>;

/// With [`MultiPaxosConfig::max_lost`]: the most copies of one message the network holds. A
/// leader's tick re-sends, and on a non-duplicating network each copy counts: this bounds
/// them. (A step that would make a third copy is left out; the copies already there can be
/// delivered, so no run is cut short by it.)
const MAX_COPIES: usize = 2;

/// Whether no message is in the network more than [`MAX_COPIES`] times. On an unordered
/// network it counts with stateright's `iter_all`, which yields a message held twice three
/// times: there the bound in force is one copy ([`harness::envelopes`]). Counting each copy
/// once lets the liveness model grow from 3,338 to 13,710 states, with every request still
/// answered; the pin keeps the count as it was.
fn copies_bounded(state: &MultiPaxosModelState) -> bool {
    let mut copies: BTreeMap<Envelope<&Msg>, usize> = BTreeMap::new();
    harness::envelopes(&state.network).all(|env| {
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
    cfg.clients_up(state) && state.history.ballots <= cfg.config.ballots && loss_ok
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
                election_after: model_timeout(),
                piece: self.piece.unwrap_or(self.slots as usize),
                burst: self.burst(),
                window: self.window,
                batch: self.batch.unwrap_or(1),
                batch_wait: self.batch_wait.then(model_timeout),
                batch_bytes: self.batch_bytes.unwrap_or(usize::MAX),
                snapshot_piece: (self.snapshot_piece.or(self.piece))
                    .unwrap_or(self.slots as usize + self.clients),
                snapshot_after: self.snapshot_after,
                leader_tick: self.leader_tick,
                tick_after: model_timeout(),
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
            Client {
                index: k,
                servers: servers.clone(),
                ops,
                retries: self.client_retries,
            }
        });
        // Every server is an acceptor.
        let clients = clients.collect();
        let actors = harness::actor_model(&self, servers.clone(), server_nodes, clients)
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
        let checked = Checked::new(actors, properties, judge)
            .finding(|property, ghost: &Arc<Ghost>| ghost.refinement.finding(property))
            .full_history(|ghost: &mut Arc<Ghost>| Arc::make_mut(ghost).calls.keep_full_history());
        if self.lose_chosen {
            checked.losing(|msg| matches!(msg, Msg::Chosen { .. }))
        } else {
            checked
        }
    }
}
