//! D1, a crash inside a step (spec/runtime.md): the state after a server takes a step and
//! crashes before the step's save, once what it gave before the save has left.
use super::harness::{Actors, Harness, ModelState};
use super::hashed::Hashed;
use super::network::send;
use super::network::take_delivered;
use super::node::ActionOf;
use super::node::Event;
use super::node::Node;
use super::node::NodeState;
use super::node::NodeStorage;
use super::node::Observed;
use super::node::Recorded;
use super::node::Trail;
use crate::protocol::self_delivery::Handlers;
use stateright::actor::{ActorModelAction, Command, Envelope, Id, Out};
use std::borrow::Cow;
use std::sync::Arc;

/// D1, a crash inside a step (spec/runtime.md): the state after protocol node `id` of `model`
/// takes `step` (a delivery to it or one of its timers) and crashes before the step's save, as
/// the runtime may between the messages that leave before a save and the save. What the actor
/// gave before its save is sent (and recorded in its trail); nothing else of the step
/// happened, and the node restarts from the storage it had. `None` unless the step saves and
/// sends something first: a crash is then stateright's own, before or after the step. The
/// crashed node keeps its state from before the step, as stateright's crash keeps it.
pub(crate) fn crash_mid_step<P: Harness>(
    model: &Actors<P>,
    last: &ModelState<P>,
    step: &ActionOf<P::Actor>,
) -> Option<(Id, ModelState<P>)> {
    let (id, event) = match step {
        ActorModelAction::Deliver { src, dst, msg } => {
            (*dst, Event::<P::Actor>::Msg(*src, msg.clone()))
        }
        ActorModelAction::Timeout(id, timer) => (*id, Event::Timeout(&timer.timer)),
        _ => return None,
    };
    let i = usize::from(id);
    let (Node::Protocol(actor), NodeState::Protocol(node)) =
        (model.actors.get(i)?, &***last.actor_states.get(i)?)
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
            let steady = <P::Actor as Recorded>::Trail::step(&node.state, &msg);
            actor.on_msg_observed(id, &mut state, src, msg, &mut out, &mut |_| {});
            steady
        }
        Event::Timeout(timer) => {
            actor.on_timeout_observed(id, &mut state, timer, &mut out, &mut |_| {});
            Default::default()
        }
    };
    let first_save = out.iter().position(|c| matches!(c, Command::Save(_)))?;
    let early: Vec<(Id, <P::Actor as stateright::actor::Actor>::Msg)> = out
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
    let mut trail = Cow::Borrowed(&*node.trail);
    for (dst, msg) in early {
        <P::Actor as Recorded>::Trail::observe(&mut trail, steady, &msg);
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
    let trail = Arc::new(trail.into_owned());
    next.actor_storages[i] = Some(NodeStorage {
        saved: node.saved.clone(),
        trail: Arc::clone(&trail),
    });
    next.actor_states[i] = Arc::new(Hashed::new(NodeState::Protocol(Observed {
        trail,
        ..node.clone()
    })));
    Some((id, next))
}
