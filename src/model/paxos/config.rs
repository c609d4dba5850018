//! A Paxos model's configuration, as an entry of `models/` describes it: the layout of the
//! roles, the clients, the network and faults, the bounds; checked for sense, and summed up in
//! one line.
use crate::model::config;
use crate::model::config::{Config, Faults};
use crate::model::network::NetworkKind;
use crate::protocol::paxos::Variant;
use serde::{Deserialize, Serialize};
use stateright::actor::Id;

/// How the roles are placed on actors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Layout {
    /// Every server is proposer, acceptor and learner.
    Servers {
        /// How many servers.
        servers: usize,
    },
    /// The paper's formulation: separate proposers, acceptors and learners.
    Roles {
        /// How many proposers.
        proposers: usize,
        /// How many acceptors.
        acceptors: usize,
        /// How many learners.
        learners: usize,
    },
}

impl Layout {
    /// Actor ids in index order: proposers (or servers), then acceptors, then learners;
    /// clients come after all of them.
    pub(super) fn groups(&self) -> (Vec<Id>, Vec<Id>, Vec<Id>) {
        match *self {
            Layout::Servers { servers } => {
                let ids = Id::vec_from(0..servers);
                (ids.clone(), ids, Vec::new())
            }
            Layout::Roles {
                proposers,
                acceptors,
                learners,
            } => {
                let a = proposers + acceptors;
                (
                    Id::vec_from(0..proposers),
                    Id::vec_from(proposers..a),
                    Id::vec_from(a..a + learners),
                )
            }
        }
    }
}

/// One single-decree configuration: what an entry of `models/` describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaxosConfig {
    /// How the roles are placed on actors.
    pub layout: Layout,
    /// Clients that put a value ('A', 'B', ...) and then read.
    pub clients: usize,
    /// Whether the clients stop after their put, without reading: a bound for models about
    /// the proposers (no quorum reads).
    #[serde(default)]
    pub put_only: bool,
    /// Clients that only read, from the start: their reads race with the proposals.
    #[serde(default)]
    pub readers: usize,
    /// How the network delivers.
    pub network: NetworkKind,
    /// Whether the network may also lose any message.
    #[serde(default)]
    pub lossy: bool,
    /// How many actors may be down at once (clients never crash).
    #[serde(default)]
    pub max_crashes: usize,
    /// The servers that may crash, by index from 0, if not every one: a bound on which
    /// server's crash the model explores, only with the servers layout.
    #[serde(default)]
    pub crashable: Option<Vec<usize>>,
    /// Proposers never go past this round, if set (a per-proposer bound).
    #[serde(default)]
    pub max_round: Option<u32>,
    /// The ballot budget, if set: how many ballots all proposers together may start (a phase
    /// 1, or any new proposal number a proposer sends), counted in their ghost trails. The
    /// model's boundary stops at the step that would start one more, as TLC models bound the
    /// set of ballots: one proposer may retry twice, or three may each try once.
    #[serde(default)]
    pub ballots: Option<u32>,
    /// Whether a writer reads through the server after the last one it put to (so by a
    /// quorum read, which a put-then-read makes linearizability-relevant) instead of the one
    /// that answered its put.
    #[serde(default)]
    pub read_elsewhere: bool,
    /// How many times a client whose put goes unanswered resends it, each time to the next
    /// server (the real client's retry): its retry timer may fire at any time.
    #[serde(default)]
    pub retries: u32,
    /// The protocol itself, or one of its deliberately broken versions.
    #[serde(default)]
    pub variant: Variant,
}

/// The smallest single-decree model worth checking: 3 servers (each proposer, acceptor and
/// learner), 1 client that puts then reads, an ordered network, no faults, and one ballot per
/// proposer (`max_round = 1`). A model file names every field it needs; in code, set the ones
/// that differ and take the rest from here.
impl Default for PaxosConfig {
    fn default() -> Self {
        PaxosConfig {
            layout: Layout::Servers { servers: 3 },
            clients: 1,
            put_only: false,
            readers: 0,
            network: NetworkKind::Ordered,
            lossy: false,
            max_crashes: 0,
            crashable: None,
            max_round: Some(1),
            ballots: None,
            read_elsewhere: false,
            retries: 0,
            variant: Variant::default(),
        }
    }
}

impl config::Config for PaxosConfig {
    fn faults(&self) -> Faults {
        Faults {
            network: self.network,
            lossy: self.lossy,
            max_crashes: self.max_crashes,
            crashable: self.crashable.clone(),
        }
    }
}

impl PaxosConfig {
    /// Checks the sizes make sense, with a message that says what to change.
    pub fn validate(&self) -> Result<(), String> {
        let (proposers, acceptors, _) = self.layout.groups();
        if proposers.is_empty() || acceptors.is_empty() {
            return Err("a model needs at least one proposer and one acceptor".to_owned());
        }
        if self.clients == 0 || self.clients > 26 {
            return Err("clients must be between 1 and 26 (client k proposes 'A' + k)".to_owned());
        }
        if self.ballots == Some(0) || self.max_round == Some(0) {
            return Err(
                "ballots and max_round must be at least 1: else nothing is proposed".to_owned(),
            );
        }
        if self.ballots.is_none() && self.max_round.is_none() {
            return Err("set ballots (a budget for all proposers) or max_round".to_owned());
        }
        match self.layout {
            Layout::Servers { servers } => {
                config::validate_crashable(servers, self.max_crashes, &self.crashable)
            }
            Layout::Roles { .. } if self.crashable.is_some() => Err(
                "crashable needs the servers layout: the roles layout's symmetry reduction \
                 takes its acceptors as interchangeable, so drop crashable"
                    .to_owned(),
            ),
            Layout::Roles { .. } => Ok(()),
        }
    }

    /// One line describing the configuration.
    pub fn summary(&self) -> String {
        let layout = match self.layout {
            Layout::Servers { servers } => {
                format!("{servers} servers (each proposer, acceptor, learner)")
            }
            Layout::Roles {
                proposers,
                acceptors,
                learners,
            } => format!("{proposers} proposers, {acceptors} acceptors, {learners} learners"),
        };
        let clients = config::count_in_words(self.clients, "client", "clients");
        let then = if self.put_only {
            "putting"
        } else {
            "putting then reading"
        };
        let resends = config::resends_in_words(self.retries);
        let readers = config::count_in_words(self.readers, "reader", "readers");
        let ballots = self
            .ballots
            .map_or("any number of ballots".to_owned(), |b| {
                config::count_in_words(b as usize, "ballot in all", "ballots in all")
            });
        let rounds = self.max_round.map_or(String::new(), |r| {
            format!(", each proposer up to round {r}")
        });
        format!(
            "single-decree Paxos, {}: {layout}; {clients} {then} ({resends}); {readers}; \
             {}; {ballots}{rounds}",
            config::variant_in_words(&self.variant),
            self.faults(),
        )
    }
}

/// The model's configuration as the properties see it.
pub type ModelCfg = config::ModelCfg<PaxosConfig>;
