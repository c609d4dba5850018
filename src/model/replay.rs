//! Trace validation (`paxos validate DIR`): the traces a real cluster recorded
//! ([`crate::runtime::trace`]) merged into one execution consistent with causality and replayed
//! through the model's own actors, ghost records and judge, with every `always` property checked
//! on every state. The rules (V1-V5) are in `spec/runtime.md`, "Trace recording and validation":
//!
//! - **V1** Ids: the cluster's servers, sorted by address (the order `paxos spawn` gives them,
//!   and the order of their [`Id`]s, which ballots compare), are model actors `0..n`; every
//!   other address (a client) is `n, n + 1, ...` in the order of the addresses (a proposer
//!   proposes the value of the first waiting client, by `Id`). Inside the
//!   protocol's JSON an actor is its `Id`, a number: a number equal to a known address's `Id`
//!   is taken for that address.
//! - **V2** Merge: each node's events are taken in its own order; a receive from a server waits
//!   until some node recorded sending that message to that node (UDP may duplicate, so one send
//!   may be received many times). A receive from a client is an input. When only receives are
//!   left, the first whose message no node ever recorded sending is a divergence.
//! - **V3** Replay: the model is the protocol's with the cluster's servers, no model clients, an
//!   unordered duplicating lossy network; a client request is recorded in the model's history
//!   (as the model's clients' sends are) then delivered; a receive is the model's `Deliver`, a
//!   timeout its `Timeout` (the timer must be set in the model), a restart `Crash` then
//!   `Recover`, all through [`HarnessModel`]'s `next_state`, so that the judge and the ghost records
//!   run. The model's network is kept empty: V2 and V4 check the messages, and the duplicating
//!   network's `Deliver` takes any envelope.
//! - **V4** Each step must do what the node recorded: save what it saved, send (at least) what
//!   it sent; a restart must start from the storage the model last saved for it.
//! - **V5** Kill -9 (T2): the last step of a node before a restart may be cut short after its
//!   line was written, if none of its messages was received: when the restart's storage is the
//!   one from before that step, the step is skipped; when it is one the step saved before its
//!   last save (a step may save more than once), the step is replayed and the restart starts
//!   from that save.
use crate::model::harness::{Harness, ModelState};
use crate::model::harness_model::{HarnessModel, Step};
use crate::model::linearizability::Calls;
use crate::model::multi_paxos::MultiPaxosConfig;
use crate::model::network::NetworkKind;
use crate::model::node::{Node, NodeState, Owned, Recorded};
use crate::model::paxos::{Layout, PaxosConfig};
use crate::model::view::Readable;
use crate::protocol::multi_paxos::Kv;
use crate::runtime::trace::Saved;
use crate::runtime::wal::Journal;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use stateright::actor::{Actor, ActorModelAction, Command, Envelope, Id, Network, Out};
use stateright::semantics::write_once_register::WORegister;
use stateright::{Expectation, Model};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::{self, Debug};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The messages, timers and storage of protocol harness `P`'s actor.
type Msg<P> = <<P as Harness>::Actor as Actor>::Msg;
type Timer<P> = <<P as Harness>::Actor as Actor>::Timer;
type Storage<P> = <<P as Harness>::Actor as Actor>::Storage;

/// How many of the events before a divergence the report shows.
const CONTEXT: usize = 8;

/// Why the traces cannot be validated at all (exit status 2): the input is not a trace.
#[derive(Debug)]
pub struct BadTrace {
    /// The file, if the problem is in one.
    pub file: Option<PathBuf>,
    /// The 1-based line, if the problem is on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for BadTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        write!(
            f,
            "{}; give the directory `paxos spawn --trace DIR` wrote",
            self.reason
        )
    }
}

impl std::error::Error for BadTrace {}

fn bad(file: &Path, line: Option<usize>, reason: impl Into<String>) -> BadTrace {
    BadTrace {
        file: Some(file.to_owned()),
        line,
        reason: reason.into(),
    }
}

/// The verdict on a directory of traces.
#[derive(Debug)]
pub struct Verdict {
    /// Whether the run replayed without divergence and every `always` property held.
    pub ok: bool,
    /// Events replayed (skipped torn steps excluded).
    pub events: usize,
    /// Model states checked.
    pub states: usize,
    /// The report to print: `OK ...`, or the first bad event with the events before it.
    pub report: String,
}

/// What a line records.
#[derive(Clone, Debug)]
enum Kind {
    Start {
        storage: Value,
    },
    Receive {
        src: SocketAddrV4,
        msg: Value,
        saved: Json,
        sent: Vec<(SocketAddrV4, Value)>,
    },
    Timeout {
        timer: Value,
        saved: Json,
        sent: Vec<(SocketAddrV4, Value)>,
    },
}

/// A JSON value kept as its text until it is used: a parsed `Value` takes many times its
/// text's memory, and a step's `saved` may be a node's whole storage (its first save). (When
/// every save was recorded whole, holding every event's storage parsed made the replay of a
/// few thousand Multi-Paxos events grow past 14 GB.)
#[derive(Clone, Debug)]
struct Json(Box<str>);

impl Json {
    fn of(value: &Value) -> Self {
        Json(value.to_string().into_boxed_str())
    }

    /// The value: the text was written from a `Value`, so it parses.
    fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    fn is_null(&self) -> bool {
        &*self.0 == "null"
    }
}

/// One line of one node's trace.
#[derive(Clone, Debug)]
struct Event {
    file: PathBuf,
    line: usize,
    node: SocketAddrV4,
    seq: u64,
    kind: Kind,
}

impl Event {
    fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    fn describe(&self) -> String {
        let what = match &self.kind {
            Kind::Start { storage } => format!("start from storage {}", short(storage)),
            Kind::Receive {
                src,
                msg,
                saved,
                sent,
            } => format!("receive {} from {src}{}", short(msg), effects(saved, sent)),
            Kind::Timeout { timer, saved, sent } => {
                format!("timeout {}{}", short(timer), effects(saved, sent))
            }
        };
        format!("{} {} seq {}: {what}", self.at(), self.node, self.seq)
    }
}

fn effects(saved: &Json, sent: &[(SocketAddrV4, Value)]) -> String {
    let mut out = String::new();
    if !saved.is_null() {
        out.push_str(&format!("; saved {}", short(&saved.value())));
    }
    for (dst, msg) in sent {
        out.push_str(&format!("; sent {} to {dst}", short(msg)));
    }
    out
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// The traces of a directory, parsed.
struct Traces {
    protocol: String,
    cluster: Vec<SocketAddrV4>,
    /// Each server's events, by model index.
    events: Vec<Vec<Event>>,
    /// Every address, its `Id` as a number, and its model `Id` (V1).
    ids: BTreeMap<SocketAddrV4, Id>,
    torn: usize,
    /// Every message some node recorded receiving: source, destination, the message's JSON.
    received: HashSet<(SocketAddrV4, SocketAddrV4, String)>,
    /// Every message some node recorded sending, likewise.
    sent: HashSet<(SocketAddrV4, SocketAddrV4, String)>,
}

fn field<'a>(v: &'a Value, name: &str, file: &Path, line: usize) -> Result<&'a Value, BadTrace> {
    v.get(name)
        .ok_or_else(|| bad(file, Some(line), format!("no field `{name}`")))
}

fn address(v: &Value, file: &Path, line: usize) -> Result<SocketAddrV4, BadTrace> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(file, Some(line), format!("{v} is not an IPv4:port address")))
}

fn sends(v: &Value, file: &Path, line: usize) -> Result<Vec<(SocketAddrV4, Value)>, BadTrace> {
    let not_a_list = || {
        bad(
            file,
            Some(line),
            "`sent` is not a list of [address, message]",
        )
    };
    v.as_array()
        .ok_or_else(not_a_list)?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([dst, msg]) => Ok((address(dst, file, line)?, msg.clone())),
            _ => Err(not_a_list()),
        })
        .collect()
}

/// Reads every `*.trace.jsonl` of `dir`.
fn read(dir: &Path) -> Result<Traces, BadTrace> {
    let unreadable = |e: std::io::Error| BadTrace {
        file: Some(dir.to_owned()),
        line: None,
        reason: format!("cannot read the trace directory: {e}"),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".trace.jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(BadTrace {
            file: Some(dir.to_owned()),
            line: None,
            reason: "no *.trace.jsonl files here".to_owned(),
        });
    }
    let mut header: Option<(String, Vec<SocketAddrV4>)> = None;
    let mut per_node: BTreeMap<SocketAddrV4, Vec<Event>> = BTreeMap::new();
    let mut torn = 0;
    let mut others: Vec<SocketAddrV4> = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| bad(file, None, e.to_string()))?;
        let text = String::from_utf8_lossy(&bytes);
        let mut lines: Vec<&str> = text.split('\n').collect();
        // T2: a last line without its newline was torn by a kill: never acted on.
        if lines.last().is_some_and(|l| !l.is_empty()) {
            torn += 1;
        }
        lines.pop();
        let mut node: Option<SocketAddrV4> = None;
        let mut events = Vec::new();
        for (i, text) in lines.iter().enumerate() {
            let line = i + 1;
            let v: Value = serde_json::from_str(text)
                .map_err(|e| bad(file, Some(line), format!("not JSON: {e}")))?;
            let seq = field(&v, "seq", file, line)?.as_u64();
            if seq != Some(i as u64) {
                return Err(bad(
                    file,
                    Some(line),
                    format!("seq is {seq:?}, expected {i} (T1: lines are numbered from 0)"),
                ));
            }
            let event = field(&v, "event", file, line)?.as_str().unwrap_or("");
            let kind = match event {
                "start" => {
                    let this = address(field(&v, "node", file, line)?, file, line)?;
                    let protocol = field(&v, "protocol", file, line)?
                        .as_str()
                        .unwrap_or("")
                        .to_owned();
                    let cluster = field(&v, "cluster", file, line)?
                        .as_array()
                        .ok_or_else(|| bad(file, Some(line), "`cluster` is not a list"))?
                        .iter()
                        .map(|a| address(a, file, line))
                        .collect::<Result<Vec<_>, _>>()?;
                    match &header {
                        None => header = Some((protocol, cluster)),
                        Some(h) if *h == (protocol.clone(), cluster.clone()) => {}
                        Some((p, c)) => {
                            return Err(bad(
                                file,
                                Some(line),
                                format!(
                                "protocol {protocol} with cluster {cluster:?}, but other traces \
                                     say {p} with {c:?}: give one cluster's traces"
                            ),
                            ))
                        }
                    }
                    if node.is_some_and(|n| n != this) {
                        return Err(bad(
                            file,
                            Some(line),
                            "a trace file holds one node's events",
                        ));
                    }
                    node = Some(this);
                    Kind::Start {
                        storage: field(&v, "storage", file, line)?.clone(),
                    }
                }
                "receive" => {
                    let src = address(field(&v, "src", file, line)?, file, line)?;
                    others.push(src);
                    Kind::Receive {
                        src,
                        msg: field(&v, "msg", file, line)?.clone(),
                        saved: Json::of(field(&v, "saved", file, line)?),
                        sent: sends(field(&v, "sent", file, line)?, file, line)?,
                    }
                }
                "timeout" => Kind::Timeout {
                    timer: field(&v, "timer", file, line)?.clone(),
                    saved: Json::of(field(&v, "saved", file, line)?),
                    sent: sends(field(&v, "sent", file, line)?, file, line)?,
                },
                other => {
                    return Err(bad(
                        file,
                        Some(line),
                        format!("unknown event {other:?} (start, receive or timeout)"),
                    ))
                }
            };
            if let Kind::Receive { sent, .. } | Kind::Timeout { sent, .. } = &kind {
                others.extend(sent.iter().map(|(dst, _)| *dst));
            }
            let Some(node) = node else {
                return Err(bad(file, Some(line), "a trace starts with a start event"));
            };
            events.push(Event {
                file: file.clone(),
                line,
                node,
                seq: i as u64,
                kind,
            });
        }
        if let Some(node) = node {
            if per_node.insert(node, events).is_some() {
                return Err(bad(file, None, format!("a second trace of {node}")));
            }
        }
    }
    let Some((protocol, mut cluster)) = header else {
        return Err(BadTrace {
            file: Some(dir.to_owned()),
            line: None,
            reason: "the traces hold no event".to_owned(),
        });
    };
    cluster.sort();
    cluster.dedup();
    let mut ids: BTreeMap<SocketAddrV4, Id> = BTreeMap::new();
    for (i, &server) in cluster.iter().enumerate() {
        ids.insert(server, Id::from(i));
    }
    // V1: clients in the order of their addresses too: the protocols order clients by `Id`
    // (a proposer proposes the value of the first client waiting).
    let clients: std::collections::BTreeSet<SocketAddrV4> = others
        .into_iter()
        .filter(|a| !ids.contains_key(a))
        .collect();
    for address in clients {
        let next = Id::from(ids.len());
        ids.insert(address, next);
    }
    let mut events = vec![Vec::new(); cluster.len()];
    for (node, node_events) in per_node {
        match cluster.iter().position(|&s| s == node) {
            Some(i) => events[i] = node_events,
            None => {
                let file = node_events.first().map(|e| e.file.clone());
                return Err(BadTrace {
                    file,
                    line: Some(1),
                    reason: format!("node {node} is not in its own cluster {cluster:?}"),
                });
            }
        }
    }
    let received = events
        .iter()
        .flatten()
        .filter_map(|e| match &e.kind {
            Kind::Receive { src, msg, .. } => Some((*src, e.node, msg.to_string())),
            _ => None,
        })
        .collect();
    let sent = events
        .iter()
        .flatten()
        .flat_map(|e| match &e.kind {
            Kind::Receive { sent, .. } | Kind::Timeout { sent, .. } => sent
                .iter()
                .map(|(dst, msg)| (e.node, *dst, msg.to_string()))
                .collect(),
            Kind::Start { .. } => Vec::new(),
        })
        .collect();
    Ok(Traces {
        protocol,
        cluster,
        events,
        ids,
        torn,
        received,
        sent,
    })
}

/// V1: `value` with every number that is a known address's `Id` replaced by its model `Id`.
fn map_ids(value: &Value, ids: &BTreeMap<u64, u64>) -> Value {
    match value {
        Value::Number(n) => match n.as_u64().and_then(|n| ids.get(&n)) {
            Some(&model) => Value::from(model),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| map_ids(v, ids)).collect()),
        // A map keyed by node ids (the at-most-once table of a saved snapshot) has them as
        // its keys' text.
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k.parse::<u64>().ok().and_then(|n| ids.get(&n)) {
                        Some(model) => model.to_string(),
                        None => k.clone(),
                    };
                    (key, map_ids(v, ids))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Validates the traces in `dir` against the model of the protocol they name.
pub fn validate(dir: &Path) -> Result<Verdict, BadTrace> {
    let traces = read(dir)?;
    let n = traces.cluster.len();
    match traces.protocol.as_str() {
        "paxos" => {
            let model = PaxosConfig {
                layout: Layout::Servers { servers: n },
                clients: 0,
                put_only: false,
                readers: 0,
                network: NetworkKind::UnorderedDuplicating,
                lossy: true,
                max_crashes: n,
                max_round: None,
                ballots: None,
                read_elsewhere: false,
                retries: 0,
                variant: Default::default(),
            }
            .into_model();
            replay(
                &model,
                &traces,
                |ghost: &mut Arc<crate::model::paxos::Ghost>| {
                    Arc::make_mut(ghost).calls = Calls::new(WORegister(None));
                },
            )
        }
        "multi-paxos" => {
            let model = MultiPaxosConfig {
                servers: n,
                clients: 0,
                reads: false,
                network: NetworkKind::UnorderedDuplicating,
                lossy: true,
                max_crashes: n,
                ballots: u8::MAX,
                slots: crate::protocol::multi_paxos::Slot::MAX,
                client_retries: 0,
                variant: Default::default(),
                // As the runtime runs it (`multi_paxos_server`).
                leader_tick: crate::protocol::multi_paxos::LeaderTick::Always,
                piece: Some(crate::runtime::node::PIECE),
                burst: Some(crate::runtime::node::BURST),
                max_lost: None,
                window: Some(crate::runtime::node::WINDOW),
                batch: Some(crate::runtime::node::BATCH),
                batch_wait: true,
                batch_bytes: Some(crate::runtime::node::BATCH_BYTES),
                snapshot_after: Some(crate::runtime::node::SNAPSHOT_AFTER),
                snapshot_piece: Some(crate::runtime::node::SNAPSHOT_PIECE),
                liveness: false,
                lose_chosen: false,
            }
            .into_model();
            replay(
                &model,
                &traces,
                |ghost: &mut Arc<crate::model::multi_paxos::Ghost>| {
                    Arc::make_mut(ghost).calls = Calls::new(Kv::default());
                },
            )
        }
        other => Err(BadTrace {
            file: Some(dir.to_owned()),
            line: None,
            reason: format!("unknown protocol {other:?} (paxos or multi-paxos)"),
        }),
    }
}

/// The replay of one protocol's traces (V2-V5).
struct Replay<'m, P: Readable> {
    model: &'m HarnessModel<P>,
    state: ModelState<P>,
    ids: BTreeMap<u64, u64>,
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
        serde_json::from_value(map_ids(value, &self.ids)).map_err(|e| {
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
            (self.model.actors.get(i), &*self.state.actor_states[i])
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
                        "{msg:?} was received, but the node restarted without the save of the                          step that sent it, and the model's actor gives it only after that                          save (D1)"
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
fn replay<P>(
    model: &HarnessModel<P>,
    traces: &Traces,
    forget_calls: fn(&mut P::History),
) -> Result<Verdict, BadTrace>
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
        .any(|s| !matches!(**s, NodeState::Protocol(_)))
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
        return Ok(Verdict {
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
    Ok(Verdict {
        ok: true,
        events: replay.events,
        states: replay.states,
        report: format!(
            "OK: {} events of {n} {} nodes replayed ({restarts} restarts, {skipped} steps lost \
             to a kill, {cut_short} cut short after their early sends or between saves, {} torn lines), {} model states \
             checked against every always property ({})",
            replay.events,
            traces.protocol,
            traces.torn,
            replay.states,
            always.join(", ")
        ),
    })
}

fn report_divergence<P>(replay: &Replay<P>, event: &Event, why: &str) -> Verdict
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
    Verdict {
        ok: false,
        events: replay.events,
        states: replay.states,
        report,
    }
}
