//! The proposer, as follower, candidate or leader (§3: the leader "acts as the distinguished
//! proposer"): phase 1(a) once for every slot, taking over the log, phase 2(a) per slot, the
//! leader's tick, and stepping down. Client requests are in `requests.rs`.
use super::actor::MultiPaxosActor;
use super::kv::Text;
use super::messages::{Command, Msg, Proposal, Slot, Timer};
use super::state::{AcceptorState, InFlight, MultiPaxosState, ProposerState, Role, RoleStates};
use super::tuning::LeaderTick;
use crate::protocol::ballot::{highest_reported, Ballot};
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Whether a promise for `promise` answers the prepare of the candidate's `current` ballot.
///
/// §2.2, phase 2(a): "If the proposer receives a response to its prepare requests (numbered
/// n)": only a promise for that very number counts.
pub(super) fn answers_prepare(promise: Ballot, current: Ballot) -> bool {
    promise == current
}

/// P2c(b), per slot: the command of the highest-numbered proposal the promises reported for
/// the slot (`reported`, not empty). A slot no promise reported is P2c(a)'s free choice, which
/// §3 fills with a no-op: "we let it fill the gap immediately by proposing ... a special
/// 'no-op' command that leaves the state unchanged".
///
/// §2.2, phase 2(a): "v is the value of the highest-numbered proposal among the responses".
fn p2c_command<V: Text>(reported: &[(Ballot, Command<V>)]) -> Command<V> {
    highest_reported(reported.iter().cloned())
        .expect("reported slots are non-empty")
        .1
}

impl<V> ProposerState<V> {
    /// Whether this server leads.
    pub(crate) fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }
}

impl<V: Text> MultiPaxosActor<V> {
    /// Phase 1(a) on a leader timeout: a ballot above any seen, for every slot from `from`, the
    /// first unknown one, on. §3: "Using the same proposal number for all instances, it can do
    /// this by sending a single reasonably short message to the other servers."
    pub(super) fn start_phase1(
        &self,
        id: Id,
        proposer: &mut ProposerState<V>,
        acceptor: &AcceptorState<V>,
        from: Slot,
        o: &mut Out<Self>,
    ) {
        let round = proposer.ballot.round.max(acceptor.promised.round) + 1;
        let ballot = Ballot {
            round,
            proposer: id,
        };
        proposer.ballot = ballot;
        Self::save(proposer, acceptor, o);
        if !self.variant.runs_phase1() {
            // Lead at once, as if a majority had promised and reported nothing.
            return self.take_lead(proposer, from, Vec::new(), o);
        }
        proposer.role = Role::Candidate {
            from,
            promises: BTreeMap::new(),
            partial: BTreeMap::new(),
            snapshot: 0,
        };
        o.set_timer(Timer::Election, self.tuning.election_after.clone());
        o.broadcast(&self.servers, &Msg::Prepare { ballot, from });
    }

    /// A candidate's promise (or a piece of one: the next piece is asked for with the same
    /// ballot); with a majority of whole promises, it takes over the log.
    #[allow(clippy::too_many_arguments)] // The message's fields, as the other handlers take them.
    pub(super) fn handle_promise(
        &self,
        id: Id,
        proposer: &mut Cow<ProposerState<V>>,
        src: Id,
        ballot: Ballot,
        accepted: BTreeMap<Slot, Proposal<V>>,
        more: Option<Slot>,
        reported_snapshot: Slot,
        o: &mut Out<Self>,
    ) {
        let Role::Candidate {
            from,
            promises,
            partial,
            snapshot,
        } = &proposer.role
        else {
            return;
        };
        let counts = answers_prepare(ballot, proposer.ballot);
        if !self.variant.counts_promise(counts, ballot, proposer.ballot)
            || promises.contains_key(&src)
        {
            return;
        }
        let (from, snapshot) = (*from, reported_snapshot.max(*snapshot));
        let (mut promises, mut partial) = (promises.clone(), partial.clone());
        let mut whole = partial.remove(&src).unwrap_or_default();
        whole.extend(accepted);
        if let Some(next) = more {
            // The promise covers every slot from `from`; its report comes in pieces. An
            // acceptor that promises a higher ballot meanwhile refuses the next prepare.
            if next > whole.keys().next_back().copied().unwrap_or(from) {
                partial.insert(src, whole);
                o.send(src, Msg::Prepare { ballot, from: next });
            }
            proposer.to_mut().role = Role::Candidate {
                from,
                promises,
                partial,
                snapshot,
            };
            return;
        }
        promises.insert(src, whole);
        // §2.2 phase 2(a): "If the proposer receives a response to its prepare requests
        // (numbered n) from a majority of acceptors, then it sends an accept request".
        if promises.len() < self.quorum() {
            proposer.to_mut().role = Role::Candidate {
                from,
                promises,
                partial,
                snapshot,
            };
            return;
        }
        // For each slot, every proposal the quorum reported.
        let mut reported: BTreeMap<Slot, Vec<(Ballot, Command<V>)>> = BTreeMap::new();
        for (slot, p) in promises.values().flatten() {
            reported
                .entry(*slot)
                .or_default()
                .push((p.ballot, p.command.clone()));
        }
        // Slots below a reported snapshot are chosen, and not every acceptor reports them:
        // the new leader takes over the log from there (and learns the rest from that
        // snapshot).
        let from = from.max(snapshot);
        let end = reported.keys().next_back().map_or(from, |top| top + 1);
        let proposer = proposer.to_mut();
        let recovered = (from..end)
            .map(|slot| {
                let command = match reported.remove(&slot) {
                    Some(proposals) => {
                        let adopted = p2c_command(&proposals);
                        self.variant
                            .adopted(adopted, proposals, &mut proposer.queue)
                    }
                    None => self.variant.filler(Command::Noop, id),
                };
                (slot, command)
            })
            .collect();
        self.take_lead(proposer, end.max(from), recovered, o);
    }

    /// Phase 1 is over: lead from `next_slot` on, proposing the `recovered` slots, then the
    /// commands queued meanwhile. Only the first [`Tuning::burst`] `Accept`s go out
    /// at once; the leader's tick sends the rest, a burst at a time, as slots are chosen.
    fn take_lead(
        &self,
        proposer: &mut ProposerState<V>,
        mut next_slot: Slot,
        recovered: Vec<(Slot, Command<V>)>,
        o: &mut Out<Self>,
    ) {
        o.cancel_timer(Timer::Election);
        if self.tuning.leader_tick != LeaderTick::Off {
            o.set_timer(Timer::Leader, self.tuning.tick_after.clone());
        }
        let ballot = proposer.ballot;
        let mut in_flight = InFlight::new();
        for (i, (slot, command)) in recovered.into_iter().enumerate() {
            in_flight.insert(slot, (command.clone(), BTreeSet::new()));
            if i < self.tuning.burst {
                let proposal = Proposal { ballot, command };
                o.broadcast(&self.servers, &Msg::Accept { slot, proposal });
            }
        }
        self.propose_queued(
            ballot,
            &mut proposer.queue,
            &mut next_slot,
            &mut in_flight,
            o,
        );
        proposer.role = Role::Leader {
            next_slot,
            in_flight,
            awaited: BTreeSet::new(),
        };
    }

    /// Phase 2(a) for one slot: the proposal goes in flight, and to every acceptor.
    pub(super) fn propose(
        &self,
        ballot: Ballot,
        in_flight: &mut InFlight<V>,
        slot: Slot,
        command: Command<V>,
        o: &mut Out<Self>,
    ) {
        in_flight.insert(slot, (command.clone(), BTreeSet::new()));
        let proposal = Proposal { ballot, command };
        o.broadcast(&self.servers, &Msg::Accept { slot, proposal });
        if self.tuning.leader_tick == LeaderTick::WhileInFlight {
            o.set_timer(Timer::Leader, self.tuning.tick_after.clone());
        }
    }

    /// The leader's tick: re-sends the `Accept` of the first [`Tuning::burst`] slots
    /// in flight to the acceptors that have not accepted them (a lost `Accept` or `Accepted`
    /// would otherwise leave a gap for good), and with [`LeaderTick::Always`] tells the other
    /// servers it is alive. The tick stops when the server no longer leads.
    ///
    /// A leader that took over above a snapshot a promise named (and so proposed nothing
    /// below it) asks the other servers again, on each tick, for the slots it does not know
    /// there, until a snapshot's pieces or their `Chosen`s came: no heartbeat of another
    /// leader will make it ask.
    pub(super) fn tick(&self, id: Id, state: &mut Cow<MultiPaxosState<V>>, o: &mut Out<Self>) {
        let Role::Leader {
            in_flight,
            next_slot,
            ..
        } = &state.proposer.role
        else {
            return;
        };
        let from = state.replica.first_unknown();
        if from < *next_slot && !in_flight.contains_key(&from) {
            for server in self.others(id) {
                o.send(
                    *server,
                    Msg::CatchUp {
                        from,
                        to: *next_slot,
                    },
                );
            }
        }
        let ballot = state.proposer.ballot;
        for (slot, (command, by)) in in_flight
            .iter()
            .take(self.variant.resent(self.tuning.burst))
        {
            for server in self.servers.iter().filter(|s| !by.contains(s)) {
                let proposal = Proposal {
                    ballot,
                    command: command.clone(),
                };
                let slot = *slot;
                o.send(*server, Msg::Accept { slot, proposal });
            }
        }
        let again = match self.tuning.leader_tick {
            LeaderTick::Always => {
                let decided = state.replica.first_unknown();
                for server in self.others(id) {
                    o.send(*server, Msg::Heartbeat { ballot, decided });
                }
                true
            }
            LeaderTick::WhileInFlight => !in_flight.is_empty(),
            LeaderTick::Off => false,
        };
        if again {
            o.set_timer(Timer::Leader, self.tuning.tick_after.clone());
        }
    }

    /// A leader's heartbeat: a server that does not lead puts off its election timer (it
    /// campaigns only once the heartbeats stop), and asks to catch up on what the leader knows
    /// is chosen and it does not, a burst per heartbeat. A leader or candidate of a lower
    /// ballot steps down.
    pub(super) fn handle_heartbeat(
        &self,
        states: &mut RoleStates<V>,
        src: Id,
        ballot: Ballot,
        decided: Slot,
        o: &mut Out<Self>,
    ) {
        if ballot < states.acceptor.promised {
            return; // A leader that some higher ballot has replaced.
        }
        self.step_down(&mut states.proposer, ballot);
        if states.proposer.is_leader() {
            return;
        }
        o.set_timer(Timer::Election, self.tuning.election_after.clone());
        // The requests it kept for want of a leader go to the one it now hears from, which
        // would otherwise be replaced when this server's timer fires (a needless leader change).
        if !states.proposer.queue.is_empty() {
            for command in std::mem::take(&mut states.proposer.to_mut().queue) {
                o.send(src, Msg::Request { command });
            }
        }
        let from = states.replica.first_unknown();
        if from < decided {
            o.send(src, Msg::CatchUp { from, to: decided });
        }
    }

    /// A leader's acceptance in `slot`. Returns the slot's command once a majority accepted
    /// it: it is chosen, and [`MultiPaxosActor::announce`] tells it.
    pub(super) fn handle_accepted(
        &self,
        proposer: &mut Cow<ProposerState<V>>,
        src: Id,
        slot: Slot,
        proposal: Proposal<V>,
    ) -> Option<Command<V>> {
        let Role::Leader {
            next_slot,
            in_flight,
            awaited,
        } = &proposer.role
        else {
            return None;
        };
        let (command, by) = in_flight.get(&slot)?;
        if proposal.ballot != proposer.ballot || *command != proposal.command || by.contains(&src) {
            return None;
        }
        let mut by = by.clone();
        by.insert(src);
        // §2.2: "A value is chosen when a single proposal with that value has been accepted
        // by a majority of the acceptors."
        let chosen = by.len() >= self.variant.chosen_at(self.quorum());
        let (next_slot, mut in_flight) = (*next_slot, in_flight.clone());
        let awaited = awaited.clone();
        if chosen {
            in_flight.remove(&slot);
        } else {
            in_flight.insert(slot, (proposal.command.clone(), by));
        }
        proposer.to_mut().role = Role::Leader {
            next_slot,
            in_flight,
            awaited,
        };
        chosen.then_some(proposal.command)
    }

    /// `command` is chosen in `slot`, and the leader's replica has answered its clients:
    /// the other replicas are told, then the requests that waited go into the next slot.
    /// The clients' replies leave first, as they are the ones waiting for this step.
    pub(super) fn announce(
        &self,
        id: Id,
        proposer: &mut Cow<ProposerState<V>>,
        slot: Slot,
        command: Command<V>,
        o: &mut Out<Self>,
    ) {
        for server in self.others(id) {
            let command = command.clone();
            o.send(*server, Msg::Chosen { slot, command });
        }
        self.fill_window(proposer, &command, o);
    }

    /// An acceptor refused this proposer's `ballot` (in `slot`, or for phase 1 when `None`)
    /// because it promised `promised`: the proposer abandons its proposal (§2.2: "it should
    /// probably inform the proposer, who should then abandon its proposal").
    pub(super) fn handle_rejected(
        &self,
        proposer: &mut Cow<ProposerState<V>>,
        slot: Option<Slot>,
        ballot: Ballot,
        promised: Ballot,
        o: &mut Out<Self>,
    ) {
        if ballot != proposer.ballot || promised <= ballot || proposer.role == Role::Follower {
            return;
        }
        if !self.variant.abandons() {
            return self.keep_proposing(proposer, promised, slot, o);
        }
        proposer.to_mut().role = Role::Follower;
    }

    /// A server whose acceptor promised a ballot above its own stops leading (or
    /// campaigning): its accepts would be refused (§2.2, abandoning a proposal).
    pub(super) fn step_down(&self, proposer: &mut Cow<ProposerState<V>>, promised: Ballot) {
        if self.variant.abandons() && proposer.role != Role::Follower && promised > proposer.ballot
        {
            proposer.to_mut().role = Role::Follower;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{actor, leader_with_one_slot_in_flight, put, sent};
    use super::super::Variant;
    use super::*;
    use crate::protocol::ballot::tests::ballot;
    use crate::protocol::self_delivery::Handlers;
    use stateright::actor::{Actor, Command as ActorCommand};

    // Reference: Paxos Made Simple §3: the new leader re-proposes reported commands and fills
    // the gap below the highest reported slot with a no-op.
    #[test]
    fn new_leader_recovers_reported_slots_and_fills_gaps() {
        let a = actor(Variant::Correct);
        let id = Id::from(0);
        let mut state = Cow::Owned(stateright::actor::Actor::on_start(
            &a,
            id,
            &None,
            &mut Out::new(),
        ));
        let mut o = Out::new();
        a.on_timeout_observed(id, &mut state, &Timer::Election, &mut o, &mut |_| {});
        let b = ballot(1, 0);
        assert!(matches!(state.proposer.role, Role::Candidate { .. }));
        // Acceptor 1 accepted put A in slot 1 under an older ballot; slot 0 is a gap.
        let old = Proposal {
            ballot: Ballot::default(),
            command: put(3, 1, 'A'),
        };
        let mut o = Out::new();
        let accepted = BTreeMap::from([(1, old)]);
        a.on_msg_observed(
            id,
            &mut state,
            Id::from(1),
            Msg::Promise {
                ballot: b,
                accepted,
                more: None,
                snapshot: 0,
            },
            &mut o,
            &mut |_| {},
        );
        let accepts: BTreeSet<(Slot, Command)> = sent(o)
            .into_iter()
            .filter_map(|(_, m)| match m {
                Msg::Accept { slot, proposal } => Some((slot, proposal.command)),
                _ => None,
            })
            .collect();
        assert_eq!(
            accepts,
            BTreeSet::from([(0, Command::Noop), (1, put(3, 1, 'A'))])
        );
        assert!(state.is_leader());
    }

    // Reference: L2 (spec/runtime.md): the leader's tick re-sends the Accept of a slot in flight to
    // the acceptors that have not accepted it, and tells the others it is alive; a follower that
    // hears it puts off its election timer and asks for what it misses.
    #[test]
    fn tick_resends_and_heartbeats_keep_followers_waiting() {
        let a = actor(Variant::Correct);
        let mut state = leader_with_one_slot_in_flight(&a);
        let mut o = Out::new();
        a.on_timeout(Id::from(0), &mut state, &Timer::Leader, &mut o);
        let sent = sent(o);
        let accepts: Vec<Id> = sent
            .iter()
            .filter(|(_, m)| matches!(m, Msg::Accept { slot: 0, .. }))
            .map(|(to, _)| *to)
            .collect();
        assert_eq!(accepts, vec![Id::from(1), Id::from(2)]);
        let heartbeats = sent
            .iter()
            .filter(|(_, m)| matches!(m, Msg::Heartbeat { .. }))
            .count();
        assert_eq!(heartbeats, 2);

        let follower = Id::from(1);
        let mut f = Cow::Owned(a.on_start(follower, &None, &mut Out::new()));
        let mut o = Out::new();
        let heartbeat = Msg::Heartbeat {
            ballot: state.proposer.ballot,
            decided: 2,
        };
        a.on_msg(follower, &mut f, Id::from(0), heartbeat, &mut o);
        let commands: Vec<_> = o.into_iter().collect();
        assert!(commands
            .iter()
            .any(|c| matches!(c, ActorCommand::SetTimer(Timer::Election, _))));
        assert!(commands
            .iter()
            .any(|c| matches!(c, ActorCommand::Send(_, Msg::CatchUp { from: 0, to: 2 }))));
    }

    // Reference: L2 (spec/runtime.md): a follower that kept a client's request for want of a leader
    // forwards it to the leader it hears from, instead of campaigning for it later; a server
    // restarted holding a promise runs its election timer at once, one that never promised
    // does not.
    #[test]
    fn a_heartbeat_takes_the_kept_requests_and_a_restart_with_a_promise_campaigns() {
        use super::super::Storage;
        use crate::protocol::ballot::tests::ballot;
        let a = actor(Variant::Correct);
        let (follower, client) = (Id::from(1), Id::from(3));
        let mut f = Cow::Owned(a.on_start(follower, &None, &mut Out::new()));
        let command = super::super::testing::append(3, 1, 'A');
        let request = Msg::Request {
            command: command.clone(),
        };
        a.on_msg(follower, &mut f, client, request, &mut Out::new());
        assert_eq!(f.proposer.queue.len(), 1, "no leader known: kept");
        let heartbeat = Msg::Heartbeat {
            ballot: ballot(1, 0),
            decided: 0,
        };
        let mut o = Out::new();
        a.on_msg(follower, &mut f, Id::from(0), heartbeat, &mut o);
        assert!(f.proposer.queue.is_empty());
        assert!(sent(o).contains(&(Id::from(0), Msg::Request { command })));

        let timers = |storage: Option<Storage>| {
            let mut o = Out::new();
            a.on_start(follower, &storage, &mut o);
            o.into_iter()
                .filter(|c| matches!(c, ActorCommand::SetTimer(Timer::Election, _)))
                .count()
        };
        assert_eq!(timers(None), 0);
        assert_eq!(timers(Some(Storage::default())), 0);
        let promised = Storage {
            promised: ballot(1, 0),
            ..Storage::default()
        };
        assert_eq!(timers(Some(promised)), 1);
    }

    // Reference: no message grows with the log (spec/multi-paxos.md): a candidate asks for a
    // promise's next piece, counts the promise only once whole, and sends at most `burst` Accepts
    // at once when it takes over.
    #[test]
    fn candidate_gathers_a_promise_in_pieces_and_paces_its_accepts() {
        let a = actor(Variant::Correct); // piece = burst = 2
        let id = Id::from(0);
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        a.on_timeout(id, &mut state, &Timer::Election, &mut Out::new());
        let b = state.proposer.ballot;
        let reported = |slots: std::ops::Range<Slot>| -> BTreeMap<Slot, Proposal> {
            slots
                .map(|s| {
                    let ballot = Ballot::default();
                    (
                        s,
                        Proposal {
                            ballot,
                            command: put(3, u64::from(s) + 1, 'A'),
                        },
                    )
                })
                .collect()
        };
        let mut o = Out::new();
        let first = Msg::Promise {
            ballot: b,
            accepted: reported(0..2),
            more: Some(2),
            snapshot: 0,
        };
        a.on_msg(id, &mut state, Id::from(1), first, &mut o);
        assert_eq!(
            sent(o),
            vec![(Id::from(1), Msg::Prepare { ballot: b, from: 2 })]
        );
        assert!(!state.is_leader(), "half a promise does not count");
        let mut o = Out::new();
        let last = Msg::Promise {
            ballot: b,
            accepted: reported(2..3),
            more: None,
            snapshot: 0,
        };
        a.on_msg(id, &mut state, Id::from(1), last, &mut o);
        let Role::Leader { in_flight, .. } = &state.proposer.role else {
            panic!("a whole promise and its own make a majority");
        };
        assert_eq!(in_flight.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
        let accepted_slots: BTreeSet<Slot> = sent(o)
            .into_iter()
            .filter_map(|(_, m)| match m {
                Msg::Accept { slot, .. } => Some(slot),
                _ => None,
            })
            .collect();
        assert_eq!(accepted_slots, BTreeSet::from([0, 1]), "a burst at a time");
    }

    // The liveness bug: without re-sending, the tick sends no Accept.
    #[test]
    fn never_retransmits_sends_no_accept_on_tick() {
        let a = actor(Variant::NeverRetransmits);
        let mut state = leader_with_one_slot_in_flight(&a);
        let mut o = Out::new();
        a.on_timeout(Id::from(0), &mut state, &Timer::Leader, &mut o);
        assert!(!sent(o).iter().any(|(_, m)| matches!(m, Msg::Accept { .. })));
    }
}
