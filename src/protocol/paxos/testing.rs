//! Test fixtures shared by the unit tests of the roles: a server among three, and one step
//! of it.
use super::{Msg, PaxosActor, PaxosState, Roles, Variant};
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::time::Duration;

/// A server among three, running `variant`.
pub(super) fn server(variant: Variant) -> PaxosActor {
    PaxosActor {
        roles: Roles::SERVER,
        acceptors: Id::vec_from(0..3),
        learners: Vec::new(),
        variant,
        retry_after: Duration::ZERO..Duration::ZERO,
    }
}

/// Server 0 receives `msg` from `src`.
pub(super) fn step(
    actor: &PaxosActor,
    state: &PaxosState,
    src: usize,
    msg: Msg,
) -> (PaxosState, Out<PaxosActor>) {
    let mut state = Cow::Borrowed(state);
    let mut out = Out::new();
    actor.on_msg(Id::from(0), &mut state, Id::from(src), msg, &mut out);
    (state.into_owned(), out)
}
