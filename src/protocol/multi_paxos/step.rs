//! One step of a Multi-Paxos server: the dispatch of each message to the role it is for,
//! with that role's part of the state; stateright's `Actor` comes from [`Handlers`] (local
//! delivery).
use super::actor::MultiPaxosActor;
use super::kv::Text;
use super::leader::answers_prepare;
use super::messages::{Msg, Slot, Storage, Timer};
use super::state::{AcceptorState, MultiPaxosState, ProposerState, ReplicaState, Role, RoleStates};
use crate::protocol::ballot::{may_accept, Ballot};
use crate::protocol::self_delivery::{self, Handlers};
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::BTreeSet;

impl<V: Text> MultiPaxosActor<V> {
    /// Moves the acceptor's decided prefix up over the slots its replica knows to be chosen
    /// with the command it accepted there (saved with its next save).
    fn advance_decided(states: &mut RoleStates<V>) {
        let decided = states.acceptor.decided;
        let known = |slot: &Slot| {
            let chosen = states.replica.chosen.get(slot);
            chosen
                .is_some_and(|c| states.acceptor.accepted.get(slot).map(|p| &p.command) == Some(c))
        };
        if !known(&decided) {
            return;
        }
        let end = (decided..).find(|s| !known(s)).expect("the log is finite");
        states.acceptor.to_mut().decided = end;
    }

    /// Sends `msg` to the role it is for, with that role's part of the state.
    fn step(&self, id: Id, states: &mut RoleStates<V>, src: Id, msg: Msg<V>, o: &mut Out<Self>) {
        match msg {
            Msg::Request { command } => self.handle_request(id, states, src, command, o),
            Msg::Promise {
                ballot,
                accepted,
                more,
                snapshot,
            } => {
                let proposer = &mut states.proposer;
                self.handle_promise(id, proposer, src, ballot, accepted, more, snapshot, o);
                // Slots below the acceptor's snapshot are chosen: the new leader learns them
                // from it.
                let from = states.replica.first_unknown();
                if snapshot > from && states.replica.incoming.is_none() {
                    o.send(src, Msg::CatchUp { from, to: snapshot });
                }
            }
            Msg::Heartbeat { ballot, decided } => {
                self.handle_heartbeat(states, src, ballot, decided, o)
            }
            Msg::Accepted { slot, proposal } => {
                let proposer = &mut states.proposer;
                if let Some(command) = self.handle_accepted(proposer, src, slot, proposal) {
                    self.learn(
                        &mut states.replica,
                        &states.proposer,
                        slot,
                        command.clone(),
                        o,
                    );
                    self.announce(id, &mut states.proposer, slot, command, o);
                }
            }
            Msg::Rejected {
                ballot,
                promised,
                slot,
            } => self.handle_rejected(&mut states.proposer, slot, ballot, promised, o),
            Msg::Prepare { ballot, from } => {
                let (acceptor, proposer) = (&mut states.acceptor, &states.proposer);
                if let Some(promised) =
                    self.handle_prepare(acceptor, proposer, src, ballot, from, o)
                {
                    self.step_down(&mut states.proposer, promised);
                    // A follower holding requests gives the candidate it promised an election
                    // timeout to be heard from (its heartbeat) before campaigning itself.
                    if !states.proposer.queue.is_empty() && !states.proposer.is_leader() {
                        o.set_timer(Timer::Election, self.tuning.election_after.clone());
                    }
                }
            }
            Msg::Accept { slot, proposal } => {
                let (acceptor, proposer) = (&mut states.acceptor, &states.proposer);
                if let Some(promised) =
                    self.handle_accept(acceptor, proposer, src, slot, proposal, o)
                {
                    self.step_down(&mut states.proposer, promised);
                }
            }
            Msg::Chosen { slot, command } => {
                self.handle_chosen(&mut states.replica, &states.proposer, src, slot, command, o)
            }
            Msg::CatchUp { from, to } => {
                self.handle_catch_up(&states.replica, &states.acceptor, src, from..to, o)
            }
            Msg::Snapshot {
                upto,
                at,
                entries,
                total,
            } => self.handle_snapshot(states, src, upto, at, entries, total, o),
            Msg::SnapshotFrom { upto, at } => {
                self.handle_snapshot_from(&states.acceptor, src, upto, at, o)
            }
            // Replies are for clients.
            Msg::Reply { .. } | Msg::Stale { .. } => {}
        }
    }
}

self_delivery::impl_actor!(
    impl[V: Text] MultiPaxosActor<V>: Msg = Msg<V>, State = MultiPaxosState<V>, Timer = Timer,
        Storage = Storage<V>
);

impl<V: Text> Handlers for MultiPaxosActor<V> {
    /// Whether this server, in `state`, ignores `msg` from `src` (changes nothing and sends
    /// nothing) now and in every state it can reach: the message can never change anything,
    /// so the model may drop it (spec/reductions.md, R4). `restarts`: whether the server may
    /// yet crash and restart, which starts its replica and its proposer's role afresh;
    /// `src_ignores` tells the same of `src` for a reply.
    ///
    /// It rests on what only grows: the acceptor's promise (saved, §2.5) and the proposer's
    /// ballot (its round saved before the ballot is used, §2.5; a variant that takes over
    /// another server's ballot does not save whose it is, so only while it cannot restart);
    /// and, while the server does not restart, what its replica knows to be chosen. No rule
    /// rests on the accepted proposals, the decided prefix or the snapshot a server restarts
    /// with, which the crash variants lose (`Variant::restored`: each keeps the promise
    /// and the round).
    fn ignores_forever(
        &self,
        state: &MultiPaxosState<V>,
        src: Id,
        msg: &Msg<V>,
        restarts: bool,
        src_ignores: &dyn Fn(&Msg<V>) -> bool,
    ) -> bool {
        let proposer = &state.proposer;
        let durable = self.variant.abandons() || !restarts;
        // A number above `ballot` and every number a proposer reaches in a bounded run.
        let above = |ballot: Ballot| Ballot {
            round: u32::MAX,
            ..ballot
        };
        // What `src` does with a refusal of `ballot` (a higher number is promised).
        let refusal_ignored = |ballot: Ballot, slot: Option<Slot>| {
            let promised = above(ballot);
            src_ignores(&Msg::Rejected {
                ballot,
                promised,
                slot,
            })
        };
        let promised = state.acceptor.promised;
        match msg {
            Msg::Promise {
                ballot, snapshot, ..
            } => {
                let candidate = matches!(proposer.role, Role::Candidate { .. });
                let stale = *ballot < proposer.ballot
                    && !self.variant.counts_promise(
                        answers_prepare(*ballot, above(*ballot)),
                        *ballot,
                        above(*ballot),
                    );
                // A promise naming a snapshot past the replica's first unknown slot makes it
                // ask to catch up, whatever its ballot.
                let no_catch_up =
                    *snapshot == 0 || !restarts && *snapshot <= state.replica.first_unknown();
                durable && no_catch_up && (stale || *ballot == proposer.ballot && !candidate)
            }
            Msg::Accepted { slot, proposal } => {
                let done = match &proposer.role {
                    Role::Follower => true,
                    Role::Candidate { .. } => false,
                    Role::Leader {
                        next_slot,
                        in_flight,
                        ..
                    } => {
                        slot < next_slot
                            && in_flight.get(slot).is_none_or(|(command, by)| {
                                *command != proposal.command || by.contains(&src)
                            })
                    }
                };
                durable
                    && (proposal.ballot < proposer.ballot
                        || proposal.ballot == proposer.ballot && done)
            }
            Msg::Rejected {
                ballot, promised, ..
            } => {
                let follower = proposer.role == Role::Follower;
                durable
                    && (promised <= ballot
                        || *ballot < proposer.ballot
                        || *ballot == proposer.ballot && follower)
            }
            Msg::Heartbeat { ballot, .. } => *ballot < promised,
            Msg::Prepare { ballot, .. } => *ballot < promised && refusal_ignored(*ballot, None),
            Msg::Accept { slot, proposal } => {
                let b = proposal.ballot;
                b < promised
                    && !self.variant.may_accept(may_accept(above(b), b))
                    && !self.variant.keeps_refused()
                    && refusal_ignored(b, Some(*slot))
            }
            Msg::Chosen { slot, .. } => {
                let replica = &state.replica;
                !restarts && (*slot < replica.base || replica.chosen.contains_key(slot))
            }
            Msg::Reply { .. } | Msg::Stale { .. } => true,
            Msg::Request { .. }
            | Msg::CatchUp { .. }
            | Msg::Snapshot { .. }
            | Msg::SnapshotFrom { .. } => false,
        }
    }

    /// Every server plays every role.
    fn title(&self) -> String {
        "Server".to_owned()
    }

    fn start(&self, id: Id, storage: &Option<Storage<V>>, o: &mut Out<Self>) -> MultiPaxosState<V> {
        // §2.2: "an acceptor must remember this information even if it fails and then
        // restarts"; §2.5: it is kept "in stable storage". A crash variant loses part of it.
        let saved = self.variant.restored(storage.clone().unwrap_or_default());
        let upto = saved.snapshot.upto;
        let state = MultiPaxosState {
            proposer: ProposerState {
                ballot: Ballot {
                    round: saved.round,
                    proposer: id,
                },
                role: Role::Follower,
                queue: BTreeSet::new(),
            },
            acceptor: AcceptorState {
                promised: saved.promised,
                accepted: saved.accepted,
                decided: upto,
                snapshot: saved.snapshot.clone(),
            },
            // The replica goes on from the snapshot: the slots below it are applied.
            replica: ReplicaState {
                base: upto,
                first_unknown: upto,
                machine: saved.snapshot.machine.clone(),
                ..ReplicaState::default()
            },
        };
        // A restarted replica relearns the decided prefix from its own storage; past it, it
        // catches up when it next learns a chosen slot past its gap or hears a heartbeat.
        // (Asking here would add a message per restart, and the model's crashes repeat without
        // bound.)
        let mut states = RoleStates::of(&state);
        for slot in upto..saved.decided {
            // Storage comes from disk: a prefix it does not hold is relearned from peers.
            let Some(proposal) = states.acceptor.accepted.get(&slot) else {
                break;
            };
            let command = proposal.command.clone();
            let proposer = &state.proposer;
            self.learn(
                &mut states.replica,
                proposer,
                slot,
                command,
                &mut Out::new(),
            );
        }
        Self::advance_decided(&mut states);
        // A server that promised a leader before it restarted may have lost that leader with
        // it (a whole cluster restarts together): its election timer runs, and a live
        // leader's heartbeat puts it off. Without it, a restarted cluster would wait for a
        // client's request, and then for an election timeout, before anyone campaigns.
        if saved.promised.round > 0 {
            o.set_timer(Timer::Election, self.tuning.election_after.clone());
        }
        states.changed().unwrap_or(state)
    }

    fn handle(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState<V>>,
        src: Id,
        msg: Msg<V>,
        o: &mut Out<Self>,
    ) {
        let mut states = RoleStates::take(state);
        self.step(id, &mut states, src, msg, o);
        Self::advance_decided(&mut states);
        self.take_snapshot(&mut states, o);
        if let Some(changed) = states.changed() {
            *state = Cow::Owned(changed);
        }
    }

    /// The election timer: a server that is not leading campaigns. The leader's tick: it
    /// re-sends and sends heartbeats.
    fn timeout(
        &self,
        id: Id,
        state: &mut Cow<MultiPaxosState<V>>,
        timer: &Timer,
        o: &mut Out<Self>,
    ) {
        if *timer == Timer::Leader {
            return self.tick(id, state, o);
        }
        if *timer == Timer::Batch {
            return self.end_hold(state, o);
        }
        if *timer != Timer::Election || state.is_leader() {
            return;
        }
        let from = state.replica.first_unknown();
        let state = state.to_mut();
        self.start_phase1(id, &mut state.proposer, &state.acceptor, from, o);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{actor, append, put, sent};
    use super::super::{Proposal, Variant};
    use super::*;
    use stateright::actor::{Actor, Command as ActorCommand};

    // A step on a state the actor owns (as on UDP) moves the parts out instead of copying
    // them, and ends where the same step on a lent state (as in the model) ends.
    #[test]
    fn a_step_on_an_owned_state_is_the_step_on_a_lent_one() {
        let a = actor(Variant::Correct);
        let state = a.on_start(Id::from(0), &None, &mut Out::new());
        let prepare = Msg::Prepare {
            ballot: Ballot {
                round: 1,
                proposer: Id::from(1),
            },
            from: 0,
        };
        let (mut lent, mut owned) = (Cow::Borrowed(&state), Cow::Owned(state.clone()));
        let (mut o_lent, mut o_owned) = (Out::new(), Out::new());
        a.on_msg(
            Id::from(0),
            &mut lent,
            Id::from(1),
            prepare.clone(),
            &mut o_lent,
        );
        a.on_msg(Id::from(0), &mut owned, Id::from(1), prepare, &mut o_owned);
        assert!(
            matches!(lent, Cow::Owned(_)),
            "the promise changed the state"
        );
        assert_eq!(lent, owned);
        assert_eq!(sent(o_lent), sent(o_owned));
        assert_eq!(owned.acceptor.promised.round, 1);
    }

    /// The commands of `o` as `save`, or the message's recipient and kind.
    fn order(o: &Out<MultiPaxosActor>) -> Vec<String> {
        o.iter()
            .filter_map(|c| match c {
                ActorCommand::Save(_) => Some("save".to_owned()),
                ActorCommand::Send(dst, msg) => {
                    let kind = format!("{msg:?}");
                    let kind = kind.split([' ', '{']).next().unwrap_or_default().to_owned();
                    Some(format!("{kind} to {}", usize::from(*dst)))
                }
                _ => None,
            })
            .collect()
    }

    // D1 (spec/runtime.md), §2.5: "An acceptor records its intended response in stable
    // storage before actually sending the response". The actor gives what may leave before
    // its save first, then one save, then what depends on it: a leader's `Accept`s to the
    // others (its round saved in an earlier step) before its own acceptance's save; an
    // acceptor's `Accepted` after the save of its acceptance, but with the broken variant that
    // answers first.
    #[test]
    fn a_step_gives_its_messages_around_its_save_in_the_order_that_is_safe() {
        let (leader, follower) = (Id::from(0), Id::from(1));
        let ballot = Ballot {
            round: 1,
            proposer: leader,
        };
        let a = actor(Variant::Correct);
        let mut state = Cow::Owned(a.on_start(leader, &None, &mut Out::new()));
        let mut o = Out::new();
        a.on_timeout(leader, &mut state, &Timer::Election, &mut o);
        assert_eq!(order(&o), ["save", "Prepare to 1", "Prepare to 2"]);
        let promise = Msg::Promise {
            ballot,
            accepted: Default::default(),
            more: None,
            snapshot: 0,
        };
        a.on_msg(leader, &mut state, follower, promise, &mut Out::new());
        assert!(state.is_leader());
        let request = Msg::Request {
            command: append(3, 1, 'A'),
        };
        let mut o = Out::new();
        a.on_msg(leader, &mut state, Id::from(3), request, &mut o);
        assert_eq!(order(&o), ["Accept to 1", "Accept to 2", "save"]);
        let accept = Msg::Accept {
            slot: 0,
            proposal: Proposal {
                ballot,
                command: put(3, 1, 'A'),
            },
        };
        for (variant, expected) in [
            (Variant::Correct, ["save", "Accepted to 0"]),
            (Variant::AnswerBeforeSave, ["Accepted to 0", "save"]),
        ] {
            let a = actor(variant);
            let mut state = Cow::Owned(a.on_start(follower, &None, &mut Out::new()));
            let mut o = Out::new();
            a.on_msg(follower, &mut state, leader, accept.clone(), &mut o);
            assert_eq!(order(&o), expected, "{variant:?}");
        }
    }
}
