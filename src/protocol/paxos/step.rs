//! One step of a Paxos actor: its state, one part per role, and the dispatch of each message
//! to the role it is for; stateright's `Actor` comes from [`Handlers`] (local delivery).
use super::acceptor::AcceptorState;
use super::actor::{PaxosActor, Roles};
use super::learner::{LearnerState, Reads};
use super::messages::{Msg, Proposal, RequestId, Storage, Timer};
use super::proposer::{answers_prepare, proposal_number, Phase, ProposerState};
use crate::protocol::ballot::{may_accept, Ballot};
use crate::protocol::self_delivery::{self, Handlers};
use crate::protocol::sorted::{SortedMap, SortedSet};
use crate::protocol::{edit, Part};
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::sync::Arc;

/// The state of one actor: one part per role it plays, in the order used to sort states.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct PaxosState {
    /// The proposer part, if the actor proposes.
    pub proposer: Option<Arc<ProposerState>>,
    /// The acceptor part, if the actor accepts.
    pub acceptor: Option<AcceptorState>,
    /// The learner part, if the actor learns (proposers do).
    pub learner: Option<Arc<LearnerState>>,
    /// Quorum reads under way, by (client, request): each acceptor's report.
    pub reads: SortedMap<(Id, RequestId), SortedMap<Id, Option<Proposal>>>,
}

/// A [`PaxosState`] split by role for one step: each handler gets its role's part, borrowed
/// until the handler changes it (so that a step that changes nothing leaves the state
/// borrowed, which stateright reads as a no-op).
struct RoleStates<'a> {
    proposer: Option<Part<'a, ProposerState>>,
    acceptor: Option<Cow<'a, AcceptorState>>,
    learner: Option<Part<'a, LearnerState>>,
    reads: Cow<'a, Reads>,
}

impl<'a> RoleStates<'a> {
    fn of(state: &'a PaxosState) -> Self {
        RoleStates {
            proposer: state.proposer.as_ref().map(Cow::Borrowed),
            acceptor: state.acceptor.as_ref().map(Cow::Borrowed),
            learner: state.learner.as_ref().map(Cow::Borrowed),
            reads: Cow::Borrowed(&state.reads),
        }
    }

    /// The parts of `state`, moved out of it when it is owned (the step already changed it,
    /// and now hands the actor a message it sent itself): a handler then changes a part in
    /// place instead of copying it again.
    fn take(state: &mut Cow<'a, PaxosState>) -> Self {
        match state {
            Cow::Borrowed(state) => RoleStates::of(state),
            Cow::Owned(state) => RoleStates {
                proposer: state.proposer.take().map(Cow::Owned),
                acceptor: state.acceptor.take().map(Cow::Owned),
                learner: state.learner.take().map(Cow::Owned),
                reads: Cow::Owned(std::mem::take(&mut state.reads)),
            },
        }
    }

    /// The proposer's round, saved with the acceptor's state.
    fn round(&self) -> u32 {
        self.proposer.as_ref().map_or(0, |p| p.ballot.round)
    }

    /// The state after the step, if a handler changed a part.
    fn changed(self) -> Option<PaxosState> {
        let changed = matches!(self.proposer, Some(Cow::Owned(_)))
            || matches!(self.acceptor, Some(Cow::Owned(_)))
            || matches!(self.learner, Some(Cow::Owned(_)))
            || matches!(self.reads, Cow::Owned(_));
        changed.then(|| PaxosState {
            proposer: self.proposer.map(Cow::into_owned),
            acceptor: self.acceptor.map(Cow::into_owned),
            learner: self.learner.map(Cow::into_owned),
            reads: self.reads.into_owned(),
        })
    }
}

impl PaxosActor {
    /// Sends `msg` to the role it is for, with that role's part of the state; an actor that
    /// does not play the role ignores it.
    fn step(&self, id: Id, states: &mut RoleStates, src: Id, msg: Msg, o: &mut Out<Self>) {
        let round = states.round();
        let learned = states.learner.as_ref().and_then(|l| l.learned);
        let RoleStates {
            proposer,
            acceptor,
            learner,
            reads,
        } = states;
        // A proposer saves its round with its acceptor's state.
        let acceptor_part = acceptor.as_deref();
        match msg {
            Msg::Put { request, value } => {
                if let Some(proposer) = proposer {
                    let put = (src, request, value);
                    self.handle_put(id, proposer, acceptor_part, learned, put, o);
                }
            }
            Msg::Promise { ballot, accepted } => {
                if let Some(proposer) = proposer {
                    self.handle_promise(proposer, src, ballot, accepted, o);
                }
            }
            Msg::Rejected { ballot, promised } => {
                if let Some(proposer) = proposer {
                    self.handle_rejected(id, proposer, acceptor_part, ballot, promised, o);
                }
            }
            Msg::Prepare { ballot } => {
                if let Some(acceptor) = acceptor {
                    self.handle_prepare(acceptor, round, src, ballot, o);
                }
            }
            Msg::Accept { proposal } => {
                if let Some(acceptor) = acceptor {
                    self.handle_accept(acceptor, round, src, proposal, o);
                }
            }
            Msg::Read { client, request } => {
                if let Some(acceptor) = acceptor {
                    self.handle_read(acceptor, src, client, request, o);
                }
            }
            Msg::Accepted { proposal } => {
                let Some(learner) = learner else {
                    return;
                };
                let Some(value) = self.handle_accepted(learner, src, proposal) else {
                    return;
                };
                if let Some(proposer) = proposer {
                    Self::answer_clients(edit(proposer), value, o);
                }
            }
            Msg::Get { request } => self.handle_get(reads, learned, (src, request), o),
            Msg::ReadReply {
                client,
                request,
                accepted,
            } => self.handle_read_reply(reads, src, (client, request), accepted, o),
            // Replies are for clients: a server ignores them.
            Msg::PutOk { .. } | Msg::PutFail { .. } | Msg::GetOk { .. } => {}
        }
    }
}

self_delivery::impl_actor!(
    PaxosActor: Msg = Msg, State = PaxosState, Timer = Timer, Storage = Storage
);

impl Handlers for PaxosActor {
    /// Whether this actor, in `state`, ignores `msg` from `src` (changes nothing and sends
    /// nothing) now and in every state it can reach: the message can never change anything,
    /// so the model may drop it (spec/reductions.md, R4). `restarts`: whether the actor may
    /// yet crash and restart, which starts its volatile parts (the learner, the proposer's
    /// phase, the quorum reads) afresh; `src_ignores` tells the same of `src` for a reply.
    ///
    /// It rests on what only grows: an acceptor's promise (saved, §2.5) and a proposer's ballot
    /// (its round saved before the ballot is used, §2.5), unless the variant saves nothing and the
    /// actor may restart; and, while it does not restart, a learner's knowledge. No rule rests on
    /// the acceptor's accepted proposal, which
    /// [`Variant::ForgetAccepted`](super::Variant::ForgetAccepted) loses at a restart (it keeps the
    /// promise and the round).
    fn ignores_forever(
        &self,
        state: &PaxosState,
        src: Id,
        msg: &Msg,
        restarts: bool,
        src_ignores: &dyn Fn(&Msg) -> bool,
    ) -> bool {
        let durable = self.variant.saves() || !restarts;
        // A number above `ballot` and every number a proposer reaches in a bounded run.
        let above = |ballot: Ballot| Ballot {
            round: u32::MAX,
            ..ballot
        };
        // What `src` does with a refusal of `ballot` (a higher number is promised).
        let refusal_ignored = |ballot: Ballot| {
            let promised = Ballot {
                round: ballot.round.saturating_add(1),
                ..ballot
            };
            src_ignores(&Msg::Rejected { ballot, promised })
        };
        match *msg {
            Msg::Promise { ballot, .. } => state.proposer.as_ref().is_none_or(|p| {
                let later = above(ballot);
                let counts = answers_prepare(ballot, later);
                let counted_later = self.variant.counts_promise(counts, ballot, later);
                let preparing = matches!(&p.phase, Phase::Preparing { promises }
                    if !promises.contains_key(&src));
                durable && !counted_later && (ballot < p.ballot || ballot == p.ballot && !preparing)
            }),
            Msg::Rejected { ballot, promised } => state.proposer.as_ref().is_none_or(|p| {
                durable
                    && (promised <= ballot
                        || ballot < p.ballot
                        || ballot == p.ballot && !p.is_trying())
            }),
            Msg::Accepted { proposal } => state.learner.as_ref().is_none_or(|l| {
                !restarts
                    && (l.learned.is_some()
                        || l.accepted_by
                            .get(&proposal)
                            .is_some_and(|by| by.contains(&src)))
            }),
            Msg::Prepare { ballot } => state
                .acceptor
                .as_ref()
                .is_none_or(|a| durable && a.promised > ballot && refusal_ignored(ballot)),
            Msg::Accept { proposal } => state.acceptor.as_ref().is_none_or(|a| {
                let b = proposal.ballot;
                durable
                    && a.promised > b
                    && !self.variant.accepts(may_accept(above(b), b))
                    && refusal_ignored(b)
            }),
            Msg::ReadReply {
                client, request, ..
            } => {
                let learned = state.learner.as_ref().is_some_and(|l| l.learned.is_some());
                !restarts && learned && !state.reads.contains_key(&(client, request))
            }
            Msg::Put { .. } => state.proposer.is_none(),
            Msg::Read { .. } => state.acceptor.is_none(),
            Msg::Get { .. } => false,
            Msg::PutOk { .. } | Msg::PutFail { .. } | Msg::GetOk { .. } => true,
        }
    }

    /// The actor's name in traces: its roles.
    fn title(&self) -> String {
        let Roles {
            proposer,
            acceptor,
            learner,
        } = self.roles;
        match (proposer, acceptor, learner) {
            (true, true, true) => "Server",
            (true, false, false) => "Proposer",
            (false, true, false) => "Acceptor",
            (false, false, true) => "Learner",
            _ => "Paxos",
        }
        .to_owned()
    }

    fn start(&self, id: Id, storage: &Option<Storage>, _o: &mut Out<Self>) -> PaxosState {
        let saved = storage.clone().unwrap_or_default();
        PaxosState {
            proposer: self.roles.proposer.then(|| {
                Arc::new(ProposerState {
                    id,
                    ballot: self.variant.ballot(proposal_number(saved.round, id)),
                    phase: Phase::Idle,
                    waiting: SortedSet::new(),
                })
            }),
            acceptor: self.roles.acceptor.then_some(AcceptorState {
                promised: saved.promised,
                accepted: saved.accepted,
            }),
            // Proposers learn too: they answer their clients once the outcome is known.
            learner: (self.roles.learner || self.roles.proposer).then(Arc::default),
            reads: SortedMap::new(),
        }
    }

    fn handle(&self, id: Id, state: &mut Cow<PaxosState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        let mut states = RoleStates::take(state);
        self.step(id, &mut states, src, msg, o);
        if let Some(changed) = states.changed() {
            *state = Cow::Owned(changed);
        }
    }

    /// The proposer's current ballot made no progress: start a higher one.
    fn timeout(&self, id: Id, state: &mut Cow<PaxosState>, timer: &Timer, o: &mut Out<Self>) {
        let Timer::Retry = timer;
        let mut states = RoleStates::of(state);
        if let Some(proposer) = &mut states.proposer {
            self.retry(id, proposer, states.acceptor.as_deref(), o);
        }
        if let Some(changed) = states.changed() {
            *state = Cow::Owned(changed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{server, step};
    use super::super::Variant;
    use super::*;
    use crate::protocol::ballot::tests::ballot;
    use stateright::actor::Actor;

    // Reference: spec/reductions.md, R4: what a server ignores forever rests on what only
    // grows (its saved promise and round), and on a learner's knowledge only while it cannot
    // restart.
    #[test]
    fn a_server_ignores_forever_only_what_can_never_matter_again() {
        let actor = server(Variant::Correct);
        let start = actor.on_start(Id::from(0), &None, &mut Out::new());
        let put = Msg::Put {
            request: 1,
            value: 'A',
        };
        let (preparing, _) = step(&actor, &start, 3, put);
        let current = preparing.proposer.as_ref().map(|p| p.ballot);
        assert_eq!(current, Some(ballot(1, 0)));
        let promise = |round| Msg::Promise {
            ballot: ballot(round, 0),
            accepted: None,
        };
        let never = |_: &Msg| false;
        let ignores = |state: &PaxosState, msg: &Msg, restarts| {
            actor.ignores_forever(state, Id::from(1), msg, restarts, &never)
        };
        // Server 0's own promise was counted in the step; server 1's is awaited.
        assert!(!ignores(&preparing, &promise(1), true));
        assert!(ignores(&preparing, &promise(0), true), "an older ballot's");
        let proposal = Proposal {
            ballot: ballot(1, 0),
            value: 'A',
        };
        let mut learned = preparing.clone();
        learned.learner = Some(Arc::new(LearnerState {
            learned: Some('A'),
            ..LearnerState::default()
        }));
        let accepted = Msg::Accepted { proposal };
        assert!(ignores(&learned, &accepted, false));
        assert!(
            !ignores(&learned, &accepted, true),
            "a restart forgets what it learned"
        );
        assert!(!ignores(&preparing, &accepted, false));
        // A refused prepare is inert only if its sender ignores the refusal.
        let mut promised = start.clone();
        promised.acceptor.as_mut().expect("an acceptor").promised = ballot(2, 2);
        let prepare = Msg::Prepare {
            ballot: ballot(1, 1),
        };
        assert!(actor.ignores_forever(&promised, Id::from(1), &prepare, true, &|_| true));
        assert!(!ignores(&promised, &prepare, true));
    }

    // Reference: §2.5, "Each proposer remembers (in stable storage) the highest-numbered
    // proposal it has tried to issue".
    #[test]
    fn a_restart_restores_the_acceptor_and_the_proposer_round() {
        let actor = server(Variant::Correct);
        let saved = Storage {
            round: 3,
            promised: ballot(4, 1),
            accepted: Some(Proposal {
                ballot: ballot(4, 1),
                value: 'B',
            }),
        };
        let state = actor.on_start(Id::from(0), &Some(saved.clone()), &mut Out::new());
        let acceptor = state.acceptor.as_ref().expect("a server is an acceptor");
        assert_eq!(
            (acceptor.promised, acceptor.accepted),
            (saved.promised, saved.accepted)
        );
        assert_eq!(
            state.proposer.as_ref().map(|p| p.ballot),
            Some(ballot(3, 0))
        );
    }
}
