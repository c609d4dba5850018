//! The model-checking harness for single-decree Paxos: clients, a ghost history of
//! everything that ever happened, the properties of *Paxos Made Simple*, and the
//! [`ActorModel`](stateright::actor::ActorModel) that puts them together. The servers are the unmodified
//! [`PaxosActor`] that also runs on UDP.
use crate::model::checked::{ActionOf, Checked, Transition};
use crate::model::harness::{
    self, protocol_actors, Calls, ClientOut, Config, Faults, NetworkKind, Node, NodeState,
    Observed, ObservedOf, Recorded, StateOf,
};
use crate::model::voting::{
    order_matters, Event, Refinement, Voting, REFINES_CONSENSUS, REFINES_VOTING,
};
use crate::protocol::paxos::{
    Ballot, Msg, PaxosActor, PaxosState, Phase, Proposal, ProposerState, RequestId, Roles, Storage,
    Timer, Value, Variant,
};
use itertools::Itertools;
use serde::{Deserialize, Serialize};
use stateright::actor::{model_timeout, ActorModelAction, ActorModelState, Envelope, Id};
use stateright::semantics::write_once_register::{WORegister, WORegisterOp, WORegisterRet};
use stateright::{Expectation, Property, Rewrite, RewritePlan};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// How the roles are placed on actors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Layout {
    /// Every server is proposer, acceptor and learner.
    Servers {
        /// How many servers.
        servers: usize,
    },
    /// The paper's formulation: separate proposers, acceptors and learners.
    Roles {
        /// How many proposers.
        proposers: usize,
        /// How many acceptors.
        acceptors: usize,
        /// How many learners.
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
}

/// One single-decree configuration: what an entry of `models/` describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaxosConfig {
    /// How the roles are placed on actors.
    pub layout: Layout,
    /// Clients that put a value ('A', 'B', ...) and then read.
    pub clients: usize,
    /// Whether the clients stop after their put, without reading: a bound for models about
    /// the proposers (no quorum reads).
    #[serde(default)]
    pub put_only: bool,
    /// Clients that only read, from the start: their reads race with the proposals.
    #[serde(default)]
    pub readers: usize,
    /// How the network delivers.
    pub network: NetworkKind,
    /// Whether the network may also lose any message.
    #[serde(default)]
    pub lossy: bool,
    /// How many actors may be down at once (clients never crash).
    #[serde(default)]
    pub max_crashes: usize,
    /// Proposers never go past this round, if set (a per-proposer bound).
    #[serde(default)]
    pub max_round: Option<u32>,
    /// The ballot budget, if set: how many ballots all proposers together may start (a phase
    /// 1, or any new proposal number a proposer sends), counted in their ghost trails. The
    /// model's boundary stops at the step that would start one more, as TLC models bound the
    /// set of ballots: one proposer may retry twice, or three may each try once.
    #[serde(default)]
    pub ballots: Option<u32>,
    /// Whether a writer reads through the server after the last one it put to (so by a
    /// quorum read, which a put-then-read makes linearizability-relevant) instead of the one
    /// that answered its put.
    #[serde(default)]
    pub read_elsewhere: bool,
    /// How many times a client whose put goes unanswered resends it, each time to the next
    /// server (the real client's retry): its retry timer may fire at any time.
    #[serde(default)]
    pub retries: u32,
    /// The protocol itself, or one of its deliberately broken versions.
    #[serde(default)]
    pub variant: Variant,
}

/// A client of the write-once register, like the real client: it puts its value (if it has
/// one) through one server and, when its retry timer fires before an answer, resends the put
/// to the next server, at most `retries` times; once its put is answered, it reads the
/// register through the server after the last one it put to, so that the read may be a quorum
/// read. A reader has no value and reads from the start, racing the proposals.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    /// The value to put; a reader has none and only reads.
    pub value: Option<Value>,
    /// The servers, in the order the client tries them, starting with its first.
    pub servers: Vec<Id>,
    /// How many times an unanswered put is resent to the next server.
    pub retries: u32,
    /// Whether the client stops after its put, without reading.
    pub put_only: bool,
    /// Whether a writer reads through the next server rather than its last put's.
    pub read_elsewhere: bool,
}

/// Client state. `id` comes first so that sorting actor states never reorders clients.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClientState {
    /// The client's own id.
    pub id: Id,
    /// The request waiting for its reply: 1 is the put, 2 the get.
    pub awaiting: Option<RequestId>,
    /// How many times the put was resent.
    pub resent: u32,
}

const PUT: RequestId = 1;
const GET: RequestId = 2;

impl Client {
    /// The server the client puts through after `resent` retries.
    fn put_to(&self, resent: u32) -> Id {
        self.servers[resent as usize % self.servers.len()]
    }

    /// The server the client reads through: the one after its last put's, so not the one
    /// that learned the outcome to answer it.
    fn get_from(&self, resent: u32) -> Id {
        match self.value {
            Some(_) => self.put_to(resent + u32::from(self.read_elsewhere)),
            None => self.servers[0],
        }
    }

    fn put(&self, resent: u32, o: &mut ClientOut<Self>) {
        let value = self.value.expect("only a writer puts");
        o.send(
            self.put_to(resent),
            Msg::Put {
                request: PUT,
                value,
            },
        );
        if resent < self.retries {
            o.set_timer(Timer::Retry, model_timeout());
        }
    }
}

impl harness::Client for Client {
    type Protocol = PaxosActor;
    type State = ClientState;

    fn on_start(&self, id: Id, o: &mut ClientOut<Self>) -> ClientState {
        let awaiting = match self.value {
            Some(_) => {
                self.put(0, o);
                PUT
            }
            None => {
                o.send(self.get_from(0), Msg::Get { request: GET });
                GET
            }
        };
        ClientState {
            id,
            awaiting: Some(awaiting),
            resent: 0,
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<ClientState>, msg: Msg, o: &mut ClientOut<Self>) {
        let resent = state.resent;
        match (state.awaiting, msg) {
            (Some(PUT), Msg::PutOk { request: PUT } | Msg::PutFail { request: PUT })
                if self.put_only =>
            {
                o.cancel_timer(Timer::Retry);
                *state = Cow::Owned(ClientState {
                    id,
                    awaiting: None,
                    resent,
                });
            }
            (Some(PUT), Msg::PutOk { request: PUT } | Msg::PutFail { request: PUT }) => {
                o.cancel_timer(Timer::Retry);
                o.send(self.get_from(resent), Msg::Get { request: GET });
                *state = Cow::Owned(ClientState {
                    id,
                    awaiting: Some(GET),
                    resent,
                });
            }
            (Some(GET), Msg::GetOk { request: GET, .. }) => {
                *state = Cow::Owned(ClientState {
                    id,
                    awaiting: None,
                    resent,
                });
            }
            _ => {} // A duplicate or stale reply.
        }
    }

    /// A client awaits its put, then its get, then nothing: a reply to a request it no longer
    /// awaits, or that it never awaits, stays ignored.
    fn ignores_forever(&self, state: &ClientState, msg: &Msg) -> bool {
        match (state.awaiting, msg) {
            (Some(PUT), Msg::PutOk { request } | Msg::PutFail { request }) => *request != PUT,
            (Some(PUT | GET), Msg::GetOk { request, .. }) => *request != GET,
            _ => true,
        }
    }

    /// No answer yet: resend the put to the next server.
    fn on_timeout(&self, id: Id, state: &mut Cow<ClientState>, _: &Timer, o: &mut ClientOut<Self>) {
        if state.awaiting != Some(PUT) || state.resent >= self.retries {
            return;
        }
        let resent = state.resent + 1;
        self.put(resent, o);
        *state = Cow::Owned(ClientState {
            id,
            awaiting: Some(PUT),
            resent,
        });
    }
}

/// Everything one Paxos actor ever did that its own state may since have overwritten:
/// the ghost record the safety properties are judged on (see [`harness::Trail`]).
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
    /// How many ballots this proposer started: each new number it sent a `Prepare` or an
    /// `Accept` for (the ballot budget counts them).
    pub ballots: u32,
    /// The number of the last `Prepare` or `Accept` this proposer sent.
    pub last_ballot: Ballot,
}

impl Trail {
    /// Counts `ballot`, sent in a `Prepare` or an `Accept`, if it is a new one.
    fn count(&mut self, ballot: Ballot) {
        if ballot != self.last_ballot {
            self.ballots += 1;
            self.last_ballot = ballot;
        }
    }
}

impl harness::Trail<PaxosActor> for Trail {
    /// An acceptor's promise restored from its storage at its last restart, if any: only
    /// observed by the witnesses of a value chosen after a crash.
    type Start = Option<Ballot>;
    type Step = ();

    fn start(_: Option<&Self>, actor: &PaxosActor, saved: Option<&Storage>) -> Option<Ballot> {
        saved.filter(|_| actor.roles.acceptor).map(|s| s.promised)
    }

    fn observe(&mut self, (): (), sent: &Msg) {
        match *sent {
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
                self.count(proposal.ballot);
            }
            Msg::Prepare { ballot } => self.count(ballot),
            _ => {}
        }
    }
}

impl Recorded for PaxosActor {
    type Trail = Trail;
}

/// Auxiliary ("ghost") state for the clients: what they proposed and the history of their
/// operations, for the linearizability checker.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Ghost {
    /// Every value a client proposed.
    pub proposed: BTreeSet<Value>,
    /// Every value a server reported to a client's read.
    pub read: BTreeSet<Value>,
    /// The clients' calls on the write-once register.
    pub calls: Calls<WORegister<Value>, RequestId>,
    /// The clients whose `Get` was invoked once a value was already chosen (recorded by the
    /// judge at the invocation).
    pub get_after_chosen: BTreeSet<Id>,
    /// A read invoked after a value was chosen answered `None`.
    pub none_after_chosen: bool,
    /// The first steps that did not refine `Voting` and `Consensus` (set by the judge).
    pub refinement: Refinement,
    /// The paths the step into this state took that the state does not show, for their
    /// witnesses (set by the judge: see [`harness::Took`]).
    pub took: harness::Took<Took>,
}

/// A path a witness names that the state after it does not show ([`harness::Took`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Took {
    /// A proposer handled a refusal of the ballot it was trying, for a higher one, and
    /// started a new ballot (§2.4: "abandoning a proposal and trying again").
    RetryAfterPreemption,
    /// A client's read returned `None` while a put was unanswered.
    ReadNoneDuringPut,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            proposed: BTreeSet::new(),
            read: BTreeSet::new(),
            calls: Calls::new(WORegister(None)),
            get_after_chosen: BTreeSet::new(),
            none_after_chosen: false,
            refinement: Refinement::default(),
            took: BTreeSet::new(),
        }
    }
}

/// Every acceptance that ever happened, by acceptor, gathered from the trails.
/// Sorted, each once (an acceptor's trail holds each of its acceptances once): a vector, as
/// the properties build it for every state.
struct Acceptances(Vec<(Proposal, Id)>);

impl Acceptances {
    fn of(state: &PaxosModelState) -> Self {
        let mut all = Vec::new();
        for (id, node) in protocol_actors(state) {
            all.extend(node.trail.accepted.iter().map(|p| (*p, id)));
        }
        all.sort_unstable();
        Acceptances(all)
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
pub type ModelCfg = harness::ModelCfg<PaxosConfig>;

/// The single-decree model: Paxos actors and write-once-register clients.
pub type PaxosModel = Checked<PaxosActor, Client, PaxosConfig, Arc<Ghost>>;
/// A state of [`PaxosModel`].
pub type PaxosModelState = ActorModelState<Node<PaxosActor, Client>, Arc<Ghost>>;

fn record_out(_: &ModelCfg, ghost: &Arc<Ghost>, env: Envelope<&Msg>) -> Option<Arc<Ghost>> {
    if let Msg::GetOk {
        value: Some(value), ..
    } = *env.msg
    {
        let mut next = Ghost::clone(ghost);
        return next.read.insert(value).then(|| Arc::new(next));
    }
    let op = match *env.msg {
        Msg::Put { value, .. } => WORegisterOp::Write(value),
        Msg::Get { .. } => WORegisterOp::Read,
        _ => return None,
    };
    let (Msg::Put { request, .. } | Msg::Get { request }) = *env.msg else {
        unreachable!("matched above");
    };
    if ghost.calls.awaits(env.src, &request) {
        return None; // A resent put: the same call, still under way.
    }
    let mut next = Ghost::clone(ghost);
    if let WORegisterOp::Write(value) = op {
        next.proposed.insert(value);
    }
    next.calls.invoke(env.src, request, op);
    Some(Arc::new(next))
}

fn record_in(_: &ModelCfg, ghost: &Arc<Ghost>, env: Envelope<&Msg>) -> Option<Arc<Ghost>> {
    let (request, ret) = match *env.msg {
        Msg::PutOk { request } => (request, WORegisterRet::WriteOk),
        Msg::PutFail { request } => (request, WORegisterRet::WriteFail),
        Msg::GetOk { request, value } => (request, WORegisterRet::ReadOk(value)),
        _ => return None,
    };
    if !ghost.calls.awaits(env.dst, &request) {
        return None; // The client ignores this reply: a duplicate or a stale one.
    }
    let mut next = Ghost::clone(ghost);
    if matches!(ret, WORegisterRet::ReadOk(None)) && ghost.get_after_chosen.contains(&env.dst) {
        next.none_after_chosen = true;
    }
    next.calls.ret(env.dst, ret);
    Some(Arc::new(next))
}

/// The Paxos actors' own states.
fn paxos_states(state: &PaxosModelState) -> impl Iterator<Item = &PaxosState> {
    protocol_actors(state).map(|(_, node)| &node.state)
}

/// The Paxos actors' trails.
fn trails(state: &PaxosModelState) -> impl Iterator<Item = &Trail> {
    protocol_actors(state).map(|(_, node)| &node.trail)
}

/// The proposals accepted by at least `majority` distinct acceptors, as their trails say
/// (each lists an acceptance once). Counted in place: the properties ask for every state.
fn chosen(state: &PaxosModelState, majority: usize) -> Vec<Proposal> {
    let mut chosen = Vec::new();
    for trail in trails(state) {
        for p in &trail.accepted {
            if !chosen.contains(p)
                && trails(state).filter(|t| t.accepted.contains(p)).count() >= majority
            {
                chosen.push(*p);
            }
        }
    }
    chosen
}

fn chosen_values(model: &PaxosModel, state: &PaxosModelState) -> BTreeSet<Value> {
    chosen(state, model.cfg.majority())
        .into_iter()
        .map(|p| p.value)
        .collect()
}

/// Every issued proposal, sorted, each once.
fn issued(state: &PaxosModelState) -> Vec<Proposal> {
    let mut issued: Vec<Proposal> = trails(state)
        .flat_map(|trail| trail.issued.iter().copied())
        .collect();
    issued.sort_unstable();
    issued.dedup();
    issued
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
    trails(state).all(|trail| trail.p1a_broken.is_none())
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
    let chosen = chosen(state, model.cfg.majority());
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
        .filter_map(|s| s.learner.as_ref()?.learned)
        .collect();
    learned.len() <= 1 && learned.is_subset(&chosen)
}

/// Property: a read reports a value only once it is chosen (the quorum read's claim), and
/// answers `None` only if it was invoked before anything was chosen. Chosen values stay
/// chosen, so checking every state checks each answer when it is sent.
fn reads_only_chosen(model: &PaxosModel, state: &PaxosModelState) -> bool {
    !state.history.none_after_chosen && state.history.read.is_subset(&chosen_values(model, state))
}

/// Property: the clients' history is linearizable as a write-once register.
fn linearizable(_: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.calls.linearizable
}

/// Property: a proposal number is issued with one value only (§2.5: "Different proposers
/// choose their numbers from disjoint sets of numbers", and a proposer never reuses one).
fn unique_numbers(_: &PaxosModel, state: &PaxosModelState) -> bool {
    issued(state)
        .iter()
        .tuple_windows()
        .all(|(a, b)| a.ballot != b.ballot)
}

/// Property: every acceptor's current state is in its ghost trail: its accepted proposal is
/// one it announced, and its promise one it sent or accepted. So no change of an acceptor's
/// state can hide from the properties by sending nothing.
fn acceptor_in_trail(_: &PaxosModel, state: &PaxosModelState) -> bool {
    protocol_actors(state).all(|(_, node)| {
        let Some(acceptor) = &node.state.acceptor else {
            return true;
        };
        let trail = &node.trail;
        let announced = trail.accepted.iter().map(|p| p.ballot).max();
        acceptor
            .accepted
            .is_none_or(|p| trail.accepted.contains(&p))
            && acceptor.promised <= trail.promised.max(announced.unwrap_or_default())
    })
}

fn value_chosen(model: &PaxosModel, state: &PaxosModelState) -> bool {
    !chosen_values(model, state).is_empty()
}

/// Some acceptor handled the prepares or accepts of two proposers' ballots: its record (its
/// promise, the promise its trail records, every proposal it accepted) names two proposers.
/// Only the acceptor's own steps change that record, so only such a step reaches it.
fn dueling_proposers(_: &PaxosModel, state: &PaxosModelState) -> bool {
    protocol_actors(state).any(|(_, node)| {
        let Some(acceptor) = &node.state.acceptor else {
            return false;
        };
        let promised = [acceptor.promised, node.trail.promised];
        let promised = promised.into_iter().filter(|b| b.round > 0);
        let accepted = node.trail.accepted.iter().map(|p| p.ballot);
        promised
            .chain(accepted)
            .map(|b| b.proposer)
            .unique()
            .count()
            >= 2
    })
}

/// The values of the issued proposals.
fn issued_values(state: &PaxosModelState) -> BTreeSet<Value> {
    issued(state).into_iter().map(|p| p.value).collect()
}

/// Two different values were accepted (by any acceptors, at any time): the states where
/// agreement could fail.
fn two_values_accepted(_: &PaxosModel, state: &PaxosModelState) -> bool {
    let values: BTreeSet<Value> = trails(state)
        .flat_map(|t| t.accepted.iter().map(|p| p.value))
        .collect();
    values.len() >= 2
}

/// Whether the step into this state took `path` ([`Ghost::took`]).
fn took_any(state: &PaxosModelState, path: Took) -> bool {
    state.history.took.contains(&path)
}

/// A proposer, refused the ballot it was trying for a higher one (a `Rejected`), started a new
/// ballot in the step that handled the refusal (judged on the step: [`took`]). A retry after a
/// timeout is not one: it may follow no refusal at all.
fn retry_after_preemption(_: &PaxosModel, state: &PaxosModelState) -> bool {
    took_any(state, Took::RetryAfterPreemption)
}

/// With two values competing (two values issued), a proposer issued a value that an acceptor
/// had accepted under another proposer's lower number: the P2c(b) path, where a proposer
/// adopts a value instead of its client's.
fn adopted_earlier_value(_: &PaxosModel, state: &PaxosModelState) -> bool {
    if issued_values(state).len() < 2 {
        return false;
    }
    let acceptances = Acceptances::of(state);
    issued(state).into_iter().any(|n| {
        acceptances.0.iter().any(|(m, _)| {
            m.value == n.value && m.ballot < n.ballot && m.ballot.proposer != n.ballot.proposer
        })
    })
}

/// The proposals that an acceptor restored from storage accepted, numbered above its
/// restored promise (so after the restart: the promise was saved, §2.5, and accepting raises
/// it), and that are chosen.
fn chosen_after_restart(model: &PaxosModel, state: &PaxosModelState) -> BTreeSet<Proposal> {
    let chosen = chosen(state, model.cfg.majority());
    protocol_actors(state)
        .filter_map(|(_, node)| {
            let acceptor = node.state.acceptor.as_ref()?;
            let (restored, p) = (node.at_start?, acceptor.accepted?);
            (p.ballot > restored && chosen.contains(&p)).then_some(p)
        })
        .collect()
}

/// An acceptor restored from storage accepted a proposal numbered above its restored
/// promise (so after the restart), and that proposal is chosen.
fn chosen_after_crash(model: &PaxosModel, state: &PaxosModelState) -> bool {
    !chosen_after_restart(model, state).is_empty()
}

/// `chosen after crash`, with a competing value: some acceptor accepted another value than
/// the one chosen after the restart (judged on the acceptances, not on messages in flight).
/// The states where a restarted acceptor's memory decides which value is chosen: the
/// `forget-accepted` bug chooses the second value there.
fn chosen_after_crash_competing(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    chosen_after_restart(model, state)
        .iter()
        .any(|p| acceptances.0.iter().any(|(q, _)| q.value != p.value))
}

/// A client received `None` for its read while a client's put was still unanswered (judged
/// on the step that delivered the answer: [`took`]): the states where a `None` could be wrong.
fn read_none_during_put(_: &PaxosModel, state: &PaxosModelState) -> bool {
    took_any(state, Took::ReadNoneDuringPut)
}

/// A quorum read is under way for a client whose put was answered: the read that must not
/// answer `None`.
fn read_after_put(model: &PaxosModel, state: &PaxosModelState) -> bool {
    let writers = &model.cfg.clients[..model.cfg.config.clients];
    paxos_states(state).any(|s| s.reads.keys().any(|(client, _)| writers.contains(client)))
}

/// Property: every step maps to a legal `Voting` step or a stutter (judged by [`judge`]).
fn refines_voting(_: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.refinement.voting.is_none()
}

/// Property: every step maps to a legal `Consensus` step or a stutter (judged by [`judge`]).
fn refines_consensus(_: &PaxosModel, state: &PaxosModelState) -> bool {
    state.history.refinement.consensus.is_none()
}

/// Every property of the model, in the order they are reported: its name (the claim it
/// checks), whether it must hold always or be reached sometimes, and its condition.
fn properties() -> [Property<PaxosModel>; 21] {
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

/// The refinement mapping to `Voting` (spec/refinement.md): `maxBal[a]` is acceptor `a`'s
/// `promised` (its own state: frozen while it is down, restored from its storage when it
/// restarts), `votes[a]` every proposal its trail says it accepted.
fn voting(state: &PaxosModelState) -> Voting<Value> {
    let mut voting = Voting::default();
    for (id, node) in protocol_actors(state) {
        if let Some(acceptor) = &node.state.acceptor {
            voting.max_bal.insert(id, acceptor.promised);
            let votes = node.trail.accepted.iter().map(|p| (p.ballot, p.value));
            voting.votes.insert(id, votes.collect());
        }
    }
    voting
}

/// Whether the step `before -> after` changed an acceptor's votes or lowered its `maxBal`: the
/// only steps the refinement needs to map. Any other step is a stutter or raises `maxBal`
/// alone, which is `IncreaseMaxBal`, always enabled.
fn acceptors_changed(before: &PaxosModelState, after: &PaxosModelState) -> bool {
    protocol_actors(before)
        .zip(protocol_actors(after))
        .any(|((_, b), (_, a))| {
            !std::ptr::eq(a, b)
                && (a.state.acceptor.as_ref().map(|x| x.promised)
                    < b.state.acceptor.as_ref().map(|x| x.promised)
                    || a.trail.accepted != b.trail.accepted)
        })
}

/// The stepping acceptor's events in the step, in the order it made them, as its `Promise`
/// and `Accepted` messages show it: asked of the step only where the order can change the
/// `Voting` verdict ([`order_matters`]), none otherwise.
fn acceptor_events(
    step: &Transition<PaxosActor, Client>,
    before: &PaxosModelState,
    after: &PaxosModelState,
) -> Vec<Event<Value>> {
    let Some((id, b, a)) = step.nodes(before, after) else {
        return Vec::new();
    };
    let promised = |n: &ObservedOf<PaxosActor>| n.state.acceptor.as_ref().map(|x| x.promised);
    let (Some(was), Some(is)) = (promised(b), promised(a)) else {
        return Vec::new();
    };
    let cast = a.trail.accepted.difference(&b.trail.accepted);
    if !order_matters(was, is, cast.map(|p| p.ballot)) {
        return Vec::new();
    }
    let events = step.sent(before).into_iter().filter_map(|msg| match msg {
        Msg::Promise { ballot, .. } => Some(Event::Promise(id, ballot)),
        Msg::Accepted { proposal } => Some(Event::Vote(id, proposal.ballot, proposal.value)),
        _ => None,
    });
    events.collect()
}

/// Judges each transition. The refinement: a step that changed an acceptor is mapped to
/// `Voting` and must be a legal `Voting` step, and `Consensus` step, whose values are those
/// the clients proposed (the first failure of each is kept).
///
/// Reads: a client's `Get` invoked in this step is recorded as invoked after
/// a value was chosen if one was (a client's step changes no acceptance, so the state before
/// tells). Almost always the state determines it (a writer reads after its put was answered,
/// so after a value was chosen; a reader reads from the start), so it splits no states.
///
/// Witnesses: the paths of [`Took`] the step took ([`took`]), recorded until the next step
/// that takes one or changes an actor ([`harness::Took`]).
fn judge(
    cfg: &ModelCfg,
    step: &Transition<PaxosActor, Client>,
    before: &PaxosModelState,
    after: &mut PaxosModelState,
) {
    let took = took(step.action, before, after);
    if let Some(took) = harness::retake(before, after, &after.history.took, took) {
        Arc::make_mut(&mut after.history).took = took;
    }
    if acceptors_changed(before, after) {
        let (was, is) = (voting(before), voting(after));
        let n = cfg.acceptors.len();
        let proposed = |v: &Value| after.history.proposed.contains(v);
        let mut refinement = after.history.refinement.clone();
        let events = acceptor_events(step, before, after);
        refinement.judge(None, n, &was, &is, &events, proposed);
        // The history is shared with the state before: copied only when it changes.
        if refinement != after.history.refinement {
            Arc::make_mut(&mut after.history).refinement = refinement;
        }
    }
    let invoked: Vec<Id> = cfg
        .clients
        .iter()
        .copied()
        .filter(|c| {
            before.history.calls.awaiting.get(c) != Some(&GET)
                && after.history.calls.awaiting.get(c) == Some(&GET)
        })
        .collect();
    if invoked.is_empty() {
        return;
    }
    let chosen = !chosen(before, cfg.majority()).is_empty();
    if chosen {
        Arc::make_mut(&mut after.history)
            .get_after_chosen
            .extend(invoked);
    }
}

/// The proposer part of actor `id`, if it has one.
fn proposer(state: &PaxosModelState, id: Id) -> Option<&ProposerState> {
    match &*state.actor_states[usize::from(id)] {
        NodeState::Protocol(node) => node.state.proposer.as_ref(),
        NodeState::Client(_) => None,
    }
}

/// The paths of [`Took`] that the step `before -> after` took: a delivery the receiver handled
/// by that path, read off the message and the receiver before and after it.
fn took(
    step: &ActionOf<PaxosActor>,
    before: &PaxosModelState,
    after: &PaxosModelState,
) -> BTreeSet<Took> {
    let mut took = BTreeSet::new();
    let ActorModelAction::Deliver { dst, msg, .. } = step else {
        return took;
    };
    match *msg {
        // §2.4: the proposer "learns about some request with a higher proposal number" and
        // tries again: `handle_rejected`'s guard, and the new ballot it started.
        Msg::Rejected { ballot, promised } => {
            if let (Some(was), Some(is)) = (proposer(before, *dst), proposer(after, *dst)) {
                if was.is_trying()
                    && was.ballot == ballot
                    && promised > ballot
                    && is.ballot > ballot
                {
                    took.insert(Took::RetryAfterPreemption);
                }
            }
        }
        Msg::GetOk {
            request,
            value: None,
        } => {
            let calls = &before.history.calls;
            if calls.awaits(*dst, &request) && calls.awaiting.values().any(|r| *r == PUT) {
                took.insert(Took::ReadNoneDuringPut);
            }
        }
        _ => {}
    }
    took
}

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

impl harness::Config for PaxosConfig {
    fn faults(&self) -> Faults {
        Faults {
            network: self.network,
            lossy: self.lossy,
            max_crashes: self.max_crashes,
        }
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
        if self.ballots == Some(0) || self.max_round == Some(0) {
            return Err(
                "ballots and max_round must be at least 1: else nothing is proposed".to_owned(),
            );
        }
        if self.ballots.is_none() && self.max_round.is_none() {
            return Err("set ballots (a budget for all proposers) or max_round".to_owned());
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
        let clients = harness::count_in_words(self.clients, "client", "clients");
        let then = if self.put_only {
            "putting"
        } else {
            "putting then reading"
        };
        let resends = harness::resends_in_words(self.retries);
        let readers = harness::count_in_words(self.readers, "reader", "readers");
        let ballots = self
            .ballots
            .map_or("any number of ballots".to_owned(), |b| {
                harness::count_in_words(b as usize, "ballot in all", "ballots in all")
            });
        let rounds = self.max_round.map_or(String::new(), |r| {
            format!(", each proposer up to round {r}")
        });
        format!(
            "single-decree Paxos, {}: {layout}; {clients} {then} ({resends}); {readers}; \
             {}; {ballots}{rounds}",
            harness::variant_in_words(&self.variant),
            self.faults(),
        )
    }
}

/// The state of an actor of [`PaxosModel`].
type PaxosNodeState = StateOf<PaxosActor, Client>;

/// Which interchangeable group an actor belongs to, read off its state: acceptors and
/// learners of the paper's layout are interchangeable among themselves; servers (whose
/// ballots name them), proposers and clients are not.
fn symmetry_group(state: &PaxosNodeState) -> Option<u8> {
    match state {
        NodeState::Protocol(node) => match (&node.state.proposer, &node.state.acceptor) {
            (None, Some(_)) => Some(0),
            (None, None) => Some(1),
            _ => None,
        },
        NodeState::Client(_) => None,
    }
}

/// Symmetry reduction: sorts the acceptors among themselves and the learners among
/// themselves, renaming them everywhere (network, timers' holders, proposers' promise and
/// acceptance tallies, readers' reports). Sound because acceptors (and learners) run identical actors, every
/// property treats them as a set, and no ballot, value or client names them.
fn representative(state: &PaxosModelState) -> PaxosModelState {
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
        // Each timer is tagged with its holder (`harness::Owned`): it moves with the actor to
        // the actor's new id.
        timers_set: order
            .iter()
            .enumerate()
            .map(|(new, &old)| harness::owned_by(&state.timers_set[old], Id::from(new)))
            .collect(),
        random_choices: reorder(&state.random_choices, &order),
        crashed: reorder(&state.crashed, &order),
        history: state.history.clone(),
        actor_storages: reorder(&state.actor_storages, &order),
    }
}

fn reorder<T: Clone>(v: &[T], order: &[usize]) -> Vec<T> {
    order.iter().map(|&old| v[old].clone()).collect()
}

fn rename_node(node: &PaxosNodeState, rename: &impl Fn(&Id) -> Id) -> PaxosNodeState {
    let NodeState::Protocol(node) = node else {
        return node.clone();
    };
    let mut state = node.state.clone();
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
    NodeState::Protocol(Observed {
        state,
        trail: node.trail.clone(),
        saved: node.saved.clone(),
        at_start: node.at_start,
    })
}

/// Messages name acceptors and learners only as senders and receivers: the envelope's
/// `src` and `dst`, which the network renames itself.
impl Rewrite<Id> for Msg {
    fn rewrite<S>(&self, _: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalogue::{self, ProtocolModel};
    use crate::model::harness::{assert_judged_anew, explore};

    /// The configuration of catalogue model `name`.
    fn config(name: &str) -> PaxosConfig {
        match catalogue::load(Some(name))
            .expect("a catalogue model")
            .file
            .model
        {
            ProtocolModel::Paxos(config) => config,
            ProtocolModel::MultiPaxos(_) => panic!("{name} is a single-decree model"),
        }
    }

    /// The ballots of the prepares and accepts that can be delivered: what the witnesses read
    /// before they were judged on steps.
    fn ballots_in_flight(state: &PaxosModelState) -> BTreeSet<Ballot> {
        (state.network.iter_deliverable())
            .filter_map(|env| match env.msg {
                Msg::Prepare { ballot } => Some(*ballot),
                Msg::Accept { proposal } => Some(proposal.ballot),
                _ => None,
            })
            .collect()
    }

    // Reference: §2.4, two proposers "keep issuing a sequence of proposals with increasing
    // numbers, none of which are ever chosen": an acceptor handled both proposers' ballots.
    // Two ballots in flight (each server's acceptor has promised its own) is not it yet.
    #[test]
    fn dueling_proposers_is_an_acceptor_that_handled_two_proposers() {
        let model = config("paxos-3-servers-2-clients").into_model();
        let states = explore(&model, 10_000);
        let old = |s: &PaxosModelState| ballots_in_flight(s).len() >= 2;
        assert_judged_anew(&model, &states, old, dueling_proposers);
        // One proposer's two ballots are no duel: the one-client crash model, whose proposer
        // retries, reaches the old reading and never the witness.
        let model = config("paxos-3-servers-1-client-crash").into_model();
        let states = explore(&model, 50_000);
        assert!(states.iter().any(|s| ballots_in_flight(s).len() >= 2));
        assert!(!states.iter().any(|s| dueling_proposers(&model, s)));
    }

    // Reference: §2.4, "abandoning a proposal and trying again if it learns about some request
    // with a higher proposal number": a second ballot after a timeout alone is not it.
    #[test]
    fn retry_after_preemption_is_a_new_ballot_on_a_refusal() {
        let model = config("paxos-3-servers-2-clients-3-ballots-ordered").into_model();
        let states = explore(&model, 50_000);
        let old = |s: &PaxosModelState| trails(s).any(|t| t.ballots >= 2);
        assert_judged_anew(&model, &states, old, retry_after_preemption);
    }

    // Reference: the register's linearizability: a read that returns `None` while a put is
    // unanswered. A `None` answer still in flight to the reader is not one yet.
    #[test]
    fn read_none_during_put_is_a_none_the_reader_received() {
        let model = PaxosConfig {
            clients: 1,
            put_only: true,
            ..config("paxos-3-servers-2-clients-reader-ordered")
        }
        .into_model();
        let states = explore(&model, 50_000);
        let old = |s: &PaxosModelState| {
            let put_pending = s.history.calls.awaiting.values().any(|r| *r == PUT);
            let none = |env: Envelope<&Msg>| {
                matches!(
                    env.msg,
                    Msg::GetOk {
                        request: GET,
                        value: None
                    }
                )
            };
            put_pending && s.network.iter_deliverable().any(none)
        };
        assert_judged_anew(&model, &states, old, read_none_during_put);
    }
}
