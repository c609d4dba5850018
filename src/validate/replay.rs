//! The replay (V2-V5): each node's events merged in an order consistent with causality, each
//! replayed through the model's actors, ghost records and judge, every `always` property
//! checked on every state.
use crate::model::harness::{Harness, ModelState};
use crate::model::harness_model::{HarnessModel, Step};
use crate::model::node::{Node, NodeState, Owned, Recorded};
use crate::model::view::Readable;
use crate::runtime::trace::Saved;
use crate::runtime::wal::Journal;
use crate::validate::ids::{decode_mapped, IdMap};
use crate::validate::outcome::{bad, BadTrace, ValidationReport};
use crate::validate::traces::{Event, Json, Kind, Traces};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use stateright::actor::{Actor, ActorModelAction, Command, Envelope, Id, Network, Out};
use stateright::{Expectation, Model};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddrV4;

/// The messages, timers and storage of protocol harness `P`'s actor.
type Msg<P> = <<P as Harness>::Actor as Actor>::Msg;
type Timer<P> = <<P as Harness>::Actor as Actor>::Timer;
type Storage<P> = <<P as Harness>::Actor as Actor>::Storage;

/// How many of the events before a divergence the report shows.
const CONTEXT: usize = 8;

/// The replay of one protocol's traces (V2-V5).
struct Replay<'m, P: Readable> {
    model: &'m HarnessModel<P>,
    state: ModelState<P>,
    /// V1: each address's `Id` as a number to its model `Id`'s.
    ids: IdMap,
    model_ids: BTreeMap<SocketAddrV4, Id>,
    n: usize,
    /// V2: every message some node recorded sending, with the model's ids.
    sent: HashSet<(Id, Id, Msg<P>)>,
    /// The last [`CONTEXT`] events replayed, for a report.
    recent: VecDeque<Event>,
    forget_calls: fn(&mut P::History),
    events: usize,
    states: usize,
}

/// V5: how a kill cut a step short.
enum Torn<S, M> {
    /// It was not: the step happened whole.
    No,
    /// Before its first save, with none of its messages received: nothing of it survived;
    /// the step is skipped.
    BeforeSave,
    /// Before its save, once the messages the actor gives before its save had left (D1), some
    /// of them received: the model's crash inside the step ([`Step::CrashMidStep`]). Holds
    /// those messages, with their recipients.
    AfterEarlySends(HashSet<(Id, M)>),
    /// Between two of its saves: the disk holds this earlier one.
    MidStep(S),
}

/// Why replaying an event failed: a divergence or a broken property (exit status 1), or an
/// event that does not decode as the protocol's (exit status 2).
enum Stop {
    Diverged(String),
    Bad(BadTrace),
}

impl<P> Replay<'_, P>
where
    P: Readable,
    Msg<P>: DeserializeOwned + Serialize,
    Timer<P>: DeserializeOwned,
    Storage<P>: Journal,
{
    fn decode<T: DeserializeOwned>(
        &self,
        value: &Value,
        event: &Event,
        what: &str,
    ) -> Result<T, Stop> {
        decode_mapped(value, &self.ids).map_err(|e| {
            Stop::Bad(bad(
                &event.file,
                Some(event.line),
                format!(
                    "the {what} is not a {} {what}: {e}",
                    self_name::<P::Actor>()
                ),
            ))
        })
    }

    fn id(&self, address: SocketAddrV4) -> Id {
        // Every address was given an id when the traces were read.
        self.model_ids
            .get(&address)
            .copied()
            .unwrap_or(Id::from(usize::MAX))
    }

    /// V4: the storage a step's line says the node saved (`None`: it saved nothing). T2: the
    /// line holds what changed since the node's previous save, applied here to `before`, what
    /// the node saved last (the model's actor saved it too, or V4 would have stopped the
    /// replay), or the whole storage at the node's first save.
    fn saved_by(
        &self,
        saved: &Json,
        before: Option<&Storage<P>>,
        event: &Event,
    ) -> Result<Option<Storage<P>>, Stop> {
        type Change<A> = <<A as Actor>::Storage as Journal>::Change;
        let saved: Option<Saved<Storage<P>, Change<P::Actor>>> =
            self.decode(&saved.value(), event, "save")?;
        Ok(match saved {
            None => None,
            Some(Saved::Whole(storage)) => Some(storage),
            Some(Saved::Changes(changes)) => {
                let Some(mut storage) = before.cloned() else {
                    return Err(Stop::Diverged(
                        "the node saved changes to storage it never saved (T2: its first save \
                         is whole)"
                            .to_owned(),
                    ));
                };
                changes.into_iter().for_each(|change| storage.apply(change));
                Some(storage)
            }
        })
    }

    /// The storage the model last saved for actor `i`.
    fn saved(&self, i: usize) -> Option<&Storage<P>> {
        self.state.actor_storages[i]
            .as_ref()
            .and_then(|s| s.saved.as_ref())
    }

    /// Moves to `next` and checks every `always` property on it.
    fn advance(&mut self, next: Option<ModelState<P>>) -> Result<(), Stop> {
        if let Some(next) = next {
            self.state = next;
        }
        // V3: the model's network is left empty. V2 checks every receive against the recorded
        // sends and V4 every recorded send against the model's, so the envelopes it would hold
        // (every message ever sent, on a duplicating network) would only be copied with every
        // state; no `always` property reads them.
        if self.state.network.len() > 0 {
            self.state.network = Network::new_unordered_duplicating([]);
        }
        self.states += 1;
        for property in self.model.properties() {
            if property.expectation == Expectation::Always
                && !(property.condition)(self.model, &self.state)
            {
                // The refinement properties say which abstract step was not allowed.
                let finding = self.model.explain(property.name, &self.state);
                return Err(Stop::Diverged(format!(
                    "breaks the always property \"{}\"{}",
                    property.name,
                    finding.map(|f| format!(": {f}")).unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// V2: whether `event` may happen now.
    fn enabled(&self, i: usize, event: &Event) -> Result<bool, Stop> {
        match &event.kind {
            Kind::Receive { src, msg, .. } if self.id(*src) < Id::from(self.n) => {
                let msg: Msg<P> = self.decode(msg, event, "message")?;
                Ok(self.sent.contains(&(self.id(*src), Id::from(i), msg)))
            }
            _ => Ok(true),
        }
    }

    /// V5: whether `event`, the last step before a restart whose storage it had not all written,
    /// was cut short by the kill: before its first save ([`Torn::BeforeSave`]), after the
    /// messages the actor gives before its save ([`Torn::AfterEarlySends`]: D1 lets them leave
    /// first), or between two of its saves ([`Torn::MidStep`], with the save that reached the
    /// disk; the actor gives one save per step, but a trace of an earlier build may hold a
    /// step that saved twice). The trace records the step's last save and every message in the
    /// actor's order, not where the save stood among them: that, and any earlier save, are
    /// found by running the model's actor on the step.
    fn torn(
        &self,
        i: usize,
        event: &Event,
        next: Option<&Event>,
        received: &HashSet<(SocketAddrV4, SocketAddrV4, String)>,
    ) -> Result<Torn<Storage<P>, Msg<P>>, Stop> {
        let (Kind::Receive { saved, sent, .. } | Kind::Timeout { saved, sent, .. }) = &event.kind
        else {
            return Ok(Torn::No);
        };
        if saved.is_null() {
            return Ok(Torn::No);
        }
        let was_received = |(dst, msg): &(SocketAddrV4, Value)| {
            received.contains(&(event.node, *dst, msg.to_string()))
        };
        let Some(Event {
            kind: Kind::Start { storage },
            ..
        }) = next
        else {
            return Ok(Torn::No);
        };
        let restarted: Option<Storage<P>> = self.decode(storage, event, "storage")?;
        let saved = self.saved_by(saved, self.saved(i), event)?;
        if restarted == saved {
            return Ok(Torn::No);
        }
        let before_save = restarted.as_ref() == self.saved(i);
        if before_save && !sent.iter().any(was_received) {
            return Ok(Torn::BeforeSave);
        }
        let (Some(Node::Protocol(actor)), NodeState::Protocol(node)) =
            (self.model.actors.get(i), &**self.state.actor_states[i])
        else {
            return Ok(Torn::No);
        };
        let id = Id::from(i);
        let mut state = Cow::Borrowed(&node.state);
        let mut out = Out::new();
        match &event.kind {
            Kind::Receive { src, msg, .. } => {
                let msg: Msg<P> = self.decode(msg, event, "message")?;
                Actor::on_msg(actor, id, &mut state, self.id(*src), msg, &mut out);
            }
            Kind::Timeout { timer, .. } => {
                let timer: Timer<P> = self.decode(timer, event, "timer")?;
                Actor::on_timeout(actor, id, &mut state, &timer, &mut out);
            }
            Kind::Start { .. } => {}
        }
        if before_save {
            // D1: only what the actor gives before its save may have left without it.
            let first_save = out.iter().position(|c| matches!(c, Command::Save(_)));
            let early: HashSet<(Id, Msg<P>)> = out
                .into_iter()
                .take(first_save.unwrap_or(0))
                .filter_map(|c| match c {
                    Command::Send(dst, msg) => Some((dst, msg)),
                    _ => None,
                })
                .collect();
            for (dst, msg) in sent.iter().filter(|s| was_received(s)) {
                let msg: Msg<P> = self.decode(msg, event, "message")?;
                if !early.contains(&(self.id(*dst), msg.clone())) {
                    return Err(Stop::Diverged(format!(
                        "{msg:?} was received, but the node restarted without the save of the \
                         step that sent it, and the model's actor gives it only after that \
                         save (D1)"
                    )));
                }
            }
            return Ok(Torn::AfterEarlySends(early));
        }
        if sent.iter().any(was_received) {
            return Ok(Torn::No);
        }
        let Some(restarted) = restarted else {
            return Ok(Torn::No);
        };
        let intermediate = out
            .iter()
            .any(|c| matches!(c, Command::Save(s) if *s == restarted));
        Ok(if intermediate {
            Torn::MidStep(restarted)
        } else {
            Torn::No
        })
    }

    /// V4: what the model's actor `i` sends in the step `run` makes from its present state.
    fn model_sends(
        &self,
        i: usize,
        run: impl FnOnce(
            &Node<P::Actor, P::Client>,
            &mut Cow<<Node<P::Actor, P::Client> as Actor>::State>,
            &mut Out<Node<P::Actor, P::Client>>,
        ),
    ) -> HashSet<(Id, Msg<P>)> {
        let mut out = Out::new();
        if let Some(actor) = self.model.actors.get(i) {
            let mut state = Cow::Borrowed(&*self.state.actor_states[i]);
            run(actor, &mut state, &mut out);
        }
        out.into_iter()
            .filter_map(|c| match c {
                Command::Send(dst, msg) => Some((dst, msg)),
                _ => None,
            })
            .collect()
    }

    /// Replays `event`, node `i`'s step; `cut`: the messages the step sent before the kill cut
    /// it short ahead of its save (V5, [`Torn::AfterEarlySends`]).
    fn step(
        &mut self,
        i: usize,
        event: &Event,
        first: bool,
        cut: Option<&HashSet<(Id, Msg<P>)>>,
    ) -> Result<(), Stop> {
        let wrap = |action| match cut {
            Some(_) => Step::CrashMidStep(action),
            None => Step::Actor(action),
        };
        let id = Id::from(i);
        // What the step saved, rebuilt from what the node had saved before it (which the
        // model's actor saved too, or V4 would have stopped the replay).
        let saved = match &event.kind {
            Kind::Receive { saved, .. } | Kind::Timeout { saved, .. } => {
                self.saved_by(saved, self.saved(i), event)?
            }
            Kind::Start { .. } => None,
        };
        let (sent, model_sent) = match &event.kind {
            Kind::Start { storage } => {
                let restarted: Option<Storage<P>> = self.decode(storage, event, "storage")?;
                if first {
                    if restarted.is_some() {
                        return Err(Stop::Diverged(
                            "the node's first start is from storage this trace never saw it save \
                             (trace a cluster from fresh data directories)"
                                .to_owned(),
                        ));
                    }
                    return self.advance(None);
                }
                let crashed = self
                    .model
                    .next_state(&self.state, Step::Actor(ActorModelAction::Crash(id)));
                self.advance(crashed)?;
                let recovered = self
                    .model
                    .next_state(&self.state, Step::Actor(ActorModelAction::Recover(id)));
                self.advance(recovered)?;
                if restarted.as_ref() != self.saved(i) {
                    return Err(Stop::Diverged(format!(
                        "restarts from storage other than what it last saved ({:?}): the \
                         amnesia rule D2 exists to stop",
                        self.saved(i)
                    )));
                }
                return Ok(());
            }
            Kind::Receive { src, msg, sent, .. } => {
                let src_id = self.id(*src);
                let msg: Msg<P> = self.decode(msg, event, "message")?;
                if src_id >= Id::from(self.n) {
                    // V3: a client's request is an input, recorded in the history as the
                    // model's clients' sends are. The duplicating network's `Deliver` takes any
                    // envelope, so it is delivered without first being put into the network.
                    let env = Envelope {
                        src: src_id,
                        dst: id,
                        msg: &msg,
                    };
                    if let Some(history) =
                        (self.model.record_msg_out)(&self.model.cfg, &self.state.history, env)
                    {
                        self.state.history = history;
                    }
                    (self.forget_calls)(&mut self.state.history);
                }
                let model_sent = self.model_sends(i, |actor, state, out| {
                    actor.on_msg(id, state, src_id, msg.clone(), out)
                });
                let action = ActorModelAction::Deliver {
                    src: src_id,
                    dst: id,
                    msg,
                };
                let next = self.model.next_state(&self.state, wrap(action));
                if cut.is_some() && next.is_none() {
                    return Err(Stop::Diverged(
                        "the model's actor sends nothing before its save in this step".to_owned(),
                    ));
                }
                self.advance(next)?;
                (sent, model_sent)
            }
            Kind::Timeout { timer, sent, .. } => {
                // The model's timers are tagged with the actor that holds them.
                let timer = Owned {
                    owner: id,
                    timer: self.decode::<Timer<P>>(timer, event, "timer")?,
                };
                let model_sent = self.model_sends(i, |actor, state, out| {
                    actor.on_timeout(id, state, &timer, out)
                });
                if !self.state.timers_set[i].iter().any(|t| *t == timer) {
                    return Err(Stop::Diverged(format!(
                        "the model's actor has no timer {timer:?} set"
                    )));
                }
                let next = self
                    .model
                    .next_state(&self.state, wrap(ActorModelAction::Timeout(id, timer)));
                if cut.is_some() && next.is_none() {
                    return Err(Stop::Diverged(
                        "the model's actor sends nothing before its save in this step".to_owned(),
                    ));
                }
                self.advance(next)?;
                (sent, model_sent)
            }
        };
        // V4: the model's step saved and sent what the node did (V5: of a step cut short
        // before its save, only what left before it).
        if cut.is_none() && saved.is_some() && saved.as_ref() != self.saved(i) {
            return Err(Stop::Diverged(format!(
                "the node saved what the model's actor did not (the node saved {:?}; the model's \
                 actor has {:?})",
                saved,
                self.saved(i)
            )));
        }
        let mut sends = Vec::new();
        for (dst, msg) in sent {
            let msg: Msg<P> = self.decode(msg, event, "message")?;
            let dst = self.id(*dst);
            if !model_sent.contains(&(dst, msg.clone())) {
                return Err(Stop::Diverged(format!(
                    "the node sent {msg:?} to model actor {}, which the model's actor did not \
                     send",
                    usize::from(dst)
                )));
            }
            if cut.is_none_or(|early| early.contains(&(dst, msg.clone()))) {
                sends.push((id, dst, msg));
            }
        }
        self.sent.extend(sends);
        Ok(())
    }
}

fn self_name<A: Recorded>() -> &'static str {
    let name = std::any::type_name::<A>();
    name.rsplit("::").next().unwrap_or(name)
}

/// Replays `traces` through `model`; `forget_calls` empties the history's record of client
/// calls after each client request (V3: the replay records no returns, so it checks no
/// linearizability, and the record would only grow and be copied with every state).
pub(crate) fn replay<P>(
    model: &HarnessModel<P>,
    traces: &Traces,
    forget_calls: fn(&mut P::History),
) -> Result<ValidationReport, BadTrace>
where
    P: Readable,
    Msg<P>: DeserializeOwned + Serialize,
    Timer<P>: DeserializeOwned,
    Storage<P>: Journal,
{
    let n = traces.cluster.len();
    let Some(init) = model.init_states().into_iter().next() else {
        return Err(BadTrace {
            file: None,
            line: None,
            reason: "the model has no initial state".to_owned(),
        });
    };
    if init
        .actor_states
        .iter()
        .any(|s| !matches!(***s, NodeState::Protocol(_)))
    {
        return Err(BadTrace {
            file: None,
            line: None,
            reason: "the replay model has clients".to_owned(),
        });
    }
    let ids = traces
        .ids
        .iter()
        .map(|(a, id)| (usize::from(Id::from(*a)) as u64, usize::from(*id) as u64))
        .collect();
    let mut replay = Replay {
        model,
        state: init,
        ids,
        model_ids: traces.ids.clone(),
        n,
        sent: HashSet::new(),
        recent: VecDeque::new(),
        forget_calls,
        events: 0,
        states: 0,
    };
    let mut next = vec![0usize; n];
    let mut skipped = 0;
    let mut cut_short = 0;
    let stopped = |replay: &Replay<P>, event: &Event, stop: Stop| match stop {
        Stop::Bad(bad) => Err(bad),
        Stop::Diverged(why) => Ok(report_divergence(replay, event, &why)),
    };
    if let Err(stop) = replay.advance(None) {
        let why = match stop {
            Stop::Bad(bad) => return Err(bad),
            Stop::Diverged(why) => why,
        };
        return Ok(ValidationReport {
            ok: false,
            events: 0,
            states: 1,
            report: format!("VIOLATION in the initial state: {why}"),
        });
    }
    loop {
        let mut progressed = false;
        for (i, node_events) in traces.events.iter().enumerate() {
            let Some(event) = node_events.get(next[i]) else {
                continue;
            };
            let enabled = match replay.enabled(i, event) {
                Ok(enabled) => enabled,
                Err(stop) => return stopped(&replay, event, stop),
            };
            if !enabled {
                continue;
            }
            progressed = true;
            next[i] += 1;
            let torn = match replay.torn(i, event, node_events.get(next[i]), &traces.received) {
                Ok(Torn::BeforeSave) => {
                    skipped += 1;
                    continue;
                }
                Ok(torn) => torn,
                Err(stop) => return stopped(&replay, event, stop),
            };
            let cut = match &torn {
                Torn::AfterEarlySends(early) => {
                    cut_short += 1;
                    Some(early)
                }
                _ => None,
            };
            if let Err(stop) = replay.step(i, event, next[i] == 1, cut) {
                return stopped(&replay, event, stop);
            }
            if let Torn::MidStep(on_disk) = torn {
                // V5: the disk kept the step's earlier save; the restart starts from it.
                cut_short += 1;
                if let Some(storage) = &mut replay.state.actor_storages[i] {
                    storage.saved = Some(on_disk);
                }
            }
            replay.events += 1;
            replay.recent.push_back(event.clone());
            if replay.recent.len() > CONTEXT {
                replay.recent.pop_front();
            }
        }
        if !progressed {
            break;
        }
    }
    // V2: what is left waits for messages nobody sent; the first receive whose message no
    // node recorded sending at all is the culprit (the others wait on it).
    let heads: Vec<&Event> = (0..n)
        .filter_map(|i| traces.events[i].get(next[i]))
        .collect();
    let never_sent = heads.iter().find(|e| match &e.kind {
        Kind::Receive { src, msg, .. } => !traces.sent.contains(&(*src, e.node, msg.to_string())),
        _ => false,
    });
    let stuck = never_sent.or(heads.first()).copied();
    if let Some(event) = stuck {
        let why = match &event.kind {
            Kind::Receive { src, .. } => format!(
                "received a message from {src} that {src} never recorded sending to {} (a \
                 receive with no send)",
                event.node
            ),
            _ => "cannot be ordered after what it depends on".to_owned(),
        };
        return Ok(report_divergence(&replay, event, &why));
    }
    let always: Vec<&str> = model
        .properties()
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .map(|p| p.name)
        .collect();
    let restarts: usize = traces
        .events
        .iter()
        .map(|e| {
            e.iter()
                .filter(|e| matches!(e.kind, Kind::Start { .. }))
                .count()
                .saturating_sub(1)
        })
        .sum();
    Ok(ValidationReport {
        ok: true,
        events: replay.events,
        states: replay.states,
        report: format!(
            "OK: {} events of {n} {} nodes replayed ({restarts} restarts, {skipped} steps lost \
             to a kill, {cut_short} cut short after their early sends or between saves, {} torn \
             lines), {} model states checked against every always property ({})",
            replay.events,
            traces.protocol,
            traces.torn,
            replay.states,
            always.join(", ")
        ),
    })
}

fn report_divergence<P>(replay: &Replay<P>, event: &Event, why: &str) -> ValidationReport
where
    P: Readable,
    Msg<P>: DeserializeOwned + Serialize,
    Timer<P>: DeserializeOwned,
    Storage<P>: Journal,
{
    let label = if why.starts_with("breaks the always property") {
        "VIOLATION"
    } else {
        "DIVERGENCE"
    };
    let mut report = format!(
        "{label} at {}: {} (model actor {}) seq {} {why}\n  event: {}\n",
        event.at(),
        event.node,
        usize::from(replay.id(event.node)),
        event.seq,
        event.describe()
    );
    report.push_str(&format!(
        "after {} events and {} states; the events before it, oldest first:\n",
        replay.events, replay.states
    ));
    for earlier in &replay.recent {
        report.push_str(&format!("  {}\n", earlier.describe()));
    }
    ValidationReport {
        ok: false,
        events: replay.events,
        states: replay.states,
        report,
    }
}
