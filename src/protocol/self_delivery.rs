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
        self.step_observed(id, state, Ok((src, msg)), o, observe, &|_| false);
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
        self.step_observed(id, state, Err(timer), o, observe, &|_| false);
    }

    /// Handles a message (`Ok((src, msg))`) or a timeout, showing `observe` every message
    /// sent, unless `abandon` says so of the state the handler leaves before the actor's
    /// messages to itself are delivered: the step then stops there, half-way, and this says
    /// `false` (a model abandons a step that can only end outside its boundary).
    fn step_observed(
        &self,
        id: Id,
        state: &mut Cow<Self::State>,
        event: Result<(Id, Self::Msg), &Self::Timer>,
        o: &mut Out<Self>,
        observe: &mut dyn FnMut(&Self::Msg),
        abandon: &dyn Fn(&Self::State) -> bool,
    ) -> bool {
        let mut out = with_room();
        match event {
            Ok((src, msg)) => self.handle(id, state, src, msg, &mut out),
            Err(timer) => self.timeout(id, state, timer, &mut out),
        }
        if abandon(state) {
            return false;
        }
        deliver_locally(self, id, state, out, o, observe);
        true
    }
}

/// An empty [`Out`] with room for a step's commands (a broadcast to the acceptors, a save, a
/// timer), so that a handler's sends do not grow it a command at a time.
pub fn with_room<A: Actor>() -> Out<A> {
    with_room_for(8)
}

/// An empty [`Out`] with room for `commands` commands. stateright's `Out` has no
/// `with_capacity`; collected from an empty `Vec`, it keeps the `Vec`'s room.
pub fn with_room_for<A: Actor>(commands: usize) -> Out<A> {
    Out::from_iter(Vec::with_capacity(commands))
}

/// Implements stateright's [`Actor`] for a protocol actor from its [`Handlers`], given its
/// message, state, timer and storage types: every message and timeout runs with local
/// delivery, observed by nobody. The same actor then runs in the model and on UDP.
macro_rules! impl_actor {
    ($actor:ty: Msg = $msg:ty, State = $state:ty, Timer = $timer:ty, Storage = $storage:ty) => {
        $crate::protocol::self_delivery::impl_actor!(
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
                $crate::protocol::self_delivery::Handlers::title(self)
            }

            fn on_start(
                &self,
                id: ::stateright::actor::Id,
                storage: &Option<$storage>,
                o: &mut ::stateright::actor::Out<Self>,
            ) -> $state {
                $crate::protocol::self_delivery::Handlers::start(self, id, storage, o)
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
                $crate::protocol::self_delivery::Handlers::on_msg_observed(
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
                $crate::protocol::self_delivery::Handlers::on_timeout_observed(
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
///
/// D1, the order that is safe to carry out (spec/runtime.md): every handler writes its
/// storage before it sends what depends on it, as §2.5 of *Paxos Made Simple* asks ("An
/// acceptor records its intended response in stable storage before actually sending the
/// response"; a proposer its round before the prepare request that uses it), and a message
/// handled locally runs after what its sender's handler gave before it. So a message given
/// before the step's first save depends only on what the steps before saved, and may leave
/// before the save; every message given after it waits for the save. The step's saves are
/// one: each holds the whole storage, so the last one takes the place of the first, and `o`
/// holds the sends that may leave early, then the save, then the rest, in the order the
/// handlers gave them.
fn deliver_locally<A: Handlers>(
    actor: &A,
    id: Id,
    state: &mut Cow<A::State>,
    mut out: Out<A>,
    o: &mut Out<A>,
    observe: &mut dyn FnMut(&A::Msg),
) {
    // Most steps send nothing to the actor itself and save once at most: the order below is
    // then the order the handler gave, and the commands go out as they are.
    let local = |c: &CommandOf<A>| matches!(c, Command::Send(dst, _) if *dst == id);
    let saves = out.iter().filter(|c| matches!(c, Command::Save(_))).count();
    if saves <= 1 && !out.iter().any(local) {
        for command in out.iter() {
            if let Command::Send(_, msg) = command {
                observe(msg);
            }
        }
        if o.is_empty() {
            *o = out;
        } else {
            o.append(&mut out);
        }
        return;
    }
    if o.is_empty() {
        *o = with_room();
    }
    let mut pending: VecDeque<_> = out.into_iter().collect();
    // The step's commands from its first save on, which wait for the last save.
    let mut after_save: Option<(A::Storage, Vec<CommandOf<A>>)> = None;
    while let Some(command) = pending.pop_front() {
        let command = match command {
            Command::Send(dst, msg) => {
                observe(&msg);
                if dst == id {
                    let mut local = with_room();
                    actor.handle(id, state, id, msg, &mut local);
                    pending.extend(local);
                    continue;
                }
                Command::Send(dst, msg)
            }
            Command::Save(storage) => {
                match &mut after_save {
                    Some((saved, _)) => *saved = storage,
                    None => after_save = Some((storage, Vec::with_capacity(pending.len()))),
                }
                continue;
            }
            command => command,
        };
        match &mut after_save {
            Some((_, rest)) => rest.push(command),
            None => push(o, command),
        }
    }
    if let Some((saved, rest)) = after_save {
        o.save(saved);
        rest.into_iter().for_each(|command| push(o, command));
    }
}

/// A command of actor `A`.
pub(crate) type CommandOf<A> =
    Command<<A as Actor>::Msg, <A as Actor>::Timer, <A as Actor>::Random, <A as Actor>::Storage>;

/// Adds `command` to `o`.
fn push<A: Actor>(o: &mut Out<A>, command: CommandOf<A>) {
    match command {
        Command::Send(dst, msg) => o.send(dst, msg),
        Command::SetTimer(timer, duration) => o.set_timer(timer, duration),
        Command::CancelTimer(timer) => o.cancel_timer(timer),
        Command::Save(storage) => o.save(storage),
        Command::ChooseRandom(key, random) => o.choose_random(key, random),
    }
}
