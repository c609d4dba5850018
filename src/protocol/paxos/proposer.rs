//! The proposer: phase 1(a) and 2(a) of §2.2, retries (§2.4), and the replies to its clients.
use super::acceptor::AcceptorState;
use super::actor::PaxosActor;
use super::messages::{Msg, Proposal, RequestId, Timer, Value};
use crate::protocol::ballot::{highest_reported, Ballot};
use crate::protocol::sorted::{SortedMap, SortedSet};
use crate::protocol::{edit, Part};
use serde::Serialize;
use stateright::actor::{Id, Out};

/// Proposer state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ProposerState {
    /// The actor's own id, first so that sorting actor states never reorders proposers
    /// (their ballots name them, so they are not interchangeable).
    pub id: Id,
    /// The current proposal number. Invariant: `ballot.proposer == id` and `ballot.round` is
    /// saved in [`Storage::round`](super::Storage::round).
    pub ballot: Ballot,
    /// Where the current ballot is in the two phases.
    pub phase: Phase,
    /// Clients waiting for the outcome of their `Put`. The first one's value is proposed.
    pub waiting: SortedSet<(Id, RequestId, Value)>,
}

/// Where a proposer is in the two phases.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Phase {
    /// No ballot under way.
    Idle,
    /// Phase 1 of `ballot`: the promises received so far.
    Preparing {
        /// Each acceptor's promise: the highest-numbered proposal it reported, if any.
        promises: SortedMap<Id, Option<Proposal>>,
    },
    /// Phase 2 of `ballot`: proposing `value`.
    Accepting {
        /// The value proposed.
        value: Value,
    },
    /// The outcome is known: nothing left to do.
    Done,
}

/// The proposal number of `proposer`'s `round`.
///
/// §2.5: "Different proposers choose their numbers from disjoint sets of numbers": the number
/// carries its proposer.
pub(super) fn proposal_number(round: u32, proposer: Id) -> Ballot {
    Ballot { round, proposer }
}

/// Whether a promise for `promise` answers the prepare of the proposer's `current` ballot.
///
/// §2.2, phase 2(a): "If the proposer receives a response to its prepare requests (numbered
/// n)": only a promise for that very number counts.
pub(super) fn answers_prepare(promise: Ballot, current: Ballot) -> bool {
    promise == current
}

/// P2c: the value to propose given the proposals a majority of promises `reported`, and the
/// proposer's `own` client's value.
///
/// §2.2, phase 2(a): "v is the value of the highest-numbered proposal among the responses, or
/// is any value if the responses reported no proposals" (P2c(b), else P2c(a): the client's
/// own).
fn p2c_value(reported: impl Iterator<Item = Proposal>, own: Value) -> Value {
    highest_reported(reported.map(|p| (p.ballot, p.value))).map_or(own, |(_, value)| value)
}

impl ProposerState {
    /// Whether a ballot is under way (phase 1 or 2), so that a refusal or a timeout retries it.
    pub(crate) fn is_trying(&self) -> bool {
        matches!(
            self.phase,
            Phase::Preparing { .. } | Phase::Accepting { .. }
        )
    }
}

impl PaxosActor {
    /// A client's `Put`: wait for the outcome, starting a ballot if none is under way.
    pub(super) fn handle_put(
        &self,
        id: Id,
        proposer: &mut Part<ProposerState>,
        acceptor: Option<&AcceptorState>,
        learned: Option<Value>,
        put: (Id, RequestId, Value),
        o: &mut Out<Self>,
    ) {
        if proposer.waiting.contains(&put) {
            return; // A duplicate.
        }
        let proposer = edit(proposer);
        proposer.waiting.insert(put);
        if let Some(learned) = learned {
            Self::answer_clients(proposer, learned, o);
        } else if proposer.phase == Phase::Idle {
            let round = proposer.ballot.round + 1;
            self.start_ballot(id, proposer, acceptor, round, o);
        }
    }

    /// Phase 1(a): start `round` (saved before the prepares go out).
    ///
    /// §2.2: "A proposer selects a proposal number n and sends a prepare request with number n
    /// to a majority of acceptors." §2.5: it "begins phase 1 with a higher proposal number
    /// than any it has already used."
    fn start_ballot(
        &self,
        id: Id,
        proposer: &mut ProposerState,
        acceptor: Option<&AcceptorState>,
        round: u32,
        o: &mut Out<Self>,
    ) {
        let ballot = self.variant.ballot(proposal_number(round, id));
        proposer.ballot = ballot;
        proposer.phase = Phase::Preparing {
            promises: SortedMap::new(),
        };
        self.save(round, acceptor, o);
        o.set_timer(Timer::Retry, self.retry_after.clone());
        o.broadcast(&self.acceptors, &Msg::Prepare { ballot });
    }

    /// A promise for the current ballot; with a majority of them, phase 2(a).
    pub(super) fn handle_promise(
        &self,
        proposer: &mut Part<ProposerState>,
        src: Id,
        ballot: Ballot,
        accepted: Option<Proposal>,
        o: &mut Out<Self>,
    ) {
        let Phase::Preparing { promises } = &proposer.phase else {
            return;
        };
        let counts = answers_prepare(ballot, proposer.ballot);
        if !self.variant.counts_promise(counts, ballot, proposer.ballot)
            || promises.contains_key(&src)
        {
            return;
        }
        let mut promises = promises.clone();
        promises.insert(src, accepted);
        // §2.2 phase 2(a): "If the proposer receives a response to its prepare requests
        // (numbered n) from a majority of acceptors, then it sends an accept request".
        if promises.len() < self.quorum() {
            edit(proposer).phase = Phase::Preparing { promises };
            return;
        }
        let (_, _, own) = *proposer
            .waiting
            .first()
            .expect("a proposer only prepares for a waiting client");
        let value = self.choose_value(&promises, own);
        edit(proposer).phase = Phase::Accepting { value };
        let proposal = Proposal {
            ballot: proposer.ballot,
            value,
        };
        o.broadcast(&self.acceptors, &Msg::Accept { proposal });
    }

    /// Phase 2(a): the value to propose given a majority of promises ([`p2c_value`]).
    pub(super) fn choose_value(
        &self,
        promises: &SortedMap<Id, Option<Proposal>>,
        own: Value,
    ) -> Value {
        let reported = || promises.values().flatten().copied();
        let chosen = p2c_value(reported(), own);
        self.variant.proposed_value(chosen, reported(), own)
    }

    /// An acceptor refused the current ballot for a higher one: retry above it.
    ///
    /// §2.4: "By abandoning a proposal and trying again if it learns about some request with a
    /// higher proposal number, the distinguished proposer will eventually choose a high enough
    /// proposal number."
    pub(super) fn handle_rejected(
        &self,
        id: Id,
        proposer: &mut Part<ProposerState>,
        acceptor: Option<&AcceptorState>,
        ballot: Ballot,
        promised: Ballot,
        o: &mut Out<Self>,
    ) {
        if !proposer.is_trying() || ballot != proposer.ballot || promised <= ballot {
            return;
        }
        self.restart_ballot(id, edit(proposer), acceptor, promised.round + 1, o);
    }

    /// A retry: start `round`, with phase 1 as every ballot.
    fn restart_ballot(
        &self,
        id: Id,
        proposer: &mut ProposerState,
        acceptor: Option<&AcceptorState>,
        round: u32,
        o: &mut Out<Self>,
    ) {
        if !self.variant.retry_prepares() {
            return self.retry_skipping_phase1(id, proposer, acceptor, round, o);
        }
        self.start_ballot(id, proposer, acceptor, round, o)
    }

    /// The current ballot made no progress in time: start a higher one.
    pub(super) fn retry(
        &self,
        id: Id,
        proposer: &mut Part<ProposerState>,
        acceptor: Option<&AcceptorState>,
        o: &mut Out<Self>,
    ) {
        if proposer.is_trying() {
            let round = proposer.ballot.round + 1;
            self.restart_ballot(id, edit(proposer), acceptor, round, o);
        }
    }

    /// Replies to every waiting client once the outcome, `learned`, is known.
    pub(super) fn answer_clients(proposer: &mut ProposerState, learned: Value, o: &mut Out<Self>) {
        for (client, request, value) in std::mem::take(&mut proposer.waiting) {
            let reply = if value == learned {
                Msg::PutOk { request }
            } else {
                Msg::PutFail { request }
            };
            o.send(client, reply);
        }
        proposer.phase = Phase::Done;
        o.cancel_timer(Timer::Retry);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::server;
    use super::super::Variant;
    use super::*;
    use crate::protocol::ballot::tests::ballot;

    // Reference: §2.2, P2c and phase 2(a).
    #[test]
    fn a_proposer_adopts_the_highest_numbered_reported_value() {
        let promises = SortedMap::from([
            (
                Id::from(1),
                Some(Proposal {
                    ballot: ballot(1, 1),
                    value: 'B',
                }),
            ),
            (
                Id::from(2),
                Some(Proposal {
                    ballot: ballot(2, 2),
                    value: 'C',
                }),
            ),
            (Id::from(0), None),
        ]);
        assert_eq!(server(Variant::Correct).choose_value(&promises, 'A'), 'C');
        assert_eq!(
            server(Variant::AdoptFirstValue).choose_value(&promises, 'A'),
            'B'
        );
        assert_eq!(
            server(Variant::AdoptLowestValue).choose_value(&promises, 'A'),
            'B'
        );
        assert_eq!(
            server(Variant::IgnorePromisedValues).choose_value(&promises, 'A'),
            'A'
        );
        let none = SortedMap::from([(Id::from(1), None), (Id::from(2), None)]);
        assert_eq!(server(Variant::Correct).choose_value(&none, 'A'), 'A');
    }
}
