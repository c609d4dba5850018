//! Handling the messages a node sends to itself within the step that sends them: a server's
//! proposer and its own acceptor talk without the network, in the model and on UDP alike.
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;
use std::collections::VecDeque;

/// Moves the commands of `out` to `o`, except messages addressed to `id` itself, which
/// `handle` processes at once (their own output goes through the same sieve). `observe` sees
/// every message sent, local or not: the model's ghost state is built from it.
pub fn deliver_locally<A: Actor>(
    id: Id,
    state: &mut Cow<A::State>,
    out: Out<A>,
    o: &mut Out<A>,
    observe: &mut dyn FnMut(&A::Msg),
    mut handle: impl FnMut(&mut Cow<A::State>, A::Msg, &mut Out<A>),
) {
    let mut pending: VecDeque<_> = out.into_iter().collect();
    while let Some(command) = pending.pop_front() {
        match command {
            Command::Send(dst, msg) => {
                observe(&msg);
                if dst == id {
                    let mut local = Out::new();
                    handle(state, msg, &mut local);
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
