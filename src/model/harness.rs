//! What both model harnesses share: the [`Harness`] trait that names a protocol harness's
//! parts, the plumbing that turns its actors, clients and property table into an actor model,
//! and the record of the paths a step took.
//!
//! A protocol harness supplies: its [`Trail`] (what the properties must remember of each
//! protocol actor), its [`ModelClient`], its configuration, history and judge of transitions,
//! named once by its [`Harness`] implementation; and its properties as one table of
//! stateright [`Property`] values, given to the model it builds (they are typed by that
//! model). The [`Actor`] that runs them is [`Node`], written once.
use super::config::Config;
use super::config::ModelCfg;
use super::node::ModelClient;
use super::node::Node;
use super::node::{protocol_actors, ActionOf, ObservedOf, Recorded, Trail};
use stateright::actor::{Actor, ActorModel, ActorModelAction, ActorModelState, Id, LossyNetwork};
use stateright::{Expectation, Model, Property};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

/// A protocol's harness: the parts a model of the protocol is made of, named once with the
/// bounds every generic part of the model checker needs (the model, its Explorer page, the
/// runner, the replay of traces). Implemented by a marker type of each protocol harness
/// (`PaxosHarness`, `MultiPaxosHarness`).
pub trait Harness: Sized + 'static {
    /// The protocol actor: the unmodified actor that also runs on UDP. Its messages and timers
    /// are ordered so that a state's network and timers have one form.
    type Actor: Recorded<
            Msg: Ord + Send + Sync,
            Timer: Ord + Send + Sync,
            State: Send + Sync,
            Storage: Send + Sync,
            Trail: Send + Sync + Trail<Self::Actor, Start: Send + Sync>,
        > + Send
        + Sync;
    /// The model's client of the protocol's service.
    type Client: ModelClient<Protocol = Self::Actor, State: Send + Sync> + Send + Sync;
    /// The model file's configuration.
    type Config: Send + Sync + 'static;
    /// The model's ghost history: what the clients did, what the judge found.
    type History: Clone + Debug + Hash + PartialEq + Send + Sync + 'static;

    /// The model's boundary, where it reads the actors' states alone (their own states and
    /// trails): nothing the judge writes, a reduction removes or the network holds. Whether
    /// `actors` (a state's actor states, in index order) are within it, or `None` (the
    /// default) where the boundary reads more.
    ///
    /// Where it is given, a successor outside the boundary is handed back as the step left it,
    /// neither judged nor reduced: every checker drops a state outside the boundary at once,
    /// unexplored, unchecked and unfingerprinted, so its history and network are never read.
    /// And the exhaustive checkers are spared a step that leads outside
    /// ([`HarnessModel::exhaustive`](super::harness_model::HarnessModel::exhaustive)).
    fn actors_within_boundary<'a>(
        cfg: &ModelCfg<Self::Config>,
        actors: impl Iterator<Item = &'a ActorState<Self>> + Clone,
    ) -> Option<bool> {
        let _ = (cfg, actors);
        None
    }

    /// Whether `state`, a protocol actor's own state, is outside the boundary by what it alone
    /// shows, in a way that no step brings back within (the boundary's part that only grows,
    /// such as a proposer's round). A step run ahead is asked this half-way, after its handler
    /// and before the actor's messages to itself are delivered, and is abandoned there when
    /// it says so: such a step can only end outside. `false` (the default) where the boundary
    /// has no such part. A build with debug assertions also runs every step it abandons whole
    /// and asserts that it ends outside; the unit test
    /// `steps_run_ahead_give_the_same_successors_and_refuse_only_those_outside` compares every
    /// step of two models with and without the run ahead.
    fn actor_past_boundary(
        cfg: &ModelCfg<Self::Config>,
        state: &<Self::Actor as Actor>::State,
    ) -> bool {
        let _ = (cfg, state);
        false
    }

    /// Judges a transition: sees the model's configuration, the step (stateright's action: a
    /// loss and a delivery that changes nothing leave the same state on an ordered network), the
    /// state before it and the state after it, and writes what it finds into the after-state's
    /// history (a sticky record that the `always` properties then read). It must only ever record
    /// what a step did, never anything the state does not already determine, or it would split
    /// equal states.
    fn judge(
        cfg: &ModelCfg<Self::Config>,
        step: &Transition<Self>,
        before: &ModelState<Self>,
        after: &mut ModelState<Self>,
    );
}

/// The actor model of protocol harness `P`: its actors (for their names) and its
/// configuration, as the properties and the Explorer read them.
pub type Actors<P> = ActorModel<
    Node<<P as Harness>::Actor, <P as Harness>::Client>,
    ModelCfg<<P as Harness>::Config>,
    <P as Harness>::History,
>;

/// A message of protocol harness `P`'s actor.
pub type ActorMsg<P> = <<P as Harness>::Actor as Actor>::Msg;

/// A protocol node of protocol harness `P`'s model: the actor's state with its ghost record.
pub type ProtocolNode<P> = ObservedOf<<P as Harness>::Actor>;

/// The state of an actor of protocol harness `P`'s model, as a model state holds it.
pub type ActorState<P> =
    super::hashed::Hashed<super::node::StateOf<<P as Harness>::Actor, <P as Harness>::Client>>;

/// A state of the model of protocol harness `P`.
pub type ModelState<P> =
    ActorModelState<Node<<P as Harness>::Actor, <P as Harness>::Client>, <P as Harness>::History>;

/// A transition as a judge ([`Harness::judge`]) sees it: stateright's action, and the actors
/// that take it.
pub struct Transition<'a, P: Harness> {
    /// Stateright's action.
    pub action: &'a ActionOf<P::Actor>,
    pub(super) actors: &'a [Node<P::Actor, P::Client>],
}

impl<P: Harness> Transition<'_, P> {
    /// The actor that takes the step, for a delivery or a timeout.
    pub fn actor(&self) -> Option<Id> {
        match self.action {
            ActorModelAction::Deliver { dst, .. } => Some(*dst),
            ActorModelAction::Timeout(id, _) => Some(*id),
            _ => None,
        }
    }

    /// The stepping actor, and its protocol node in `before` and in `after`: none for a
    /// client's step, a loss, a crash or a restart.
    pub fn nodes<'s>(
        &self,
        before: &'s ModelState<P>,
        after: &'s ModelState<P>,
    ) -> Option<(Id, &'s ProtocolNode<P>, &'s ProtocolNode<P>)> {
        let id = self.actor()?;
        let node = |state| {
            protocol_actors(state)
                .find(|(i, _)| *i == id)
                .map(|(_, n)| n)
        };
        Some((id, node(before)?, node(after)?))
    }

    /// The messages the stepping actor sent in this step from `before`, in order, those it
    /// delivered to itself included ([`Node::sent_in_step`]); none for a loss, crash or
    /// restart.
    pub fn sent(&self, before: &ModelState<P>) -> Vec<ActorMsg<P>> {
        let (id, event) = match self.action {
            ActorModelAction::Deliver { src, dst, msg } => (*dst, Ok((*src, msg.clone()))),
            ActorModelAction::Timeout(id, timer) => (*id, Err(&timer.timer)),
            _ => return Vec::new(),
        };
        let i = usize::from(id);
        self.actors[i].sent_in_step(id, &before.actor_states[i], event)
    }
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
pub(crate) fn actor_model<P: Harness>(
    config: &P::Config,
    acceptors: Vec<Id>,
    protocol: Vec<P::Actor>,
    clients: Vec<P::Client>,
) -> Actors<P>
where
    P::Config: Config,
    P::History: Default,
{
    let first_client = protocol.len();
    let faults = config.faults();
    let cfg = ModelCfg {
        config: config.clone(),
        acceptors,
        clients: Id::vec_from(first_client..first_client + clients.len()),
        crashable: super::config::crashable_ids(first_client, &faults.crashable),
    };
    ActorModel::new(cfg, P::History::default())
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
