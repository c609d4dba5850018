//! The acceptor: the single-decree rules of §2.2, phase 1(b) once for every slot and phase
//! 2(b) per slot (§3: "a separate instance of the Paxos consensus algorithm" per command).
use super::actor::MultiPaxosActor;
use super::kv::Text;
use super::messages::{Msg, Proposal, Slot};
use super::state::{AcceptorState, ProposerState};
use crate::protocol::ballot::{may_accept, may_promise, Ballot};
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One piece of a promise: the accepted proposals it reports, and the first accepted slot it
/// left out, if any.
type Piece<V> = (BTreeMap<Slot, Proposal<V>>, Option<Slot>);

impl<V: Text> AcceptorState<V> {
    /// The leader this acceptor knows: the proposer of the highest ballot it promised.
    pub(crate) fn known_leader(&self) -> Option<Id> {
        (self.promised.round > 0).then_some(self.promised.proposer)
    }

    /// Phase 1(b) for every slot from `from` on: the promise for `ballot`, with the proposals
    /// accepted in those slots (§3: "an acceptor responds with more than a simple OK only if
    /// it has already received a phase 2 message"), at most `piece` of them, and the first
    /// slot left out if any; `None` if a higher promise refuses it.
    ///
    /// Slots below the snapshot are chosen and kept no longer: the report starts at the
    /// snapshot, which the promise names ([`Msg::Promise::snapshot`]).
    fn promise(&self, ballot: Ballot, from: Slot, piece: usize) -> Option<Piece<V>> {
        may_promise(self.promised, ballot).then(|| {
            let mut reported = self.accepted.range(from.max(self.snapshot.upto)..);
            let accepted = reported
                .by_ref()
                .take(piece)
                .map(|(s, p)| (*s, p.clone()))
                .collect();
            (accepted, reported.next().map(|(s, _)| *s))
        })
    }

    /// Phase 2(b) in `slot`: accepts `proposal`, which is also a promise for its number.
    fn accept(&mut self, slot: Slot, proposal: Proposal<V>) {
        self.promised = self.promised.max(proposal.ballot);
        self.accepted.insert(slot, proposal);
    }
}

impl<V: Text> MultiPaxosActor<V> {
    /// Phase 1(b), once for all slots; the server's `proposer` round is saved with the promise.
    /// Returns the promise made, `None` if refused.
    pub(super) fn handle_prepare(
        &self,
        acceptor: &mut Cow<AcceptorState<V>>,
        proposer: &ProposerState<V>,
        src: Id,
        ballot: Ballot,
        from: Slot,
        o: &mut Out<Self>,
    ) -> Option<Ballot> {
        let promised = acceptor.promised;
        // §2.2 phase 1(b): "If an acceptor receives a prepare request with number n greater
        // than that of any prepare request to which it has already responded, then it responds
        // to the request with a promise".
        let reported_from = self.variant.reported_from(from);
        let Some((accepted, more)) = acceptor.promise(ballot, reported_from, self.tuning.piece)
        else {
            let refusal = Msg::Rejected {
                ballot,
                promised,
                slot: None,
            };
            o.send(src, refusal);
            return None;
        };
        if ballot > promised {
            acceptor.to_mut().promised = ballot;
            Self::save(proposer, acceptor, o);
        }
        let snapshot = self.variant.reported_snapshot(acceptor.snapshot.upto);
        o.send(
            src,
            Msg::Promise {
                ballot,
                accepted,
                more,
                snapshot,
            },
        );
        Some(ballot)
    }

    /// Phase 2(b) in `slot`; the server's `proposer` round is saved with the acceptance.
    /// Returns the promise after accepting, `None` if refused or a duplicate.
    pub(super) fn handle_accept(
        &self,
        acceptor: &mut Cow<AcceptorState<V>>,
        proposer: &ProposerState<V>,
        src: Id,
        slot: Slot,
        proposal: Proposal<V>,
        o: &mut Out<Self>,
    ) -> Option<Ballot> {
        let promised = acceptor.promised;
        // §2.2 P1a, per slot: "An acceptor can accept a proposal numbered n iff it has not
        // responded to a prepare request having a number greater than n."
        if !self
            .variant
            .may_accept(may_accept(promised, proposal.ballot))
        {
            if self.variant.keeps_refused() {
                Self::keep_refused(acceptor, slot, &proposal);
            }
            let refusal = Msg::Rejected {
                ballot: proposal.ballot,
                promised,
                slot: Some(slot),
            };
            o.send(src, refusal);
            return None;
        }
        if slot < acceptor.snapshot.upto {
            // The slot is chosen, and this acceptor kept only the state machine after it: the
            // leader learns it from that snapshot.
            self.send_snapshot(acceptor, src, 0, o);
            return None;
        }
        if acceptor.accepted.get(&slot) == Some(&proposal) {
            // A duplicate, or the leader re-sending because the answer was lost: answer again.
            o.send(src, Msg::Accepted { slot, proposal });
            return None;
        }
        acceptor.to_mut().accept(slot, proposal.clone());
        if !self.variant.saves_before_answering() {
            return Self::answer_before_save(acceptor, proposer, src, slot, proposal, o);
        }
        // §2.5: "An acceptor records its intended response in stable storage before actually
        // sending the response"; the runtime sends nothing given after a save before the save
        // is on disk (D1).
        Self::save(proposer, acceptor, o);
        o.send(src, Msg::Accepted { slot, proposal });
        Some(acceptor.promised)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::actor;
    use super::super::{Command, Variant};
    use super::*;
    use crate::protocol::ballot::tests::ballot;
    use stateright::actor::Actor;

    // Reference: §2.2, P1a per slot: an accept below the promise is refused.
    #[test]
    fn acceptor_refuses_accept_below_promise() {
        let a = actor(Variant::Correct);
        let id = Id::from(1);
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        let mut o = Out::new();
        a.on_msg(
            id,
            &mut state,
            Id::from(2),
            Msg::Prepare {
                ballot: ballot(2, 2),
                from: 0,
            },
            &mut o,
        );
        let mut o = Out::new();
        let proposal = Proposal {
            ballot: ballot(1, 0),
            command: Command::Noop,
        };
        a.on_msg(
            id,
            &mut state,
            Id::from(0),
            Msg::Accept { slot: 0, proposal },
            &mut o,
        );
        assert!(state.acceptor.accepted.is_empty());
        assert!(matches!(
            super::super::testing::sent(o)[..],
            [(_, Msg::Rejected { .. })]
        ));
    }
}

#[cfg(test)]
mod piece_tests {
    use super::super::testing::{actor, put, sent};
    use super::super::{MultiPaxosActor, Snapshot, Storage, Variant};
    use super::*;
    use crate::protocol::ballot::tests::ballot;
    use stateright::actor::Actor;
    use std::sync::Arc;

    /// An acceptor that accepted a put in each of slots 0..5 under ballot (1, 0).
    fn acceptor_with_five_slots(
        a: &MultiPaxosActor,
    ) -> Cow<'static, super::super::MultiPaxosState> {
        let accepted = (0..5)
            .map(|s| {
                let proposal = Proposal {
                    ballot: ballot(1, 0),
                    command: put(3, u64::from(s) + 1, 'A'),
                };
                (s, proposal)
            })
            .collect();
        let storage = Some(Storage {
            promised: ballot(1, 0),
            accepted,
            ..Storage::default()
        });
        Cow::Owned(a.on_start(Id::from(1), &storage, &mut Out::new()))
    }

    // Reference: no message grows with the log (spec/multi-paxos.md): a promise reports at most
    // `piece` slots and where the next piece starts; a prepare of the same ballot from there gets
    // the next piece.
    #[test]
    fn promise_comes_in_pieces() {
        let a = actor(Variant::Correct); // piece = 2
        let mut state = acceptor_with_five_slots(&a);
        let mut pieces = Vec::new();
        let mut from = 0;
        loop {
            let mut o = Out::new();
            let prepare = Msg::Prepare {
                ballot: ballot(2, 2),
                from,
            };
            a.on_msg(Id::from(1), &mut state, Id::from(2), prepare, &mut o);
            let [(_, Msg::Promise { accepted, more, .. })] = &sent(o)[..] else {
                panic!("one promise");
            };
            assert!(accepted.len() <= a.tuning.piece);
            pieces.push(accepted.keys().copied().collect::<Vec<_>>());
            match more {
                Some(next) => from = *next,
                None => break,
            }
        }
        assert_eq!(pieces, vec![vec![0, 1], vec![2, 3], vec![4]]);
    }

    // Reference: a cluster restarted whole comes back (spec/runtime.md D2): a restarted server
    // relearns its decided prefix from its storage.
    #[test]
    fn restart_relearns_the_decided_prefix() {
        let a = actor(Variant::Correct);
        let mut state = acceptor_with_five_slots(&a);
        assert!(state.replica.log.is_empty(), "nothing is known decided yet");
        let mut storage = Storage {
            promised: state.acceptor.promised,
            accepted: state.acceptor.accepted.clone(),
            ..Storage::default()
        };
        storage.decided = 3;
        state = Cow::Owned(a.on_start(Id::from(1), &Some(storage), &mut Out::new()));
        assert_eq!(state.replica.first_unknown(), 3);
        assert_eq!(state.replica.log.len(), 3);
        assert_eq!(state.acceptor.decided, 3);
    }

    // Reference: §2.2, "an acceptor must remember this information even if it fails and then
    // restarts": each crash variant loses one part of what was saved, and keeps the promise.
    #[test]
    fn a_restart_restores_what_was_saved_unless_a_variant_loses_part_of_it() {
        let saved = acceptor_with_five_slots(&actor(Variant::Correct));
        let accepted = saved.acceptor.accepted.clone();
        let decided = Storage {
            promised: ballot(1, 0),
            accepted: accepted.clone(),
            decided: 3,
            ..Storage::default()
        };
        let snapshot = Arc::new(Snapshot {
            upto: 3,
            machine: saved.replica.machine.clone(),
        });
        let truncated = Storage {
            promised: ballot(1, 0),
            accepted: accepted.clone().split_off(&3),
            decided: 3,
            snapshot,
            ..Storage::default()
        };
        // (variant, storage) -> (accepted slots, replica's first unknown slot, snapshot)
        let cases = [
            (Variant::Correct, &decided, vec![0, 1, 2, 3, 4], 3, 0),
            (Variant::ForgetAccepted, &decided, vec![], 0, 0),
            (Variant::ForgetDecided, &decided, vec![3, 4], 0, 0),
            (Variant::Correct, &truncated, vec![3, 4], 3, 3),
            (Variant::StaleSnapshot, &truncated, vec![3, 4], 0, 0),
        ];
        for (variant, storage, slots, first_unknown, upto) in cases {
            let a = actor(variant);
            let state = a.on_start(Id::from(1), &Some(storage.clone()), &mut Out::new());
            let kept: Vec<Slot> = state.acceptor.accepted.keys().copied().collect();
            assert_eq!(
                (
                    kept,
                    state.replica.first_unknown(),
                    state.acceptor.snapshot.upto
                ),
                (slots, first_unknown, upto),
                "{variant:?}"
            );
            assert_eq!(state.acceptor.promised, ballot(1, 0), "{variant:?}");
        }
    }
}
