//! What both model harnesses share: the actor that wraps a protocol actor with its ghost
//! record ([`Node`], [`Observed`], [`Trail`]), the network settings, and the plumbing that
//! turns a table of properties into a model's.
//!
//! A protocol harness supplies three things: its [`Trail`] (what the properties must remember
//! of each protocol actor), its [`Client`], and its properties as one table of stateright
//! [`Property`] values; the [`Actor`] that runs them is [`Node`], written once here.
use super::checked::{ActionOf, CheckedState};
use crate::protocol::ballot::quorum;
use crate::protocol::self_delivery::Handlers;
use serde::{Deserialize, Serialize};
use stateright::actor::{
    Actor, ActorModel, ActorModelAction, ActorModelState, Command, Envelope, Id, LossyNetwork,
    Network, Out, Timers,
};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};
use stateright::{Expectation, Model, Property};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::Arc;

/// Message delivery semantics, as stateright's [`Network`] offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkKind {
    /// Each channel delivers in order, without loss or duplication.
    Ordered,
    /// Any message in flight may arrive next, and again later.
    UnorderedDuplicating,
    /// Any message in flight may arrive next, once.
    UnorderedNonduplicating,
}

impl NetworkKind {
    /// An empty network of this kind.
    pub fn network<M: Eq + Hash + Clone>(self) -> Network<M> {
        match self {
            NetworkKind::Ordered => Network::new_ordered([]),
            NetworkKind::UnorderedDuplicating => Network::new_unordered_duplicating([]),
            NetworkKind::UnorderedNonduplicating => Network::new_unordered_nonduplicating([]),
        }
    }
}

/// As a model's one-line summary says it.
impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Ordered => "ordered",
            NetworkKind::UnorderedDuplicating => "unordered duplicating",
            NetworkKind::UnorderedNonduplicating => "unordered non-duplicating",
        })
    }
}

/// Every message in `network`. stateright 0.31's `Network::iter_all` never ends on an ordered
/// network (its cursor does not advance past a channel's first message): those channels are
/// walked here, each message once. Elsewhere it is `iter_all`, which on an unordered
/// non-duplicating network yields a message held `n > 1` times `n + 1` times (kept as it is:
/// `copies_bounded` in the Multi-Paxos model, and the liveness model's pin, count that way;
/// spec/multi-paxos.md, "What the model shows").
pub(crate) fn envelopes<M: Eq + Hash>(network: &Network<M>) -> impl Iterator<Item = Envelope<&M>> {
    match network {
        Network::Ordered(channels) => {
            itertools::Either::Left(channels.iter().flat_map(|(&(src, dst), msgs)| {
                msgs.iter().map(move |msg| Envelope { src, dst, msg })
            }))
        }
        network => itertools::Either::Right(network.iter_all()),
    }
}

/// The faults a model allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Faults {
    /// How the network delivers.
    pub(crate) network: NetworkKind,
    /// Whether the network may also lose any message.
    pub(crate) lossy: bool,
    /// How many actors may be down at once.
    pub(crate) max_crashes: usize,
}

/// As a model's one-line summary says them: "unordered duplicating network with loss, at
/// most 1 server down at a time".
impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loss = if self.lossy {
            " with loss"
        } else {
            ", no loss"
        };
        let crashes = match self.max_crashes {
            0 => "no crashes".to_owned(),
            1 => "at most 1 server down at a time".to_owned(),
            n => format!("at most {n} servers down at a time"),
        };
        write!(f, "{} network{loss}, {crashes}", self.network)
    }
}

/// A protocol variant in words, by the name model files give it: "the correct protocol", or
/// "the broken variant forget-accepted".
pub fn variant_in_words(variant: &impl Serialize) -> String {
    let name = serde_json::to_value(variant)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unnamed".to_owned());
    if name == "correct" {
        "the correct protocol".to_owned()
    } else {
        format!("the broken variant {name}")
    }
}

/// A client's resends in words: "no resends", "up to 2 resends".
pub fn resends_in_words(n: u32) -> String {
    match n {
        0 => "no resends".to_owned(),
        n => format!("up to {n} resends"),
    }
}

/// `n` things in words: "no clients", "1 client", "2 clients".
pub fn count_in_words(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// A model file's configuration, as the shared harness needs it.
pub(crate) trait Config: Clone {
    /// The faults the model allows.
    fn faults(&self) -> Faults;
}

/// A model's configuration as its properties and its boundary see it.
#[derive(Clone, Debug)]
pub struct ModelCfg<C> {
    /// The configuration the model was built from.
    pub config: C,
    /// The acceptors (in Multi-Paxos, every server).
    pub acceptors: Vec<Id>,
    /// The clients.
    pub clients: Vec<Id>,
}

impl<C> ModelCfg<C> {
    /// A true majority of the acceptors, whatever quorum a broken variant uses.
    pub fn majority(&self) -> usize {
        quorum(self.acceptors.len())
    }

    /// Whether every client is up: the models never crash a client (its history would end
    /// with a call that never returns).
    pub(crate) fn clients_up<A: Actor, H>(&self, state: &ActorModelState<A, H>) -> bool {
        self.clients.iter().all(|c| !state.crashed[usize::from(*c)])
    }
}

/// The clients' calls and their returns, judged for linearizability against the sequential
/// specification `S`; `R` numbers a client's requests. Part of both models' history.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Calls<S, R>
where
    S: SequentialSpec,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    /// The request each client is waiting on, so that only the reply it consumes is recorded.
    pub awaiting: BTreeMap<Id, R>,
    /// Whether the history was linearizable after its last return.
    pub linearizable: bool,
    /// What is kept of the history to judge the next returns.
    pub record: CallRecord<S>,
}

/// What [`Calls`] keeps of the history to judge linearizability.
#[derive(Clone, Debug, PartialEq, Hash)]
pub enum CallRecord<S>
where
    S: SequentialSpec,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    /// The whole history, in stateright's [`LinearizabilityTester`], which searches it for a
    /// linearization at each return. States that differ only in the order of past calls and
    /// returns stay apart.
    Full(LinearizabilityTester<Id, S>),
    /// Only what decides every later verdict ([`Linearizations`]): the
    /// [`Reduction::HistorySummary`](crate::model::check::Reduction) reduction.
    Summary(Linearizations<S>),
}

impl<S, R> Calls<S, R>
where
    S: SequentialSpec + Clone + Hash + PartialEq,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
    R: Eq,
{
    /// No calls yet, on an object that starts as `init`, judged on the summary.
    pub(crate) fn new(init: S) -> Self {
        Calls {
            awaiting: BTreeMap::new(),
            linearizable: true,
            record: CallRecord::Summary(Linearizations::new(init)),
        }
    }

    /// Keeps the whole history instead of the summary (before any call).
    pub(crate) fn keep_full_history(&mut self) {
        let CallRecord::Summary(summary) = &self.record else {
            return;
        };
        assert!(
            self.awaiting.is_empty() && summary.pending.is_empty(),
            "the record is chosen before the first call"
        );
        let init = summary.ways[0].object.clone();
        self.record = CallRecord::Full(LinearizabilityTester::new(init));
    }

    /// Whether `client` is waiting on the reply to `request`: a client ignores any other
    /// reply (a duplicate or a stale one), so that only this one is a return.
    pub(crate) fn awaits(&self, client: Id, request: &R) -> bool {
        self.awaiting.get(&client) == Some(request)
    }

    /// Records that `client` called `op` with its request `request`.
    pub(crate) fn invoke(&mut self, client: Id, request: R, op: S::Op) {
        self.awaiting.insert(client, request);
        match &mut self.record {
            CallRecord::Full(tester) => {
                let _ = tester.on_invoke(client, op);
            }
            CallRecord::Summary(summary) => summary.invoke(client, op),
        }
    }

    /// Records that the call `client` awaits returned `ret`.
    pub(crate) fn ret(&mut self, client: Id, ret: S::Ret) {
        self.awaiting.remove(&client);
        // Only a return can make a history non-linearizable, and it stays so: judge it once
        // here.
        self.linearizable = match &mut self.record {
            CallRecord::Full(tester) => {
                let _ = tester.on_return(client, ret);
                tester.serialized_history().is_some()
            }
            CallRecord::Summary(summary) => summary.ret(client, &ret),
        };
    }
}

/// A history of calls summarised by the ways it can be linearized so far: Lowe's
/// "just-in-time" linearizability check (*Testing for linearizability*, 2017). A way is the
/// object's state after the calls that have taken effect, with the result of each pending
/// call that has already taken effect. Every pending call may take effect at any moment
/// before it returns, so the set of ways is kept closed under "one more pending call takes
/// effect"; a return keeps the ways in which the call took effect with the result returned.
/// The history is linearizable exactly when some way remains. Two histories with the same
/// pending calls and the same ways have the same verdict after any continuation, so the
/// order of past calls need not be kept (spec/reductions.md).
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Linearizations<S>
where
    S: SequentialSpec,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    /// The calls invoked and not yet returned, by client.
    pub pending: BTreeMap<Id, S::Op>,
    /// The ways, each once, in a canonical order (by fingerprint) so that equal sets are equal.
    pub ways: Vec<Way<S>>,
}

/// One way a history can have been linearized: see [`Linearizations`].
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Way<S>
where
    S: SequentialSpec,
    S::Ret: Clone + Debug + Hash,
{
    /// The object after the calls that took effect.
    pub object: S,
    /// The result of each pending call that already took effect.
    pub took_effect: BTreeMap<Id, S::Ret>,
}

impl<S> Linearizations<S>
where
    S: SequentialSpec + Clone + Hash + PartialEq,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    fn new(init: S) -> Self {
        Linearizations {
            pending: BTreeMap::new(),
            ways: vec![Way {
                object: init,
                took_effect: BTreeMap::new(),
            }],
        }
    }

    /// `client` calls `op`: it may take effect from now on, in any way and after any of the
    /// other pending calls.
    fn invoke(&mut self, client: Id, op: S::Op) {
        self.pending.insert(client, op);
        let mut todo = std::mem::take(&mut self.ways);
        let mut closed: Vec<Way<S>> = Vec::new();
        while let Some(way) = todo.pop() {
            if closed.contains(&way) {
                continue;
            }
            for (client, op) in &self.pending {
                if way.took_effect.contains_key(client) {
                    continue;
                }
                let mut next = way.clone();
                let ret = next.object.invoke(op);
                next.took_effect.insert(*client, ret);
                todo.push(next);
            }
            closed.push(way);
        }
        self.ways = canonical(closed);
    }

    /// `client`'s call returned `ret`: keeps the ways where it took effect with that result.
    /// Returns whether the history is still linearizable.
    fn ret(&mut self, client: Id, ret: &S::Ret) -> bool {
        self.pending.remove(&client);
        let ways = std::mem::take(&mut self.ways)
            .into_iter()
            .filter_map(|mut way| (way.took_effect.remove(&client)? == *ret).then_some(way))
            .collect::<Vec<_>>();
        self.ways = canonical(ways);
        !self.ways.is_empty()
    }
}

/// `ways` without repeats, ordered by fingerprint (equal fingerprints keep their order: at
/// worst two equal sets then differ in order, which keeps apart states that could be one).
fn canonical<S>(ways: Vec<Way<S>>) -> Vec<Way<S>>
where
    S: SequentialSpec + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    let mut keyed: Vec<(u64, Way<S>)> = ways
        .into_iter()
        .map(|way| {
            let mut h = std::hash::DefaultHasher::new();
            way.hash(&mut h);
            (std::hash::Hasher::finish(&h), way)
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    let mut out: Vec<Way<S>> = Vec::with_capacity(keyed.len());
    for (_, way) in keyed {
        if !out.contains(&way) {
            out.push(way);
        }
    }
    out
}

/// A protocol actor's ghost record: everything it ever did that its own state may since have
/// overwritten, which the safety properties are judged on. The harness keeps it beside the
/// actor's state and in its storage, so that it survives crashes; the protocol never reads it.
pub trait Trail<A: Actor>: Clone + Debug + Default + Eq + Ord + Hash + Serialize {
    /// What the properties keep of the trail the actor last (re)started with: kept in its
    /// state, never saved. `()` where they need nothing.
    type Start: Clone + Debug + Eq + Ord + Hash + Serialize;

    /// What [`Trail::observe`] must know of the step that sent a message, judged before the
    /// step runs. `()` where it needs nothing; a timeout's step is the default.
    type Step: Copy + Default;

    /// What to keep of `restored`, the trail the actor starts with (none at the first start),
    /// given the `actor` and `saved`, the storage it starts from.
    fn start(restored: Option<&Self>, actor: &A, saved: Option<&A::Storage>) -> Self::Start;

    /// The step that delivers `msg` to an actor in `state`.
    fn step(state: &A::State, msg: &A::Msg) -> Self::Step {
        let _ = (state, msg);
        Self::Step::default()
    }

    /// Records `sent`, a message the actor sent during `step` (to itself included).
    fn observe(&mut self, step: Self::Step, sent: &A::Msg);

    /// Records what the actor's `state` after a step shows. Takes the trail as a [`Cow`] so
    /// that the trail is copied only when it changes: a trail that is not copied, with nothing
    /// sent and nothing saved, leaves the actor's storage as it was.
    fn settle(trail: &mut Cow<'_, Self>, state: &A::State) {
        let _ = (trail, state);
    }
}

/// A protocol actor the model can run: names the ghost record the model keeps for it.
pub trait Recorded: Handlers<Random = ()> {
    /// The actor's ghost record.
    type Trail: Trail<Self>;
}

/// A client of a protocol's service in the model, written by the protocol's harness. Its
/// handlers are an [`Actor`]'s, for the client's own part of a [`Node`].
pub trait Client: Clone + Debug + Eq + Hash + Sized {
    /// The protocol actor the client talks to.
    type Protocol: Recorded;

    /// The client's state: put its [`Id`] first, so that sorting actor states (the symmetry
    /// reduction does) never reorders clients.
    type State: Clone + Debug + Eq + Ord + Hash + Serialize;

    /// Starts the client: its first request.
    fn on_start(&self, id: Id, o: &mut ClientOut<Self>) -> Self::State;

    /// Handles a reply.
    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        msg: MsgOf<Self>,
        o: &mut ClientOut<Self>,
    );

    /// Whether the client, in `state`, ignores `msg` now and in every state it can reach
    /// (clients never restart): see [`Handlers::ignores_forever`]. No message is, unless
    /// the client says so.
    fn ignores_forever(&self, state: &Self::State, msg: &MsgOf<Self>) -> bool {
        let _ = (state, msg);
        false
    }

    /// Handles a timeout. By default a client sets no timers.
    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        timer: &<Self::Protocol as Actor>::Timer,
        o: &mut ClientOut<Self>,
    ) {
        let _ = (id, state, timer, o);
    }
}

/// The message type of client `C`'s protocol.
pub type MsgOf<C> = <<C as Client>::Protocol as Actor>::Msg;

/// Where client `C` sends its messages and sets its timers: the commands of its protocol's
/// actor, which its [`Node`] forwards with each timer tagged ([`Owned`]).
pub type ClientOut<C> = Out<<C as Client>::Protocol>;

/// A timer of a model's actor, tagged with the actor that holds it.
///
/// The tag works around a hashing bug in stateright 0.31. `HashableHashSet`'s `impl Hash`
/// (src/util.rs) writes the sorted hashes of its elements into the hasher, and not how many
/// there are. A model state keeps its timers as `timers_set: Vec<Timers<T>>`, one set per
/// actor (`Timers<T>` wraps a `HashableHashSet<T>`); the `Vec` writes its own length, but
/// then only the concatenation of its sets' element hashes, so where one set ends and the
/// next begins is lost. Two states that differ only in which actor holds a timer (actor 0
/// holds `Retry` and actor 1 nothing, or actor 0 nothing and actor 1 `Retry`) write the same
/// stream: the same fingerprint, and the checker takes them for one state and explores only
/// the first it meets. With the holder in each timer's hash the streams differ (barring a
/// 64-bit collision), so the sets are told apart again. The tag can go once stateright
/// hashes a set's length (`harness::tests` shows whether it still does not).
///
/// Shown (`Debug`) and serialized as the bare timer, so that the Explorer and the traces of
/// counterexamples read as without the tag.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owned<T> {
    /// The actor that set the timer.
    pub owner: Id,
    /// The timer as the actor set it.
    pub timer: T,
}

impl<T: Debug> Debug for Owned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.timer.fmt(f)
    }
}

impl<T: Serialize> Serialize for Owned<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.timer.serialize(serializer)
    }
}

/// `timers`, the timers of one actor, tagged as held by `owner` instead: the symmetry
/// reduction moves an actor's timers with the actor to its new id.
pub(crate) fn owned_by<T: Clone + Eq + Hash>(
    timers: &Timers<Owned<T>>,
    owner: Id,
) -> Timers<Owned<T>> {
    let mut moved = Timers::new();
    for t in timers.iter() {
        moved.set(Owned {
            owner,
            timer: t.timer.clone(),
        });
    }
    moved
}

/// An actor of a model: a protocol actor, run with its ghost record, or a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node<A, C> {
    /// The unmodified protocol actor that also runs on UDP.
    Protocol(A),
    /// A client of the service.
    Client(C),
}

/// A protocol actor's state in the model: its own state, its ghost record, and what it last
/// saved. Compared, hashed and ordered field by field in this order.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Observed<S, T, St, R> {
    /// The actor's own state.
    pub state: S,
    /// Its ghost record.
    pub trail: T,
    /// What the actor last saved: the harness re-saves it with every new trail.
    pub saved: Option<St>,
    /// What the trail said when the actor last started ([`Trail::Start`]).
    pub at_start: R,
}

/// Shows `at_start` only where the trail keeps something there: a `()` would be noise in the
/// Explorer.
impl<S: Debug, T: Debug, St: Debug, R: Debug> Debug for Observed<S, T, St, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Observed");
        out.field("state", &self.state)
            .field("trail", &self.trail)
            .field("saved", &self.saved);
        if std::mem::size_of::<R>() > 0 {
            out.field("at_start", &self.at_start);
        }
        out.finish()
    }
}

/// The [`Observed`] state of protocol actor `A`.
pub type ObservedOf<A> = Observed<
    <A as Actor>::State,
    <A as Recorded>::Trail,
    <A as Actor>::Storage,
    <<A as Recorded>::Trail as Trail<A>>::Start,
>;

/// The state of a [`Node`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[allow(clippy::large_enum_variant)] // Boxing would cost an allocation per step.
pub enum NodeState<P, C> {
    /// A protocol actor's [`Observed`] state.
    Protocol(P),
    /// A client's state.
    Client(C),
}

/// A protocol actor's storage in the model: what the actor saved, and its trail.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeStorage<T, St> {
    /// What the actor saved, if it saved anything yet.
    pub saved: Option<St>,
    /// The actor's ghost record at its last step.
    pub trail: T,
}

/// The state of actor [`Node<A, C>`].
pub type StateOf<A, C> = NodeState<ObservedOf<A>, <C as Client>::State>;

impl<A: Recorded, C: Client<Protocol = A>> Actor for Node<A, C> {
    type Msg = A::Msg;
    type State = StateOf<A, C>;
    type Timer = Owned<A::Timer>;
    type Random = ();
    type Storage = NodeStorage<A::Trail, A::Storage>;

    fn name(&self) -> String {
        match self {
            Node::Protocol(actor) => actor.name(),
            Node::Client(_) => "Client".to_owned(),
        }
    }

    fn on_start(&self, id: Id, storage: &Option<Self::Storage>, o: &mut Out<Self>) -> Self::State {
        match self {
            Node::Protocol(actor) => {
                let (saved, trail) = match storage {
                    Some(NodeStorage { saved, trail }) => (saved.clone(), trail.clone()),
                    None => (None, A::Trail::default()),
                };
                let restored = storage.as_ref().map(|s| &s.trail);
                let at_start = A::Trail::start(restored, actor, saved.as_ref());
                let mut out = Out::new();
                let state = actor.on_start(id, &saved, &mut out);
                let resaved = forward_except_saves(id, out, o);
                assert!(
                    resaved.is_none(),
                    "a protocol actor saves nothing on start: it has just restored its storage"
                );
                NodeState::Protocol(Observed {
                    state,
                    trail,
                    saved,
                    at_start,
                })
            }
            Node::Client(client) => {
                let mut out = Out::new();
                let state = client.on_start(id, &mut out);
                forward_client(id, out, o);
                NodeState::Client(state)
            }
        }
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        src: Id,
        msg: A::Msg,
        o: &mut Out<Self>,
    ) {
        self.step(id, state, Event::Msg(src, msg), o);
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        timer: &Owned<A::Timer>,
        o: &mut Out<Self>,
    ) {
        assert_eq!(timer.owner, id, "an actor's timers are tagged with its id");
        self.step(id, state, Event::Timeout(&timer.timer), o);
    }
}

/// What a step of a [`Node`] handles.
enum Event<'a, A: Actor> {
    /// A message from an actor.
    Msg(Id, A::Msg),
    /// The expiry of a timer.
    Timeout(&'a A::Timer),
}

impl<A: Recorded, C: Client<Protocol = A>> Node<A, C> {
    /// Handles `event` with the protocol actor's observed step or the client's handler.
    fn step(&self, id: Id, state: &mut Cow<StateOf<A, C>>, event: Event<A>, o: &mut Out<Self>) {
        let next = match (self, &**state) {
            (Node::Protocol(actor), NodeState::Protocol(node)) => {
                observed_step(actor, id, node, event, o).map(NodeState::Protocol)
            }
            (Node::Client(client), NodeState::Client(client_state)) => {
                let mut client_state = Cow::Borrowed(client_state);
                let mut out = Out::new();
                match event {
                    Event::Msg(_, msg) => client.on_msg(id, &mut client_state, msg, &mut out),
                    Event::Timeout(timer) => {
                        client.on_timeout(id, &mut client_state, timer, &mut out)
                    }
                }
                forward_client(id, out, o);
                match client_state {
                    Cow::Owned(client_state) => Some(NodeState::Client(client_state)),
                    Cow::Borrowed(_) => None,
                }
            }
            _ => unreachable!("an actor's state is of the actor's kind"),
        };
        if let Some(next) = next {
            *state = Cow::Owned(next);
        }
    }
}

impl<A: Recorded, C: Client<Protocol = A>> Node<A, C> {
    /// The messages this node, actor `id` in `state`, sends when it handles `msg` from `src`
    /// (or, with no message, its `timer`), those it delivers to itself included, in the order
    /// it sends them: the order of its events within the step, which the state after the step
    /// does not show. The step is run again (actors are deterministic); a judge asks for it
    /// only where the order can change its verdict. A client's step shows nothing.
    pub fn sent_in_step(
        &self,
        id: Id,
        state: &StateOf<A, C>,
        event: Result<(Id, A::Msg), &A::Timer>,
    ) -> Vec<A::Msg> {
        let (Node::Protocol(actor), NodeState::Protocol(node)) = (self, state) else {
            return Vec::new();
        };
        let mut sent = Vec::new();
        let mut state = Cow::Borrowed(&node.state);
        let mut observe = |msg: &A::Msg| sent.push(msg.clone());
        match event {
            Ok((src, msg)) => {
                actor.on_msg_observed(id, &mut state, src, msg, &mut Out::new(), &mut observe)
            }
            Err(timer) => {
                actor.on_timeout_observed(id, &mut state, timer, &mut Out::new(), &mut observe)
            }
        }
        sent
    }
}

/// Runs one step of protocol actor `actor`, showing its trail every message sent and saving
/// the trail with the actor's storage whenever either changes. Returns the new state, or
/// `None` when nothing changed (the step then leaves the model state as it was).
fn observed_step<A: Recorded, C: Client<Protocol = A>>(
    actor: &A,
    id: Id,
    node: &ObservedOf<A>,
    event: Event<A>,
    o: &mut Out<Node<A, C>>,
) -> Option<ObservedOf<A>> {
    let mut state = Cow::Borrowed(&node.state);
    let mut trail = Cow::Borrowed(&node.trail);
    let mut out = Out::new();
    // The trail is copied for every message sent, even one it does not record, so that such a
    // step saves the storage again: the model's states depend on it.
    match event {
        Event::Msg(src, msg) => {
            let step = A::Trail::step(&node.state, &msg);
            actor.on_msg_observed(id, &mut state, src, msg, &mut out, &mut |sent| {
                trail.to_mut().observe(step, sent)
            });
        }
        Event::Timeout(timer) => {
            let step = Default::default();
            actor.on_timeout_observed(id, &mut state, timer, &mut out, &mut |sent| {
                trail.to_mut().observe(step, sent)
            });
        }
    }
    A::Trail::settle(&mut trail, &state);
    let mut saved = Cow::Borrowed(&node.saved);
    if let Some(storage) = forward_except_saves(id, out, o) {
        *saved.to_mut() = Some(storage);
    }
    let changed = matches!(trail, Cow::Owned(_)) || matches!(saved, Cow::Owned(_));
    if changed {
        let trail = trail.into_owned();
        let saved = saved.into_owned();
        o.save(NodeStorage {
            saved: saved.clone(),
            trail: trail.clone(),
        });
        Some(Observed {
            state: state.into_owned(),
            trail,
            saved,
            at_start: node.at_start.clone(),
        })
    } else if let Cow::Owned(state) = state {
        Some(Observed {
            state,
            trail: node.trail.clone(),
            saved: node.saved.clone(),
            at_start: node.at_start.clone(),
        })
    } else {
        None
    }
}

/// Forwards the commands of a wrapped protocol actor (or client), the actor `id`, to its
/// [`Node`], each timer tagged with `id` ([`Owned`]), except saves: the last one, if any, is
/// returned for the node to save together with its trail.
fn forward_except_saves<A, W>(id: Id, out: Out<A>, o: &mut Out<W>) -> Option<A::Storage>
where
    A: Actor<Random = ()>,
    W: Actor<Msg = A::Msg, Timer = Owned<A::Timer>>,
{
    let owned = |timer| Owned { owner: id, timer };
    let mut saved = None;
    for command in out {
        match command {
            Command::Save(storage) => saved = Some(storage),
            Command::Send(dst, msg) => o.send(dst, msg),
            Command::SetTimer(timer, duration) => o.set_timer(owned(timer), duration),
            Command::CancelTimer(timer) => o.cancel_timer(owned(timer)),
            Command::ChooseRandom(..) => unreachable!("the protocols make no random choices"),
        }
    }
    saved
}

/// Forwards the commands of client `id` to its [`Node`], as [`forward_except_saves`] does.
fn forward_client<A, W>(id: Id, out: Out<A>, o: &mut Out<W>)
where
    A: Actor<Random = ()>,
    W: Actor<Msg = A::Msg, Timer = Owned<A::Timer>>,
{
    let saved = forward_except_saves(id, out, o);
    assert!(saved.is_none(), "a client saves nothing");
}

/// Whether actor `dst` of `actors`, in its state of `states`, ignores `msg` from `src` now and
/// in every state it can reach, a reply to it included: the message can never change
/// anything (spec/reductions.md, R4). `restarts`: whether actors may yet restart.
pub(crate) fn inert<A: Recorded, C: Client<Protocol = A>>(
    actors: &[Node<A, C>],
    states: &[Arc<StateOf<A, C>>],
    restarts: bool,
    env: Envelope<&A::Msg>,
) -> bool {
    let ignores = |src: Id, dst: Id, msg: &A::Msg, src_ignores: &dyn Fn(&A::Msg) -> bool| {
        let i = usize::from(dst);
        // A replayed run's messages also name processes the model does not hold (its real
        // clients): nothing is known of what they ignore.
        let (Some(actor), Some(state)) = (actors.get(i), states.get(i)) else {
            return false;
        };
        match (actor, &**state) {
            (Node::Protocol(actor), NodeState::Protocol(node)) => {
                actor.ignores_forever(&node.state, src, msg, restarts, src_ignores)
            }
            (Node::Client(client), NodeState::Client(state)) => client.ignores_forever(state, msg),
            _ => false,
        }
    };
    // A reply is judged one level deep: a reply to a reply is never assumed ignored.
    let reply_ignored = |reply: &A::Msg| ignores(env.dst, env.src, reply, &|_| false);
    ignores(env.src, env.dst, env.msg, &reply_ignored)
}

/// `env` with its message borrowed.
fn borrowed<M>(env: &Envelope<M>) -> Envelope<&M> {
    Envelope {
        src: env.src,
        dst: env.dst,
        msg: &env.msg,
    }
}

/// Removes from `network` every message that `gone` picks, each copy of it.
pub(crate) fn remove<M: Eq + Hash>(
    network: &mut Network<M>,
    mut gone: impl FnMut(Envelope<&M>) -> bool,
) {
    match network {
        Network::UnorderedDuplicating(set, _) => set.retain(|env| !gone(borrowed(env))),
        Network::UnorderedNonDuplicating(bag) => bag.retain(|env, _| !gone(borrowed(env))),
        Network::Ordered(flows) => flows.retain(|(src, dst), flow| {
            flow.retain(|msg| {
                !gone(Envelope {
                    src: *src,
                    dst: *dst,
                    msg,
                })
            });
            !flow.is_empty()
        }),
    }
}

/// The protocol actors of a model state, with their ids, in index order.
pub(crate) fn protocol_actors<A: Recorded, C: Client<Protocol = A>, H>(
    state: &ActorModelState<Node<A, C>, H>,
) -> impl Iterator<Item = (Id, &ObservedOf<A>)> {
    state
        .actor_states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &**s {
            NodeState::Protocol(node) => Some((Id::from(i), node)),
            NodeState::Client(_) => None,
        })
}

/// What the step into a state took, of the paths some witnesses name that the state does not
/// show (a retry after a refusal and one after a timeout can lead to the same state): the
/// judge records it in the history for the step that took the path, and the next step that
/// takes one or changes an actor's state (its own state, trail or save: it handled a message
/// or a timer and changed something, or it restarted) replaces it. A witness of such a path is
/// then a property of the state, true right after the step. A step that changes no actor (a
/// loss, a crash, a delivery its receiver ignores, a step that only sends) keeps the record,
/// so that a message the receiver ignores for good, which the model drops at once
/// (spec/reductions.md, R4), changes no state's record. The record tells a state reached by
/// such a step from its twin reached by another last step, and the twins have the same
/// successors.
pub type Took<W> = BTreeSet<W>;

/// The record after the step `before -> after` ([`Took`]), given what it was before and the
/// paths `took` the step took; `None` if it stays as it was. Actors are compared by value: a
/// handler may hand back an equal state of its own.
pub(crate) fn retake<A: Actor, H, W: Ord>(
    before: &ActorModelState<A, H>,
    after: &ActorModelState<A, H>,
    record: &Took<W>,
    took: Took<W>,
) -> Option<Took<W>>
where
    A::State: PartialEq,
{
    let changed = || {
        (before.actor_states.iter())
            .zip(&after.actor_states)
            .any(|(b, a)| !Arc::ptr_eq(b, a) && b != a)
    };
    (took != *record && (!took.is_empty() || changed())).then_some(took)
}

/// The model of `config`: the protocol actors `protocol`, among which the `acceptors`, then
/// the clients `clients`, with the faults the configuration allows, no history yet.
pub(crate) fn actor_model<A, C, Cfg, H>(
    config: &Cfg,
    acceptors: Vec<Id>,
    protocol: Vec<A>,
    clients: Vec<C>,
) -> ActorModel<Node<A, C>, ModelCfg<Cfg>, H>
where
    A: Recorded,
    A::Msg: Ord,
    A::Timer: Ord,
    C: Client<Protocol = A>,
    Cfg: Config,
    H: Clone + Debug + Default + Hash,
{
    let first_client = protocol.len();
    let cfg = ModelCfg {
        config: config.clone(),
        acceptors,
        clients: Id::vec_from(first_client..first_client + clients.len()),
    };
    let faults = config.faults();
    ActorModel::new(cfg, H::default())
        .actors(protocol.into_iter().map(Node::Protocol))
        .actors(clients.into_iter().map(Node::Client))
        .init_network(faults.network.network())
        .lossy_network(if faults.lossy {
            LossyNetwork::Yes
        } else {
            LossyNetwork::No
        })
        .max_crashes(faults.max_crashes)
}

/// The names of the properties of `table` with `expectation`, in the table's order.
pub(crate) fn names<M: Model>(
    table: impl IntoIterator<Item = Property<M>>,
    expectation: Expectation,
) -> Vec<&'static str> {
    table
        .into_iter()
        .filter(|p| p.expectation == expectation)
        .map(|p| p.name)
        .collect()
}

/// D1, a crash inside a step (spec/runtime.md): the state after protocol node `id` of `model`
/// takes `step` (a delivery to it or one of its timers) and crashes before the step's save, as
/// the runtime may between the messages that leave before a save and the save. What the actor
/// gave before its save is sent (and recorded in its trail); nothing else of the step
/// happened, and the node restarts from the storage it had. `None` unless the step saves and
/// sends something first: a crash is then stateright's own, before or after the step. The
/// crashed node keeps its state from before the step, as stateright's crash keeps it.
pub(crate) fn crash_mid_step<A, C, Cfg, H>(
    model: &ActorModel<Node<A, C>, ModelCfg<Cfg>, H>,
    last: &ActorModelState<Node<A, C>, H>,
    step: &ActionOf<A>,
) -> Option<(Id, CheckedState<A, C, H>)>
where
    A: Recorded,
    A::Msg: Ord,
    A::Timer: Ord,
    C: Client<Protocol = A>,
    H: Clone + Debug + Hash,
{
    let (id, event) = match step {
        ActorModelAction::Deliver { src, dst, msg } => (*dst, Event::<A>::Msg(*src, msg.clone())),
        ActorModelAction::Timeout(id, timer) => (*id, Event::Timeout(&timer.timer)),
        _ => return None,
    };
    let i = usize::from(id);
    let (Node::Protocol(actor), NodeState::Protocol(node)) =
        (model.actors.get(i)?, &**last.actor_states.get(i)?)
    else {
        return None;
    };
    if last.crashed[i] {
        return None;
    }
    let mut state = Cow::Borrowed(&node.state);
    let mut out = Out::new();
    let steady = match event {
        Event::Msg(src, msg) => {
            let steady = A::Trail::step(&node.state, &msg);
            actor.on_msg_observed(id, &mut state, src, msg, &mut out, &mut |_| {});
            steady
        }
        Event::Timeout(timer) => {
            actor.on_timeout_observed(id, &mut state, timer, &mut out, &mut |_| {});
            Default::default()
        }
    };
    let first_save = out.iter().position(|c| matches!(c, Command::Save(_)))?;
    let early: Vec<(Id, A::Msg)> = out
        .into_iter()
        .take(first_save)
        .filter_map(|c| match c {
            Command::Send(dst, msg) => Some((dst, msg)),
            _ => None,
        })
        .collect();
    if early.is_empty() {
        return None;
    }
    let mut next = last.clone();
    if let ActorModelAction::Deliver { src, dst, msg } = step {
        let env = Envelope {
            src: *src,
            dst: *dst,
            msg,
        };
        if let Some(history) = (model.record_msg_in)(&model.cfg, &next.history, env) {
            next.history = history;
        }
        take_delivered(&mut next.network, env);
    }
    let mut trail = node.trail.clone();
    for (dst, msg) in early {
        trail.observe(steady, &msg);
        let env = Envelope {
            src: id,
            dst,
            msg: &msg,
        };
        if let Some(history) = (model.record_msg_out)(&model.cfg, &next.history, env) {
            next.history = history;
        }
        send(&mut next.network, Envelope { src: id, dst, msg });
    }
    next.timers_set[i].cancel_all();
    next.crashed[i] = true;
    next.actor_storages[i] = Some(NodeStorage {
        saved: node.saved.clone(),
        trail: trail.clone(),
    });
    next.actor_states[i] = Arc::new(NodeState::Protocol(Observed {
        trail,
        ..node.clone()
    }));
    Some((id, next))
}

/// Puts `env` on `network`, as stateright's own send does.
fn send<M: Eq + Hash>(network: &mut Network<M>, env: Envelope<M>) {
    match network {
        Network::UnorderedDuplicating(set, _) => {
            set.insert(env);
        }
        Network::UnorderedNonDuplicating(bag) => *bag.entry(env).or_insert(0) += 1,
        Network::Ordered(flows) => flows
            .entry((env.src, env.dst))
            .or_default()
            .push_back(env.msg),
    }
}

/// Takes `env`, delivered, off `network`, as stateright's own delivery does.
fn take_delivered<M: Clone + Eq + Hash>(network: &mut Network<M>, env: Envelope<&M>) {
    let owned = Envelope {
        src: env.src,
        dst: env.dst,
        msg: env.msg.clone(),
    };
    match network {
        // A duplicating network keeps the message, and remembers the last one delivered.
        Network::UnorderedDuplicating(_, last) => *last = Some(owned),
        Network::UnorderedNonDuplicating(bag) => {
            if let Some(count) = bag.get_mut(&owned) {
                *count -= 1;
                if *count == 0 {
                    bag.remove(&owned);
                }
            }
        }
        Network::Ordered(flows) => {
            if let Some(flow) = flows.get_mut(&(env.src, env.dst)) {
                if let Some(at) = flow.iter().position(|m| m == env.msg) {
                    flow.remove(at);
                }
                if flow.is_empty() {
                    flows.remove(&(env.src, env.dst));
                }
            }
        }
    }
}

/// Every state of `model` within its boundary, breadth-first; panics past `most` (a unit
/// test's model is small). For the tests that pick states out of a model.
#[cfg(test)]
pub(crate) fn explore<M: Model>(model: &M, most: usize) -> Vec<M::State>
where
    M::State: Clone + Hash,
{
    let fingerprint = |state: &M::State| {
        let mut hasher = std::hash::DefaultHasher::new();
        state.hash(&mut hasher);
        std::hash::Hasher::finish(&hasher)
    };
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<M::State> = model.init_states().into();
    queue.iter().for_each(|s| {
        seen.insert(fingerprint(s));
    });
    let (mut states, mut actions) = (Vec::new(), Vec::new());
    while let Some(state) = queue.pop_front() {
        assert!(
            seen.len() <= most,
            "more than {most} states: too large for a unit test"
        );
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            if model.within_boundary(&next) && seen.insert(fingerprint(&next)) {
                queue.push_back(next);
            }
        }
        states.push(state);
    }
    states
}

/// A witness that reading the network made a false positive, and the witness that reads a
/// step or the actors instead: among `states`, some reach the `old` reading and not the new
/// `witness` (a message was only deliverable, or not what it names), and some reach `witness`.
#[cfg(test)]
pub(crate) fn assert_judged_anew<M, S>(
    model: &M,
    states: &[S],
    old: impl Fn(&S) -> bool,
    witness: fn(&M, &S) -> bool,
) {
    let only_old = states
        .iter()
        .filter(|s| old(s) && !witness(model, s))
        .count();
    let reached = states.iter().filter(|s| witness(model, s)).count();
    assert!(only_old > 0, "no state reaches the old reading alone");
    assert!(reached > 0, "no state reaches the witness");
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::semantics::write_once_register::{WORegister, WORegisterOp, WORegisterRet};

    type Register = WORegister<char>;

    // stateright's `Network::iter_all` repeats a channel's first message for ever on an ordered
    // network; `envelopes` walks every message of every channel once, in channel order.
    #[test]
    fn envelopes_walks_every_message_of_an_ordered_network_once() {
        let (a, b) = (Id::from(0), Id::from(1));
        let sent = [(a, b, 'x'), (a, b, 'y'), (a, b, 'x'), (b, a, 'z')];
        let network = Network::new_ordered(sent.map(|(src, dst, msg)| Envelope { src, dst, msg }));
        let walked: Vec<(Id, Id, char)> = envelopes(&network)
            .map(|e| (e.src, e.dst, *e.msg))
            .collect();
        assert_eq!(walked, sent);
    }

    /// A small deterministic generator (xorshift), so that a failure reproduces.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A random call on the write-once register.
    fn call(random: &mut Random) -> WORegisterOp<char> {
        match random.below(2) {
            0 => WORegisterOp::Write(['A', 'B', 'C'][random.below(3)]),
            _ => WORegisterOp::Read,
        }
    }

    /// An answer to `op`: usually the register's as if the call took effect now, sometimes
    /// another one.
    fn answer(
        random: &mut Random,
        register: &mut Register,
        op: &WORegisterOp<char>,
    ) -> WORegisterRet<char> {
        let right = register.invoke(op);
        if random.below(4) > 0 {
            return right;
        }
        match op {
            WORegisterOp::Write(_) if random.below(2) == 0 => WORegisterRet::WriteOk,
            WORegisterOp::Write(_) => WORegisterRet::WriteFail,
            WORegisterOp::Read => {
                WORegisterRet::ReadOk((random.below(3) > 0).then(|| ['A', 'B'][random.below(2)]))
            }
        }
    }

    /// Every byte a value's [`Hash`] writes, in order. Two values that write the same stream get
    /// the same fingerprint from any hasher, stateright's included.
    #[derive(Default)]
    struct Stream(Vec<u8>);

    impl std::hash::Hasher for Stream {
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }

        fn finish(&self) -> u64 {
            0
        }
    }

    fn stream<T: Hash>(value: &T) -> Vec<u8> {
        let mut stream = Stream::default();
        value.hash(&mut stream);
        stream.0
    }

    /// The timers of `n` actors, where only actor `holder` holds one: `timer(holder)`.
    fn held_by<T: Eq + Hash>(n: usize, holder: usize, timer: impl Fn(Id) -> T) -> Vec<Timers<T>> {
        (0..n)
            .map(|i| {
                let mut timers = Timers::new();
                if i == holder {
                    timers.set(timer(Id::from(i)));
                }
                timers
            })
            .collect()
    }

    // Two model states that differ only in which actor holds the same timer must hash apart
    // ([`Owned`]). The single-decree model with two clients that may resend: each client sets
    // its retry timer when it starts.
    #[test]
    fn states_that_differ_in_which_actor_holds_a_timer_hash_apart() {
        use crate::model::paxos::PaxosConfig;
        use crate::protocol::paxos::Timer;
        let config: PaxosConfig = toml::from_str(
            r#"
            layout = { kind = "servers", servers = 3 }
            clients = 2
            retries = 1
            network = "unordered-nonduplicating"
            "#,
        )
        .expect("a single-decree configuration");
        let model = config.into_model();
        let init = model.init_states().remove(0);
        let n = init.timers_set.len();
        // The harness tags each timer with the actor that set it.
        let holders: Vec<usize> = (0..n)
            .filter(|&i| init.timers_set[i].iter().next().is_some())
            .collect();
        assert_eq!(holders, [3, 4], "the clients hold their retry timers");
        for (i, timers) in init.timers_set.iter().enumerate() {
            for t in timers.iter() {
                assert_eq!(t.owner, Id::from(i), "{t:?} held by actor {i}");
            }
        }
        let retry = |owner| Owned {
            owner,
            timer: Timer::Retry,
        };
        let with = |timers_set| ActorModelState {
            timers_set,
            ..init.clone()
        };
        let (first, second) = (with(held_by(n, 3, retry)), with(held_by(n, 4, retry)));
        assert!(first != second);
        assert!(
            stream(&first) != stream(&second),
            "two states that differ only in which actor holds a timer hash alike"
        );
        // stateright 0.31 hashes a set of timers without its length, so that the bare timers
        // of these two states write the same stream: the bug the tag works around.
        assert!(
            stream(&held_by(n, 3, |_| Timer::Retry)) == stream(&held_by(n, 4, |_| Timer::Retry)),
            "stateright now tells apart the timer sets of different actors: the `Owned` tag \
             on the model's timers (harness.rs) is no longer needed and can be removed"
        );
    }

    // The summary (Lowe's just-in-time linearizations) must give stateright's verdict after
    // every return, on every history: thousands of random histories of three clients with two
    // calls each, interleaved at random, answered at random.
    #[test]
    fn the_history_summary_judges_as_the_whole_history() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let (mut linearizable, mut not) = (0, 0);
        for _ in 0..5000 {
            let mut summary = Calls::<Register, u8>::new(WORegister(None));
            let mut full = summary.clone();
            full.keep_full_history();
            let mut register = WORegister(None);
            let mut calls_left = [2u8; 3];
            let mut pending: BTreeMap<Id, WORegisterOp<char>> = BTreeMap::new();
            while calls_left.iter().any(|c| *c > 0) || !pending.is_empty() {
                let client = random.below(3);
                let id = Id::from(client);
                if let Some(op) = pending.remove(&id) {
                    let ret = answer(&mut random, &mut register, &op);
                    summary.ret(id, ret.clone());
                    full.ret(id, ret);
                    assert_eq!(summary.linearizable, full.linearizable, "{full:?}");
                } else if calls_left[client] > 0 {
                    calls_left[client] -= 1;
                    let op = call(&mut random);
                    summary.invoke(id, calls_left[client], op.clone());
                    full.invoke(id, calls_left[client], op.clone());
                    pending.insert(id, op);
                }
            }
            if full.linearizable {
                linearizable += 1;
            } else {
                not += 1;
            }
        }
        // Both verdicts were exercised, often.
        assert!(linearizable > 500 && not > 500, "{linearizable} {not}");
    }
}
