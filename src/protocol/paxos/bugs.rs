//! The deliberate bug that takes another path than the protocol's, rather than replacing a
//! value the protocol computes (those are hooks in `variant.rs`).
use super::acceptor::AcceptorState;
use super::actor::PaxosActor;
use super::messages::{Msg, Proposal, Timer};
use super::proposer::{proposal_number, Phase, ProposerState};
use stateright::actor::{Id, Out};

impl PaxosActor {
    /// [`Variant::RetrySkipsPhase1`](super::Variant::RetrySkipsPhase1)'s retry: start `round`
    /// in phase 2 at once, proposing the first waiting client's value under the higher number
    /// without asking the acceptors what they accepted.
    pub(super) fn retry_skipping_phase1(
        &self,
        id: Id,
        proposer: &mut ProposerState,
        acceptor: Option<&AcceptorState>,
        round: u32,
        o: &mut Out<Self>,
    ) {
        let (_, _, value) = *proposer
            .waiting
            .first()
            .expect("a proposer only tries for a waiting client");
        let ballot = self.variant.ballot(proposal_number(round, id));
        proposer.ballot = ballot;
        proposer.phase = Phase::Accepting { value };
        self.save(round, acceptor, o);
        o.set_timer(Timer::Retry, self.retry_after.clone());
        let proposal = Proposal { ballot, value };
        o.broadcast(&self.acceptors, &Msg::Accept { proposal });
    }
}
