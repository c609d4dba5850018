//! What a guard dropped, counted by kind: each count numbers the log lines of its kind
//! (`dropped=N`), and a guard reports them all ([`DropStats::counts`]).
use std::sync::atomic::{AtomicU64, Ordering};

/// The kinds of datagram a guard drops (H1-H4, A1), and the requests it rebinds (R1), each
/// counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// H1: over the protocol's size limit.
    Oversized,
    /// H1: not the JSON of a message, or a seal without its tag.
    Malformed,
    /// H2: a peer-to-peer message from an address that is not a peer's.
    NonPeer,
    /// H3: a client reply sent to a server.
    Reply,
    /// H4: over the protocol's size limits for a request, a batch or a snapshot piece.
    TooLarge,
    /// A1: an unsealed message from a peer's address, in a cluster with a key.
    Unauthenticated,
    /// A1: a sealed message whose tag does not check out.
    BadMac,
    /// A1: a sealed message to a node without a cluster key.
    Sealed,
    /// R1: a request naming a client other than its source, taken in the source's name (kept,
    /// not dropped, but counted and logged the same way).
    Rebound,
}

/// A guard's counts of what it dropped ([`Dropped`]), shared by the threads that run it.
#[derive(Debug, Default)]
pub struct DropStats {
    oversized: AtomicU64,
    malformed: AtomicU64,
    non_peer: AtomicU64,
    reply: AtomicU64,
    too_large: AtomicU64,
    unauthenticated: AtomicU64,
    bad_mac: AtomicU64,
    sealed: AtomicU64,
    rebound: AtomicU64,
}

/// The counts of a [`DropStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// H1: over the size limit.
    pub oversized: u64,
    /// H1: not a message.
    pub malformed: u64,
    /// H2: peer-to-peer messages from non-peers.
    pub non_peer: u64,
    /// H3: client replies sent to a server.
    pub reply: u64,
    /// H4: over the protocol's size limits.
    pub too_large: u64,
    /// A1: unsealed from a peer's address.
    pub unauthenticated: u64,
    /// A1: a bad tag.
    pub bad_mac: u64,
    /// A1: sealed, to a node without a key.
    pub sealed: u64,
    /// R1: requests taken in their source's name.
    pub rebound: u64,
}

impl DropStats {
    /// Nothing dropped yet.
    pub const fn new() -> Self {
        DropStats {
            oversized: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            non_peer: AtomicU64::new(0),
            reply: AtomicU64::new(0),
            too_large: AtomicU64::new(0),
            unauthenticated: AtomicU64::new(0),
            bad_mac: AtomicU64::new(0),
            sealed: AtomicU64::new(0),
            rebound: AtomicU64::new(0),
        }
    }

    fn counter(&self, kind: Dropped) -> &AtomicU64 {
        match kind {
            Dropped::Oversized => &self.oversized,
            Dropped::Malformed => &self.malformed,
            Dropped::NonPeer => &self.non_peer,
            Dropped::Reply => &self.reply,
            Dropped::TooLarge => &self.too_large,
            Dropped::Unauthenticated => &self.unauthenticated,
            Dropped::BadMac => &self.bad_mac,
            Dropped::Sealed => &self.sealed,
            Dropped::Rebound => &self.rebound,
        }
    }

    /// Counts one dropped datagram of a kind; returns the count when it is worth a log line:
    /// the first 100 of each kind, then one in 1,000, so that a flood of datagrams does not
    /// become a flood of log lines.
    pub fn worth_logging(&self, kind: Dropped) -> Option<u64> {
        let n = self.counter(kind).fetch_add(1, Ordering::Relaxed) + 1;
        (n <= 100 || n.is_multiple_of(1000)).then_some(n)
    }

    /// What was dropped so far, by kind.
    pub fn counts(&self) -> DropCounts {
        let count = |kind| self.counter(kind).load(Ordering::Relaxed);
        DropCounts {
            oversized: count(Dropped::Oversized),
            malformed: count(Dropped::Malformed),
            non_peer: count(Dropped::NonPeer),
            reply: count(Dropped::Reply),
            too_large: count(Dropped::TooLarge),
            unauthenticated: count(Dropped::Unauthenticated),
            bad_mac: count(Dropped::BadMac),
            sealed: count(Dropped::Sealed),
            rebound: count(Dropped::Rebound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The first 100 drops of a kind are logged, then one in 1,000; each kind counts apart.
    #[test]
    fn drops_are_logged_at_first_then_one_in_a_thousand() {
        let drops = DropStats::new();
        let logged = (0..2_500)
            .filter_map(|_| drops.worth_logging(Dropped::Malformed))
            .collect::<Vec<_>>();
        assert_eq!(logged.len(), 102);
        assert_eq!(logged[99..], [100, 1_000, 2_000]);
        assert_eq!(drops.worth_logging(Dropped::Reply), Some(1));
        let counts = drops.counts();
        assert_eq!((counts.malformed, counts.reply), (2_500, 1));
        assert_eq!(counts.oversized, 0);
    }
}
