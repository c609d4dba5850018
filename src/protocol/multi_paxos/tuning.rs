//! How a Multi-Paxos server trades datagram size, batching and snapshots against each other:
//! every knob in one place. [`Tuning::default`] is the protocol as the paper gives it (no
//! limits, no batching, no snapshots, no leader tick), which a model narrows field by field;
//! the UDP runtime's preset is [`crate::runtime::node::UDP_TUNING`], and
//! [`Tuning::validate`] refuses a combination that cannot work.
use super::messages::Slot;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::time::Duration;

/// The knobs of a Multi-Paxos server (raft-rs's `Config` plays this part there).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tuning {
    /// How long a server that does not lead waits before starting phase 1.
    pub election_after: Range<Duration>,
    /// When a leader's tick runs.
    pub leader_tick: LeaderTick,
    /// How often a leader ticks.
    pub tick_after: Range<Duration>,
    /// The most proposals one `Promise` reports: no datagram grows with the log.
    pub piece: usize,
    /// The most `Accept`s a leader sends at once when it takes over the log or re-sends, and
    /// the most `Chosen` slots one answer to a `CatchUp` sends (each in a datagram of its
    /// own): no burst grows with the log.
    pub burst: usize,
    /// The most slots a leader has in flight before new requests wait in its queue for a
    /// slot to be chosen (and then go into the next slot together, as one batch); `None`:
    /// no limit, every request gets a slot of its own at once.
    pub window: Option<usize>,
    /// The most client commands one slot holds (a batch): 1 for no batching.
    pub batch: usize,
    /// When a slot is chosen, the leader holds its waiting requests, for at most this long,
    /// until every client the slot answers has sent its next request (or a batch is full), so
    /// that they go into the next slot together rather than into the one after (S6 in
    /// spec/runtime.md); `None`: the waiting requests go into the next slot at once.
    pub batch_wait: Option<Range<Duration>>,
    /// The most UTF-8 bytes of keys and values ([`KvOp::bytes`](super::KvOp::bytes)) a batch of
    /// more than one command holds, so that every datagram carrying one fits (a command alone
    /// always fits in a slot).
    pub batch_bytes: usize,
    /// The most entries (keys of the store, clients of its table) one piece of a snapshot
    /// carries ([`Msg::Snapshot`](super::Msg::Snapshot)): no datagram grows with the store.
    pub snapshot_piece: usize,
    /// A server takes a snapshot of its state machine, and truncates its log below it, each
    /// time it has applied this many slots past its last snapshot; `None`: never.
    pub snapshot_after: Option<Slot>,
}

/// The protocol as the paper gives it: a `Promise` reports the whole log, every request gets
/// a slot of its own at once, no snapshots, no leader tick; timers of any length (the model
/// fires a timer at any point, whatever its length).
impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            election_after: Duration::ZERO..Duration::ZERO,
            leader_tick: LeaderTick::Off,
            tick_after: Duration::ZERO..Duration::ZERO,
            piece: usize::MAX,
            burst: usize::MAX,
            window: None,
            batch: 1,
            batch_wait: None,
            batch_bytes: usize::MAX,
            snapshot_piece: usize::MAX,
            snapshot_after: None,
        }
    }
}

/// A [`Tuning`] that cannot work, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{knob} must be at least 1: {why}")]
pub struct BadTuning {
    /// The knob, by its field name.
    pub knob: &'static str,
    /// What a 0 would do.
    pub why: &'static str,
}

impl Tuning {
    /// Refuses a knob at 0 where 0 would stop the protocol: a `Promise`, a burst, a window, a
    /// batch, a batch's bytes, a snapshot piece or the slots between snapshots that can hold
    /// nothing.
    pub fn validate(&self) -> Result<(), BadTuning> {
        let bad = |knob, why| Err(BadTuning { knob, why });
        if self.piece == 0 {
            return bad("piece", "a promise would report nothing and never end");
        }
        if self.burst == 0 {
            return bad("burst", "a leader would send no accept and no catch-up");
        }
        if self.window == Some(0) {
            return bad("window", "no slot could be in flight");
        }
        if self.batch == 0 || self.batch_bytes == 0 {
            return bad("batch and batch_bytes", "a slot could hold no command");
        }
        if self.snapshot_piece == 0 {
            return bad("snapshot_piece", "a snapshot would be sent in no piece");
        }
        if self.snapshot_after == Some(0) {
            return bad("snapshot_after", "a snapshot must cover an applied slot");
        }
        Ok(())
    }
}

/// When a leader's tick ([`Timer::Leader`](super::Timer::Leader)) runs: it re-sends the
/// `Accept` of the slots in flight and, with [`LeaderTick::Always`], sends a `Heartbeat`. The
/// model bounds it (each tick re-sends, and an ordered network's channels would grow without
/// end); on UDP it is always on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaderTick {
    /// No tick: no re-sending and no heartbeats.
    #[default]
    Off,
    /// The tick runs while slots are in flight, to re-send their `Accept`s; no heartbeats.
    WhileInFlight,
    /// The tick runs as long as the server leads, re-sending and sending heartbeats.
    Always,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_a_zero_knob_is_refused_by_name() {
        assert_eq!(Tuning::default().validate(), Ok(()));
        let zero_window = Tuning {
            window: Some(0),
            ..Tuning::default()
        };
        assert_eq!(zero_window.validate().map_err(|e| e.knob), Err("window"));
        let zero_piece = Tuning {
            piece: 0,
            ..Tuning::default()
        };
        assert!(zero_piece
            .validate()
            .is_err_and(|e| e.to_string().starts_with("piece")));
    }
}
