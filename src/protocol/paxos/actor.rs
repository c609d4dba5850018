//! Who a Paxos actor is: the roles it plays, who plays the others, and the variant it runs.
use super::variant::Variant;
use crate::protocol::ballot::quorum;
use stateright::actor::Id;
use std::ops::Range;
use std::time::Duration;

/// Which roles an actor plays. A server in the default deployment plays all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Roles {
    /// Proposes its clients' values (phases 1(a) and 2(a)).
    pub proposer: bool,
    /// Promises and accepts (phases 1(b) and 2(b)).
    pub acceptor: bool,
    /// Learns the chosen value from acceptances (§2.3).
    pub learner: bool,
}

impl Roles {
    /// All three roles: §2.5, "each process plays the role of proposer, acceptor, and learner".
    pub const SERVER: Roles = Roles {
        proposer: true,
        acceptor: true,
        learner: true,
    };
    /// A proposer only (it still learns the fate of its own proposals).
    pub const PROPOSER: Roles = Roles {
        proposer: true,
        acceptor: false,
        learner: false,
    };
    /// An acceptor only.
    pub const ACCEPTOR: Roles = Roles {
        proposer: false,
        acceptor: true,
        learner: false,
    };
    /// A learner only.
    pub const LEARNER: Roles = Roles {
        proposer: false,
        acceptor: false,
        learner: true,
    };
}

/// A Paxos participant: its roles, who plays the other roles, and the variant it runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PaxosActor {
    /// The roles this actor plays.
    pub roles: Roles,
    /// Every acceptor, possibly this actor itself.
    pub acceptors: Vec<Id>,
    /// Every learner, possibly this actor itself.
    pub learners: Vec<Id>,
    /// The protocol, or one of its deliberate bugs.
    pub variant: Variant,
    /// How long a proposer waits before retrying with a higher ballot.
    pub retry_after: Range<Duration>,
}

impl PaxosActor {
    /// A quorum of the acceptors: a majority ([`quorum`], §2.2).
    pub(super) fn quorum(&self) -> usize {
        let acceptors = self.acceptors.len();
        self.variant.quorum(quorum(acceptors), acceptors)
    }
}
