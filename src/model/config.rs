//! A model file's configuration as the shared harness needs it: its faults, the actors
//! the properties see, and the words the one-line summaries use.
use super::network::NetworkKind;
use crate::protocol::ballot::quorum;
use serde::Serialize;
use stateright::actor::{Actor, ActorModelState, Id};
use std::fmt::{self, Debug};

/// The faults a model allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Faults {
    /// How the network delivers.
    pub(crate) network: NetworkKind,
    /// Whether the network may also lose any message.
    pub(crate) lossy: bool,
    /// How many actors may be down at once.
    pub(crate) max_crashes: usize,
}

/// As a model's one-line summary says them: "unordered duplicating network with loss, at
/// most 1 server down at a time".
impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loss = if self.lossy {
            " with loss"
        } else {
            ", no loss"
        };
        let crashes = match self.max_crashes {
            0 => "no crashes".to_owned(),
            1 => "at most 1 server down at a time".to_owned(),
            n => format!("at most {n} servers down at a time"),
        };
        write!(f, "{} network{loss}, {crashes}", self.network)
    }
}

/// A protocol variant in words, by the name model files give it: "the correct protocol", or
/// "the broken variant forget-accepted".
pub fn variant_in_words(variant: &impl Serialize) -> String {
    let name = serde_json::to_value(variant)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unnamed".to_owned());
    if name == "correct" {
        "the correct protocol".to_owned()
    } else {
        format!("the broken variant {name}")
    }
}

/// A client's resends in words: "no resends", "up to 2 resends".
pub fn resends_in_words(n: u32) -> String {
    match n {
        0 => "no resends".to_owned(),
        n => format!("up to {n} resends"),
    }
}

/// `n` things in words: "no clients", "1 client", "2 clients".
pub fn count_in_words(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// A model file's configuration, as the shared harness needs it.
pub(crate) trait Config: Clone {
    /// The faults the model allows.
    fn faults(&self) -> Faults;
}

/// A model's configuration as its properties and its boundary see it.
#[derive(Clone, Debug)]
pub struct ModelCfg<C> {
    /// The configuration the model was built from.
    pub config: C,
    /// The acceptors (in Multi-Paxos, every server).
    pub acceptors: Vec<Id>,
    /// The clients.
    pub clients: Vec<Id>,
}

impl<C> ModelCfg<C> {
    /// A true majority of the acceptors, whatever quorum a broken variant uses.
    pub fn majority(&self) -> usize {
        quorum(self.acceptors.len())
    }

    /// Whether every client is up: the models never crash a client (its history would end
    /// with a call that never returns).
    pub(crate) fn clients_up<A: Actor, H>(&self, state: &ActorModelState<A, H>) -> bool {
        self.clients.iter().all(|c| !state.crashed[usize::from(*c)])
    }
}
