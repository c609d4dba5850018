//! The protocols, pure state machines: they know `stateright::actor` and std, nothing else
//! (no sockets, clocks, files or encodings). The same actors run in the model checker
//! ([`crate::model`]) and on UDP ([`crate::runtime`]).
pub mod ballot;
pub mod multi_paxos;
pub mod paxos;
pub mod self_delivery;
pub mod sorted;

use std::borrow::Cow;
use std::sync::Arc;

/// A part of an actor's state in one step: borrowed from the state before until a handler
/// changes it ([`edit`]), and kept in an `Arc`, so that the state after a step shares with the
/// state before every part the step did not change (nothing is copied for it).
pub type Part<'a, T> = Cow<'a, Arc<T>>;

/// `part`, to change: copied first where another state still shares it.
pub fn edit<'p, T: Clone>(part: &'p mut Part<'_, T>) -> &'p mut T {
    Arc::make_mut(part.to_mut())
}
