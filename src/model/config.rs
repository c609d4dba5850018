//! A model file's configuration as the shared harness needs it: its faults, the actors
//! the properties see, and the words the one-line summaries use.
use super::network::NetworkKind;
use crate::protocol::ballot::quorum;
use serde::Serialize;
use stateright::actor::Id;
use std::fmt::{self, Debug};

/// The faults a model allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Faults {
    /// How the network delivers.
    pub(crate) network: NetworkKind,
    /// Whether the network may also lose any message.
    pub(crate) lossy: bool,
    /// How many actors may be down at once.
    pub(crate) max_crashes: usize,
    /// The servers that may crash, by index; every server if `None` (see [`crashable_ids`]).
    pub(crate) crashable: Option<Vec<usize>>,
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
        let only = match &self.crashable {
            Some(servers) if self.max_crashes > 0 => {
                let names: Vec<String> = servers.iter().map(usize::to_string).collect();
                let plural = if servers.len() == 1 { "" } else { "s" };
                format!(" (only server{plural} {} may crash)", names.join(", "))
            }
            _ => String::new(),
        };
        write!(f, "{} network{loss}, {crashes}{only}", self.network)
    }
}

/// The actors of a model with `servers` servers that may crash: every server, or only the
/// ones `crashable` names (clients never crash: their history would end with a call that
/// never returns).
pub(crate) fn crashable_ids(servers: usize, crashable: &Option<Vec<usize>>) -> Vec<Id> {
    match crashable {
        Some(named) => named.iter().map(|&i| Id::from(i)).collect(),
        None => Id::vec_from(0..servers),
    }
}

/// Checks a model file's `crashable` against its `servers` and `max_crashes`, with a message
/// that says what to change.
pub(crate) fn validate_crashable(
    servers: usize,
    max_crashes: usize,
    crashable: &Option<Vec<usize>>,
) -> Result<(), String> {
    let Some(named) = crashable else {
        return Ok(());
    };
    if let Some(bad) = named.iter().find(|&&i| i >= servers) {
        return Err(format!(
            "crashable names server {bad}, but the servers are 0 to {}: name servers that exist",
            servers.saturating_sub(1)
        ));
    }
    if named.is_empty() || max_crashes == 0 {
        return Err(
            "crashable names the servers that may crash: set max_crashes to at least 1 and name \
             at least one server, or drop crashable"
                .to_owned(),
        );
    }
    if named.windows(2).any(|w| w[0] >= w[1]) {
        return Err("crashable names each server once, in increasing order".to_owned());
    }
    if named.len() < max_crashes {
        return Err(format!(
            "max_crashes is {max_crashes} but crashable names only {}: name at least as many \
             servers as may be down at once",
            named.len()
        ));
    }
    Ok(())
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
    /// The actors that may crash: the servers the model file lets crash, never a client.
    pub crashable: Vec<Id>,
}

impl<C> ModelCfg<C> {
    /// A true majority of the acceptors, whatever quorum a broken variant uses.
    pub fn majority(&self) -> usize {
        quorum(self.acceptors.len())
    }

    /// Whether the model lets actor `id` crash.
    pub(crate) fn may_crash(&self, id: Id) -> bool {
        self.crashable.contains(&id)
    }
}
