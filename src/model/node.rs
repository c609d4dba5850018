//! The actor every model runs: a protocol actor with its ghost record ([`Trail`]) kept beside
//! its state and storage, or a client ([`ModelClient`]); what the harness reads of its states, and
//! which messages it ignores for good.
use super::ahead;
use super::hashed::Hashed;
use crate::protocol::self_delivery::{self, Handlers};
use serde::Serialize;
use stateright::actor::{
    Actor, ActorModelAction, ActorModelState, Command, Envelope, Id, Out, Timers,
};
use std::borrow::Cow;
use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::Arc;

/// A step of a model whose protocol actor is `A`: stateright's action.
pub type ActionOf<A> = ActorModelAction<<A as Actor>::Msg, Owned<<A as Actor>::Timer>, ()>;

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

    /// Records `sent`, a message the actor sent during `step` (to itself included). Takes the
    /// trail as a [`Cow`], as [`Trail::settle`] does, so that a message the trail already
    /// shows does not copy it.
    fn observe(trail: &mut Cow<'_, Self>, step: Self::Step, sent: &A::Msg);

    /// Records what the actor's `state` after a step shows. Takes the trail as a [`Cow`] so
    /// that the trail is copied only when it changes: a trail that is not copied, with nothing
    /// sent and nothing saved, leaves the actor's storage as it was.
    fn settle(trail: &mut Cow<'_, Self>, state: &A::State) {
        let _ = (trail, state);
    }
}

/// A protocol actor the model can run: names the ghost record the model keeps for it.
pub trait Recorded: Handlers<Random = ()> + 'static {
    /// The actor's ghost record.
    type Trail: Trail<Self>;
}

/// A client of a protocol's service in the model, written by the protocol's harness. Its
/// handlers are an [`Actor`]'s, for the client's own part of a [`Node`].
pub trait ModelClient: Clone + Debug + Eq + Hash + Sized + 'static {
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
pub type MsgOf<C> = <<C as ModelClient>::Protocol as Actor>::Msg;

/// Where client `C` sends its messages and sets its timers: the commands of its protocol's
/// actor, which its [`Node`] forwards with each timer tagged ([`Owned`]).
pub type ClientOut<C> = Out<<C as ModelClient>::Protocol>;

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
/// hashes a set's length (`node::tests` shows whether it still does not).
///
/// Shown (`Debug`) and serialized as the bare timer, so that the Explorer and the traces of
/// counterexamples read as without the tag.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Its ghost record: shared with the states before and after it and with the actor's
    /// storage until a step changes it, so that a step copies it only to change it. An `Arc`
    /// compares, hashes, orders, shows and serializes as the trail it holds.
    pub trail: Arc<T>,
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
    /// The actor's ghost record at its last step (shared with its state: see
    /// [`Observed::trail`]).
    pub trail: Arc<T>,
}

/// The state of actor [`Node<A, C>`], which the model keeps as a [`Hashed`] one: a step
/// changes one actor, and the fingerprint of the state after it rehashes that actor alone.
pub type StateOf<A, C> = NodeState<ObservedOf<A>, <C as ModelClient>::State>;

impl<A: Recorded, C: ModelClient<Protocol = A>> Actor for Node<A, C> {
    type Msg = A::Msg;
    type State = Hashed<StateOf<A, C>>;
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
        Hashed::new(match self {
            Node::Protocol(actor) => {
                let (saved, trail) = match storage {
                    Some(NodeStorage { saved, trail }) => (saved.clone(), Arc::clone(trail)),
                    None => (None, Arc::default()),
                };
                let restored = storage.as_ref().map(|s| &*s.trail);
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
        })
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        src: Id,
        msg: A::Msg,
        o: &mut Out<Self>,
    ) {
        if !self.take_ahead(id, state, o) {
            self.step(id, state, Event::Msg(src, msg), o, &|_| false);
        }
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        timer: &Owned<A::Timer>,
        o: &mut Out<Self>,
    ) {
        assert_eq!(timer.owner, id, "an actor's timers are tagged with its id");
        if !self.take_ahead(id, state, o) {
            self.step(id, state, Event::Timeout(&timer.timer), o, &|_| false);
        }
    }
}

/// What a step of a [`Node`] handles.
pub(super) enum Event<'a, A: Actor> {
    /// A message from an actor.
    Msg(Id, A::Msg),
    /// The expiry of a timer.
    Timeout(&'a A::Timer),
}

impl<A: Recorded, C: ModelClient<Protocol = A>> Node<A, C> {
    /// Takes the result of this step where the model has run it ahead ([`ahead`]), and says
    /// whether it did.
    fn take_ahead(
        &self,
        id: Id,
        state: &mut Cow<Hashed<StateOf<A, C>>>,
        o: &mut Out<Self>,
    ) -> bool {
        let Some((next, out)) = ahead::take::<Self>(id, state) else {
            return false;
        };
        if let Some(next) = next {
            *state = Cow::Owned(next);
        }
        *o = out;
        true
    }

    /// Handles `event` with the protocol actor's observed step or the client's handler.
    /// A protocol actor's step is abandoned half-way where `abandon` says so of its state
    /// ([`Handlers::step_observed`]): this then says `false`, and `state` and `o` are as
    /// they were.
    pub(super) fn step(
        &self,
        id: Id,
        state: &mut Cow<Hashed<StateOf<A, C>>>,
        event: Event<A>,
        o: &mut Out<Self>,
        abandon: &dyn Fn(&A::State) -> bool,
    ) -> bool {
        let next = match (self, &***state) {
            (Node::Protocol(actor), NodeState::Protocol(node)) => {
                let Some(next) = observed_step(actor, id, node, event, o, abandon) else {
                    return false;
                };
                next.map(NodeState::Protocol)
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
            *state = Cow::Owned(Hashed::new(next));
        }
        true
    }
}

impl<A: Recorded, C: ModelClient<Protocol = A>> Node<A, C> {
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
/// `Some(None)` when nothing changed (the step then leaves the model state as it was), or
/// `None` where `abandon` stopped the step half-way ([`Handlers::step_observed`]).
fn observed_step<A: Recorded, C: ModelClient<Protocol = A>>(
    actor: &A,
    id: Id,
    node: &ObservedOf<A>,
    event: Event<A>,
    o: &mut Out<Node<A, C>>,
    abandon: &dyn Fn(&A::State) -> bool,
) -> Option<Option<ObservedOf<A>>> {
    let mut state = Cow::Borrowed(&node.state);
    let mut trail = Cow::Borrowed(&*node.trail);
    let mut sent_any = false;
    let mut out = Out::new();
    let (step, event) = match event {
        Event::Msg(src, msg) => (A::Trail::step(&node.state, &msg), Ok((src, msg))),
        Event::Timeout(timer) => (Default::default(), Err(timer)),
    };
    let observe = &mut |sent: &A::Msg| {
        sent_any = true;
        A::Trail::observe(&mut trail, step, sent)
    };
    if !actor.step_observed(id, &mut state, event, &mut out, observe, abandon) {
        return None;
    }
    A::Trail::settle(&mut trail, &state);
    let mut saved = Cow::Borrowed(&node.saved);
    if let Some(storage) = forward_except_saves(id, out, o) {
        *saved.to_mut() = Some(storage);
    }
    // A step that sends a message saves the storage again, even when its trail records
    // nothing of it: the model's states depend on it.
    let changed = sent_any || matches!(trail, Cow::Owned(_)) || matches!(saved, Cow::Owned(_));
    if changed {
        let trail = match trail {
            Cow::Owned(trail) => Arc::new(trail),
            Cow::Borrowed(_) => Arc::clone(&node.trail),
        };
        let saved = saved.into_owned();
        o.save(NodeStorage {
            saved: saved.clone(),
            trail: Arc::clone(&trail),
        });
        Some(Some(Observed {
            state: state.into_owned(),
            trail,
            saved,
            at_start: node.at_start.clone(),
        }))
    } else if let Cow::Owned(state) = state {
        Some(Some(Observed {
            state,
            trail: Arc::clone(&node.trail),
            saved: node.saved.clone(),
            at_start: node.at_start.clone(),
        }))
    } else {
        Some(None)
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
    if o.is_empty() {
        // The usual case: `o` gets exactly the room for `out`'s commands, at once.
        *o = self_delivery::with_room_for(out.len());
    }
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
pub(crate) fn inert<A: Recorded, C: ModelClient<Protocol = A>>(
    actors: &[Node<A, C>],
    states: &[Arc<Hashed<StateOf<A, C>>>],
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
        match (actor, &***state) {
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

/// The protocol actors of a model state, with their ids, in index order.
pub(crate) fn protocol_actors<A: Recorded, C: ModelClient<Protocol = A>, H>(
    state: &ActorModelState<Node<A, C>, H>,
) -> impl Iterator<Item = (Id, &ObservedOf<A>)> {
    protocol_nodes(state.actor_states.iter().map(|s| &**s))
}

/// The protocol actors among `actor_states` (a model state's, in index order), with their ids.
pub(crate) fn protocol_nodes<'a, P: 'a, C: 'a>(
    actor_states: impl Iterator<Item = &'a Hashed<NodeState<P, C>>>,
) -> impl Iterator<Item = (Id, &'a P)> {
    actor_states.enumerate().filter_map(|(i, s)| match &**s {
        NodeState::Protocol(node) => Some((Id::from(i), node)),
        NodeState::Client(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::Model;

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
             on the model's timers (node.rs) is no longer needed and can be removed"
        );
    }
}
