//! The model-checking harness for Multi-Paxos: clients of the key-value store, a ghost record
//! of every acceptance, the properties of the replicated log, and the [`ActorModel`](stateright::actor::ActorModel) that puts
//! them together. The servers are the unmodified
//! [`MultiPaxosActor`].
use crate::model::checked::Checked;
use crate::model::harness::{
    self, protocol_actors, Calls, ClientOut, Config, Faults, NetworkKind, Node, Recorded,
};
use crate::protocol::ballot::Ballot;
use crate::protocol::multi_paxos::{
    Applied, ClientCommand, Command, Kv, KvOp, Msg, MultiPaxosActor, MultiPaxosState, Proposal,
    RequestId, Slot, Timer, Variant,
};
use itertools::Itertools;
use serde::{Deserialize, Serialize};
use stateright::actor::{model_timeout, ActorModelState, Envelope, Id};
use stateright::{Expectation, Property};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// One Multi-Paxos configuration: what an entry of `models/` describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiPaxosConfig {
    /// How many servers: each is leader, acceptor and replica.
    pub servers: usize,
    /// How many clients: client 0 puts, the others append.
    pub clients: usize,
    /// Whether each client reads the key after its write.
    #[serde(default)]
    pub reads: bool,
    /// How the network delivers.
    pub network: NetworkKind,
    /// Whether the network may also lose any message.
    #[serde(default)]
    pub lossy: bool,
    /// Servers that may crash (clients never do).
    #[serde(default)]
    pub max_crashes: usize,
    /// Servers never go past this round (the model's boundary keeps the space finite).
    pub max_round: u32,
    /// The log's length: slots `0..slots`.
    pub slots: Slot,
    /// How many times each client may resend a request, in all.
    pub client_retries: u8,
    /// The protocol itself, or one of its deliberately broken versions.
    #[serde(default)]
    pub variant: Variant,
}

/// The key every client works on.
const KEY: char = 'x';

/// A client: client 0 puts `'A'`, client `k > 0` appends `'A' + k`; then each reads, if
/// configured. It sends request `i` first to server `k + i` and retries at the next server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    /// The client's index `k` among the clients.
    pub index: usize,
    /// Every server, in id order.
    pub servers: Vec<Id>,
    /// The operations, in the order the client issues them.
    pub ops: Vec<KvOp>,
    /// How many times the client may resend a request, in all.
    pub retries: u8,
}

/// Client state. `id` first, so that sorting actor states never reorders clients.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClientState {
    /// The client's own id.
    pub id: Id,
    /// The index of the operation awaiting its reply; `ops.len()` once all are answered.
    pub next: usize,
    /// The server the current request was last sent to.
    pub server: Id,
    /// How many more times the client may resend a request.
    pub retries_left: u8,
}

impl Client {
    fn send(&self, id: Id, state: &ClientState, o: &mut ClientOut<Self>) {
        let command = ClientCommand {
            client: id,
            request: state.next as RequestId + 1,
            op: self.ops[state.next].clone(),
        };
        o.send(state.server, Msg::Request { command });
        if state.retries_left > 0 {
            o.set_timer(Timer::ClientRetry, model_timeout());
        }
    }
}

impl harness::Client for Client {
    type Protocol = MultiPaxosActor;
    type State = ClientState;

    fn on_start(&self, id: Id, o: &mut ClientOut<Self>) -> ClientState {
        let state = ClientState {
            id,
            next: 0,
            server: self.servers[self.index % self.servers.len()],
            retries_left: self.retries,
        };
        self.send(id, &state, o);
        state
    }

    fn on_msg(&self, id: Id, state: &mut Cow<ClientState>, msg: Msg, o: &mut ClientOut<Self>) {
        // A `Stale` refusal never reaches a model client (it numbers its requests 1, 2, ...
        // and waits for each answer): like any other message, it is ignored.
        let Msg::Reply { request, .. } = msg else {
            return;
        };
        if state.next >= self.ops.len() || request != state.next as RequestId + 1 {
            return; // A duplicate or stale reply.
        }
        let mut next = (**state).clone();
        next.next += 1;
        if next.next < self.ops.len() {
            let n = self.servers.len();
            next.server = self.servers[(self.index + next.next) % n];
            self.send(id, &next, o);
        } else {
            o.cancel_timer(Timer::ClientRetry);
        }
        *state = Cow::Owned(next);
    }

    fn on_timeout(&self, id: Id, state: &mut Cow<ClientState>, _: &Timer, o: &mut ClientOut<Self>) {
        if state.next >= self.ops.len() || state.retries_left == 0 {
            return;
        }
        let mut next = (**state).clone();
        let at = self
            .servers
            .iter()
            .position(|s| *s == next.server)
            .expect("a client sends to servers");
        next.server = self.servers[(at + 1) % self.servers.len()];
        next.retries_left -= 1;
        self.send(id, &next, o);
        *state = Cow::Owned(next);
    }
}

/// Everything one server ever did that its own state may since have overwritten: the ghost
/// record the properties are judged on (see [`harness::Trail`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Trail {
    /// Every proposal this acceptor accepted, by slot.
    pub accepted: BTreeSet<(Slot, Proposal)>,
    /// Every proposal this server issued (sent an `Accept` for), by slot.
    pub issued: BTreeSet<(Slot, Proposal)>,
    /// The proposals it issued as a leader handling a client request: no phase 1 for them.
    pub steady: BTreeSet<(Slot, Proposal)>,
    /// The highest ballot under which this server led.
    pub led: Option<Ballot>,
}

/// At a server's last restart, the highest ballot it had led under (its trail's `led` then).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LedBeforeRestart(pub Option<Ballot>);

impl harness::Trail<MultiPaxosActor> for Trail {
    type Start = LedBeforeRestart;
    /// Whether the step is a leader handling a client request: steady state, no phase 1.
    type Step = bool;

    fn start(restored: Option<&Self>) -> LedBeforeRestart {
        LedBeforeRestart(restored.and_then(|trail| trail.led))
    }

    fn step(state: &MultiPaxosState, msg: &Msg) -> bool {
        matches!(msg, Msg::Request { .. }) && state.is_leader()
    }

    fn observe(&mut self, steady: bool, sent: &Msg) {
        match sent {
            Msg::Accepted { slot, proposal } => {
                self.accepted.insert((*slot, proposal.clone()));
            }
            Msg::Accept { slot, proposal } => {
                self.issued.insert((*slot, proposal.clone()));
                if steady {
                    self.steady.insert((*slot, proposal.clone()));
                }
            }
            _ => {}
        }
    }

    fn settle(trail: &mut Cow<'_, Self>, state: &MultiPaxosState) {
        if state.is_leader() && trail.led < Some(state.proposer.ballot) {
            trail.to_mut().led = Some(state.proposer.ballot);
        }
    }
}

impl Recorded for MultiPaxosActor {
    type Trail = Trail;
}

/// Auxiliary ("ghost") state for the clients: what they submitted and the history of their
/// operations, for the linearizability checker.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Ghost {
    /// Every command a client submitted.
    pub submitted: BTreeSet<ClientCommand>,
    /// The clients' calls on the key-value store.
    pub calls: Calls<Kv, RequestId>,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            submitted: BTreeSet::new(),
            calls: Calls::new(Kv::default()),
        }
    }
}

/// The model's configuration as the properties see it: every server is an acceptor.
pub type ModelCfg = harness::ModelCfg<MultiPaxosConfig>;

/// The Multi-Paxos model: servers and key-value clients.
pub type MultiPaxosModel = Checked<MultiPaxosActor, Client, MultiPaxosConfig, Ghost>;

/// A state of [`MultiPaxosModel`].
pub type MultiPaxosModelState = ActorModelState<Node<MultiPaxosActor, Client>, Ghost>;

fn record_out(_: &ModelCfg, ghost: &Ghost, env: Envelope<&Msg>) -> Option<Ghost> {
    let Msg::Request { command } = env.msg else {
        return None;
    };
    // Only a client's own first send invokes: forwards and retries do not.
    if env.src != command.client || ghost.calls.awaits(env.src, &command.request) {
        return None;
    }
    let mut next = ghost.clone();
    next.submitted.insert(command.clone());
    next.calls
        .invoke(env.src, command.request, command.op.clone());
    Some(next)
}

fn record_in(_: &ModelCfg, ghost: &Ghost, env: Envelope<&Msg>) -> Option<Ghost> {
    let Msg::Reply { request, ret } = env.msg else {
        return None;
    };
    if !ghost.calls.awaits(env.dst, request) {
        return None; // The client ignores this reply: a duplicate or a stale one.
    }
    let mut next = ghost.clone();
    next.calls.ret(env.dst, ret.clone());
    Some(next)
}

/// One server as the properties see it.
struct ServerView<'a> {
    id: Id,
    state: &'a MultiPaxosState,
    trail: &'a Trail,
    /// Whether the server is down.
    crashed: bool,
    /// At its last restart, the highest ballot it had led under.
    led_before_restart: Option<Ballot>,
}

fn servers(state: &MultiPaxosModelState) -> impl Iterator<Item = ServerView<'_>> {
    protocol_actors(state).map(|(id, node)| ServerView {
        id,
        state: &node.state,
        trail: &node.trail,
        crashed: state.crashed[usize::from(id)],
        led_before_restart: node.at_start.0,
    })
}

/// Every acceptance that ever happened, by slot and acceptor, gathered from the trails.
struct Acceptances<'a>(BTreeSet<(Slot, &'a Proposal, Id)>);

impl<'a> Acceptances<'a> {
    fn of(state: &'a MultiPaxosModelState) -> Self {
        let mut all = BTreeSet::new();
        for server in servers(state) {
            all.extend(
                server
                    .trail
                    .accepted
                    .iter()
                    .map(|(s, p)| (*s, p, server.id)),
            );
        }
        Acceptances(all)
    }

    /// The proposals accepted in a slot by at least `majority` distinct acceptors.
    fn chosen(&self, majority: usize) -> BTreeSet<(Slot, &'a Proposal)> {
        self.0
            .iter()
            .map(|(slot, proposal, _)| (*slot, *proposal))
            .dedup_with_count()
            .filter(|(count, _)| *count >= majority)
            .map(|(_, chosen)| chosen)
            .collect()
    }

    /// P2c for proposal `(n, v)` issued in `slot`: some majority S either accepted nothing in
    /// that slot numbered below n, or v is the command of the highest-numbered proposal below
    /// n that S accepted in that slot.
    fn p2c_holds(
        &self,
        slot: Slot,
        proposal: &Proposal,
        acceptors: &[Id],
        majority: usize,
    ) -> bool {
        let below: Vec<&(Slot, &Proposal, Id)> = self
            .0
            .iter()
            .filter(|(at, p, _)| *at == slot && p.ballot < proposal.ballot)
            .collect();
        if below.is_empty() {
            return true;
        }
        acceptors.iter().combinations(majority).any(|s| {
            let highest = below
                .iter()
                .filter(|(_, _, a)| s.contains(&a))
                .max_by_key(|(_, p, _)| p.ballot);
            highest.is_none_or(|(_, p, _)| p.command == proposal.command)
        })
    }
}

fn chosen<'a>(
    model: &MultiPaxosModel,
    state: &'a MultiPaxosModelState,
) -> BTreeSet<(Slot, &'a Proposal)> {
    Acceptances::of(state).chosen(model.cfg.majority())
}

/// Property: at most one command is chosen per slot.
fn slot_agreement(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let mut by_slot: BTreeMap<Slot, BTreeSet<&Command>> = BTreeMap::new();
    for (slot, proposal) in chosen(model, state) {
        by_slot.entry(slot).or_default().insert(&proposal.command);
    }
    by_slot.values().all(|commands| commands.len() <= 1)
}

/// Property P2c, per slot: for every issued proposal (n, v) in slot s, some majority accepted
/// nothing in s below n, or the highest-numbered proposal below n it accepted in s has v.
fn p2c(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    let majority = model.cfg.majority();
    servers(state).all(|server| {
        server
            .trail
            .issued
            .iter()
            .all(|(slot, p)| acceptances.p2c_holds(*slot, p, &model.cfg.acceptors, majority))
    })
}

/// Property: of any two replicas' applied logs, one is a prefix of the other.
fn log_consistency(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let logs: Vec<Vec<&Command>> = servers(state)
        .map(|s| s.state.replica.log.iter().map(|a| &a.command).collect())
        .collect();
    logs.iter().tuple_combinations().all(|(a, b)| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    })
}

/// Property: every chosen command was submitted by a client, or is a no-op.
fn validity(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    chosen(model, state)
        .into_iter()
        .all(|(_, p)| match &p.command {
            Command::Noop => true,
            Command::Client(cc) => state.history.submitted.contains(cc),
        })
}

/// Property: no replica runs a client's request on its store twice.
fn at_most_once(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).all(|server| {
        let executed: Vec<(Id, RequestId)> = server
            .state
            .replica
            .log
            .iter()
            .filter_map(|a| match a {
                Applied {
                    command: Command::Client(cc),
                    executed: true,
                    ..
                } => Some((cc.client, cc.request)),
                _ => None,
            })
            .collect();
        executed.iter().all_unique()
    })
}

/// Property: the clients' history is linearizable as a key-value store.
fn linearizable(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.calls.linearizable
}

/// A client command a leader proposed in steady state (phase 2 only) is chosen.
fn steady_state(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen = chosen(model, state);
    servers(state).any(|s| {
        s.trail
            .steady
            .iter()
            .any(|(slot, p)| chosen.contains(&(*slot, p)))
    })
}

/// A no-op is chosen in a slot below one that a lower ballot had used: a gap filled by a
/// later leader.
fn gap_filled(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    chosen(model, state).into_iter().any(|(slot, p)| {
        p.command == Command::Noop
            && acceptances
                .0
                .iter()
                .any(|(s, q, _)| *s > slot && q.ballot < p.ballot)
    })
}

/// A client command accepted under one leader's ballot is chosen under another's, higher one:
/// a new leader recovered it in phase 1 and proposed it again.
fn recovered_slot(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    chosen(model, state).into_iter().any(|(slot, p)| {
        matches!(p.command, Command::Client(_))
            && acceptances.0.iter().any(|(s, q, _)| {
                *s == slot
                    && q.command == p.command
                    && q.ballot < p.ballot
                    && q.ballot.proposer != p.ballot.proposer
            })
    })
}

/// A server that led crashed (and is down or restarted), and a command is chosen under
/// another server's higher ballot.
fn chosen_after_leader_crash(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen = chosen(model, state);
    servers(state).any(|server| {
        let led = if server.crashed {
            server.trail.led
        } else {
            server.led_before_restart
        };
        led.is_some_and(|b| {
            chosen
                .iter()
                .any(|(_, p)| p.ballot > b && p.ballot.proposer != server.id)
        })
    })
}

/// Every property of the model, in the order they are reported: its name (the claim it
/// checks), whether it must hold always or be reached sometimes, and its condition. For the
/// actor model or its [`Simulated`] wrapper.
fn properties() -> [Property<MultiPaxosModel>; 10] {
    [
        Property::always("slot agreement", slot_agreement),
        Property::always("P2c", p2c),
        Property::always("log consistency", log_consistency),
        Property::always("validity", validity),
        Property::always("at most once", at_most_once),
        Property::always("linearizable", linearizable),
        Property::sometimes("steady state", steady_state),
        Property::sometimes("gap filled", gap_filled),
        Property::sometimes("recovered slot", recovered_slot),
        Property::sometimes("chosen after leader crash", chosen_after_leader_crash),
    ]
}

/// Judges each transition; nothing to judge yet.
fn judge(_: &ModelCfg, _: &MultiPaxosModelState, _: &mut MultiPaxosModelState) {}

/// The names of the properties with `expectation`, in the order they are reported.
pub fn property_names(expectation: Expectation) -> Vec<&'static str> {
    harness::names(properties(), expectation)
}

fn within_boundary(cfg: &ModelCfg, state: &MultiPaxosModelState) -> bool {
    cfg.clients_up(state)
        && servers(state).all(|s| s.state.proposer.ballot.round <= cfg.config.max_round)
}

impl harness::Config for MultiPaxosConfig {
    fn faults(&self) -> Faults {
        Faults {
            network: self.network,
            lossy: self.lossy,
            max_crashes: self.max_crashes,
        }
    }
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
        Checked::new(actors, properties(), judge)
    }

    /// Checks the sizes make sense, with a message that says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("a model needs at least one server".to_owned());
        }
        if self.clients == 0 || self.clients > 26 {
            return Err("clients must be between 1 and 26 (client k writes 'A' + k)".to_owned());
        }
        if self.max_round == 0 {
            return Err("max_round must be at least 1: round 0 is no ballot".to_owned());
        }
        if self.slots == 0 {
            return Err("slots must be at least 1: the log needs room for a command".to_owned());
        }
        if self.max_crashes >= self.servers {
            return Err("max_crashes must leave at least one server up".to_owned());
        }
        Ok(())
    }

    /// One line describing the configuration.
    pub fn summary(&self) -> String {
        format!(
            "Multi-Paxos: {} servers, {} clients ({}), {}, {} slots, rounds <= {}, \
             {} client retries, variant {:?}",
            self.servers,
            self.clients,
            if self.reads {
                "write then read"
            } else {
                "write"
            },
            self.faults(),
            self.slots,
            self.max_round,
            self.client_retries,
            self.variant,
        )
    }
}
