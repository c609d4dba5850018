//! An actor's step run ahead of stateright's own call of it. The model runs the stepping actor
//! first, alone, to learn whether the step leads outside the boundary before stateright copies
//! the whole state for it ([`HarnessModel`](super::harness_model::HarnessModel)'s
//! `next_state`); when it does not, stateright's call, made within the same `next_state`,
//! takes the result kept here instead of running the step a second time. Actors are
//! deterministic, so the result is the one the second run would give.
use stateright::actor::{Actor, Id, Out};
use std::any::Any;
use std::cell::RefCell;

/// The result of actor `id`'s step from the state at address `from`: the state after it
/// (`None` where the step left it unchanged) and the commands it gave.
struct Ahead<A: Actor> {
    id: Id,
    from: *const A::State,
    state: Option<A::State>,
    out: Out<A>,
}

thread_local! {
    /// The slot for a result on this checker thread, of whichever actor type: an
    /// `Option<Ahead<A>>`, allocated once per actor type and reused.
    static KEPT: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Empties this thread's slot, also when the call the result was kept for panics.
struct Forget<A: Actor + 'static>(std::marker::PhantomData<A>);

impl<A: Actor + 'static> Drop for Forget<A> {
    fn drop(&mut self) {
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            if let Some(slot) = kept
                .as_mut()
                .and_then(|b| b.downcast_mut::<Option<Ahead<A>>>())
            {
                *slot = None;
            }
        });
    }
}

/// Runs `call` with the result of actor `id`'s step from `from` kept for it: `state`, the
/// actor's state after the step (`None` where unchanged), and `out`, its commands. The first
/// [`take`] for the same actor and the same state (the very value, compared by address:
/// `from` is borrowed until `call` returns, so no other state can have its address) gets the
/// result; it is dropped when `call` returns.
pub(crate) fn keep<A: Actor + 'static, R>(
    id: Id,
    from: &A::State,
    state: Option<A::State>,
    out: Out<A>,
    call: impl FnOnce() -> R,
) -> R {
    let ahead = Ahead::<A> {
        id,
        from,
        state,
        out,
    };
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        match kept
            .as_mut()
            .and_then(|b| b.downcast_mut::<Option<Ahead<A>>>())
        {
            Some(slot) => *slot = Some(ahead),
            None => *kept = Some(Box::new(Some(ahead))),
        }
    });
    let _forget = Forget::<A>(std::marker::PhantomData);
    call()
}

/// The result kept for actor `id`'s step from `from` ([`keep`]), if any, used up: the state
/// after the step (`None` where unchanged) and the step's commands.
pub(crate) fn take<A: Actor + 'static>(
    id: Id,
    from: &A::State,
) -> Option<(Option<A::State>, Out<A>)> {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        let slot = kept.as_mut()?.downcast_mut::<Option<Ahead<A>>>()?;
        let ahead = slot.as_ref()?;
        if ahead.id != id || !std::ptr::eq(ahead.from, from) {
            return None;
        }
        let ahead = slot.take()?;
        Some((ahead.state, ahead.out))
    })
}
