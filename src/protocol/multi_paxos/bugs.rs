//! The deliberate bugs that change what the protocol does, not only a value it uses: each a
//! small wrapper that a [`Variant`](super::Variant) calls instead of the correct step.
use super::actor::MultiPaxosActor;
use super::kv::Text;
use super::messages::Slot;
use super::state::{ProposerState, Role};
use crate::protocol::ballot::Ballot;
use stateright::actor::Out;
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
}
