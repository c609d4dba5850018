//! The model-checking harness for single-decree Paxos: clients, a ghost history of
//! everything that ever happened, the properties of *Paxos Made Simple*, and the
//! [`ActorModel`] that puts them together. The servers are the unmodified
//! [`PaxosActor`] that also runs on UDP.
use crate::model::harness::{forward_except_saves, NetworkKind};
use crate::protocol::ballot::quorum;
use crate::protocol::local::Handlers;
use crate::protocol::paxos::{
    Ballot, Msg, PaxosActor, PaxosState, Phase, Proposal, RequestId, Roles, Storage, Value, Variant,
};
use itertools::Itertools;
use serde::{Deserialize, Serialize};
use stateright::actor::{
    model_timeout, Actor, ActorModel, ActorModelState, Envelope, Id, LossyNetwork, Out,
};
use stateright::semantics::write_once_register::{WORegister, WORegisterOp, WORegisterRet};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use stateright::{Expectation, Rewrite, RewritePlan};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How the roles are placed on actors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Layout {
    /// Every server is proposer, acceptor and learner.
    Servers { servers: usize },
    /// The paper's formulation: separate proposers, acceptors and learners.
    Roles {
        proposers: usize,
        acceptors: usize,
        learners: usize,
    },
}

impl Layout {
    /// Actor ids in index order: proposers (or servers), then acceptors, then learners;
    /// clients come after all of them.
    fn groups(&self) -> (Vec<Id>, Vec<Id>, Vec<Id>) {
        match *self {
            Layout::Servers { servers } => {
                let ids = Id::vec_from(0..servers);
                (ids.clone(), ids, Vec::new())
            }
            Layout::Roles {
                proposers,
                acceptors,
                learners,
            } => {
                let a = proposers + acceptors;
                (
                    Id::vec_from(0..proposers),
                    Id::vec_from(proposers..a),
                    Id::vec_from(a..a + learners),
                )
            }
        }
    }

    pub fn server_count(&self) -> usize {
        match *self {
            Layout::Servers { servers } => servers,
            Layout::Roles {
                proposers,
                acceptors,
                learners,
            } => proposers + acceptors + learners,
        }
    }
}

/// One single-decree configuration: what an entry of `models/` describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaxosConfig {
    pub layout: Layout,
    /// Clients that put a value ('A', 'B', ...) and then read.
    pub clients: usize,
    /// Clients that only read, from the start: their reads race with the proposals.
    #[serde(default)]
    pub readers: usize,
    pub network: NetworkKind,
    #[serde(default)]
    pub lossy: bool,
    #[serde(default)]
    pub max_crashes: usize,
    /// Proposers never go past this round (the model's boundary keeps the space finite).
    pub max_round: u32,
    #[serde(default)]
    pub variant: Variant,
}

/// A client of the write-once register: puts its value (if it has one), then reads the
/// register.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    /// The value to put; a reader has none and only reads.
    pub value: Option<Value>,
    pub put_to: Id,
    pub get_from: Id,
}

/// Client state. `id` comes first so that sorting actor states never reorders clients.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClientState {
    pub id: Id,
    /// The request waiting for its reply: 1 is the put, 2 the get.
    pub awaiting: Option<RequestId>,
}

const PUT: RequestId = 1;
const GET: RequestId = 2;

/// The actors of the model: Paxos participants and clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    Paxos(PaxosActor),
    Client(Client),
}

/// Everything one Paxos actor ever did that its own state may since have overwritten:
/// the ghost record the safety properties are judged on. The harness keeps it beside the
/// actor's state and in its storage, so that it survives crashes; the protocol never reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Trail {
    /// The highest prepare this acceptor responded to with a promise.
    pub promised: Ballot,
    /// Every proposal this acceptor accepted.
    pub accepted: BTreeSet<Proposal>,
    /// Every proposal this proposer issued (sent an `Accept` for).
    pub issued: BTreeSet<Proposal>,
    /// An acceptance that broke P1a: numbered below a promise made before it.
    pub p1a_broken: Option<Proposal>,
}

impl Trail {
    fn observe(&mut self, msg: &Msg) {
        match *msg {
            Msg::Promise { ballot, .. } => self.promised = self.promised.max(ballot),
            Msg::Accepted { proposal }
                if self.accepted.insert(proposal)
                    && self.promised > proposal.ballot
                    && self.p1a_broken.is_none() =>
            {
                self.p1a_broken = Some(proposal);
            }
            Msg::Accept { proposal } => {
                self.issued.insert(proposal);
            }
            _ => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[allow(clippy::large_enum_variant)] // Boxing would cost an allocation per step.
pub enum NodeState {
    Paxos {
        state: PaxosState,
        trail: Trail,
        /// What the actor last saved: the harness re-saves it with every new trail.
        saved: Option<Storage>,
    },
    Client(ClientState),
}

/// A Paxos actor's storage in the model: what the actor saved, and its trail.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeStorage {
    pub saved: Option<Storage>,
    pub trail: Trail,
}

impl Node {
    /// Runs one step of a Paxos actor, keeping its trail and saving it with the actor's storage.
    fn paxos_step(
        state: &mut Cow<NodeState>,
        o: &mut Out<Self>,
        step: impl FnOnce(&mut Cow<PaxosState>, &mut Out<PaxosActor>, &mut dyn FnMut(&Msg)),
    ) {
        let NodeState::Paxos {
            state: inner,
            trail,
            saved,
        } = &**state
        else {
            unreachable!("a Paxos actor's state is a Paxos state");
        };
        let mut inner = Cow::Borrowed(inner);
        let mut next_trail = Cow::Borrowed(trail);
        let mut out = Out::new();
        step(&mut inner, &mut out, &mut |msg| {
            next_trail.to_mut().observe(msg)
        });
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
            *state = Cow::Owned(NodeState::Paxos {
                state: inner.into_owned(),
                trail,
                saved,
            });
        } else if let Cow::Owned(inner) = inner {
            *state = Cow::Owned(NodeState::Paxos {
                state: inner,
                trail: trail.clone(),
                saved: saved.clone(),
            });
        }
    }
}

impl Actor for Node {
    type Msg = Msg;
    type State = NodeState;
    type Timer = crate::protocol::paxos::Timer;
    type Random = ();
    type Storage = NodeStorage;

    fn name(&self) -> String {
        match self {
            Node::Paxos(actor) => actor.name(),
            Node::Client(_) => "Client".to_owned(),
        }
    }

    fn on_start(&self, id: Id, storage: &Option<NodeStorage>, o: &mut Out<Self>) -> NodeState {
        match self {
            Node::Paxos(actor) => {
                let NodeStorage { saved, trail } = storage.clone().unwrap_or_default();
                let state = actor.on_start(id, &saved, &mut Out::new());
                NodeState::Paxos {
                    state,
                    trail,
                    saved,
                }
            }
            Node::Client(client) => {
                let awaiting = match client.value {
                    Some(value) => {
                        o.send(
                            client.put_to,
                            Msg::Put {
                                request: PUT,
                                value,
                            },
                        );
                        PUT
                    }
                    None => {
                        o.send(client.get_from, Msg::Get { request: GET });
                        GET
                    }
                };
                NodeState::Client(ClientState {
                    id,
                    awaiting: Some(awaiting),
                })
            }
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match self {
            Node::Paxos(actor) => Self::paxos_step(state, o, |inner, out, observe| {
                actor.on_msg_observed(id, inner, src, msg, out, observe)
            }),
            Node::Client(client) => {
                let NodeState::Client(client_state) = &**state else {
                    unreachable!("a client's state is a client state");
                };
                match (client_state.awaiting, msg) {
                    (Some(PUT), Msg::PutOk { request: PUT } | Msg::PutFail { request: PUT }) => {
                        o.send(client.get_from, Msg::Get { request: GET });
                        *state = Cow::Owned(NodeState::Client(ClientState {
                            id,
                            awaiting: Some(GET),
                        }));
                    }
                    (Some(GET), Msg::GetOk { request: GET, .. }) => {
                        *state = Cow::Owned(NodeState::Client(ClientState { id, awaiting: None }));
                    }
                    _ => {} // A duplicate or stale reply.
                }
            }
        }
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<NodeState>,
        timer: &Self::Timer,
        o: &mut Out<Self>,
    ) {
        if let Node::Paxos(actor) = self {
            Self::paxos_step(state, o, |inner, out, observe| {
                actor.on_timeout_observed(id, inner, timer, out, observe)
            });
        }
    }
}

/// Auxiliary ("ghost") state for the clients: what they proposed and the history of their
/// operations, for the linearizability checker.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Ghost {
    /// Every value a client proposed.
    pub proposed: BTreeSet<Value>,
    /// Every value a server reported to a client's read.
    pub read: BTreeSet<Value>,
    /// Whether the client history was linearizable after its last return.
    pub linearizable: bool,
    /// The request each client is waiting on, so that only the reply it consumes is recorded.
    pub awaiting: BTreeMap<Id, RequestId>,
    pub linearizability: LinearizabilityTester<Id, WORegister<Value>>,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            proposed: BTreeSet::new(),
            read: BTreeSet::new(),
            linearizable: true,
            awaiting: BTreeMap::new(),
            linearizability: LinearizabilityTester::new(WORegister(None)),
        }
    }
}

/// Every acceptance that ever happened, by acceptor, gathered from the trails.
pub struct Acceptances(BTreeSet<(Proposal, Id)>);

impl Acceptances {
    fn of(state: &PaxosModelState) -> Self {
        let mut all = BTreeSet::new();
        for (id, _, trail) in paxos_states(state) {
            all.extend(trail.accepted.iter().map(|p| (*p, id)));
        }
        Acceptances(all)
    }

    /// The proposals accepted by at least `majority` distinct acceptors.
    pub fn chosen(&self, majority: usize) -> BTreeSet<Proposal> {
        self.0
            .iter()
            .map(|(proposal, _)| *proposal)
            .dedup_with_count()
            .filter(|(count, _)| *count >= majority)
            .map(|(_, proposal)| proposal)
            .collect()
    }

    /// P2c for issued proposal `(n, v)`: some majority S either accepted nothing numbered
    /// below n, or v is the value of the highest-numbered proposal below n accepted by S.
    fn p2c_holds(&self, proposal: Proposal, acceptors: &[Id], majority: usize) -> bool {
        acceptors.iter().combinations(majority).any(|s| {
            let highest = self
                .0
                .iter()
                .filter(|(p, a)| p.ballot < proposal.ballot && s.contains(&a))
                .max_by_key(|(p, _)| p.ballot);
            highest.is_none_or(|(p, _)| p.value == proposal.value)
        })
    }
}

/// The model's configuration as the properties see it.
#[derive(Clone, Debug)]
pub struct ModelCfg {
    pub config: PaxosConfig,
    pub acceptors: Vec<Id>,
    pub learners: Vec<Id>,
    pub clients: Vec<Id>,
}

impl ModelCfg {
    /// A true majority of the acceptors, whatever quorum a broken variant uses.
    pub fn majority(&self) -> usize {
        quorum(self.acceptors.len())
    }
}

pub type PaxosModel = ActorModel<Node, ModelCfg, Ghost>;
pub type PaxosModelState = ActorModelState<Node, Ghost>;

fn record_out(_: &ModelCfg, ghost: &Ghost, env: Envelope<&Msg>) -> Option<Ghost> {
    if let Msg::GetOk {
        value: Some(value), ..
    } = *env.msg
    {
        let mut next = ghost.clone();
        return next.read.insert(value).then_some(next);
    }
    let op = match *env.msg {
        Msg::Put { value, .. } => WORegisterOp::Write(value),
        Msg::Get { .. } => WORegisterOp::Read,
        _ => return None,
    };
    let (Msg::Put { request, .. } | Msg::Get { request }) = *env.msg else {
        unreachable!("matched above");
    };
    let mut next = ghost.clone();
    if let WORegisterOp::Write(value) = op {
        next.proposed.insert(value);
    }
    next.awaiting.insert(env.src, request);
    let _ = next.linearizability.on_invoke(env.src, op);
    Some(next)
}

fn record_in(_: &ModelCfg, ghost: &Ghost, env: Envelope<&Msg>) -> Option<Ghost> {
    let (request, ret) = match *env.msg {
        Msg::PutOk { request } => (request, WORegisterRet::WriteOk),
        Msg::PutFail { request } => (request, WORegisterRet::WriteFail),
        Msg::GetOk { request, value } => (request, WORegisterRet::ReadOk(value)),
        _ => return None,
    };
    if ghost.awaiting.get(&env.dst) != Some(&request) {
        return None; // The client ignores this reply: a duplicate or a stale one.
    }
    let mut next = ghost.clone();
    next.awaiting.remove(&env.dst);
    let _ = next.linearizability.on_return(env.dst, ret);
    // Only a return can make a history non-linearizable, and it stays so: judge it once here.
    next.linearizable = next.linearizability.serialized_history().is_some();
    Some(next)
}

fn paxos_states(state: &PaxosModelState) -> impl Iterator<Item = (Id, &PaxosState, &Trail)> {
    state
        .actor_states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &**s {
            NodeState::Paxos { state, trail, .. } => Some((Id::from(i), state, trail)),
            NodeState::Client(_) => None,
        })
}

fn chosen_values(model: &PaxosModel, state: &PaxosModelState) -> BTreeSet<Value> {
    Acceptances::of(state)
        .chosen(model.cfg.majority())
        .into_iter()
        .map(|p| p.value)
        .collect()
}

fn issued(state: &PaxosModelState) -> BTreeSet<Proposal> {
    paxos_states(state)
        .flat_map(|(_, _, trail)| trail.issued.iter().copied())
        .collect()
}

/// Property: at most one value is ever chosen.
fn agreement(model: &PaxosModel, state: &PaxosModelState) -> bool {
    chosen_values(model, state).len() <= 1
}

/// Property: only a value some client proposed can be chosen.
fn validity(model: &PaxosModel, state: &PaxosModelState) -> bool {
    chosen_values(model, state).is_subset(&state.history.proposed)
}

/// Property P1a: no acceptor accepted n after promising a number above n.
fn p1a(_: &PaxosModel, state: &PaxosModelState) -> bool {
    paxos_states(state).all(|(_, _, trail)| trail.p1a_broken.is_none())
}

/// Property P2c: every issued proposal (n, v) has a majority S that accepted nothing below
/// n, or whose highest-numbered acceptance below n has value v.
fn p2c(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    issued(state)
        .into_iter()
        .all(|p| acceptances.p2c_holds(p, &model.cfg.acceptors, model.cfg.majority()))
}

/// Property P2b: once v is chosen, every higher-numbered issued proposal has value v.
fn p2b(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let chosen = Acceptances::of(state).chosen(model.cfg.majority());
    let issued = issued(state);
    chosen.iter().all(|c| {
        issued
            .iter()
            .all(|p| p.ballot <= c.ballot || p.value == c.value)
    })
}

/// Property: learners learn only chosen values, hence never different ones.
fn learners_agree(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let chosen = chosen_values(model, state);
    let learned: BTreeSet<Value> = paxos_states(state)
        .filter_map(|(_, s, _)| s.learner.as_ref()?.learned)
        .collect();
    learned.len() <= 1 && learned.is_subset(&chosen)
}

/// Property: a read reports a value only once it is chosen (the quorum read's claim).
/// Chosen values stay chosen, so checking every state checks each answer when it is sent.
fn reads_only_chosen(model: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.read.is_subset(&chosen_values(model, state))
}

/// Property: the clients' history is linearizable as a write-once register.
fn linearizable(_: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.linearizable
}

fn value_chosen(model: &PaxosModel, state: &PaxosModelState) -> bool {
    !chosen_values(model, state).is_empty()
}

/// Two proposal numbers in flight at once.
fn dueling_proposers(_: &PaxosModel, state: &PaxosModelState) -> bool {
    let ballots: BTreeSet<Ballot> = state
        .network
        .iter_deliverable()
        .filter_map(|env| match env.msg {
            Msg::Prepare { ballot } => Some(*ballot),
            Msg::Accept { proposal } => Some(proposal.ballot),
            _ => None,
        })
        .collect();
    ballots.len() >= 2
}

/// A proposer issued a value that an acceptor had accepted under another proposer's lower
/// number: the P2c(b) path, where a proposer adopts a value instead of its client's.
fn adopted_earlier_value(_: &PaxosModel, state: &PaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    issued(state).into_iter().any(|n| {
        acceptances.0.iter().any(|(m, _)| {
            m.value == n.value && m.ballot < n.ballot && m.ballot.proposer != n.ballot.proposer
        })
    })
}

/// An acceptor restored from storage accepted a proposal numbered above its restored
/// promise (so after the restart), and that proposal is chosen.
fn chosen_after_crash(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let chosen = Acceptances::of(state).chosen(model.cfg.majority());
    paxos_states(state).any(|(_, s, _)| {
        let Some(acceptor) = &s.acceptor else {
            return false;
        };
        match (acceptor.restored, acceptor.accepted) {
            (Some(restored), Some(p)) => p.ballot > restored && chosen.contains(&p),
            _ => false,
        }
    })
}

/// The names of the properties, in the order they are reported.
pub const ALWAYS: [&str; 8] = [
    "agreement",
    "validity",
    "P1a",
    "P2c",
    "P2b",
    "learners agree",
    "reads only chosen",
    "linearizable",
];
pub const SOMETIMES: [&str; 4] = [
    "value chosen",
    "dueling proposers",
    "adopted earlier value",
    "chosen after crash",
];

fn within_boundary(cfg: &ModelCfg, state: &PaxosModelState) -> bool {
    let clients_up = cfg.clients.iter().all(|c| !state.crashed[usize::from(*c)]);
    clients_up
        && paxos_states(state).all(|(_, s, _)| {
            s.proposer
                .as_ref()
                .is_none_or(|p| p.ballot.round <= cfg.config.max_round)
        })
}

impl PaxosConfig {
    /// Builds the model: the Paxos actors, the clients, and every property.
    pub fn into_model(self) -> PaxosModel {
        let (proposers, acceptors, learners) = self.layout.groups();
        let first_client = self.layout.server_count();
        let clients = Id::vec_from(first_client..first_client + self.clients + self.readers);
        let cfg = ModelCfg {
            config: self.clone(),
            acceptors: acceptors.clone(),
            learners: learners.clone(),
            clients: clients.clone(),
        };
        let paxos = |roles| {
            Node::Paxos(PaxosActor {
                roles,
                acceptors: acceptors.clone(),
                learners: learners.clone(),
                variant: self.variant,
                retry_after: model_timeout(),
            })
        };
        let servers: Vec<Node> = match self.layout {
            Layout::Servers { servers } => (0..servers).map(|_| paxos(Roles::SERVER)).collect(),
            Layout::Roles { .. } => std::iter::empty()
                .chain(proposers.iter().map(|_| paxos(Roles::PROPOSER)))
                .chain(acceptors.iter().map(|_| paxos(Roles::ACCEPTOR)))
                .chain(learners.iter().map(|_| paxos(Roles::LEARNER)))
                .collect(),
        };
        // A writer reads from the server it wrote through (which learned the outcome before
        // answering, so it answers at once); a reader asks a server that may not know yet,
        // so its quorum read races the proposals.
        let client_nodes = (0..self.clients + self.readers).map(|k| {
            let server = proposers[k % proposers.len()];
            Node::Client(Client {
                value: (k < self.clients).then(|| (b'A' + k as u8) as char),
                put_to: server,
                get_from: server,
            })
        });
        let lossy = if self.lossy {
            LossyNetwork::Yes
        } else {
            LossyNetwork::No
        };
        let mut model = ActorModel::new(cfg, Ghost::default())
            .actors(servers)
            .actors(client_nodes)
            .init_network(self.network.network())
            .lossy_network(lossy)
            .max_crashes(self.max_crashes)
            .record_msg_out(record_out)
            .record_msg_in(record_in)
            .within_boundary(within_boundary);
        let always: [fn(&PaxosModel, &PaxosModelState) -> bool; 8] = [
            agreement,
            validity,
            p1a,
            p2c,
            p2b,
            learners_agree,
            reads_only_chosen,
            linearizable,
        ];
        for (name, condition) in ALWAYS.into_iter().zip(always) {
            model = model.property(Expectation::Always, name, condition);
        }
        let sometimes: [fn(&PaxosModel, &PaxosModelState) -> bool; 4] = [
            value_chosen,
            dueling_proposers,
            adopted_earlier_value,
            chosen_after_crash,
        ];
        for (name, condition) in SOMETIMES.into_iter().zip(sometimes) {
            model = model.property(Expectation::Sometimes, name, condition);
        }
        model
    }
}

impl PaxosConfig {
    /// Checks the sizes make sense, with a message that says what to change.
    pub fn validate(&self) -> Result<(), String> {
        let (proposers, acceptors, _) = self.layout.groups();
        if proposers.is_empty() || acceptors.is_empty() {
            return Err("a model needs at least one proposer and one acceptor".to_owned());
        }
        if self.clients == 0 || self.clients > 26 {
            return Err("clients must be between 1 and 26 (client k proposes 'A' + k)".to_owned());
        }
        if self.max_round == 0 {
            return Err("max_round must be at least 1: round 0 is no proposal".to_owned());
        }
        Ok(())
    }

    /// One line describing the configuration.
    pub fn summary(&self) -> String {
        let layout = match self.layout {
            Layout::Servers { servers } => {
                format!("{servers} servers (each proposer, acceptor, learner)")
            }
            Layout::Roles {
                proposers,
                acceptors,
                learners,
            } => format!("{proposers} proposers, {acceptors} acceptors, {learners} learners"),
        };
        let network = match self.network {
            NetworkKind::Ordered => "ordered",
            NetworkKind::UnorderedDuplicating => "unordered duplicating",
            NetworkKind::UnorderedNonduplicating => "unordered non-duplicating",
        };
        format!(
            "single-decree Paxos: {layout}, {} clients, {} readers, {network} network{}, at most {} crashed, rounds <= {}, variant {:?}",
            self.clients,
            self.readers,
            if self.lossy { " with loss" } else { ", no loss" },
            self.max_crashes,
            self.max_round,
            self.variant,
        )
    }
}

impl crate::model::check::Checkable for PaxosModel {
    fn describe(&self, action: &Self::Action) -> String {
        crate::model::check::describe_actor_action(&crate::model::check::actor_names(self), action)
    }

    fn symmetry(&self) -> Option<crate::model::check::Representative<Self>> {
        Some(representative)
    }
}

/// Which interchangeable group an actor belongs to, read off its state: acceptors and
/// learners of the paper's layout are interchangeable among themselves; servers (whose
/// ballots name them), proposers and clients are not.
fn symmetry_group(state: &NodeState) -> Option<u8> {
    match state {
        NodeState::Paxos { state, .. } => match (&state.proposer, &state.acceptor) {
            (None, Some(_)) => Some(0),
            (None, None) => Some(1),
            _ => None,
        },
        NodeState::Client(_) => None,
    }
}

/// Symmetry reduction: sorts the acceptors among themselves and the learners among
/// themselves, renaming them everywhere (network, proposers' promise and acceptance tallies,
/// readers' reports). Sound because acceptors (and learners) run identical actors, every
/// property treats them as a set, and no ballot, value or client names them.
pub fn representative(state: &PaxosModelState) -> PaxosModelState {
    let n = state.actor_states.len();
    let mut order: Vec<usize> = (0..n).collect();
    for group in [0, 1] {
        let members: Vec<usize> = (0..n)
            .filter(|&i| symmetry_group(&state.actor_states[i]) == Some(group))
            .collect();
        let mut sorted = members.clone();
        sorted.sort_by(|&a, &b| {
            let key = |i: usize| {
                (
                    &state.actor_states[i],
                    &state.actor_storages[i],
                    state.crashed[i],
                )
            };
            key(a).cmp(&key(b)).then(a.cmp(&b))
        });
        for (slot, old) in members.iter().zip(sorted) {
            order[*slot] = old; // The actor now at `slot` was at `old`.
        }
    }
    if order.iter().enumerate().all(|(i, &o)| i == o) {
        return state.clone();
    }
    let mut renamed = vec![Id::from(0); n];
    for (new, &old) in order.iter().enumerate() {
        renamed[old] = Id::from(new);
    }
    let rename = |id: &Id| renamed.get(usize::from(*id)).copied().unwrap_or(*id);
    let plan = RewritePlan::new(renamed.clone(), |id: &Id, renamed: &Vec<Id>| {
        renamed.get(usize::from(*id)).copied().unwrap_or(*id)
    });
    PaxosModelState {
        actor_states: order
            .iter()
            .map(|&old| Arc::new(rename_node(&state.actor_states[old], &rename)))
            .collect(),
        network: state.network.rewrite(&plan),
        timers_set: reorder(&state.timers_set, &order),
        random_choices: reorder(&state.random_choices, &order),
        crashed: reorder(&state.crashed, &order),
        history: state.history.clone(),
        actor_storages: reorder(&state.actor_storages, &order),
    }
}

fn reorder<T: Clone>(v: &[T], order: &[usize]) -> Vec<T> {
    order.iter().map(|&old| v[old].clone()).collect()
}

fn rename_node(node: &NodeState, rename: &impl Fn(&Id) -> Id) -> NodeState {
    let NodeState::Paxos {
        state,
        trail,
        saved,
    } = node
    else {
        return node.clone();
    };
    let mut state = state.clone();
    if let Some(proposer) = &mut state.proposer {
        if let Phase::Preparing { promises } = &mut proposer.phase {
            *promises = promises.iter().map(|(a, p)| (rename(a), *p)).collect();
        }
    }
    if let Some(learner) = &mut state.learner {
        for by in learner.accepted_by.values_mut() {
            *by = by.iter().map(rename).collect();
        }
    }
    for reports in state.reads.values_mut() {
        *reports = reports.iter().map(|(a, p)| (rename(a), *p)).collect();
    }
    NodeState::Paxos {
        state,
        trail: trail.clone(),
        saved: saved.clone(),
    }
}

/// Messages name acceptors and learners only as senders and receivers: the envelope's
/// `src` and `dst`, which the network renames itself.
impl Rewrite<Id> for Msg {
    fn rewrite<S>(&self, _: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}
