//! The acceptor: phase 1(b) and 2(b) of §2.2, and its answer to a quorum read.
use super::actor::PaxosActor;
use super::messages::{Msg, Proposal, RequestId, Storage};
use crate::protocol::ballot::{may_accept, may_promise, Ballot};
use serde::Serialize;
use stateright::actor::{Id, Out};
use std::borrow::Cow;

/// Acceptor state. Invariant: `promised >= accepted.ballot`.
///
/// §2.2: "an acceptor needs to remember only the highest-numbered proposal that it has ever
/// accepted and the number of the highest-numbered prepare request to which it has responded."
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AcceptorState {
    /// The highest prepare this acceptor responded to (or accepted).
    pub promised: Ballot,
    /// The highest-numbered proposal this acceptor accepted.
    pub accepted: Option<Proposal>,
}

impl AcceptorState {
    /// Phase 1(b): whether a prepare numbered `ballot` gets a promise ([`may_promise`]).
    pub(crate) fn may_promise(&self, ballot: Ballot) -> bool {
        may_promise(self.promised, ballot)
    }

    /// Phase 2(b): accepts `proposal`, which is also a promise for its number, so that the
    /// invariant `promised >= accepted.ballot` holds.
    fn accept(&mut self, proposal: Proposal) {
        self.promised = self.promised.max(proposal.ballot);
        self.accepted = Some(proposal);
    }
}

impl PaxosActor {
    /// Writes stable storage (§2.5): the proposer's `round` and the acceptor's state.
    pub(super) fn save(&self, round: u32, acceptor: Option<&AcceptorState>, o: &mut Out<Self>) {
        let acceptor = acceptor.cloned().unwrap_or_default();
        let storage = Storage {
            round,
            promised: acceptor.promised,
            accepted: acceptor.accepted,
        };
        if let Some(storage) = self.variant.saved(storage) {
            o.save(storage);
        }
    }

    /// Phase 1(b): a prepare request. `round` is this actor's proposer round, saved with the
    /// promise.
    pub(super) fn handle_prepare(
        &self,
        acceptor: &mut Cow<AcceptorState>,
        round: u32,
        src: Id,
        ballot: Ballot,
        o: &mut Out<Self>,
    ) {
        // §2.2 phase 1(b): "If an acceptor receives a prepare request with number n greater
        // than that of any prepare request to which it has already responded, then it responds
        // to the request with a promise". A repeated prepare for the promised number is
        // answered again: only its one proposer can send it, since numbers are unique.
        if !acceptor.may_promise(ballot) {
            let promised = acceptor.promised;
            o.send(src, Msg::Rejected { ballot, promised });
            return;
        }
        let accepted = acceptor.accepted;
        if ballot > acceptor.promised {
            acceptor.to_mut().promised = ballot;
            self.save(round, Some(&**acceptor), o);
        }
        o.send(src, Msg::Promise { ballot, accepted });
    }

    /// Phase 2(b): an accept request; the acceptance goes to every learner and to the
    /// proposer that asked.
    pub(super) fn handle_accept(
        &self,
        acceptor: &mut Cow<AcceptorState>,
        round: u32,
        src: Id,
        proposal: Proposal,
        o: &mut Out<Self>,
    ) {
        // §2.2 P1a: "An acceptor can accept a proposal numbered n iff it has not responded to
        // a prepare request having a number greater than n."
        if !self
            .variant
            .accepts(may_accept(acceptor.promised, proposal.ballot))
        {
            let promised = acceptor.promised;
            let ballot = proposal.ballot;
            o.send(src, Msg::Rejected { ballot, promised });
            return;
        }
        if acceptor.accepted == Some(proposal) {
            return; // A duplicate: already accepted and announced.
        }
        let previous = acceptor.accepted;
        acceptor.to_mut().accept(proposal);
        self.save(round, Some(&**acceptor), o);
        if !self.variant.announces(previous, proposal) {
            return;
        }
        // §2.3: "have each acceptor, whenever it accepts a proposal, respond to all learners,
        // sending them the proposal."
        let msg = Msg::Accepted { proposal };
        o.broadcast(&self.learners, &msg);
        if !self.learners.contains(&src) {
            o.send(src, msg);
        }
    }

    /// A quorum read: report the accepted proposal.
    pub(super) fn handle_read(
        &self,
        acceptor: &AcceptorState,
        src: Id,
        client: Id,
        request: RequestId,
        o: &mut Out<Self>,
    ) {
        let accepted = acceptor.accepted;
        o.send(
            src,
            Msg::ReadReply {
                client,
                request,
                accepted,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{server, step};
    use super::super::Variant;
    use super::*;
    use crate::protocol::ballot::tests::ballot;
    use stateright::actor::{Actor, Command};

    // Reference: §2.5, "An acceptor records its intended response in stable storage before
    // actually sending the response."
    #[test]
    fn a_promise_is_saved_before_it_is_sent() {
        let actor = server(Variant::Correct);
        let state = actor.on_start(Id::from(0), &None, &mut Out::new());
        let (state, out) = step(
            &actor,
            &state,
            1,
            Msg::Prepare {
                ballot: ballot(1, 1),
            },
        );
        assert_eq!(
            state.acceptor.as_ref().map(|a| a.promised),
            Some(ballot(1, 1))
        );
        let save = out
            .iter()
            .position(|c| matches!(c, Command::Save(s) if s.promised == ballot(1, 1)));
        let send = out
            .iter()
            .position(|c| matches!(c, Command::Send(_, Msg::Promise { .. })));
        assert!(save.is_some() && save < send, "{out:?}");
    }

    // Reference: §2.2, "an acceptor needs to remember only the highest-numbered proposal
    // that it has ever accepted and the number of the highest-numbered prepare request to
    // which it has responded ... even if it fails and then restarts."
    #[test]
    fn an_acceptance_is_saved_and_restored_unless_the_variant_forgets_it() {
        let proposal = Proposal {
            ballot: ballot(1, 1),
            value: 'B',
        };
        for (variant, kept) in [
            (Variant::Correct, Some(proposal)),
            (Variant::ForgetAccepted, None),
        ] {
            let actor = server(variant);
            let state = actor.on_start(Id::from(0), &None, &mut Out::new());
            let (_, out) = step(&actor, &state, 1, Msg::Accept { proposal });
            let saved = out.iter().find_map(|c| match c {
                Command::Save(s) => Some(s.clone()),
                _ => None,
            });
            let saved = saved.expect("an acceptance is saved");
            assert_eq!((saved.promised, saved.accepted), (ballot(1, 1), kept));
            let restarted = actor.on_start(Id::from(0), &Some(saved), &mut Out::new());
            let acceptor = restarted.acceptor.expect("a server is an acceptor");
            assert_eq!(
                (acceptor.promised, acceptor.accepted),
                (ballot(1, 1), kept),
                "{variant:?}"
            );
        }
    }

    // Reference: §2.2, P1a and phase 1(b).
    #[test]
    fn an_acceptor_rejects_numbers_below_its_promise() {
        let actor = server(Variant::Correct);
        let state = actor.on_start(Id::from(0), &None, &mut Out::new());
        let (state, _) = step(
            &actor,
            &state,
            1,
            Msg::Prepare {
                ballot: ballot(2, 1),
            },
        );
        let proposal = Proposal {
            ballot: ballot(1, 2),
            value: 'C',
        };
        let (after, out) = step(&actor, &state, 2, Msg::Accept { proposal });
        assert_eq!(after, state);
        assert!(out.iter().any(|c| matches!(
            c,
            Command::Send(_, Msg::Rejected { promised, .. }) if *promised == ballot(2, 1)
        )));
        let (_, out) = step(
            &actor,
            &state,
            2,
            Msg::Prepare {
                ballot: ballot(1, 2),
            },
        );
        assert!(!out
            .iter()
            .any(|c| matches!(c, Command::Send(_, Msg::Promise { .. }))));
    }
}
