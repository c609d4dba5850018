//! The model the checker runs: an [`ActorModel`](stateright::actor::ActorModel) of
//! [`Node`](super::node::Node)s with its property table, and a judge that sees every
//! transition whole (the state before and the state after), so that a property can speak of
//! steps ("a read that answers nothing started before anything was chosen") and not only of
//! states. Both protocols' models are a [`HarnessModel`].
use super::ahead;
use super::check::{self, Reduction, Representative, Runnable, Strategy};
use super::harness::{ActorMsg, ActorState, Actors, ModelState, Transition};
use super::node::{ActionOf, Event, Owned};
use super::view::{self, Readable};
use stateright::actor::{Actor, ActorModelAction, Id, Out};
use stateright::{Model, Path, Property};
use std::borrow::Cow;
use std::fmt::Debug;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A step of a [`HarnessModel`].
#[derive(Clone, Debug, PartialEq)]
pub enum Step<M, T> {
    /// One of stateright's actor steps.
    Actor(ActorModelAction<M, T, ()>),
    /// D1: a server takes this step (a delivery to it or one of its timers) and crashes before
    /// the step's save, once what it gave before the save has left
    /// (`crash::crash_mid_step`). Only where the model allows crashes, and counted
    /// against their bound; only for a step that sends something before its save.
    CrashMidStep(ActorModelAction<M, T, ()>),
}

/// A step of a [`HarnessModel`] whose protocol actor is `A`.
pub type StepOf<A> = Step<<A as Actor>::Msg, Owned<<A as Actor>::Timer>>;

/// A symmetry reduction: the representative of a state's class.
pub type Canonical<P> = fn(&ModelState<P>) -> ModelState<P>;

/// What a judge recorded of a property's failure in a state, if anything (see
/// [`Runnable::finding`]).
pub type Finding<H> = fn(&'static str, &H) -> Option<String>;

/// An actor model with its property table, its judge of transitions and its symmetry.
pub struct HarnessModel<P: Readable> {
    inner: Actors<P>,
    properties: Vec<Property<Self>>,
    symmetry: Option<Canonical<P>>,
    /// What the judge recorded of a failure, read from the history.
    finding: Option<Finding<P::History>>,
    /// Whether an exhaustive checker (depth- or breadth-first) runs the model: they drop a
    /// successor outside the boundary exactly as they drop a step that changes nothing
    /// (unexplored, uncounted, and never making the state before it non-terminal), so a
    /// step that leads outside is refused as a no-op, before stateright copies the whole
    /// state for it (`HarnessModel::actor_step`). Not for a simulation (whose
    /// walk stops at a state outside the boundary but goes on past a no-op), nor for the
    /// Explorer, which shows such a step.
    pub exhaustive: bool,
    /// Whether to leave out the actions that lead nowhere. stateright 0.31's simulation
    /// records a wrong action index after such an action (it pushes the index into the action
    /// list it has just `swap_remove`d from), so that a trace through it cannot be rebuilt and
    /// the run panics when reporting it. They are self-loops (a delivery to a crashed actor,
    /// an ignored duplicate): leaving them out changes neither the reachable states nor any
    /// verdict, so the simulation strategy turns this on.
    pub skip_noops: bool,
    /// Whether the states keep no actor storage: set where no actor can crash, so that
    /// nothing ever reads it ([`Reduction::ForgetStorage`]).
    forget_storage: bool,
    /// Whether a step's successor keeps no message that its receiver ignores in every state
    /// it can reach ([`Reduction::InertMessages`]).
    drop_inert: bool,
    /// Makes an initial history keep the clients' whole history rather than its summary:
    /// leaves out [`Reduction::HistorySummary`].
    full_history: Option<fn(&mut P::History)>,
    /// Once set, no state has successors: the checker's watchdog stops a check with it.
    stop: Arc<AtomicBool>,
    /// The messages the network loses as soon as they are sent, if any ([`HarnessModel::losing`]).
    lost_at_once: Option<fn(&ActorMsg<P>) -> bool>,
}

/// The properties read the configuration and the actors through the model, as they would on
/// the [`ActorModel`](stateright::actor::ActorModel) itself (`model.cfg`).
impl<P: Readable> Deref for HarnessModel<P> {
    type Target = Actors<P>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<P: Readable> HarnessModel<P> {
    /// The model of `actors`, checked against `properties` (reported in this order), with
    /// every transition judged by the harness's judge
    /// ([`Harness::judge`](super::harness::Harness::judge)).
    pub(crate) fn new(
        actors: Actors<P>,
        properties: impl IntoIterator<Item = Property<Self>>,
    ) -> Self {
        HarnessModel {
            inner: actors,
            properties: properties.into_iter().collect(),
            symmetry: None,
            finding: None,
            skip_noops: false,
            exhaustive: false,
            forget_storage: true,
            drop_inert: true,
            full_history: None,
            stop: Arc::new(AtomicBool::new(false)),
            lost_at_once: None,
        }
    }

    /// Makes the network lose every message `lost` picks as soon as it is sent: the model then
    /// explores only the runs of a lossy network in which every such message is lost (a bound,
    /// which the model's configuration states). The loss is made within the step that sent
    /// the message, as stateright's `Drop` would make it, without a state copied per loss.
    pub(crate) fn losing(mut self, lost: fn(&ActorMsg<P>) -> bool) -> Self {
        self.lost_at_once = Some(lost);
        self
    }

    /// Drops from `state`'s network every message that its receiver ignores in every state
    /// it can reach ([`Reduction::InertMessages`]): such a message can only be delivered as a
    /// no-op, so the state without it has the same futures (spec/reductions.md, R4).
    pub fn drop_inert_messages(&self, state: &mut ModelState<P>) {
        self.drop_inert_of(None, state);
    }

    /// [`HarnessModel::drop_inert_messages`] on `next`, the successor by `step` of a state
    /// that keeps no inert message, testing only the messages from or to the actor that took
    /// the step.
    ///
    /// Whether a message is inert ([`node::inert`](super::node::inert)) depends on nothing
    /// but the message, the states of its receiver and of its sender (for a reply), and
    /// whether actors may restart, which is the model's. A step changes the state of one
    /// actor at most, the one that takes it (a delivery's receiver, the holder of a timer, an
    /// actor that crashes, mid-step or not, or restarts), and every message it sends is that
    /// actor's; a loss changes no actor; the judge writes only the history, and a loss at once
    /// only removes messages. So a message of `next` that neither comes from nor goes to that
    /// actor was in the state before, between actors in the same states, and was not inert
    /// there. The state before keeps no inert message because every state the model hands
    /// out is reduced: its initial states ([`Model::init_states`] reduces them) and each
    /// successor it judges. (A successor outside the boundary, handed back unjudged for the
    /// checkers to drop, is not reduced; only the Explorer shows its successors, with the
    /// inert messages it had.)
    fn drop_inert_after(&self, step: &ActionOf<P::Actor>, next: &mut ModelState<P>) {
        let actor = match step {
            ActorModelAction::Deliver { dst, .. } => Some(*dst),
            ActorModelAction::Timeout(id, _)
            | ActorModelAction::Crash(id)
            | ActorModelAction::Recover(id) => Some(*id),
            ActorModelAction::SelectRandom { actor, .. } => Some(*actor),
            ActorModelAction::Drop(_) => None,
        };
        if let Some(actor) = actor {
            self.drop_inert_of(Some(actor), next);
        }
        debug_assert!(
            super::network::envelopes(&next.network).all(|env| !super::node::inert(
                &self.inner.actors,
                &next.actor_states,
                self.inner.max_crashes > 0,
                env
            )),
            "a step's successor kept an inert message between two actors that did not step"
        );
    }

    /// Drops the inert messages from or to `actor` (every inert message, without one).
    fn drop_inert_of(&self, actor: Option<Id>, state: &mut ModelState<P>) {
        let restarts = self.inner.max_crashes > 0;
        let (actors, states) = (&self.inner.actors, &state.actor_states);
        super::network::remove(&mut state.network, |env| {
            actor.is_none_or(|a| env.src == a || env.dst == a)
                && super::node::inert(actors, states, restarts, env)
        });
    }

    /// Every step from `state`, no-ops included: stateright's, but for a crash of an actor
    /// the model does not let crash (a client, or a server the file leaves out of
    /// `crashable`); then, while the bound on crashes allows one more, a crash inside each
    /// step of a server that is up and may crash (D1).
    fn all_actions(&self, state: &ModelState<P>, actions: &mut Vec<StepOf<P::Actor>>) {
        let cfg = &self.inner.cfg;
        // Room for a delivery of every message and a timeout of every actor's timer.
        let timers: usize = state
            .timers_set
            .iter()
            .map(|timers| timers.iter().count())
            .sum();
        let mut steps = Vec::with_capacity(state.network.len() + timers);
        self.inner.actions(state, &mut steps);
        steps.retain(|step| !matches!(step, ActorModelAction::Crash(id) if !cfg.may_crash(*id)));
        let crashed = state.crashed.iter().filter(|c| **c).count();
        let mid_step: Vec<StepOf<P::Actor>> = if crashed < self.inner.max_crashes {
            let server = |id: &Id| !state.crashed[usize::from(*id)] && cfg.may_crash(*id);
            (steps.iter())
                .filter(|step| match step {
                    ActorModelAction::Deliver { dst, .. } => server(dst),
                    ActorModelAction::Timeout(id, _) => server(id),
                    _ => false,
                })
                .map(|step| Step::CrashMidStep(step.clone()))
                .collect()
        } else {
            Vec::new()
        };
        actions.extend(steps.into_iter().map(Step::Actor));
        actions.extend(mid_step);
    }

    /// stateright's actor `step` from `last`. Under an exhaustive checker, where the boundary
    /// reads the actors' states alone ([`Harness::actors_within_boundary`]), the stepping
    /// actor is run first, alone, and a step that leads outside the boundary gives no
    /// successor, before stateright copies the whole state for it. Where the ballots are
    /// bounded, a proposer's retry past its last ballot is such a step (in
    /// `paxos-3-servers-3-clients`, 43% of the steps computed); it is abandoned half-way, as
    /// soon as its handler has taken the actor past the boundary
    /// ([`Harness::actor_past_boundary`]). A step that stays within is not run again:
    /// stateright's call takes its result ([`ahead`]).
    fn actor_step(&self, last: &ModelState<P>, step: &ActionOf<P::Actor>) -> Option<ModelState<P>> {
        let stateright = || self.inner.next_state(last, step.clone());
        let (id, event) = match step {
            ActorModelAction::Deliver { src, dst, msg } => (*dst, Ok((*src, msg.clone()))),
            ActorModelAction::Timeout(id, timer) => (*id, Err(timer)),
            _ => return stateright(),
        };
        let cfg = &self.inner.cfg;
        let actors = || last.actor_states.iter().map(|s| &**s);
        let i = usize::from(id);
        let (Some(actor), Some(from), Some(false)) = (
            self.inner.actors.get(i),
            last.actor_states.get(i),
            last.crashed.get(i).copied(),
        ) else {
            return stateright();
        };
        // Whether the boundary reads the actors alone is the harness's to say, whatever the
        // actors: asked of none, so that no actor's state is read for it.
        let no_actors = std::iter::empty::<&ActorState<P>>();
        if !self.exhaustive || P::actors_within_boundary(cfg, no_actors).is_none() {
            return stateright();
        }
        let event = || match &event {
            Ok((src, msg)) => Event::Msg(*src, msg.clone()),
            Err(timer) => Event::Timeout(&timer.timer),
        };
        let within = |state: &ActorState<P>| {
            let stepped = actors()
                .enumerate()
                .map(|(j, s)| if j == i { state } else { s });
            P::actors_within_boundary(cfg, stepped) != Some(false)
        };
        let mut state = Cow::Borrowed(&**from);
        let mut out = Out::new();
        let past = |s: &<P::Actor as Actor>::State| P::actor_past_boundary(cfg, s);
        if !actor.step(id, &mut state, event(), &mut out, &past) {
            debug_assert!(
                {
                    let mut whole = Cow::Borrowed(&**from);
                    actor.step(id, &mut whole, event(), &mut Out::new(), &|_| false);
                    !within(&whole)
                },
                "a step abandoned as past the boundary ends within it (Harness::actor_past_boundary)"
            );
            return None;
        }
        let state = match state {
            Cow::Borrowed(_) => None,
            Cow::Owned(state) if !within(&state) => return None,
            Cow::Owned(state) => Some(state),
        };
        ahead::keep(id, &**from, state, out, stateright)
    }

    /// A step as a counterexample's trace reads it.
    fn describe_step(&self, step: &StepOf<P::Actor>) -> String {
        match step {
            Step::Actor(step) => check::describe_actor_step(&self.inner, step),
            Step::CrashMidStep(step) => format!(
                "{}, and crashes before its save (what it sent before the save leaves)",
                check::describe_actor_step(&self.inner, step)
            ),
        }
    }

    /// Sets what depends on the checker that runs the model: `skip_noops` for a simulation,
    /// `exhaustive` for depth- and breadth-first search.
    pub(crate) fn checked_by(&mut self, strategy: Strategy) {
        self.skip_noops = strategy == Strategy::Simulation;
        self.exhaustive = strategy != Strategy::Simulation;
    }

    /// Offers `finding` to explain a failure from the history the judge wrote.
    pub(crate) fn finding(mut self, finding: Finding<P::History>) -> Self {
        self.finding = Some(finding);
        self
    }

    /// What the judge recorded in `state` of the failure of `property`, if anything.
    pub fn explain(&self, property: &'static str, state: &ModelState<P>) -> Option<String> {
        self.finding?(property, &state.history)
    }

    /// Offers `keep` as the way to leave out [`Reduction::HistorySummary`]: it makes an
    /// initial history keep the whole history.
    pub(crate) fn full_history(mut self, keep: fn(&mut P::History)) -> Self {
        self.full_history = Some(keep);
        self
    }

    /// Offers `representative` as the model's symmetry reduction.
    pub(crate) fn symmetry(mut self, representative: Canonical<P>) -> Self {
        self.symmetry = Some(representative);
        self
    }
}

impl<P: Readable> Model for HarnessModel<P> {
    type State = ModelState<P>;
    type Action = StepOf<P::Actor>;

    /// stateright's initial states, reduced as every successor is.
    fn init_states(&self) -> Vec<Self::State> {
        let mut states = self.inner.init_states();
        if self.drop_inert {
            states.iter_mut().for_each(|s| self.drop_inert_messages(s));
        }
        states
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        if !self.skip_noops {
            return self.all_actions(state, actions);
        }
        let mut all = Vec::new();
        self.all_actions(state, &mut all);
        actions.extend(
            all.into_iter()
                .filter(|a| self.next_state(state, a.clone()).is_some()),
        );
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        let (step, mut next) = match action {
            Step::Actor(step) => {
                let next = self.actor_step(last, &step)?;
                (step, next)
            }
            Step::CrashMidStep(step) => {
                let (id, next) = super::crash::crash_mid_step::<P>(&self.inner, last, &step)?;
                (ActorModelAction::Crash(id), next)
            }
        };
        if let Some(lost) = self.lost_at_once {
            super::network::remove(&mut next.network, |env| lost(env.msg));
        }
        if self.forget_storage && self.inner.max_crashes == 0 {
            // Only a restart reads storage, and without crashes there is none: the storage
            // a step wrote is dropped before the state is hashed, cloned or stored.
            next.actor_storages.iter_mut().for_each(|s| *s = None);
        }
        let actors = next.actor_states.iter().map(|s| &**s);
        if P::actors_within_boundary(&self.inner.cfg, actors) == Some(false) {
            // Dropped by the checker at once (`Harness::actors_within_boundary`).
            return Some(next);
        }
        let step = Transition {
            action: &step,
            actors: &self.inner.actors,
        };
        P::judge(&self.inner.cfg, &step, last, &mut next);
        if self.drop_inert {
            self.drop_inert_after(step.action, &mut next);
        }
        Some(next)
    }

    fn format_action(&self, action: &Self::Action) -> String {
        self.describe_step(action)
    }

    /// What the Explorer shows of a step: the state it leads to, readably (see [`view`]).
    fn format_step(&self, last: &Self::State, action: Self::Action) -> Option<String> {
        let step = self.format_action(&action);
        let next = self.next_state(last, action)?;
        Some(view::render::<P, Self>(self, Some((&step, last)), &next))
    }

    /// The sequence diagram of stateright's actor model: the states and actions are its own.
    /// A path with a crash inside a step has none.
    fn as_svg(&self, path: Path<Self::State, Self::Action>) -> Option<String> {
        let steps = path.into_vec();
        let init = steps.first()?.0.clone();
        let actions = steps.into_iter().filter_map(|(_, a)| a).map(|a| match a {
            Step::Actor(step) => Some(step),
            Step::CrashMidStep(_) => None,
        });
        let actions: Option<Vec<_>> = actions.collect();
        self.inner
            .as_svg(Path::from_actions(&self.inner, init, actions?.iter())?)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.clone()
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        Model::within_boundary(&self.inner, state)
    }
}

impl<P: Readable> Runnable for HarnessModel<P> {
    fn describe(&self, action: &Self::Action) -> String {
        self.describe_step(action)
    }

    fn symmetry(&self) -> Option<Representative<Self>> {
        self.symmetry
    }

    fn finding(&self, property: &'static str, state: &Self::State) -> Option<String> {
        self.explain(property, state)
    }

    /// Storage is forgotten only where no actor can crash: a restart is its one reader.
    fn reduce(&mut self, without: &[Reduction]) {
        self.forget_storage = !without.contains(&Reduction::ForgetStorage);
        self.drop_inert = !without.contains(&Reduction::InertMessages);
        if without.contains(&Reduction::HistorySummary) {
            if let Some(keep) = self.full_history {
                keep(&mut self.inner.init_history);
            }
        }
    }

    fn stop_switch(&self) -> Option<Arc<AtomicBool>> {
        Some(Arc::clone(&self.stop))
    }

    /// Indexes every action, as the Explorer's model (which never skips no-ops) lists them.
    fn explorer_path(&self, path: &Path<Self::State, Self::Action>) -> String {
        let steps = path.clone().into_vec();
        let init = &steps[0].0;
        let mut indices = vec![self
            .init_states()
            .iter()
            .position(|s| s == init)
            .expect("a path starts at an initial state")];
        for (state, action) in &steps {
            let Some(action) = action else { break };
            let mut actions = Vec::new();
            self.all_actions(state, &mut actions);
            indices.push(
                actions
                    .iter()
                    .position(|a| a == action)
                    .expect("a path's action is one of its state's actions"),
            );
        }
        indices
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }
}
