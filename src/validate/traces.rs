//! The traces of a directory, read: each line decoded as the [`TraceLine`] the runtime wrote
//! and checked (T1: numbered from 0; one node, one protocol and cluster per file), each node's
//! events in its own order, and every address given its model id (V1).
use crate::runtime::trace::{Saved, TraceLine};
use crate::validate::outcome::{bad, BadTrace};
use serde_json::error::Category;
use serde_json::Value;
use stateright::actor::Id;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

/// What a line records.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
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
pub(crate) struct Json(Box<str>);

impl Json {
    /// What a line says a step saved (`null`: nothing), as the text of its JSON value.
    pub(crate) fn of(saved: &Option<Saved<Value, Value>>) -> Self {
        let text = serde_json::to_string(saved).expect("JSON values always serialize");
        Json(text.into_boxed_str())
    }

    /// The value: the text was written from a `Value`, so it parses.
    pub(crate) fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    pub(crate) fn is_null(&self) -> bool {
        &*self.0 == "null"
    }
}

/// One line of one node's trace.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) node: SocketAddrV4,
    pub(crate) seq: u64,
    pub(crate) kind: Kind,
}

impl Event {
    pub(crate) fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    pub(crate) fn describe(&self) -> String {
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

pub(crate) fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// The traces of a directory, parsed.
pub(crate) struct Traces {
    pub(crate) protocol: String,
    pub(crate) cluster: Vec<SocketAddrV4>,
    /// Each server's events, by model index.
    pub(crate) events: Vec<Vec<Event>>,
    /// Every address, its `Id` as a number, and its model `Id` (V1).
    pub(crate) ids: BTreeMap<SocketAddrV4, Id>,
    pub(crate) torn: usize,
    /// Every message some node recorded receiving: source, destination, the message's JSON.
    pub(crate) received: HashSet<(SocketAddrV4, SocketAddrV4, String)>,
    /// Every message some node recorded sending, likewise.
    pub(crate) sent: HashSet<(SocketAddrV4, SocketAddrV4, String)>,
}

/// Reads every `*.trace.jsonl` of `dir`.
pub(crate) fn read(dir: &Path) -> Result<Traces, BadTrace> {
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
            // The protocol's messages, timers and storage stay JSON values until the protocol
            // (from the start lines) and every address (from all of them) are known (V1).
            let parsed: TraceLine<Value, Value, Value, Value> = serde_json::from_str(text)
                .map_err(|e| {
                    let what = match e.classify() {
                        Category::Syntax | Category::Eof => "not JSON",
                        Category::Data | Category::Io => "not a trace line",
                    };
                    bad(file, Some(line), format!("{what}: {e}"))
                })?;
            let seq = parsed.seq();
            if seq != i as u64 {
                return Err(bad(
                    file,
                    Some(line),
                    format!(
                        "seq is {:?}, expected {i} (T1: lines are numbered from 0)",
                        Some(seq)
                    ),
                ));
            }
            let kind = match parsed {
                TraceLine::Start {
                    node: this,
                    protocol,
                    cluster,
                    storage,
                    ..
                } => {
                    match &header {
                        None => header = Some((protocol, cluster)),
                        Some(h) if *h == (protocol.clone(), cluster.clone()) => {}
                        Some((p, c)) => {
                            return Err(bad(
                                file,
                                Some(line),
                                format!(
                                    "protocol {protocol} with cluster {cluster:?}, but other \
                                     traces say {p} with {c:?}: give one cluster's traces"
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
                        storage: storage.unwrap_or(Value::Null),
                    }
                }
                TraceLine::Receive {
                    src,
                    msg,
                    saved,
                    sent,
                    ..
                } => {
                    others.push(src);
                    Kind::Receive {
                        src,
                        msg,
                        saved: Json::of(&saved),
                        sent,
                    }
                }
                TraceLine::Timeout {
                    timer, saved, sent, ..
                } => Kind::Timeout {
                    timer,
                    saved: Json::of(&saved),
                    sent,
                },
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
