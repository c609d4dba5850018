//! The model-checking harness for Multi-Paxos: clients of the key-value store, a ghost record
//! of every acceptance, the properties of the replicated log, and the [`ActorModel`] that puts
//! them together. The servers are the unmodified
//! [`MultiPaxosActor`].
use crate::model::harness::{forward_except_saves, NetworkKind};
use crate::protocol::ballot::{quorum, Ballot};
use crate::protocol::local::Handlers;
use crate::protocol::multi_paxos::{
    Applied, ClientCommand, Command, Kv, KvOp, Msg, MultiPaxosActor, MultiPaxosState, Proposal,
    RequestId, Slot, Storage, Timer, Variant,
};
use itertools::Itertools;
use serde::{Deserialize, Serialize};
use stateright::actor::{
    model_timeout, Actor, ActorModel, ActorModelState, Command as ActorCommand, Envelope, Id,
    LossyNetwork, Out,
};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use stateright::{Expectation, Model, Property};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// One Multi-Paxos configuration: what an entry of `models/` describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiPaxosConfig {
    pub servers: usize,
    pub clients: usize,
    /// Whether each client reads the key after its write.
    #[serde(default)]
    pub reads: bool,
    pub network: NetworkKind,
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
    #[serde(default)]
    pub variant: Variant,
}

/// The key every client works on.
pub const KEY: char = 'x';

/// A client: client 0 puts `'A'`, client `k > 0` appends `'A' + k`; then each reads, if
/// configured. It sends request `i` first to server `k + i` and retries at the next server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    pub index: usize,
    pub servers: Vec<Id>,
    pub ops: Vec<KvOp>,
    pub retries: u8,
}

/// Client state. `id` first, so that sorting actor states never reorders clients.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClientState {
    pub id: Id,
    /// The index of the operation awaiting its reply; `ops.len()` once all are answered.
    pub next: usize,
    /// The server the current request was last sent to.
    pub server: Id,
    pub retries_left: u8,
}

impl Client {
    fn send(&self, id: Id, state: &ClientState, o: &mut Out<Node>) {
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

/// The actors of the model: servers and clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    Server(MultiPaxosActor),
    Client(Client),
}

/// Everything one server ever did that its own state may since have overwritten: the ghost
/// record the properties are judged on. Kept beside the server's state and in its storage,
/// so that it survives crashes; the protocol never reads it.
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

impl Trail {
    fn observe(&mut self, msg: &Msg, steady: bool) {
        match msg {
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
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[allow(clippy::large_enum_variant)] // Boxing would cost an allocation per step.
pub enum NodeState {
    Server {
        state: MultiPaxosState,
        trail: Trail,
        /// What the server last saved: the harness re-saves it with every new trail.
        saved: Option<Storage>,
        /// At the last restart, the highest ballot the server had led under.
        led_before_restart: Option<Ballot>,
    },
    Client(ClientState),
}

/// A server's storage in the model: what the server saved, and its trail.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeStorage {
    pub saved: Option<Storage>,
    pub trail: Trail,
}

impl Node {
    /// Runs one step of a server, keeping its trail and saving it with the server's storage.
    fn server_step(
        state: &mut Cow<NodeState>,
        o: &mut Out<Self>,
        steady: bool,
        step: impl FnOnce(&mut Cow<MultiPaxosState>, &mut Out<MultiPaxosActor>, &mut dyn FnMut(&Msg)),
    ) {
        let NodeState::Server {
            state: inner,
            trail,
            saved,
            led_before_restart,
        } = &**state
        else {
            unreachable!("a server's state is a server state");
        };
        let mut inner = Cow::Borrowed(inner);
        let mut next_trail = Cow::Borrowed(trail);
        let mut out = Out::new();
        step(&mut inner, &mut out, &mut |msg| {
            next_trail.to_mut().observe(msg, steady)
        });
        if inner.is_leader() && next_trail.led < Some(inner.proposer.ballot) {
            next_trail.to_mut().led = Some(inner.proposer.ballot);
        }
        let mut next_saved = Cow::Borrowed(saved);
        if let Some(storage) = forward_except_saves(out, o) {
            *next_saved.to_mut() = Some(storage);
        }
        let changed = matches!(next_trail, Cow::Owned(_)) || matches!(next_saved, Cow::Owned(_));
        if changed {
            let trail = next_trail.into_owned();
            let saved = next_saved.into_owned();
            o.save(NodeStorage {
                saved: saved.clone(),
                trail: trail.clone(),
            });
            *state = Cow::Owned(NodeState::Server {
                state: inner.into_owned(),
                trail,
                saved,
                led_before_restart: *led_before_restart,
            });
        } else if let Cow::Owned(inner) = inner {
            *state = Cow::Owned(NodeState::Server {
                state: inner,
                trail: trail.clone(),
                saved: saved.clone(),
                led_before_restart: *led_before_restart,
            });
        }
    }
}

impl Actor for Node {
    type Msg = Msg;
    type State = NodeState;
    type Timer = Timer;
    type Random = ();
    type Storage = NodeStorage;

    fn name(&self) -> String {
        match self {
            Node::Server(actor) => actor.name(),
            Node::Client(_) => "Client".to_owned(),
        }
    }

    fn on_start(&self, id: Id, storage: &Option<NodeStorage>, o: &mut Out<Self>) -> NodeState {
        match self {
            Node::Server(actor) => {
                let led_before_restart = storage.as_ref().and_then(|s| s.trail.led);
                let NodeStorage { saved, trail } = storage.clone().unwrap_or_default();
                let mut out = Out::new();
                let state = actor.on_start(id, &saved, &mut out);
                for command in out {
                    match command {
                        ActorCommand::Send(dst, msg) => o.send(dst, msg),
                        ActorCommand::SetTimer(timer, duration) => o.set_timer(timer, duration),
                        _ => unreachable!("a server only sends and sets timers on start"),
                    }
                }
                NodeState::Server {
                    state,
                    trail,
                    saved,
                    led_before_restart,
                }
            }
            Node::Client(client) => {
                let state = ClientState {
                    id,
                    next: 0,
                    server: client.servers[client.index % client.servers.len()],
                    retries_left: client.retries,
                };
                client.send(id, &state, o);
                NodeState::Client(state)
            }
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match self {
            Node::Server(actor) => {
                let NodeState::Server { state: inner, .. } = &**state else {
                    unreachable!("a server's state is a server state");
                };
                let steady = matches!(msg, Msg::Request { .. }) && inner.is_leader();
                Self::server_step(state, o, steady, |inner, out, observe| {
                    actor.on_msg_observed(id, inner, src, msg, out, observe)
                })
            }
            Node::Client(client) => {
                let NodeState::Client(client_state) = &**state else {
                    unreachable!("a client's state is a client state");
                };
                // A `Stale` refusal never reaches a model client (it numbers its requests 1, 2,
                // ... and waits for each answer): like any other message, it is ignored.
                let Msg::Reply { request, .. } = msg else {
                    return;
                };
                if client_state.next >= client.ops.len()
                    || request != client_state.next as RequestId + 1
                {
                    return; // A duplicate or stale reply.
                }
                let mut next = client_state.clone();
                next.next += 1;
                if next.next < client.ops.len() {
                    let n = client.servers.len();
                    next.server = client.servers[(client.index + next.next) % n];
                    client.send(id, &next, o);
                } else {
                    o.cancel_timer(Timer::ClientRetry);
                }
                *state = Cow::Owned(NodeState::Client(next));
            }
        }
    }

    fn on_timeout(&self, id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        match self {
            Node::Server(actor) => Self::server_step(state, o, false, |inner, out, observe| {
                actor.on_timeout_observed(id, inner, timer, out, observe)
            }),
            Node::Client(client) => {
                let NodeState::Client(client_state) = &**state else {
                    unreachable!("a client's state is a client state");
                };
                if client_state.next >= client.ops.len() || client_state.retries_left == 0 {
                    return;
                }
                let mut next = client_state.clone();
                let at = client
                    .servers
                    .iter()
                    .position(|s| *s == next.server)
                    .expect("a client sends to servers");
                next.server = client.servers[(at + 1) % client.servers.len()];
                next.retries_left -= 1;
                client.send(id, &next, o);
                *state = Cow::Owned(NodeState::Client(next));
            }
        }
    }
}

/// Auxiliary ("ghost") state for the clients: what they submitted and the history of their
/// operations, for the linearizability checker.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Ghost {
    /// Every command a client submitted.
    pub submitted: BTreeSet<ClientCommand>,
    /// The request each client is waiting on, so that only the reply it consumes is recorded.
    pub awaiting: BTreeMap<Id, RequestId>,
    /// Whether the client history was linearizable after its last return.
    pub linearizable: bool,
    pub linearizability: LinearizabilityTester<Id, Kv>,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            submitted: BTreeSet::new(),
            awaiting: BTreeMap::new(),
            linearizable: true,
            linearizability: LinearizabilityTester::new(Kv::default()),
        }
    }
}

/// The model's configuration as the properties see it.
#[derive(Clone, Debug)]
pub struct ModelCfg {
    pub config: MultiPaxosConfig,
    pub servers: Vec<Id>,
    pub clients: Vec<Id>,
}

impl ModelCfg {
    pub fn majority(&self) -> usize {
        quorum(self.servers.len())
    }
}

pub type MultiPaxosModel = ActorModel<Node, ModelCfg, Ghost>;

/// What the properties need of a model: its configuration. Lets the same property functions
/// serve the actor model and its [`Simulated`] wrapper.
pub trait HasCfg {
    fn cfg(&self) -> &ModelCfg;
}

impl HasCfg for MultiPaxosModel {
    fn cfg(&self) -> &ModelCfg {
        &self.cfg
    }
}
pub type MultiPaxosModelState = ActorModelState<Node, Ghost>;

fn record_out(_: &ModelCfg, ghost: &Ghost, env: Envelope<&Msg>) -> Option<Ghost> {
    let Msg::Request { command } = env.msg else {
        return None;
    };
    // Only a client's own first send invokes: forwards and retries do not.
    if env.src != command.client || ghost.awaiting.get(&env.src) == Some(&command.request) {
        return None;
    }
    let mut next = ghost.clone();
    next.submitted.insert(command.clone());
    next.awaiting.insert(env.src, command.request);
    let _ = next.linearizability.on_invoke(env.src, command.op.clone());
    Some(next)
}

fn record_in(_: &ModelCfg, ghost: &Ghost, env: Envelope<&Msg>) -> Option<Ghost> {
    let Msg::Reply { request, ret } = env.msg else {
        return None;
    };
    if ghost.awaiting.get(&env.dst) != Some(request) {
        return None; // The client ignores this reply: a duplicate or a stale one.
    }
    let mut next = ghost.clone();
    next.awaiting.remove(&env.dst);
    let _ = next.linearizability.on_return(env.dst, ret.clone());
    // Only a return can make a history non-linearizable, and it stays so: judge it once here.
    next.linearizable = next.linearizability.serialized_history().is_some();
    Some(next)
}

/// One server as the properties see it.
pub struct ServerView<'a> {
    pub id: Id,
    pub state: &'a MultiPaxosState,
    pub trail: &'a Trail,
    pub crashed: bool,
    pub led_before_restart: Option<Ballot>,
}

fn servers(state: &MultiPaxosModelState) -> impl Iterator<Item = ServerView<'_>> {
    state
        .actor_states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &**s {
            NodeState::Server {
                state: inner,
                trail,
                led_before_restart,
                ..
            } => Some(ServerView {
                id: Id::from(i),
                state: inner,
                trail,
                crashed: state.crashed[i],
                led_before_restart: *led_before_restart,
            }),
            NodeState::Client(_) => None,
        })
}

/// Every acceptance that ever happened, by slot and acceptor, gathered from the trails.
pub struct Acceptances<'a>(BTreeSet<(Slot, &'a Proposal, Id)>);

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
    pub fn chosen(&self, majority: usize) -> BTreeSet<(Slot, &'a Proposal)> {
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

fn chosen<'a, M: HasCfg>(
    model: &M,
    state: &'a MultiPaxosModelState,
) -> BTreeSet<(Slot, &'a Proposal)> {
    Acceptances::of(state).chosen(model.cfg().majority())
}

/// Property: at most one command is chosen per slot.
fn slot_agreement<M: HasCfg>(model: &M, state: &MultiPaxosModelState) -> bool {
    let mut by_slot: BTreeMap<Slot, BTreeSet<&Command>> = BTreeMap::new();
    for (slot, proposal) in chosen(model, state) {
        by_slot.entry(slot).or_default().insert(&proposal.command);
    }
    by_slot.values().all(|commands| commands.len() <= 1)
}

/// Property P2c, per slot: for every issued proposal (n, v) in slot s, some majority accepted
/// nothing in s below n, or the highest-numbered proposal below n it accepted in s has v.
fn p2c<M: HasCfg>(model: &M, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    let majority = model.cfg().majority();
    servers(state).all(|server| {
        server
            .trail
            .issued
            .iter()
            .all(|(slot, p)| acceptances.p2c_holds(*slot, p, &model.cfg().servers, majority))
    })
}

/// Property: of any two replicas' applied logs, one is a prefix of the other.
fn log_consistency<M: HasCfg>(_: &M, state: &MultiPaxosModelState) -> bool {
    let logs: Vec<Vec<&Command>> = servers(state)
        .map(|s| s.state.replica.log.iter().map(|a| &a.command).collect())
        .collect();
    logs.iter().tuple_combinations().all(|(a, b)| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    })
}

/// Property: every chosen command was submitted by a client, or is a no-op.
fn validity<M: HasCfg>(model: &M, state: &MultiPaxosModelState) -> bool {
    chosen(model, state)
        .into_iter()
        .all(|(_, p)| match &p.command {
            Command::Noop => true,
            Command::Client(cc) => state.history.submitted.contains(cc),
        })
}

/// Property: no replica runs a client's request on its store twice.
fn at_most_once<M: HasCfg>(_: &M, state: &MultiPaxosModelState) -> bool {
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
fn linearizable<M: HasCfg>(_: &M, state: &MultiPaxosModelState) -> bool {
    state.history.linearizable
}

/// A client command a leader proposed in steady state (phase 2 only) is chosen.
fn steady_state<M: HasCfg>(model: &M, state: &MultiPaxosModelState) -> bool {
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
fn gap_filled<M: HasCfg>(model: &M, state: &MultiPaxosModelState) -> bool {
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
fn recovered_slot<M: HasCfg>(model: &M, state: &MultiPaxosModelState) -> bool {
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
fn chosen_after_leader_crash<M: HasCfg>(model: &M, state: &MultiPaxosModelState) -> bool {
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

/// The names of the properties, in the order they are reported.
pub const ALWAYS: [&str; 6] = [
    "slot agreement",
    "P2c",
    "log consistency",
    "validity",
    "at most once",
    "linearizable",
];
pub const SOMETIMES: [&str; 4] = [
    "steady state",
    "gap filled",
    "recovered slot",
    "chosen after leader crash",
];

/// A property's condition, for the actor model or its [`Simulated`] wrapper.
type Condition<M> = fn(&M, &MultiPaxosModelState) -> bool;

/// The conditions of [`ALWAYS`] and [`SOMETIMES`], in order.
fn conditions<M: HasCfg>() -> ([Condition<M>; 6], [Condition<M>; 4]) {
    (
        [
            slot_agreement,
            p2c,
            log_consistency,
            validity,
            at_most_once,
            linearizable,
        ],
        [
            steady_state,
            gap_filled,
            recovered_slot,
            chosen_after_leader_crash,
        ],
    )
}

fn within_boundary(cfg: &ModelCfg, state: &MultiPaxosModelState) -> bool {
    let clients_up = cfg.clients.iter().all(|c| !state.crashed[usize::from(*c)]);
    clients_up && servers(state).all(|s| s.state.proposer.ballot.round <= cfg.config.max_round)
}

impl MultiPaxosConfig {
    /// Builds the model: the servers, the clients, and every property.
    pub fn into_model(self) -> MultiPaxosModel {
        let servers = Id::vec_from(0..self.servers);
        let clients = Id::vec_from(self.servers..self.servers + self.clients);
        let cfg = ModelCfg {
            config: self.clone(),
            servers: servers.clone(),
            clients: clients.clone(),
        };
        let server_nodes = servers.iter().map(|_| {
            Node::Server(MultiPaxosActor {
                servers: servers.clone(),
                slots: self.slots,
                variant: self.variant,
                election_after: model_timeout(),
            })
        });
        let client_nodes = (0..self.clients).map(|k| {
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
            Node::Client(Client {
                index: k,
                servers: servers.clone(),
                ops,
                retries: self.client_retries,
            })
        });
        let lossy = if self.lossy {
            LossyNetwork::Yes
        } else {
            LossyNetwork::No
        };
        let mut model = ActorModel::new(cfg, Ghost::default())
            .actors(server_nodes)
            .actors(client_nodes)
            .init_network(self.network.network())
            .lossy_network(lossy)
            .max_crashes(self.max_crashes)
            .record_msg_out(record_out)
            .record_msg_in(record_in)
            .within_boundary(within_boundary);
        let (always, sometimes) = conditions::<MultiPaxosModel>();
        for (name, condition) in ALWAYS.into_iter().zip(always) {
            model = model.property(Expectation::Always, name, condition);
        }
        for (name, condition) in SOMETIMES.into_iter().zip(sometimes) {
            model = model.property(Expectation::Sometimes, name, condition);
        }
        model
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
        let network = match self.network {
            NetworkKind::Ordered => "ordered",
            NetworkKind::UnorderedDuplicating => "unordered duplicating",
            NetworkKind::UnorderedNonduplicating => "unordered non-duplicating",
        };
        format!(
            "Multi-Paxos: {} servers, {} clients ({}), {network} network{}, at most {} crashed, \
             {} slots, rounds <= {}, {} client retries, variant {:?}",
            self.servers,
            self.clients,
            if self.reads {
                "write then read"
            } else {
                "write"
            },
            if self.lossy {
                " with loss"
            } else {
                ", no loss"
            },
            self.max_crashes,
            self.slots,
            self.max_round,
            self.client_retries,
            self.variant,
        )
    }
}

impl crate::model::check::Checkable for MultiPaxosModel {
    fn describe(&self, action: &Self::Action) -> String {
        crate::model::check::describe_actor_action(&crate::model::check::actor_names(self), action)
    }
}

/// The model without its no-op actions, for the simulation strategy. stateright 0.31's
/// simulation records a wrong action index after an action that leads nowhere (it pushes the
/// index into the action list it has just `swap_remove`d from), so that a trace through such
/// an action cannot be rebuilt and the run panics when reporting it. Deliveries to a crashed
/// server and ignored duplicates are such actions. They are self-loops, so dropping them
/// changes neither the reachable states nor any verdict.
pub struct Simulated(pub MultiPaxosModel);

impl HasCfg for Simulated {
    fn cfg(&self) -> &ModelCfg {
        &self.0.cfg
    }
}

impl Model for Simulated {
    type State = MultiPaxosModelState;
    type Action = <MultiPaxosModel as Model>::Action;

    fn init_states(&self) -> Vec<Self::State> {
        self.0.init_states()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        let mut all = Vec::new();
        self.0.actions(state, &mut all);
        actions.extend(
            all.into_iter()
                .filter(|a| self.0.next_state(state, a.clone()).is_some()),
        );
    }

    fn next_state(&self, last_state: &Self::State, action: Self::Action) -> Option<Self::State> {
        self.0.next_state(last_state, action)
    }

    fn format_action(&self, action: &Self::Action) -> String {
        self.0.format_action(action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let (always, sometimes) = conditions::<Simulated>();
        let always = ALWAYS
            .into_iter()
            .zip(always)
            .map(|(name, condition)| Property::always(name, condition));
        let sometimes = SOMETIMES
            .into_iter()
            .zip(sometimes)
            .map(|(name, condition)| Property::sometimes(name, condition));
        always.chain(sometimes).collect()
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        Model::within_boundary(&self.0, state)
    }
}

impl crate::model::check::Checkable for Simulated {
    fn describe(&self, action: &Self::Action) -> String {
        crate::model::check::describe_actor_action(
            &crate::model::check::actor_names(&self.0),
            action,
        )
    }
}
