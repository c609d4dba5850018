//! A Multi-Paxos model's configuration, as an entry of `models/` describes it: its sizes,
//! its network and faults, its bounds; checked for sense, and summed up in one line.
use crate::model::config;
use crate::model::config::{Config, Faults};
use crate::model::network::NetworkKind;
use crate::protocol::multi_paxos::{LeaderTick, Slot, Tuning, Variant};
use serde::{Deserialize, Serialize};
use stateright::actor::model_timeout;

/// One Multi-Paxos configuration: what an entry of `models/` describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiPaxosConfig {
    /// How many servers: each is leader, acceptor and replica.
    pub servers: usize,
    /// How many clients: client 0 puts, the others append.
    pub clients: usize,
    /// Whether each client reads the key after its write.
    #[serde(default)]
    pub reads: bool,
    /// How the network delivers.
    pub network: NetworkKind,
    /// Whether the network may also lose any message.
    #[serde(default)]
    pub lossy: bool,
    /// Servers that may crash (clients never do).
    #[serde(default)]
    pub max_crashes: usize,
    /// The servers that may crash, by index from 0, if not every one: a bound on which
    /// server's crash the model explores.
    #[serde(default)]
    pub crashable: Option<Vec<usize>>,
    /// The ballot budget: how many times, in all, servers may start phase 1 (each start is a
    /// new ballot). The model's boundary keeps the space finite; one server may campaign
    /// `ballots` times or each of several once.
    pub ballots: u8,
    /// The log's length: slots `0..slots`.
    pub slots: Slot,
    /// How many times each client may resend a request, in all.
    pub client_retries: u8,
    /// The protocol itself, or one of its deliberately broken versions.
    #[serde(default)]
    pub variant: Variant,
    /// Batching: the most slots a leader has in flight before requests wait for one to be chosen
    /// ([`Tuning::window`](crate::protocol::multi_paxos::Tuning::window)); by
    /// default no limit (no request ever waits).
    #[serde(default)]
    pub window: Option<usize>,
    /// Batching: the most client commands one slot holds
    /// ([`Tuning::batch`](crate::protocol::multi_paxos::Tuning::batch)); by
    /// default 1.
    #[serde(default)]
    pub batch: Option<usize>,
    /// Batching: whether a leader holds its waiting requests, once a slot is chosen, for the
    /// clients that slot answered
    /// ([`Tuning::batch_wait`](crate::protocol::multi_paxos::Tuning::batch_wait);
    /// its timer may fire at any point, as every model timer); by default not.
    #[serde(default)]
    pub batch_wait: bool,
    /// Batching: the most key and value bytes a batch of several commands holds
    /// ([`Tuning::batch_bytes`](crate::protocol::multi_paxos::Tuning::batch_bytes));
    /// by default no limit (the runtime's, for replay).
    #[serde(default)]
    pub batch_bytes: Option<usize>,
    /// Snapshots: a server takes one, and truncates its log below it, each time it has applied this
    /// many slots past its last one
    /// ([`Tuning::snapshot_after`](crate::protocol::multi_paxos::Tuning::snapshot_after));
    /// by default never.
    #[serde(default)]
    pub snapshot_after: Option<Slot>,
    /// Snapshots: the most entries one piece of a snapshot carries
    /// ([`Tuning::snapshot_piece`](crate::protocol::multi_paxos::Tuning::snapshot_piece));
    /// by default `piece`, or more than the model's store has.
    #[serde(default)]
    pub snapshot_piece: Option<usize>,
    /// When a leader ticks (re-sends its `Accept`s in flight, sends heartbeats): off unless
    /// asked, since each tick re-sends and an ordered network's channels would grow without
    /// bound ([`LeaderTick`]).
    #[serde(default)]
    pub leader_tick: LeaderTick,
    /// The most slots a `Promise` reports; by default the whole log.
    #[serde(default)]
    pub piece: Option<usize>,
    /// The most `Accept`s a leader sends at once and the most slots a catch-up answer
    /// sends; by default `piece`.
    #[serde(default)]
    pub burst: Option<usize>,
    /// With a lossy ordered or unordered non-duplicating network, bounds the loss (and the
    /// network holds at most 2 copies of a message, bounding what a leader's tick re-sends):
    /// at most this many phase 2 messages (`Accept`, `Accepted`) are lost, and no other (but
    /// `Chosen`, with [`MultiPaxosConfig::lose_chosen`]; a lost client request needs a client
    /// retry, a lost phase 1 a new ballot: the model bounds both). `None`: any message may be
    /// lost, any number of times.
    #[serde(default)]
    pub max_lost: Option<u8>,
    /// Whether the model claims liveness ("every request answered", judged where a run ends).
    /// Only where every run ends with nothing the bounds cut short: the ballot and slot budgets
    /// end runs with requests still pending, and unbounded loss with a leader that re-sends
    /// for ever.
    #[serde(default)]
    pub liveness: bool,
    /// Whether the (lossy) network loses every `Chosen` message as soon as it is sent: the
    /// model explores only such runs. Only a leader's replica learns, from the `Accepted`s it
    /// counts; followers never learn a slot from the leader, nor catch up. A bound: where two
    /// leaders' messages interleave, the followers' learning multiplies the space about
    /// twentyfold, and no safety property needs it to be reached.
    #[serde(default)]
    pub lose_chosen: bool,
}

/// The Multi-Paxos default, as models/multi-paxos-3-servers-1-client-ordered.toml: 3 servers,
/// 1 client that puts then reads through the log (2 slots, no retries), an ordered network, no
/// faults, at most 2 ballots in all (one leader change); no window, batching, snapshots, tick,
/// pieces or loss bounds. A model file names every field it needs; in code, set the ones that
/// differ and take the rest from here.
impl Default for MultiPaxosConfig {
    fn default() -> Self {
        MultiPaxosConfig {
            servers: 3,
            clients: 1,
            reads: true,
            network: NetworkKind::Ordered,
            lossy: false,
            max_crashes: 0,
            crashable: None,
            ballots: 2,
            slots: 2,
            client_retries: 0,
            variant: Variant::default(),
            window: None,
            batch: None,
            batch_wait: false,
            batch_bytes: None,
            snapshot_after: None,
            snapshot_piece: None,
            leader_tick: LeaderTick::default(),
            piece: None,
            burst: None,
            max_lost: None,
            liveness: false,
            lose_chosen: false,
        }
    }
}

impl config::Config for MultiPaxosConfig {
    fn faults(&self) -> Faults {
        Faults {
            network: self.network,
            lossy: self.lossy,
            max_crashes: self.max_crashes,
            crashable: self.crashable.clone(),
        }
    }
}

impl MultiPaxosConfig {
    /// The servers' [`Tuning`]: each knob the file sets, the model's default for the others
    /// (a `Promise` and a burst as long as the log, a snapshot piece longer than the store,
    /// the rest as [`Tuning::default`]); timers fire at any point, as every model timer.
    pub fn tuning(&self) -> Tuning {
        let log = self.slots as usize;
        Tuning {
            election_after: model_timeout(),
            leader_tick: self.leader_tick,
            tick_after: model_timeout(),
            piece: self.piece.unwrap_or(log),
            burst: self.burst.or(self.piece).unwrap_or(log),
            window: self.window,
            batch: self.batch.unwrap_or(1),
            batch_wait: self.batch_wait.then(model_timeout),
            snapshot_piece: (self.snapshot_piece.or(self.piece)).unwrap_or(log + self.clients),
            batch_bytes: self.batch_bytes.unwrap_or(usize::MAX),
            snapshot_after: self.snapshot_after,
        }
    }

    /// This configuration with every knob of `tuning` (its timers aside: the model's fire at
    /// any point): the replay of a real run checks the servers as they ran.
    pub fn tuned_as(self, tuning: &Tuning) -> Self {
        MultiPaxosConfig {
            leader_tick: tuning.leader_tick,
            piece: Some(tuning.piece),
            burst: Some(tuning.burst),
            window: tuning.window,
            batch: Some(tuning.batch),
            batch_wait: tuning.batch_wait.is_some(),
            batch_bytes: Some(tuning.batch_bytes),
            snapshot_piece: Some(tuning.snapshot_piece),
            snapshot_after: tuning.snapshot_after,
            ..self
        }
    }

    /// Checks the sizes make sense, with a message that says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("a model needs at least one server".to_owned());
        }
        if self.clients == 0 || self.clients > 26 {
            return Err("clients must be between 1 and 26 (client k writes 'A' + k)".to_owned());
        }
        if self.ballots == 0 {
            return Err("ballots must be at least 1: no leader is elected without one".to_owned());
        }
        if self.slots == 0 {
            return Err("slots must be at least 1: the log needs room for a command".to_owned());
        }
        if self.max_lost.is_some()
            && (!self.lossy || self.network == NetworkKind::UnorderedDuplicating)
        {
            return Err(
                "max_lost bounds the loss of a lossy network that does not duplicate: set \
                 lossy = true and network = \"ordered\" or \"unordered-nonduplicating\", \
                 or drop max_lost"
                    .to_owned(),
            );
        }
        if self.lose_chosen && !self.lossy {
            return Err(
                "lose_chosen makes the network lose every Chosen: set lossy = true, \
                        or drop lose_chosen"
                    .to_owned(),
            );
        }
        if self.max_crashes >= self.servers {
            return Err("max_crashes must leave at least one server up".to_owned());
        }
        config::validate_crashable(self.servers, self.max_crashes, &self.crashable)?;
        self.tuning().validate().map_err(|bad| bad.to_string())
    }

    /// One line describing the configuration.
    pub fn summary(&self) -> String {
        let mut faults = self.faults().to_string();
        let phase_2 = |max| match max {
            0 => "nothing else".to_owned(),
            1 => "at most 1 Accept or Accepted".to_owned(),
            n => format!("at most {n} Accepts or Accepteds"),
        };
        match (self.max_lost, self.lose_chosen) {
            (Some(0), false) => faults += " (but no message lost)",
            (Some(max), false) => faults += &format!(" ({} lost)", phase_2(max)),
            (Some(max), true) => faults += &format!(" (every Chosen lost, and {})", phase_2(max)),
            (None, true) => faults += " (every Chosen lost, and any other message)",
            (None, false) => {}
        }
        if let Some(after) = self.snapshot_after {
            let piece = match self.snapshot_piece.or(self.piece) {
                Some(piece) => format!("in pieces of {piece}"),
                None => "whole".to_owned(),
            };
            faults += &format!(", a snapshot every {after} applied slots (sent {piece})");
        }
        let retries = config::resends_in_words(self.client_retries.into());
        format!(
            "Multi-Paxos, {}: {} servers; {} {} ({retries}); {faults}; {}; at most {} in \
             all",
            config::variant_in_words(&self.variant),
            self.servers,
            config::count_in_words(self.clients, "client", "clients"),
            if self.reads {
                "writing then reading"
            } else {
                "writing"
            },
            config::count_in_words(self.slots as usize, "slot", "slots"),
            config::count_in_words(self.ballots as usize, "ballot", "ballots"),
        )
    }
}

/// The model's configuration as the properties see it: every server is an acceptor.
pub type ModelCfg = config::ModelCfg<MultiPaxosConfig>;
