//! The model-checking harness for Multi-Paxos: clients of the key-value store, a ghost record
//! of every acceptance, the properties of the replicated log, and the [`ActorModel`](stateright::actor::ActorModel) that puts
//! them together. The servers are the unmodified
//! [`MultiPaxosActor`].
use crate::model::checked::{ActionOf, Checked, Transition};
use crate::model::harness::{
    self, protocol_actors, Calls, ClientOut, Config, Faults, NetworkKind, Node, Recorded,
};
use crate::model::voting::{
    order_matters, Event, Illegal, Refinement, Voting, REFINES_CONSENSUS, REFINES_VOTING,
};
use crate::protocol::ballot::{may_accept, Ballot};
use crate::protocol::multi_paxos::{
    Applied, ClientCommand, Command, Kv, KvOp, LeaderTick, Msg, MultiPaxosActor, MultiPaxosState,
    Proposal, ReplicaState, RequestId, Role, Slot, StateMachine, Storage, Table, Timer, Variant,
};
use itertools::Itertools;
use serde::{Deserialize, Serialize};
use stateright::actor::{model_timeout, ActorModelAction, ActorModelState, Envelope, Id};
use stateright::{Expectation, Property};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
    /// The ballot budget: how many times, in all, servers may start phase 1 (each start is a
    /// new ballot). The model's boundary keeps the space finite; one server may campaign
    /// `ballots` times or each of several once.
    pub ballots: u8,
    /// The log's length: slots `0..slots`.
    pub slots: Slot,
    /// How many times each client may resend a request, in all.
    pub client_retries: u8,
    /// The protocol itself, or one of its deliberately broken versions.
    #[serde(default)]
    pub variant: Variant,
    /// Batching: the most slots a leader has in flight before requests wait for one to be
    /// chosen ([`MultiPaxosActor::window`]); by default no limit (no request ever waits).
    #[serde(default)]
    pub window: Option<usize>,
    /// Batching: the most client commands one slot holds ([`MultiPaxosActor::batch`]); by
    /// default 1.
    #[serde(default)]
    pub batch: Option<usize>,
    /// Batching: whether a leader holds its waiting requests, once a slot is chosen, for the
    /// clients that slot answered ([`MultiPaxosActor::batch_wait`]; its timer may fire at any
    /// point, as every model timer); by default not.
    #[serde(default)]
    pub batch_wait: bool,
    /// Batching: the most key and value bytes a batch of several commands holds
    /// ([`MultiPaxosActor::batch_bytes`]); by default no limit (the runtime's, for replay).
    #[serde(default)]
    pub batch_bytes: Option<usize>,
    /// Snapshots: a server takes one, and truncates its log below it, each time it has applied
    /// this many slots past its last one ([`MultiPaxosActor::snapshot_after`]); by default
    /// never.
    #[serde(default)]
    pub snapshot_after: Option<Slot>,
    /// Snapshots: the most entries one piece of a snapshot carries
    /// ([`MultiPaxosActor::snapshot_piece`]); by default `piece`, or more than the model's
    /// store has.
    #[serde(default)]
    pub snapshot_piece: Option<usize>,
    /// When a leader ticks (re-sends its `Accept`s in flight, sends heartbeats): off unless
    /// asked, since each tick re-sends and an ordered network's channels would grow without
    /// bound ([`LeaderTick`]).
    #[serde(default)]
    pub leader_tick: LeaderTick,
    /// The most slots a `Promise` reports; by default the whole log.
    #[serde(default)]
    pub piece: Option<usize>,
    /// The most `Accept`s a leader sends at once and the most slots a catch-up answer
    /// sends; by default `piece`.
    #[serde(default)]
    pub burst: Option<usize>,
    /// With a lossy ordered or unordered non-duplicating network, bounds the loss (and the
    /// network holds at most 2 copies of a message, bounding what a leader's tick re-sends):
    /// at most this many phase 2 messages (`Accept`, `Accepted`) are lost, and no other (but
    /// `Chosen`, with [`MultiPaxosConfig::lose_chosen`]; a lost client request needs a client
    /// retry, a lost phase 1 a new ballot: the model bounds both). `None`: any message may be
    /// lost, any number of times.
    #[serde(default)]
    pub max_lost: Option<u8>,
    /// Whether the model claims liveness ("every request answered", judged where a run ends).
    /// Only where every run ends with nothing the bounds cut short: the ballot and slot budgets
    /// end runs with requests still pending, and unbounded loss with a leader that re-sends
    /// for ever.
    #[serde(default)]
    pub liveness: bool,
    /// Whether the (lossy) network loses every `Chosen` message as soon as it is sent: the
    /// model explores only such runs. Only a leader's replica learns, from the `Accepted`s it
    /// counts; followers never learn a slot from the leader, nor catch up. A bound: where two
    /// leaders' messages interleave, the followers' learning multiplies the space about
    /// twentyfold, and no safety property needs it to be reached.
    #[serde(default)]
    pub lose_chosen: bool,
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

    /// A client numbers its requests 1, 2, ... and awaits each answer in turn: a reply to a
    /// request below the one it awaits, or any other message, stays ignored.
    fn ignores_forever(&self, state: &ClientState, msg: &Msg) -> bool {
        match msg {
            Msg::Reply { request, .. } => *request <= state.next as RequestId,
            _ => true,
        }
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
    /// The highest ballot this acceptor promised or accepted, as its `Promise` and `Accepted`
    /// messages said: in the protocol, always its `promised`, so it splits no states.
    pub promised: Ballot,
}

/// At a server's last restart, the highest ballot it had led under (its trail's `led` then).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LedBeforeRestart(pub Option<Ballot>);

impl harness::Trail<MultiPaxosActor> for Trail {
    type Start = LedBeforeRestart;
    /// Whether the step is a leader handling a client request: steady state, no phase 1.
    type Step = bool;

    fn start(
        restored: Option<&Self>,
        _: &MultiPaxosActor,
        _: Option<&Storage>,
    ) -> LedBeforeRestart {
        LedBeforeRestart(restored.and_then(|trail| trail.led))
    }

    fn step(state: &MultiPaxosState, msg: &Msg) -> bool {
        matches!(msg, Msg::Request { .. }) && state.is_leader()
    }

    fn observe(&mut self, steady: bool, sent: &Msg) {
        match sent {
            Msg::Accepted { slot, proposal } => {
                self.accepted.insert((*slot, proposal.clone()));
                self.promised = self.promised.max(proposal.ballot);
            }
            Msg::Promise { ballot, .. } => self.promised = self.promised.max(*ballot),
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

/// Auxiliary ("ghost") state of the whole model: what the clients submitted and the history
/// of their operations, for the linearizability checker; the ballots started so far (the
/// model's bound); and what the judge of transitions found.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Ghost {
    /// Every command a client submitted.
    pub submitted: BTreeSet<ClientCommand>,
    /// The clients' calls on the key-value store.
    pub calls: Calls<Kv, RequestId>,
    /// How many times a server started phase 1 (a new ballot), all servers together.
    pub ballots: u8,
    /// Sticky: some acceptor accepted a proposal numbered below a ballot it had promised
    /// (P1a broken). Set by the judge, only ever on a violation.
    pub p1a_broken: bool,
    /// The first steps that did not refine `Voting` (in some slot) and `Consensus` (in some
    /// slot, or a replica's log), set by the judge.
    pub refinement: Refinement,
    /// With [`MultiPaxosConfig::max_lost`]: how many phase 2 messages were lost, and whether a
    /// loss it excludes happened (such states are outside the boundary).
    pub lost: (u8, bool),
    /// Sticky: a server that led, crashed and restarted made, by an acceptance after its
    /// restart, a proposal chosen in a slot where another command was accepted (set by the
    /// judge: the witness "chosen after restart with competing commands").
    pub chosen_after_restart: bool,
    /// Sticky: a leader answered a client's request from its at-most-once table, a request
    /// that another server's lower ballot had got accepted (set by the judge: the witness
    /// "retried request answered from the at-most-once table").
    pub answered_from_table: bool,
    /// Sticky: a leader refused as stale a client's request below the client's last applied
    /// one, a request that another server's lower ballot had got accepted (set by the judge:
    /// the witness "stale request refused").
    pub stale_refused: bool,
    /// Sticky, set by the judge: a server that does not lead handled a current leader's
    /// `Heartbeat` (it put off its election), and one such server handed the leader the
    /// requests it had queued (the witnesses "heartbeat followed" and "queued requests handed
    /// to the leader").
    pub heartbeat: (bool, bool),
    /// The paths the step into this state took that the state does not show, for their
    /// witnesses (set by the judge: see [`harness::Took`]).
    pub took: harness::Took<Took>,
}

/// A path a witness names that the state after it does not show ([`harness::Took`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Took {
    /// A leader handled an acceptor's refusal of its accept, numbered below the acceptor's
    /// promise (§2.2 P1a).
    AcceptRefused,
    /// A server answered a catch-up request for 2+ slots with 2+ of them: as many `Chosen`,
    /// or its snapshot, covering them.
    CatchUpOf2Slots,
    /// A candidate handled a promise naming a snapshot above the slot it prepared from.
    PromiseNamedSnapshot,
    /// A replica installed a snapshot received from a peer.
    CaughtUpFromSnapshot,
    /// A leader with slots in flight below a snapshot installed it (and so dropped them
    /// from its window).
    LeaderBehindSnapshot,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            submitted: BTreeSet::new(),
            calls: Calls::new(Kv::default()),
            ballots: 0,
            p1a_broken: false,
            refinement: Refinement::default(),
            lost: (0, false),
            chosen_after_restart: false,
            answered_from_table: false,
            stale_refused: false,
            heartbeat: (false, false),
            took: BTreeSet::new(),
        }
    }
}

/// The model's configuration as the properties see it: every server is an acceptor.
pub type ModelCfg = harness::ModelCfg<MultiPaxosConfig>;

/// The Multi-Paxos model: servers and key-value clients.
pub type MultiPaxosModel = Checked<MultiPaxosActor, Client, MultiPaxosConfig, Arc<Ghost>>;

/// A state of [`MultiPaxosModel`].
pub type MultiPaxosModelState = ActorModelState<Node<MultiPaxosActor, Client>, Arc<Ghost>>;

fn record_out(_: &ModelCfg, ghost: &Arc<Ghost>, env: Envelope<&Msg>) -> Option<Arc<Ghost>> {
    let Msg::Request { command } = env.msg else {
        return None;
    };
    // Only a client's own first send invokes: forwards and retries do not.
    if env.src != command.client || ghost.calls.awaits(env.src, &command.request) {
        return None;
    }
    let mut next = Ghost::clone(ghost);
    next.submitted.insert(command.clone());
    next.calls
        .invoke(env.src, command.request, command.op.clone());
    Some(Arc::new(next))
}

fn record_in(_: &ModelCfg, ghost: &Arc<Ghost>, env: Envelope<&Msg>) -> Option<Arc<Ghost>> {
    let Msg::Reply { request, ret } = env.msg else {
        return None;
    };
    if !ghost.calls.awaits(env.dst, request) {
        return None; // The client ignores this reply: a duplicate or a stale one.
    }
    let mut next = Ghost::clone(ghost);
    next.calls.ret(env.dst, ret.clone());
    Some(Arc::new(next))
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
/// Sorted, each once (a server's trail holds each of its acceptances once): a vector, as
/// the properties build it for every state.
struct Acceptances<'a>(Vec<(Slot, &'a Proposal, Id)>);

impl<'a> Acceptances<'a> {
    fn of(state: &'a MultiPaxosModelState) -> Self {
        let mut all = Vec::new();
        for server in servers(state) {
            all.extend(
                server
                    .trail
                    .accepted
                    .iter()
                    .map(|(s, p)| (*s, p, server.id)),
            );
        }
        all.sort_unstable();
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

    /// Every acceptance, by slot: what P2c quantifies over for a proposal issued in a slot.
    fn by_slot(&self) -> BTreeMap<Slot, Vec<(&'a Proposal, Id)>> {
        let mut by_slot: BTreeMap<Slot, Vec<(&'a Proposal, Id)>> = BTreeMap::new();
        for (slot, p, a) in &self.0 {
            by_slot.entry(*slot).or_default().push((*p, *a));
        }
        by_slot
    }
}

/// P2c for proposal `(n, v)` issued in a slot whose acceptances are `accepted`: some majority
/// S either accepted nothing in that slot numbered below n, or v is the command of the
/// highest-numbered proposal below n that S accepted in that slot.
fn p2c_holds(
    accepted: &[(&Proposal, Id)],
    proposal: &Proposal,
    acceptors: &[Id],
    majority: usize,
) -> bool {
    let below: Vec<&(&Proposal, Id)> = accepted
        .iter()
        .filter(|(p, _)| p.ballot < proposal.ballot)
        .collect();
    if below.is_empty() {
        return true;
    }
    acceptors.iter().combinations(majority).any(|s| {
        let highest = below
            .iter()
            .filter(|(_, a)| s.contains(&a))
            .max_by_key(|(p, _)| p.ballot);
        highest.is_none_or(|(p, _)| p.command == proposal.command)
    })
}

fn chosen<'a>(
    model: &MultiPaxosModel,
    state: &'a MultiPaxosModelState,
) -> BTreeSet<(Slot, &'a Proposal)> {
    Acceptances::of(state).chosen(model.cfg.majority())
}

/// The commands chosen in each slot.
fn chosen_by_slot<'a>(
    model: &MultiPaxosModel,
    state: &'a MultiPaxosModelState,
) -> BTreeMap<Slot, BTreeSet<&'a Command>> {
    let mut by_slot: BTreeMap<Slot, BTreeSet<&Command>> = BTreeMap::new();
    for (slot, proposal) in chosen(model, state) {
        by_slot.entry(slot).or_default().insert(&proposal.command);
    }
    by_slot
}

/// Property: at most one command is chosen per slot.
fn slot_agreement(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    chosen_by_slot(model, state)
        .values()
        .all(|commands| commands.len() <= 1)
}

/// Property P2c, per slot: for every issued proposal (n, v) in slot s, some majority accepted
/// nothing in s below n, or the highest-numbered proposal below n it accepted in s has v.
fn p2c(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    let by_slot = acceptances.by_slot();
    let majority = model.cfg.majority();
    servers(state).all(|server| {
        server.trail.issued.iter().all(|(slot, p)| {
            let accepted = by_slot.get(slot).map_or(&[][..], Vec::as_slice);
            p2c_holds(accepted, p, &model.cfg.acceptors, majority)
        })
    })
}

/// The state machine after the chosen slots `0..upto`, applied in slot order with the
/// at-most-once table (`dedup`) as a replica applies them: what a snapshot of them must be.
/// `None` if some slot below `upto` has no chosen command, or two (slot agreement broken).
pub(crate) fn replay(
    chosen: &BTreeMap<Slot, BTreeSet<&Command>>,
    upto: Slot,
    dedup: bool,
) -> Option<StateMachine> {
    let mut machine = StateMachine::default();
    for slot in 0..upto {
        let command = chosen
            .get(&slot)
            .and_then(|c| c.iter().exactly_one().ok())?;
        for cc in command.clients() {
            machine.apply(cc, dedup);
        }
    }
    Some(machine)
}

/// Whether a replica's applied prefix is the chosen log as the ghost record has it: entry `i`
/// of its log is slot `base + i`, and its command is chosen there; and the slots below `base`,
/// which the log keeps no longer, are the server's snapshot: taken at `base`, and its state
/// machine is the one the chosen commands of `0..base` make ([`replay`]).
pub(crate) fn applied_prefix_consistent(
    s: &MultiPaxosState,
    chosen: &BTreeMap<Slot, BTreeSet<&Command>>,
    dedup: bool,
) -> bool {
    let replica = &s.replica;
    let entries = replica.log.iter().enumerate().all(|(i, a)| {
        a.slot == replica.base + i as Slot
            && chosen.get(&a.slot).is_some_and(|c| c.contains(&a.command))
    });
    let snapshot = &s.acceptor.snapshot;
    entries
        && snapshot.upto == replica.base
        && (replica.base == 0
            || replay(chosen, replica.base, dedup).as_ref() == Some(&snapshot.machine))
}

/// Property: every replica's applied prefix is a prefix of the chosen log as the ghost record
/// has it: entry `i` of its log is slot `base + i`, its command chosen there, and below `base`
/// its snapshot is the state machine of the chosen slots ([`applied_prefix_consistent`]).
/// Judged against the record, not other replicas' memory, so that it holds across restarts
/// too.
fn log_consistency(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen = chosen_by_slot(model, state);
    let dedup = model.cfg.config.variant.at_most_once();
    servers(state).all(|s| applied_prefix_consistent(s.state, &chosen, dedup))
}

/// Property: every command in a replica's chosen map is chosen in that slot per the ghost
/// record (a majority accepted one proposal with it).
fn learn_only_chosen(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen = chosen_by_slot(model, state);
    servers(state).all(|s| {
        (s.state.replica.chosen.iter())
            .all(|(slot, command)| chosen.get(slot).is_some_and(|c| c.contains(command)))
    })
}

/// Property P1a, per slot: no acceptor accepts a proposal numbered below a ballot it has
/// promised. Judged on each step that accepts ([`judge`]), whose finding is sticky.
fn p1a(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    !state.history.p1a_broken
}

/// Property: every acceptor's current state is in its ghost record: it still holds every
/// promise it made, each proposal it holds as accepted it accepted (and said so), and it has
/// promised at least each one's number; so that a change of state that sends nothing, or a
/// promise that is sent but not kept, cannot hide from the other properties.
fn acceptor_recorded(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).all(|s| {
        let acceptor = &s.state.acceptor;
        acceptor.promised >= s.trail.promised
            && acceptor.accepted.iter().all(|(slot, p)| {
                acceptor.promised >= p.ballot && s.trail.accepted.contains(&(*slot, p.clone()))
            })
    })
}

/// Property: every chosen command was submitted by a client, or is a no-op.
fn validity(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    chosen(model, state).into_iter().all(|(_, p)| {
        let submitted = &state.history.submitted;
        p.command.clients().iter().all(|cc| submitted.contains(cc))
    })
}

/// The client requests a replica ran on its store twice: in its log twice, or in its log and
/// at or below the request its snapshot's at-most-once table holds for that client (the
/// snapshot ran that request, and the client's earlier ones, before `base`: a client numbers
/// its requests 1, 2, ... and sends one only once the one before is answered).
pub(crate) fn run_twice(replica: &ReplicaState, snapshot: &StateMachine) -> Vec<ClientCommand> {
    let executed: Vec<&ClientCommand> = replica
        .log
        .iter()
        .flat_map(|a: &Applied| a.command.clients().iter().zip(&a.executed))
        .filter(|(_, executed)| **executed)
        .map(|(cc, _)| cc)
        .collect();
    let in_snapshot = executed.iter().filter(|cc| {
        (snapshot.last.get(&cc.client)).is_some_and(|last| cc.request <= last.request)
    });
    let in_log = executed.iter().duplicates_by(|cc| (cc.client, cc.request));
    in_snapshot.chain(in_log).map(|cc| (*cc).clone()).collect()
}

/// Property: no replica runs a client's request on its store twice ([`run_twice`]).
fn at_most_once(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).all(|server| {
        let snapshot = &server.state.acceptor.snapshot.machine;
        run_twice(&server.state.replica, snapshot).is_empty()
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
        matches!(p.command, Command::Batch(_))
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

/// A server that led, crashed and restarted made a proposal chosen by accepting it after its
/// restart, in a slot where another command was accepted too (judged on the step, by
/// [`judge`]): the restarted server's memory of that slot is what P2c rests on.
fn chosen_after_restart_competing(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.chosen_after_restart
}

/// Witness for P2c: a server leads and re-proposes, in a slot, a command that another
/// server's lower ballot had got accepted there (phase 1 reported it).
fn leader_change_with_reported_slot(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    servers(state).any(|s| {
        s.trail.issued.iter().any(|(slot, p)| {
            acceptances.0.iter().any(|(at, q, _)| {
                at == slot
                    && q.command == p.command
                    && q.ballot < p.ballot
                    && q.ballot.proposer != p.ballot.proposer
            })
        })
    })
}

/// A candidate holds a promise that came in pieces and has asked for the rest: phase 1 in
/// pieces, where only whole promises may count toward the majority. Only its step handling
/// such a piece keeps one (`partial`).
fn promise_in_pieces(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).any(|s| {
        matches!(&s.state.proposer.role, Role::Candidate { partial, .. } if !partial.is_empty())
    })
}

/// Proposals were issued under three different ballots: two leader changes.
fn second_leader_change(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let ballots: BTreeSet<Ballot> = servers(state)
        .flat_map(|s| s.trail.issued.iter().map(|(_, p)| p.ballot))
        .collect();
    ballots.len() >= 3
}

/// A server answered a replica's request to catch up on 2+ slots with 2+ of them in one
/// answer: as many `Chosen` slots, or its snapshot, which answers a gap that starts below it
/// (judged on the step that handled the request: [`took`]).
fn catch_up_of_2_slots(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::CatchUpOf2Slots)
}

/// Whether the step into this state took `path` ([`Ghost::took`]).
fn took_any(state: &MultiPaxosModelState, path: Took) -> bool {
    state.history.took.contains(&path)
}

/// Witness for the snapshot rule: a candidate handled a promise that names a snapshot above
/// the slot it prepared from (the slots in between are chosen, and the acceptor reports none
/// of them; judged on the step: [`took`]).
fn promise_names_snapshot(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::PromiseNamedSnapshot)
}

/// Witness for catching up from a snapshot: a replica installed a snapshot it received
/// (judged on the step that delivered its last piece: [`took`]).
fn caught_up_from_snapshot(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::CaughtUpFromSnapshot)
}

/// Witness for a leader's slots below a snapshot: a leader with slots in flight below a
/// snapshot installed it (an acceptor answered its `Accept` there with its snapshot: the slot
/// is chosen), and so dropped them from its window (judged on the step: [`took`]).
fn leader_behind_snapshot(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::LeaderBehindSnapshot)
}

/// Witness for pieces of a snapshot: a replica holds part of a snapshot and has asked for the
/// rest. Only its step handling a piece that leaves some out keeps one (`incoming`).
fn snapshot_in_pieces(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).any(|s| s.state.replica.incoming.is_some())
}

/// Witness for slot agreement, learning only chosen commands and log consistency: two
/// different commands were accepted in one slot.
fn competing_commands(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    acceptances
        .0
        .iter()
        .tuple_combinations()
        .any(|((s, p, _), (t, q, _))| s == t && p.command != q.command)
}

/// Witness for P1a: an acceptor refused an accept below its promise, and the leader handled
/// the refusal (judged on the step that delivered it: [`took`]).
fn accept_refused(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    took_any(state, Took::AcceptRefused)
}

/// Witness for the acceptor's record: an acceptor replaced the proposal it had accepted in
/// a slot by a higher one.
fn acceptance_replaced(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    servers(state).any(|s| {
        s.trail
            .accepted
            .iter()
            .tuple_windows()
            .any(|((a, _), (b, _))| a == b)
    })
}

/// Witness for at most once: one client command was accepted in two slots.
fn command_in_two_slots(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let acceptances = Acceptances::of(state);
    acceptances
        .0
        .iter()
        .filter(|(_, p, _)| matches!(p.command, Command::Batch(_)))
        .tuple_combinations()
        .any(|((s, p, _), (t, q, _))| {
            s != t && (p.command.clients().iter()).any(|c| q.command.clients().contains(c))
        })
}

/// Witness for batching: a slot holding two client commands or more is chosen.
fn batch_of_2_chosen(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    chosen(model, state)
        .into_iter()
        .any(|(_, p)| p.command.clients().len() >= 2)
}

/// Witness for the hold (S6, [`MultiPaxosActor::batch_wait`]): a batch of two commands or more
/// is chosen that holds the next request of a client the slot before answered. With one slot
/// in flight and no hold, that client's request always comes too late for a batch: the
/// requests that waited went into the next slot as it was chosen, or the request found the
/// window open and got a slot of its own.
fn batch_held_for_a_client(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let chosen: BTreeMap<Slot, &Proposal> = chosen(model, state).into_iter().collect();
    let clients =
        |p: &Proposal| -> BTreeSet<Id> { p.command.clients().iter().map(|c| c.client).collect() };
    chosen.iter().any(|(&slot, &p)| {
        let before = slot.checked_sub(1).and_then(|s| chosen.get(&s));
        p.command.clients().len() >= 2
            && before.is_some_and(|&q| !clients(p).is_disjoint(&clients(q)))
    })
}

/// Witness for linearizability, and the liveness property "every request answered": every
/// client's every call returned.
fn all_answered(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let calls: usize = model
        .actors
        .iter()
        .map(|a| match a {
            Node::Client(c) => c.ops.len(),
            Node::Protocol(_) => 0,
        })
        .sum();
    state.history.calls.awaiting.is_empty() && state.history.submitted.len() == calls
}

/// Property: every step maps to a legal `Voting` step or a stutter (judged by [`judge`]).
fn refines_voting(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.refinement.voting.is_none()
}

/// Property: every step maps to a legal `Consensus` step or a stutter (judged by [`judge`]).
fn refines_consensus(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.refinement.consensus.is_none()
}

/// Witness for "every request answered": a phase 2 message was lost, and every call returned
/// all the same (the leader re-sent).
fn answered_after_loss(model: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.lost.0 > 0 && all_answered(model, state)
}

/// Witness for at most once across a leader change: a leader answered a client's request from
/// its at-most-once table, and another server's lower ballot had got that request accepted
/// (judged on the step, by [`judge_table`]).
fn answered_from_table(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.answered_from_table
}

/// Witness for at most once across a leader change: a leader refused a client's request below
/// the client's last applied one, which its table holds, and another server's lower ballot had
/// got that request accepted (judged on the step, by [`judge_table`]).
fn stale_refused(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.stale_refused
}

/// Witness for P2c and validity over several slots: a server, under one ballot, re-issued two
/// or more slots that phase 1 reported (each holds a command accepted there under a lower
/// ballot), filled a slot between two of them with a no-op of its own, and issued a client
/// command above the highest of them: a new leader recovered slots with a gap between them and
/// then took new commands.
fn new_command_after_recovered_slots(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    let by_slot = Acceptances::of(state).by_slot();
    let reported = |slot: &Slot, p: &Proposal| {
        (by_slot.get(slot).into_iter().flatten())
            .any(|(q, _)| q.ballot < p.ballot && q.command == p.command)
    };
    servers(state).any(|s| {
        let terms = s.trail.issued.iter().into_group_map_by(|(_, p)| p.ballot);
        terms.values().any(|issued| {
            let recovered: Vec<Slot> = (issued.iter())
                .filter(|(slot, p)| reported(slot, p))
                .map(|(slot, _)| *slot)
                .collect();
            let (Some(low), Some(top)) = (recovered.iter().min(), recovered.iter().max()) else {
                return false;
            };
            let gap = issued.iter().any(|(slot, p)| {
                p.command == Command::Noop && low < slot && slot < top && !reported(slot, p)
            });
            let new = (issued.iter())
                .any(|(slot, p)| slot > top && matches!(p.command, Command::Batch(_)));
            gap && new
        })
    })
}

/// Every property of the model, in the order they are reported: its name (the claim it
/// checks), whether it must hold always or be reached sometimes, and its condition. For the
/// actor model or its [`Simulated`] wrapper.
fn properties() -> [Property<MultiPaxosModel>; 38] {
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

/// Judges each transition, server by server: counts the ballots started (a server's own
/// ballot moved up: phase 1 began), and checks P1a on each acceptance the step made against
/// the promise the acceptor held before it, the promises and acceptances it made earlier in
/// the same step included ([`sent_in_order`]); and judges the refinement ([`refine`]) and,
/// with [`MultiPaxosConfig::max_lost`], the losses ([`judge_loss`]); and records the paths of
/// [`Took`] the step took ([`took`]) for their witnesses, until the next step that takes one or
/// changes an actor ([`harness::Took`]). Writes into the history only what the step did.
fn judge(
    cfg: &ModelCfg,
    step: &Transition<MultiPaxosActor, Client>,
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let took = took(cfg, step.action, before, after);
    if let Some(took) = harness::retake(before, after, &after.history.took, took) {
        Arc::make_mut(&mut after.history).took = took;
    }
    if cfg.config.max_lost.is_some() {
        judge_loss(step.action, after);
    }
    let sent = sent_in_order(step, before, after);
    let mut started = 0;
    let mut p1a_broken = false;
    for ((id, b), (_, a)) in protocol_actors(before).zip(protocol_actors(after)) {
        if std::ptr::eq(a, b) {
            continue;
        }
        let (was, is) = (b.state.proposer.ballot, a.state.proposer.ballot);
        if is.proposer == id && is.round > was.round {
            started += 1;
        }
        if a.trail.accepted.len() > b.trail.accepted.len() {
            // The promise held before the step, or made in a message, whichever is higher.
            let held = b.state.acceptor.promised.max(b.trail.promised);
            if step.actor() == Some(id) {
                p1a_broken |= breaks_p1a_in_order(held, &sent, &b.trail.accepted);
            }
            p1a_broken |= a
                .trail
                .accepted
                .difference(&b.trail.accepted)
                .any(|(_, p)| !may_accept(held, p.ballot));
        }
    }
    if started > 0 {
        let history = Arc::make_mut(&mut after.history);
        history.ballots = history.ballots.saturating_add(started);
    }
    if p1a_broken {
        Arc::make_mut(&mut after.history).p1a_broken = true;
    }
    if !after.history.chosen_after_restart && chosen_by_a_restarted_leader(cfg, before, after) {
        Arc::make_mut(&mut after.history).chosen_after_restart = true;
    }
    judge_table(cfg, step.action, before, after);
    judge_heartbeat(step.action, before, after);
    refine(cfg, step, &sent, before, after);
}

/// Whether an acceptor that held the promise `held` and had accepted `had` before a step,
/// and sent `sent` in it in this order, accepted a proposal below a promise made earlier in
/// the step (P1a, event by event: its acceptances raise its promise too).
fn breaks_p1a_in_order(held: Ballot, sent: &[Msg], had: &BTreeSet<(Slot, Proposal)>) -> bool {
    let mut promised = held;
    sent.iter().any(|msg| match msg {
        Msg::Promise { ballot, .. } => {
            promised = promised.max(*ballot);
            false
        }
        Msg::Accepted { slot, proposal } => {
            let new = !had.contains(&(*slot, proposal.clone()));
            let broken = new && !may_accept(promised, proposal.ballot);
            promised = promised.max(proposal.ballot);
            broken
        }
        _ => false,
    })
}

/// The messages the stepping server sent in the step, in order, where the order of its
/// acceptor's promises and acceptances in it can change a verdict ([`order_matters`]): the
/// state after the step holds them, but not their order. None otherwise.
fn sent_in_order(
    step: &Transition<MultiPaxosActor, Client>,
    before: &MultiPaxosModelState,
    after: &MultiPaxosModelState,
) -> Vec<Msg> {
    let Some((_, b, a)) = step.nodes(before, after) else {
        return Vec::new();
    };
    let cast = a.trail.accepted.difference(&b.trail.accepted);
    let (was, is) = (b.state.acceptor.promised, a.state.acceptor.promised);
    if order_matters(was, is, cast.map(|(_, p)| p.ballot)) {
        step.sent(before)
    } else {
        Vec::new()
    }
}

/// Judges a step that delivers a client's request to a leader: the path it takes through the
/// at-most-once table is the one [`ReplicaState::table`] names for the leader's state before
/// the step, as `handle_request` asks it. Sets the sticky witnesses "retried request answered
/// from the at-most-once table" and "stale request refused" when the request is one that
/// another server's lower ballot had got accepted: it reached this leader across a leader
/// change, and the table that answers it came through the log.
fn judge_table(
    cfg: &ModelCfg,
    step: &ActionOf<MultiPaxosActor>,
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let ActorModelAction::Deliver {
        dst,
        msg: Msg::Request { command },
        ..
    } = step
    else {
        return;
    };
    let Some(leader) = servers(before).find(|s| s.id == *dst && s.state.is_leader()) else {
        return;
    };
    let history = &after.history;
    let path = leader
        .state
        .replica
        .table(command, cfg.config.variant.at_most_once());
    let unseen = match path {
        Some(Table::Answered(_)) => !history.answered_from_table,
        Some(Table::Stale(_)) => !history.stale_refused,
        None => false,
    };
    let ballot = leader.state.proposer.ballot;
    let across = || {
        Acceptances::of(before).0.iter().any(|(_, p, _)| {
            p.ballot < ballot
                && p.ballot.proposer != leader.id
                && (p.command.clients().iter())
                    .any(|c| (c.client, c.request) == (command.client, command.request))
        })
    };
    if !unseen || !across() {
        return;
    }
    let history = Arc::make_mut(&mut after.history);
    match path {
        Some(Table::Answered(_)) => history.answered_from_table = true,
        _ => history.stale_refused = true,
    }
}

/// The state of server `id`.
fn server(state: &MultiPaxosModelState, id: Id) -> Option<&MultiPaxosState> {
    protocol_actors(state).find_map(|(i, node)| (i == id).then_some(&node.state))
}

/// The paths of [`Took`] that the step `before -> after` took: a delivery the receiver handled
/// by that path, read off the message and the receiver before and after it.
fn took(
    cfg: &ModelCfg,
    step: &ActionOf<MultiPaxosActor>,
    before: &MultiPaxosModelState,
    after: &MultiPaxosModelState,
) -> BTreeSet<Took> {
    let mut took = BTreeSet::new();
    let ActorModelAction::Deliver { dst, msg, .. } = step else {
        return took;
    };
    let (Some(was), Some(is)) = (server(before, *dst), server(after, *dst)) else {
        return took;
    };
    match msg {
        // §2.2: an acceptor that promised a higher ballot refused the leader's accept: the
        // leader, of that ballot still, handles the refusal (`handle_rejected`'s guard).
        Msg::Rejected {
            ballot,
            promised,
            slot: Some(_),
        } if was.is_leader() && was.proposer.ballot == *ballot && promised > ballot => {
            took.insert(Took::AcceptRefused);
        }
        // `handle_catch_up`: the snapshot if it covers the gap's first slot, else the first
        // `burst` chosen slots of the gap.
        Msg::CatchUp { from, to } => {
            let replica = &was.replica;
            let answered = if *from < replica.base {
                (*to).min(replica.base).saturating_sub(*from)
            } else {
                let known = replica.chosen.range(from..to).count();
                known.min(cfg.config.burst()) as Slot
            };
            if answered >= 2 {
                took.insert(Took::CatchUpOf2Slots);
            }
        }
        Msg::Promise { snapshot, .. } => {
            let from = match &was.proposer.role {
                Role::Candidate { from, .. } => *from,
                _ => return took,
            };
            // Handled: the candidate counted it, or kept its piece (`handle_promise`).
            if *snapshot > from && is.proposer != was.proposer {
                took.insert(Took::PromiseNamedSnapshot);
            }
        }
        // `handle_snapshot`: the last piece installs it, and the replica goes on from `upto`.
        Msg::Snapshot { upto, .. } if was.replica.applied() < *upto && is.replica.base >= *upto => {
            took.insert(Took::CaughtUpFromSnapshot);
            if let Role::Leader { in_flight, .. } = &was.proposer.role {
                if in_flight.range(..*upto).next().is_some() {
                    took.insert(Took::LeaderBehindSnapshot);
                }
            }
        }
        _ => {}
    }
    took
}

/// Whether, in the step `before -> after`, a server that led before its last restart (so it
/// is up again) accepted a proposal and so made it chosen, in a slot where another command
/// was accepted: a command chosen after a restart, over a competing one.
fn chosen_by_a_restarted_leader(
    cfg: &ModelCfg,
    before: &MultiPaxosModelState,
    after: &MultiPaxosModelState,
) -> bool {
    let restarted = servers(before)
        .zip(servers(after))
        .find(|(b, a)| a.led_before_restart.is_some() && a.trail.accepted != b.trail.accepted);
    let Some((b, a)) = restarted else {
        return false;
    };
    let was = Acceptances::of(before).chosen(cfg.majority());
    let acceptances = Acceptances::of(after);
    let is = acceptances.chosen(cfg.majority());
    a.trail
        .accepted
        .difference(&b.trail.accepted)
        .any(|(slot, p)| {
            is.contains(&(*slot, p))
                && !was.contains(&(*slot, p))
                && acceptances
                    .0
                    .iter()
                    .any(|(s, q, _)| s == slot && q.command != p.command)
        })
}

/// The refinement mapping (spec/refinement.md): one `Voting` instance per slot, in which
/// `maxBal[a]` is server `a`'s `promised` (one promise for all slots; frozen while it is down,
/// restored from its storage when it restarts) and `votes[a]` the proposals its trail says it
/// accepted in that slot. This is `slot`'s instance.
fn voting(state: &MultiPaxosModelState, slot: Slot) -> Voting<Command> {
    let mut instance = Voting::default();
    for server in servers(state) {
        instance
            .max_bal
            .insert(server.id, server.state.acceptor.promised);
        let votes = server.trail.accepted.iter().filter(|(s, _)| *s == slot);
        let votes = votes.map(|(_, p)| (p.ballot, p.command.clone()));
        instance.votes.insert(server.id, votes.collect());
    }
    instance
}

/// What a replica learned in a step, for [`refine`]: a new entry of its log, or a slot below
/// a snapshot it received.
enum Learned {
    /// A log entry and its position `i` in the log, for the slot its position says
    /// (`base + i`).
    Entry(usize, Applied),
    /// A slot below a received snapshot.
    Snapshot,
}

/// Judges the refinement of the step `before -> after` (any step that changes no server's
/// acceptances or applied log, and lowers no promise, maps to a stutter or `IncreaseMaxBal`):
/// the `Voting` step of each slot whose votes changed (or of slot 0 for a fallen promise:
/// `maxBal` is one for all slots) and
/// the `Consensus` step it maps to, whose values are the commands clients submitted and
/// no-ops; and each new entry of a replica's log, since the log is the sequence of the slots'
/// `Consensus` instances: entry `i` must be the command chosen in slot `base + i`; and each slot
/// a replica skips by installing a snapshot must have a chosen command (the snapshot's state
/// machine itself is judged by "log consistency").
fn refine(
    cfg: &ModelCfg,
    step: &Transition<MultiPaxosActor, Client>,
    sent: &[Msg],
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let mut slots = BTreeSet::new();
    let mut promised = false;
    let mut learned = Vec::new();
    for ((id, b), (_, a)) in protocol_actors(before).zip(protocol_actors(after)) {
        if std::ptr::eq(a, b) {
            continue;
        }
        // A rise of the promise alone is `IncreaseMaxBal`, always enabled: only a fall needs
        // judging.
        promised |= a.state.acceptor.promised < b.state.acceptor.promised;
        let (had, has) = (&b.trail.accepted, &a.trail.accepted);
        slots.extend(had.symmetric_difference(has).map(|(slot, _)| *slot));
        let (old, new) = (&b.state.replica, &a.state.replica);
        // Entry `i` of a log is slot `base + i`: an entry is kept if the old log held it for
        // the same slot (a snapshot truncates the log's front, and the entries move up).
        let at = |i: usize| {
            let slot = (new.base + i as Slot).checked_sub(old.base)?;
            old.log.get(usize::try_from(slot).ok()?)
        };
        let kept = (new.log.iter().enumerate())
            .take_while(|(i, e)| at(*i) == Some(e))
            .count();
        learned.extend(
            new.log
                .iter()
                .enumerate()
                .skip(kept)
                .map(|(i, e)| (id, new.base + i as Slot, Learned::Entry(i, e.clone()))),
        );
        // A snapshot received: the replica learned every slot it had not applied below it.
        learned.extend((old.applied()..new.base).map(|slot| (id, slot, Learned::Snapshot)));
    }
    if promised && slots.is_empty() {
        slots.insert(0);
    }
    if slots.is_empty() && learned.is_empty() {
        return;
    }
    let n = cfg.acceptors.len();
    let mut refinement = after.history.refinement.clone();
    let submitted = |c: &Command| {
        let submitted = &after.history.submitted;
        c.clients().iter().all(|cc| submitted.contains(cc))
    };
    for slot in slots {
        let (was, is) = (voting(before, slot), voting(after, slot));
        // The stepping acceptor's events in this slot's instance, in order: an acceptance in
        // another slot raises the promise every slot shares.
        let events: Vec<Event<Command>> = (step.actor().into_iter())
            .flat_map(|id| {
                sent.iter().filter_map(move |msg| match msg {
                    Msg::Promise { ballot, .. } => Some(Event::Promise(id, *ballot)),
                    Msg::Accepted { slot: s, proposal } if *s == slot => {
                        Some(Event::Vote(id, proposal.ballot, proposal.command.clone()))
                    }
                    Msg::Accepted { proposal, .. } => Some(Event::Promise(id, proposal.ballot)),
                    _ => None,
                })
            })
            .collect();
        refinement.judge(
            Some(format!("slot {slot}")),
            n,
            &was,
            &is,
            &events,
            submitted,
        );
    }
    for (id, i, learned) in learned {
        if refinement.consensus.is_some() {
            break;
        }
        let chosen = voting(after, i).chosen(n);
        let action = match learned {
            Learned::Entry(at, entry) if entry.slot != i || !chosen.contains(&entry.command) => {
                let base = if i as usize == at {
                    String::new()
                } else {
                    format!(" (slot {i}: the log starts at slot {})", i - at as Slot)
                };
                format!(
                    "server {} learning {:?} (slot {}) as log entry {at}{base}",
                    usize::from(id),
                    entry.command,
                    entry.slot
                )
            }
            // The snapshot's state machine is judged by "log consistency" (`replay`): here,
            // that the slot it covers has a chosen command at all.
            Learned::Snapshot if chosen.is_empty() => format!(
                "server {} learning slot {i} from a snapshot",
                usize::from(id)
            ),
            _ => continue,
        };
        refinement.consensus = Some(Illegal {
            action,
            reason: format!(
                "the log is the sequence of Consensus instances, and slot {i} has chosen \
                 {chosen:?}"
            ),
        });
    }
    if refinement != after.history.refinement {
        Arc::make_mut(&mut after.history).refinement = refinement;
    }
}

/// With [`MultiPaxosConfig::max_lost`]: counts the phase 2 messages lost, and marks the loss
/// of any other message, which the configuration excludes. A loss is stateright's `Drop`
/// step, told by the step itself: on an ordered network, losing a channel's head and
/// delivering it to an actor it leaves unchanged lead to the same state.
fn judge_loss(step: &ActionOf<MultiPaxosActor>, after: &mut MultiPaxosModelState) {
    let ActorModelAction::Drop(env) = step else {
        return;
    };
    let excluded = !matches!(env.msg, Msg::Accept { .. } | Msg::Accepted { .. });
    let history = Arc::make_mut(&mut after.history);
    let (count, outside) = history.lost;
    history.lost = (count.saturating_add(1), outside || excluded);
}

/// Witness: a server that does not lead followed a current leader's heartbeat (a step did).
fn heartbeat_followed(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.heartbeat.0
}

/// Witness: a server handed the leader the requests it had queued for want of one (a step
/// did, on the leader's heartbeat).
fn queued_handed_over(_: &MultiPaxosModel, state: &MultiPaxosModelState) -> bool {
    state.history.heartbeat.1
}

/// Marks the step that delivers a current leader's `Heartbeat` to a server that does not lead
/// (it puts off its election: the heartbeat path of `handle_heartbeat`), and the one where
/// such a server hands the leader the requests it had queued ([`Ghost::heartbeat`]).
fn judge_heartbeat(
    step: &ActionOf<MultiPaxosActor>,
    before: &MultiPaxosModelState,
    after: &mut MultiPaxosModelState,
) {
    let ActorModelAction::Deliver {
        dst,
        msg: Msg::Heartbeat { ballot, .. },
        ..
    } = step
    else {
        return;
    };
    let server = |state: &MultiPaxosModelState| {
        protocol_actors(state)
            .find(|(id, _)| id == dst)
            .map(|(_, node)| {
                (
                    node.state.acceptor.promised,
                    node.state.proposer.queue.is_empty(),
                    node.state.is_leader(),
                )
            })
    };
    let (Some((promised, had_none, _)), Some((_, has_none, leads))) =
        (server(before), server(after))
    else {
        return;
    };
    let followed = *ballot >= promised && !leads;
    let handed = followed && !had_none && has_none;
    let (had_followed, had_handed) = after.history.heartbeat;
    if (followed && !had_followed) || (handed && !had_handed) {
        let history = Arc::make_mut(&mut after.history);
        history.heartbeat = (had_followed || followed, had_handed || handed);
    }
}

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

    /// The most `Accept`s a leader sends at once and the most slots one catch-up answer sends
    /// ([`MultiPaxosActor::burst`]).
    fn burst(&self) -> usize {
        self.burst.or(self.piece).unwrap_or(self.slots as usize)
    }

    /// Checks the sizes make sense, with a message that says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("a model needs at least one server".to_owned());
        }
        if self.clients == 0 || self.clients > 26 {
            return Err("clients must be between 1 and 26 (client k writes 'A' + k)".to_owned());
        }
        if self.ballots == 0 {
            return Err("ballots must be at least 1: no leader is elected without one".to_owned());
        }
        if self.slots == 0 {
            return Err("slots must be at least 1: the log needs room for a command".to_owned());
        }
        if self.max_lost.is_some()
            && (!self.lossy || self.network == NetworkKind::UnorderedDuplicating)
        {
            return Err(
                "max_lost bounds the loss of a lossy network that does not duplicate: set \
                 lossy = true and network = \"ordered\" or \"unordered-nonduplicating\", \
                 or drop max_lost"
                    .to_owned(),
            );
        }
        if self.lose_chosen && !self.lossy {
            return Err(
                "lose_chosen makes the network lose every Chosen: set lossy = true, \
                        or drop lose_chosen"
                    .to_owned(),
            );
        }
        if self.max_crashes >= self.servers {
            return Err("max_crashes must leave at least one server up".to_owned());
        }
        if self.snapshot_after == Some(0) || self.snapshot_piece == Some(0) {
            return Err(
                "snapshot_after and snapshot_piece must be at least 1: a snapshot covers an \
                 applied slot and a piece carries an entry (drop snapshot_after for none)"
                    .to_owned(),
            );
        }
        if self.window == Some(0) || self.batch == Some(0) {
            return Err(
                "window and batch must be at least 1: a leader needs a slot in flight \
                 and a slot holds a command"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// One line describing the configuration.
    pub fn summary(&self) -> String {
        let mut faults = self.faults().to_string();
        let phase_2 = |max| match max {
            0 => "nothing else".to_owned(),
            1 => "at most 1 Accept or Accepted".to_owned(),
            n => format!("at most {n} Accepts or Accepteds"),
        };
        match (self.max_lost, self.lose_chosen) {
            (Some(0), false) => faults += " (but no message lost)",
            (Some(max), false) => faults += &format!(" ({} lost)", phase_2(max)),
            (Some(max), true) => faults += &format!(" (every Chosen lost, and {})", phase_2(max)),
            (None, true) => faults += " (every Chosen lost, and any other message)",
            (None, false) => {}
        }
        if let Some(after) = self.snapshot_after {
            let piece = match self.snapshot_piece.or(self.piece) {
                Some(piece) => format!("in pieces of {piece}"),
                None => "whole".to_owned(),
            };
            faults += &format!(", a snapshot every {after} applied slots (sent {piece})");
        }
        let retries = harness::resends_in_words(self.client_retries.into());
        format!(
            "Multi-Paxos, {}: {} servers; {} {} ({retries}); {faults}; {}; at most {} in \
             all",
            harness::variant_in_words(&self.variant),
            self.servers,
            harness::count_in_words(self.clients, "client", "clients"),
            if self.reads {
                "writing then reading"
            } else {
                "writing"
            },
            harness::count_in_words(self.slots as usize, "slot", "slots"),
            harness::count_in_words(self.ballots as usize, "ballot", "ballots"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalogue::{self, ProtocolModel};
    use crate::model::harness::{assert_judged_anew, explore};
    use crate::protocol::multi_paxos::{MultiPaxosState, Snapshot};
    use std::sync::Arc;

    fn put(client: usize, request: RequestId, value: char) -> ClientCommand {
        ClientCommand {
            client: Id::from(client),
            request,
            op: KvOp::Put { key: KEY, value },
        }
    }

    fn applied(slot: Slot, cc: &ClientCommand, executed: bool) -> Applied {
        Applied {
            slot,
            command: Command::Batch(vec![cc.clone()].into()),
            executed: vec![executed],
        }
    }

    // Reference: §2.2 P1a, judged per event: a promise of (3, 1) followed, in the same step,
    // by an acceptance of (2, 0) breaks it; the other order does not.
    #[test]
    fn an_acceptance_after_a_higher_promise_in_one_step_breaks_p1a() {
        let ballot = |round, proposer: usize| Ballot {
            round,
            proposer: Id::from(proposer),
        };
        let promise = Msg::Promise {
            ballot: ballot(3, 1),
            accepted: BTreeMap::new(),
            more: None,
            snapshot: 0,
        };
        let proposal = Proposal {
            ballot: ballot(2, 0),
            command: Command::Noop,
        };
        let accepted = Msg::Accepted { slot: 0, proposal };
        let (held, had) = (ballot(2, 0), BTreeSet::new());
        let promise_then_accept = [promise.clone(), accepted.clone()];
        assert!(breaks_p1a_in_order(held, &promise_then_accept, &had));
        assert!(!breaks_p1a_in_order(held, &[accepted, promise], &had));
    }

    /// A server that applied `a` in slot 0, took a snapshot there, and applied `log` after
    /// it.
    fn after_snapshot(a: &ClientCommand, log: Vec<Applied>) -> MultiPaxosState {
        let mut machine = StateMachine::default();
        machine.apply(a, true);
        let mut state = MultiPaxosState::default();
        state.replica.base = 1;
        state.replica.log = log;
        state.acceptor.snapshot = Arc::new(Snapshot { upto: 1, machine });
        state
    }

    /// The model of catalogue model `name`, and every state it reaches.
    fn explored(name: &str, most: usize) -> (MultiPaxosModel, Vec<MultiPaxosModelState>) {
        let loaded = catalogue::load(Some(name)).expect("a catalogue model");
        let ProtocolModel::MultiPaxos(config) = loaded.file.model else {
            panic!("{name} is a Multi-Paxos model");
        };
        let model = config.into_model();
        let states = explore(&model, most);
        (model, states)
    }

    /// Whether a message `matches` can be delivered to a server whose state `to` accepts: how
    /// the witnesses read the network before they were judged on steps.
    fn deliverable(
        state: &MultiPaxosModelState,
        matches: impl Fn(&Msg) -> bool,
        to: impl Fn(&Msg, &MultiPaxosState) -> bool,
    ) -> bool {
        state.network.iter_deliverable().any(|env| {
            matches(env.msg) && servers(state).any(|s| s.id == env.dst && to(env.msg, s.state))
        })
    }

    // Reference: §2.2 P1a, "it should probably inform the proposer": the leader handled the
    // refusal; one only in flight is not it yet.
    #[test]
    fn accept_refused_is_a_refusal_the_leader_handled() {
        let (model, states) = explored("multi-paxos-3-servers-2-clients-1-slot-ordered", 20_000);
        let old = |s: &MultiPaxosModelState| {
            let refused = |m: &Msg| matches!(m, Msg::Rejected { slot: Some(_), .. });
            deliverable(s, refused, |_, _| true)
        };
        assert_judged_anew(&model, &states, old, accept_refused);
    }

    // Reference: §3's phase 1 "for infinitely many instances", reported in pieces: the
    // candidate kept a piece and asked for the rest.
    #[test]
    fn promise_in_pieces_is_a_piece_the_candidate_kept() {
        let (model, states) = explored("multi-paxos-3-servers-1-client-promise-pieces", 60_000);
        let old = |s: &MultiPaxosModelState| {
            let piece = |m: &Msg| matches!(m, Msg::Promise { more: Some(_), .. });
            deliverable(s, piece, |_, _| true)
        };
        assert_judged_anew(&model, &states, old, promise_in_pieces);
    }

    // Reference: §3, a replica that learns a slot past a gap catches up: a server answered a
    // request for 2+ slots with 2+ of them (here its snapshot, which covers the gap).
    #[test]
    fn catch_up_of_2_slots_is_an_answer_sent() {
        let (model, states) = explored("multi-paxos-3-servers-2-clients-gap-snapshot", 150_000);
        let old = |s: &MultiPaxosModelState| {
            let gap = |m: &Msg| matches!(m, Msg::CatchUp { from, to } if *to >= from + 2);
            let knows = |m: &Msg, server: &MultiPaxosState| {
                let (Msg::CatchUp { from, to }, replica) = (m, &server.replica) else {
                    return false;
                };
                if *from < replica.base {
                    *to <= replica.base
                } else {
                    (*from..*to).all(|slot| replica.chosen.contains_key(&slot))
                }
            };
            deliverable(s, gap, knows)
        };
        assert_judged_anew(&model, &states, old, catch_up_of_2_slots);
    }

    /// The snapshot model: one slot, snapshots sent a piece of one entry at a time.
    const SNAPSHOTS: &str = "multi-paxos-3-servers-2-clients-1-slot-snapshot";

    // Reference: §3 (phase 1 from the first slot not known chosen), with snapshots: the
    // candidate handled a promise naming a snapshot above its `from`.
    #[test]
    fn promise_names_a_snapshot_is_a_promise_the_candidate_handled() {
        let (model, states) = explored(SNAPSHOTS, 20_000);
        let old = |s: &MultiPaxosModelState| {
            let names = |m: &Msg, server: &MultiPaxosState| match (m, &server.proposer.role) {
                (Msg::Promise { snapshot, .. }, Role::Candidate { from, .. }) => snapshot > from,
                _ => false,
            };
            deliverable(s, |_| true, names)
        };
        assert_judged_anew(&model, &states, old, promise_names_snapshot);
    }

    /// The old reading of "caught up from a snapshot": the piece that would complete a
    /// snapshot can be delivered to a replica that has not applied the slots it covers.
    fn completing_piece_deliverable(state: &MultiPaxosModelState) -> bool {
        let completes = |m: &Msg, server: &MultiPaxosState| {
            let Msg::Snapshot {
                upto,
                at,
                entries,
                total,
            } = m
            else {
                return false;
            };
            let replica = &server.replica;
            let has = (replica.incoming.as_ref())
                .filter(|incoming| incoming.upto == *upto)
                .map_or(0, |incoming| incoming.len());
            at + entries.len() >= *total && replica.applied() < *upto && (*at == 0 || has == *at)
        };
        deliverable(state, |_| true, completes)
    }

    // Reference: §3, "the ith state machine command in the sequence": a snapshot received
    // stands for them; the replica installed it.
    #[test]
    fn caught_up_from_a_snapshot_is_a_snapshot_installed() {
        let (model, states) = explored(SNAPSHOTS, 20_000);
        assert_judged_anew(
            &model,
            &states,
            completing_piece_deliverable,
            caught_up_from_snapshot,
        );
    }

    // Reference: §3, a leader's slot that is chosen leaves its window: the leader installed
    // the snapshot an acceptor answered its accept with.
    #[test]
    fn leader_behind_a_snapshot_is_a_snapshot_the_leader_installed() {
        let (model, states) = explored(SNAPSHOTS, 20_000);
        let old = |s: &MultiPaxosModelState| {
            let behind = |m: &Msg, server: &MultiPaxosState| match (m, &server.proposer.role) {
                (Msg::Snapshot { upto, .. }, Role::Leader { in_flight, .. }) => {
                    in_flight.range(..*upto).next().is_some()
                }
                _ => false,
            };
            deliverable(s, |_| true, behind)
        };
        assert_judged_anew(&model, &states, old, leader_behind_snapshot);
    }

    // Reference: a snapshot is sent in pieces so that no datagram grows with the store: the
    // replica holds a piece and asked for the rest.
    #[test]
    fn snapshot_in_pieces_is_a_piece_the_replica_holds() {
        let (model, states) = explored(SNAPSHOTS, 20_000);
        let old = |s: &MultiPaxosModelState| {
            let asks = |m: &Msg| matches!(m, Msg::SnapshotFrom { at, .. } if *at > 0);
            deliverable(s, asks, |_, _| true)
        };
        assert_judged_anew(&model, &states, old, snapshot_in_pieces);
    }

    // Reference: at most once (spec/multi-paxos.md), across a snapshot: the request ran
    // before the snapshot, whose table holds it, and runs again after it.
    #[test]
    fn a_request_run_before_and_after_a_snapshot_runs_twice() {
        let (a, b) = (put(3, 1, 'A'), put(4, 1, 'B'));
        let again = after_snapshot(&a, vec![applied(1, &a, true)]);
        let snapshot = &again.acceptor.snapshot.machine;
        assert_eq!(run_twice(&again.replica, snapshot), vec![a.clone()]);
        // Caught by the table (not run), or another client's request: once.
        let caught = after_snapshot(&a, vec![applied(1, &a, false), applied(2, &b, true)]);
        let snapshot = &caught.acceptor.snapshot.machine;
        assert!(run_twice(&caught.replica, snapshot).is_empty());
        // No snapshot: twice in the log.
        let mut twice = MultiPaxosState::default();
        twice.replica.log = vec![applied(0, &a, true), applied(1, &a, true)];
        let none = StateMachine::default();
        assert_eq!(run_twice(&twice.replica, &none), vec![a]);
    }

    // Reference: §3, commands are executed in slot order: entry i of a truncated log is slot
    // base + i, and the snapshot below it is the chosen prefix applied.
    #[test]
    fn a_truncated_log_is_judged_by_slot_and_its_snapshot_by_the_chosen_prefix() {
        let (a, b) = (put(3, 1, 'A'), put(4, 1, 'B'));
        let (ca, cb) = (
            Command::Batch(vec![a.clone()].into()),
            Command::Batch(vec![b.clone()].into()),
        );
        let chosen: BTreeMap<Slot, BTreeSet<&Command>> =
            [(0, BTreeSet::from([&ca])), (1, BTreeSet::from([&cb]))].into();
        let good = after_snapshot(&a, vec![applied(1, &b, true)]);
        assert!(applied_prefix_consistent(&good, &chosen, true));
        // The entry of slot 1 said to be slot 0's (its position, not its slot).
        let shifted = after_snapshot(&a, vec![applied(0, &b, true)]);
        assert!(!applied_prefix_consistent(&shifted, &chosen, true));
        // A snapshot of another command than slot 0's.
        let wrong = after_snapshot(&b, vec![applied(1, &b, true)]);
        assert!(!applied_prefix_consistent(&wrong, &chosen, true));
        // A snapshot that is not at the replica's base.
        let mut moved = good.clone();
        moved.replica.base = 0;
        moved.replica.log.clear();
        assert!(!applied_prefix_consistent(&moved, &chosen, true));
        // Two commands chosen in a slot below the snapshot: no prefix to compare with.
        let both: BTreeMap<Slot, BTreeSet<&Command>> =
            [(0, BTreeSet::from([&ca, &cb])), (1, BTreeSet::from([&cb]))].into();
        assert!(!applied_prefix_consistent(&good, &both, true));
        assert_eq!(
            replay(&chosen, 1, true),
            Some(good.acceptor.snapshot.machine.clone())
        );
    }
}
