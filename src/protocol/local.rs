//! One step of a protocol actor, with the messages a node sends to itself handled within the
//! step that sends them: a server's proposer and its own acceptor talk without the network,
//! in the model and on UDP alike. Both protocols get their [`Actor`] implementation from here
//! (`impl_actor!`), and the model harness gets the same steps with every message shown to
//! its ghost record.
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;
use std::collections::VecDeque;

/// A protocol actor written as a start, a message handler and a timer handler. The provided
/// methods run the handlers with local delivery; the [`Actor`] that `impl_actor!` writes
/// calls them with an observer that ignores what it sees.
pub trait Handlers: Actor {
    /// The actor's name in traces ([`Actor::name`]).
    fn title(&self) -> String;

    /// The state at start, or at restart from `storage` ([`Actor::on_start`]), and the timers
    /// it sets.
    fn start(&self, id: Id, storage: &Option<Self::Storage>, o: &mut Out<Self>) -> Self::State;

    /// Handles `msg` from `src`; messages to `id` itself are delivered by the caller.
    fn handle(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        src: Id,
        msg: Self::Msg,
        o: &mut Out<Self>,
    );

    /// Handles the expiry of `timer`.
    fn timeout(&self, id: Id, state: &mut Cow<Self::State>, timer: &Self::Timer, o: &mut Out<Self>);

    /// Whether the actor, in `state`, ignores `msg` from `src` (changes nothing, sends
    /// nothing) now and in every state it can reach, so that the model may drop the message
    /// (spec/reductions.md, R4). `restarts`: whether the actor may yet restart; `src_ignores`
    /// tells the same of `src` for a reply. No message is, unless the protocol says so.
    fn ignores_forever(
        &self,
        state: &Self::State,
        src: Id,
        msg: &Self::Msg,
        restarts: bool,
        src_ignores: &dyn Fn(&Self::Msg) -> bool,
    ) -> bool {
        let _ = (state, src, msg, restarts, src_ignores);
        false
    }

    /// Handles `msg` from `src` as [`Actor::on_msg`] does, showing `observe` every message
    /// sent, those delivered locally included (the model's ghost record is built this way).
    fn on_msg_observed(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        src: Id,
        msg: Self::Msg,
        o: &mut Out<Self>,
        observe: &mut dyn FnMut(&Self::Msg),
    ) {
        let mut out = Out::new();
        self.handle(id, state, src, msg, &mut out);
        deliver_locally(self, id, state, out, o, observe);
    }

    /// Handles a timeout as [`Actor::on_timeout`] does, showing `observe` every message sent.
    fn on_timeout_observed(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        timer: &Self::Timer,
        o: &mut Out<Self>,
        observe: &mut dyn FnMut(&Self::Msg),
    ) {
        let mut out = Out::new();
        self.timeout(id, state, timer, &mut out);
        deliver_locally(self, id, state, out, o, observe);
    }
}

/// Implements stateright's [`Actor`] for a protocol actor from its [`Handlers`], given its
/// message, state, timer and storage types: every message and timeout runs with local
/// delivery, observed by nobody. The same actor then runs in the model and on UDP.
macro_rules! impl_actor {
    ($actor:ty: Msg = $msg:ty, State = $state:ty, Timer = $timer:ty, Storage = $storage:ty) => {
        $crate::protocol::local::impl_actor!(
            impl[] $actor: Msg = $msg, State = $state, Timer = $timer, Storage = $storage
        );
    };
    // A generic actor: `impl[V: Bound] Actor<V>: ...`.
    (impl[$($generics:tt)*] $actor:ty: Msg = $msg:ty, State = $state:ty, Timer = $timer:ty,
        Storage = $storage:ty) => {
        impl<$($generics)*> ::stateright::actor::Actor for $actor {
            type Msg = $msg;
            type State = $state;
            type Timer = $timer;
            type Random = ();
            type Storage = $storage;

            fn name(&self) -> String {
                $crate::protocol::local::Handlers::title(self)
            }

            fn on_start(
                &self,
                id: ::stateright::actor::Id,
                storage: &Option<$storage>,
                o: &mut ::stateright::actor::Out<Self>,
            ) -> $state {
                $crate::protocol::local::Handlers::start(self, id, storage, o)
            }

            fn on_msg(
                &self,
                id: ::stateright::actor::Id,
                state: &mut ::std::borrow::Cow<$state>,
                src: ::stateright::actor::Id,
                msg: $msg,
                o: &mut ::stateright::actor::Out<Self>,
            ) {
                let ignore = &mut |_: &$msg| {};
                $crate::protocol::local::Handlers::on_msg_observed(
                    self, id, state, src, msg, o, ignore,
                );
            }

            fn on_timeout(
                &self,
                id: ::stateright::actor::Id,
                state: &mut ::std::borrow::Cow<$state>,
                timer: &$timer,
                o: &mut ::stateright::actor::Out<Self>,
            ) {
                let ignore = &mut |_: &$msg| {};
                $crate::protocol::local::Handlers::on_timeout_observed(
                    self, id, state, timer, o, ignore,
                );
            }
        }
    };
}
pub(crate) use impl_actor;

/// Moves the commands of `out` to `o`, except messages addressed to `id` itself, which the
/// actor handles at once (their own output goes through the same sieve). `observe` sees every
/// message sent, local or not.
fn deliver_locally<A: Handlers>(
    actor: &A,
    id: Id,
    state: &mut Cow<A::State>,
    out: Out<A>,
    o: &mut Out<A>,
    observe: &mut dyn FnMut(&A::Msg),
) {
    let mut pending: VecDeque<_> = out.into_iter().collect();
    while let Some(command) = pending.pop_front() {
        match command {
            Command::Send(dst, msg) => {
                observe(&msg);
                if dst == id {
                    let mut local = Out::new();
                    actor.handle(id, state, id, msg, &mut local);
                    pending.extend(local);
                } else {
                    o.send(dst, msg);
                }
            }
            Command::SetTimer(timer, duration) => o.set_timer(timer, duration),
            Command::CancelTimer(timer) => o.cancel_timer(timer),
            Command::Save(storage) => o.save(storage),
            Command::ChooseRandom(key, random) => o.choose_random(key, random),
        }
    }
}
