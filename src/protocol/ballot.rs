//! The rules of *Paxos Made Simple* that both protocols share: proposal numbers, majorities,
//! and the acceptor's and proposer's single-decree rules. Multi-Paxos applies them per slot
//! (§3: "a separate instance of the Paxos consensus algorithm" for each command).
use serde::{Deserialize, Serialize};
use stateright::actor::Id;

/// A proposal number: unique across proposers and totally ordered, round first.
///
/// §2.5: "Different proposers choose their numbers from disjoint sets of numbers": a
/// proposer's numbers carry its own id.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    /// The proposer's counter: a proposer's next ballot has a higher round.
    pub round: u32,
    /// The proposer that owns this number; breaks ties between equal rounds.
    pub proposer: Id,
}

/// Short, for traces: `(round, proposer)`.
impl std::fmt::Debug for Ballot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {})", self.round, usize::from(self.proposer))
    }
}

/// The number of acceptors that make a quorum: a majority.
///
/// §2.2: "we can let a large enough set consist of any majority of the agents. Because any two
/// majorities have at least one acceptor in common, this works if an acceptor can accept at
/// most one value."
pub fn quorum(acceptors: usize) -> usize {
    acceptors / 2 + 1
}

/// Phase 1(b): whether an acceptor that has promised `promised` answers a prepare numbered
/// `ballot` with a promise.
///
/// §2.2, phase 1(b): "If an acceptor receives a prepare request with number n greater than
/// that of any prepare request to which it has already responded, then it responds to the
/// request with a promise not to accept any more proposals numbered less than n". A repeated
/// prepare for the promised number is answered again: numbers are unique, so only its own
/// proposer can send it. Multi-Paxos applies this once for all slots.
pub fn may_promise(promised: Ballot, ballot: Ballot) -> bool {
    ballot >= promised
}

/// P1a: whether an acceptor that has promised `promised` may accept a proposal numbered
/// `ballot`.
///
/// §2.2: "P1a. An acceptor can accept a proposal numbered n iff it has not responded to a
/// prepare request having a number greater than n." Multi-Paxos applies it to each slot.
pub fn may_accept(promised: Ballot, ballot: Ballot) -> bool {
    ballot >= promised
}

/// P2c(b): among the proposals a quorum of acceptors reported, the highest-numbered one,
/// whose value a proposer must propose.
///
/// §2.2, phase 2(a): "v is the value of the highest-numbered proposal among the responses, or
/// is any value if the responses reported no proposals." Multi-Paxos applies it per slot.
pub fn highest_reported<V>(reported: impl IntoIterator<Item = (Ballot, V)>) -> Option<(Ballot, V)> {
    reported.into_iter().max_by_key(|(ballot, _)| *ballot)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `(round, proposer)`, for tests.
    pub(crate) fn ballot(round: u32, proposer: usize) -> Ballot {
        Ballot {
            round,
            proposer: Id::from(proposer),
        }
    }

    #[test]
    fn quorums_are_majorities() {
        assert_eq!(quorum(3), 2);
        assert_eq!(quorum(4), 3);
        assert_eq!(quorum(5), 3);
    }

    // Reference: §2.5, numbers from disjoint sets, totally ordered.
    #[test]
    fn ballots_order_by_round_then_proposer() {
        assert!(ballot(1, 2) < ballot(2, 0));
        assert!(ballot(1, 0) < ballot(1, 1));
        assert_eq!(
            highest_reported([
                (ballot(1, 1), 'B'),
                (ballot(2, 0), 'A'),
                (ballot(1, 2), 'C')
            ]),
            Some((ballot(2, 0), 'A'))
        );
    }
}
