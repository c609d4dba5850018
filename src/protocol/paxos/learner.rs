//! The learner (§2.3): it learns a value once a majority accepted one proposal. A server also
//! answers a client's `Get` here, from what it learned or by asking the acceptors.
use super::actor::PaxosActor;
use super::messages::{Msg, Proposal, RequestId, Value};
use crate::protocol::sorted::{SortedMap, SortedSet};
use crate::protocol::{edit, Part};
use serde::Serialize;
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Learner state (also kept by proposers, which learn the fate of their own proposals).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LearnerState {
    /// The acceptors known to have accepted each proposal. Cleared once a value is learned.
    pub accepted_by: SortedMap<Proposal, SortedSet<Id>>,
    /// Invariant: `learned` is a chosen value (agreement, learners agree).
    pub learned: Option<Value>,
}

/// The quorum reads under way, by (client, request): each acceptor's report
/// ([`PaxosState::reads`](super::PaxosState::reads)).
pub(super) type Reads = SortedMap<(Id, RequestId), SortedMap<Id, Option<Proposal>>>;

impl PaxosActor {
    /// An acceptance (phase 2(b)) seen by a learner. Returns the value learned, if this
    /// acceptance makes a majority.
    pub(super) fn handle_accepted(
        &self,
        learner: &mut Part<LearnerState>,
        src: Id,
        proposal: Proposal,
    ) -> Option<Value> {
        let known = learner
            .accepted_by
            .get(&proposal)
            .is_some_and(|by| by.contains(&src));
        if learner.learned.is_some() || known {
            return None;
        }
        let quorum = self.quorum();
        let learner = edit(learner);
        let by = learner.accepted_by.get_or_default(proposal);
        by.insert(src);
        // §2.3: "To learn that a value has been chosen, a learner must find out that a
        // proposal has been accepted by a majority of acceptors."
        if by.len() < quorum {
            return None;
        }
        learner.learned = Some(proposal.value);
        learner.accepted_by.clear();
        learner.learned
    }

    /// A client's `Get`, `key` being (client, request): answered from the learned value, or
    /// by a quorum read.
    pub(super) fn handle_get(
        &self,
        reads: &mut Cow<Reads>,
        learned: Option<Value>,
        key: (Id, RequestId),
        o: &mut Out<Self>,
    ) {
        let (client, request) = key;
        if let Some(value) = learned {
            // Learned values are chosen: no need to ask the acceptors.
            let value = Some(value);
            o.send(client, Msg::GetOk { request, value });
        } else if !reads.contains_key(&key) {
            reads.to_mut().insert(key, SortedMap::new());
            o.broadcast(&self.acceptors, &Msg::Read { client, request });
        }
    }

    /// An acceptor's report to the quorum read `key`; the client gets its answer once the
    /// reports allow one.
    pub(super) fn handle_read_reply(
        &self,
        reads: &mut Cow<Reads>,
        src: Id,
        key: (Id, RequestId),
        accepted: Option<Proposal>,
        o: &mut Out<Self>,
    ) {
        let Some(reports) = reads.get(&key) else {
            return;
        };
        if reports.contains_key(&src) {
            return;
        }
        let mut reports = reports.clone();
        reports.insert(src, accepted);
        match self.read_outcome(&reports) {
            Some(value) => {
                reads.to_mut().remove(&key);
                let (client, request) = key;
                o.send(client, Msg::GetOk { request, value });
            }
            None => {
                reads.to_mut().insert(key, reports);
            }
        }
    }

    /// The answer of a quorum read, once the reports allow one: the value of a proposal that a
    /// majority reported, or `None` if a majority reported nothing. §2.2: "A value is chosen
    /// when a single proposal with that value has been accepted by a majority of the
    /// acceptors."
    pub(super) fn read_outcome(
        &self,
        reports: &SortedMap<Id, Option<Proposal>>,
    ) -> Option<Option<Value>> {
        let quorum = self.quorum();
        let mut counts: BTreeMap<Option<(Option<_>, Value)>, usize> = BTreeMap::new();
        for report in reports.values() {
            // §2.2: "a single proposal with that value": its number and its value.
            let key = report.map(|p| self.variant.same_proposal((Some(p.ballot), p.value)));
            *counts.entry(key).or_default() += 1;
        }
        let none_quorum = self.variant.none_quorum(quorum);
        counts
            .into_iter()
            .find(|(key, count)| *count >= if key.is_none() { none_quorum } else { quorum })
            .map(|(key, _)| key.map(|(_, value)| value))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::server;
    use super::super::Variant;
    use super::*;
    use crate::protocol::ballot::tests::ballot;

    // Reference: §2.3, learning needs "a proposal ... accepted by a majority of acceptors".
    #[test]
    fn a_quorum_read_needs_a_majority_on_one_proposal() {
        let p = |round, proposer, value| {
            Some(Proposal {
                ballot: ballot(round, proposer),
                value,
            })
        };
        let split = SortedMap::from([(Id::from(0), p(1, 0, 'A')), (Id::from(1), p(1, 1, 'A'))]);
        assert_eq!(server(Variant::Correct).read_outcome(&split), None);
        assert_eq!(
            server(Variant::ReadByValue).read_outcome(&split),
            Some(Some('A'))
        );
        let same = SortedMap::from([(Id::from(0), p(1, 1, 'A')), (Id::from(1), p(1, 1, 'A'))]);
        assert_eq!(
            server(Variant::Correct).read_outcome(&same),
            Some(Some('A'))
        );
        let empty = SortedMap::from([(Id::from(0), None), (Id::from(2), None)]);
        assert_eq!(server(Variant::Correct).read_outcome(&empty), Some(None));
    }
}
