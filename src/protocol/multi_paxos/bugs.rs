//! The deliberate bugs that change what the protocol does, not only a value it uses: each a
//! small wrapper that a [`Variant`](super::Variant) calls instead of the correct step.
use super::actor::MultiPaxosActor;
use super::kv::Text;
use super::messages::{Msg, Proposal, Slot};
use super::state::{AcceptorState, ProposerState, Role};
use crate::protocol::ballot::Ballot;
use stateright::actor::{Id, Out};
use std::borrow::Cow;

impl<V: Text> MultiPaxosActor<V> {
    /// [`Variant::KeepProposing`]'s answer to a refusal of `slot`: keep leading, under the
    /// ballot `promised` that beat it, and propose the slot's command again.
    pub(super) fn keep_proposing(
        &self,
        proposer: &mut Cow<ProposerState<V>>,
        promised: Ballot,
        slot: Option<Slot>,
        o: &mut Out<Self>,
    ) {
        let Role::Leader {
            next_slot,
            in_flight,
            awaited,
        } = &proposer.role
        else {
            return;
        };
        let Some((slot, (command, _))) = slot.and_then(|s| Some((s, in_flight.get(&s)?))) else {
            return;
        };
        let command = command.clone();
        let (next_slot, mut in_flight, awaited) = (*next_slot, in_flight.clone(), awaited.clone());
        self.propose(promised, &mut in_flight, slot, command, o);
        let proposer = proposer.to_mut();
        proposer.ballot = promised;
        proposer.role = Role::Leader {
            next_slot,
            in_flight,
            awaited,
        };
    }

    /// [`Variant::KeepRefused`]'s refusal: the acceptor stores the refused `proposal` in
    /// `slot` as its own accepted one, and says nothing about it.
    ///
    /// [`Variant::KeepRefused`]: super::Variant::KeepRefused
    pub(super) fn keep_refused(
        acceptor: &mut Cow<AcceptorState<V>>,
        slot: Slot,
        proposal: &Proposal<V>,
    ) {
        acceptor.to_mut().accepted.insert(slot, proposal.clone());
    }

    /// [`Variant::AnswerBeforeSave`]'s acceptance: the `Accepted` leaves before the save of
    /// the acceptance it answers (§2.5 has the save first). Returns the promise after
    /// accepting, as `handle_accept` does.
    ///
    /// [`Variant::AnswerBeforeSave`]: super::Variant::AnswerBeforeSave
    pub(super) fn answer_before_save(
        acceptor: &mut Cow<AcceptorState<V>>,
        proposer: &ProposerState<V>,
        src: Id,
        slot: Slot,
        proposal: Proposal<V>,
        o: &mut Out<Self>,
    ) -> Option<Ballot> {
        o.send(src, Msg::Accepted { slot, proposal });
        Self::save(proposer, acceptor, o);
        Some(acceptor.promised)
    }
}
