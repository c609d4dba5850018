//! The proposer, as follower, candidate or leader (§3: the leader "acts as the distinguished
//! proposer"): client requests, phase 1(a) once for every slot, taking over the log, and
//! phase 2(a) per slot.
use super::actor::{LeaderTick, MultiPaxosActor};
use super::kv::Text;
use super::machine::ClientCommand;
use super::messages::{Command, Msg, Proposal, Slot, Timer};
use super::state::{AcceptorState, InFlight, MultiPaxosState, Parts, ProposerState, Role, Table};
use crate::protocol::ballot::Ballot;
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Keeps a request in the proposer's queue; a request kept already leaves the state as it is
/// (borrowed, so that stateright reads the step as a no-op).
fn keep<V: Text>(proposer: &mut Cow<ProposerState<V>>, command: ClientCommand<V>) {
    if !proposer.queue.contains(&command) {
        proposer.to_mut().queue.insert(command);
    }
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
        o.set_timer(Timer::Election, self.election_after.clone());
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
        // §2.2 phase 2(a): only responses "to its prepare requests (numbered n)" count.
        if !self.variant.counts_promise(ballot, proposer.ballot) || promises.contains_key(&src) {
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
                    // P2c(b), per slot: the command of the highest-numbered reported proposal.
                    Some(proposals) => self.variant.adopt(proposals, &mut proposer.queue),
                    // §3: "we let it fill the gap immediately by proposing ... a special
                    // 'no-op' command".
                    None => self.variant.no_op(id),
                };
                (slot, command)
            })
            .collect();
        self.take_lead(proposer, end.max(from), recovered, o);
    }

    /// Phase 1 is over: lead from `next_slot` on, proposing the `recovered` slots, then the
    /// commands queued meanwhile. Only the first [`MultiPaxosActor::piece`] `Accept`s go out
    /// at once; the leader's tick sends the rest, a piece at a time, as slots are chosen.
    fn take_lead(
        &self,
        proposer: &mut ProposerState<V>,
        mut next_slot: Slot,
        recovered: Vec<(Slot, Command<V>)>,
        o: &mut Out<Self>,
    ) {
        o.cancel_timer(Timer::Election);
        if self.leader_tick != LeaderTick::Off {
            o.set_timer(Timer::Leader, self.tick_after.clone());
        }
        let ballot = proposer.ballot;
        let mut in_flight = InFlight::new();
        for (i, (slot, command)) in recovered.into_iter().enumerate() {
            in_flight.insert(slot, (command.clone(), BTreeSet::new()));
            if i < self.burst {
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
        if self.leader_tick == LeaderTick::WhileInFlight {
            o.set_timer(Timer::Leader, self.tick_after.clone());
        }
    }

    /// The leader's tick: re-sends the `Accept` of the first [`MultiPaxosActor::piece`] slots
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
        if self.variant.retransmits() {
            for (slot, (command, by)) in in_flight.iter().take(self.burst) {
                for server in self.servers.iter().filter(|s| !by.contains(s)) {
                    let proposal = Proposal {
                        ballot,
                        command: command.clone(),
                    };
                    let slot = *slot;
                    o.send(*server, Msg::Accept { slot, proposal });
                }
            }
        }
        let again = match self.leader_tick {
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
            o.set_timer(Timer::Leader, self.tick_after.clone());
        }
    }

    /// A leader's heartbeat: a server that does not lead puts off its election timer (it
    /// campaigns only once the heartbeats stop), and asks to catch up on what the leader knows
    /// is chosen and it does not, a piece per heartbeat. A leader or candidate of a lower
    /// ballot steps down.
    pub(super) fn handle_heartbeat(
        &self,
        parts: &mut Parts<V>,
        src: Id,
        ballot: Ballot,
        decided: Slot,
        o: &mut Out<Self>,
    ) {
        if ballot < parts.acceptor.promised {
            return; // A leader that some higher ballot has replaced.
        }
        self.step_down(&mut parts.proposer, ballot);
        if parts.proposer.is_leader() {
            return;
        }
        o.set_timer(Timer::Election, self.election_after.clone());
        // The requests it kept for want of a leader go to the one it now hears from, which
        // would otherwise be replaced when this server's timer fires (a needless leader change).
        if !parts.proposer.queue.is_empty() {
            for command in std::mem::take(&mut parts.proposer.to_mut().queue) {
                o.send(src, Msg::Request { command });
            }
        }
        let from = parts.replica.first_unknown();
        if from < decided {
            o.send(src, Msg::CatchUp { from, to: decided });
        }
    }

    /// Steady state: a batch of client commands goes to the next free slot, if any is left.
    fn propose_new(
        &self,
        ballot: Ballot,
        next_slot: &mut Slot,
        in_flight: &mut InFlight<V>,
        batch: Vec<ClientCommand<V>>,
        o: &mut Out<Self>,
    ) {
        if *next_slot >= self.slots {
            return; // The model's bound: no slot left.
        }
        let slot = *next_slot;
        *next_slot += 1;
        self.propose(ballot, in_flight, slot, Command::Batch(batch.into()), o);
    }

    /// Whether the leader's window has room for another slot in flight.
    fn window_open(&self, in_flight: &InFlight<V>) -> bool {
        self.window.is_none_or(|window| in_flight.len() < window)
    }

    /// The queued requests go into new slots, up to [`MultiPaxosActor::batch`] in each
    /// ([`ClientCommand::fits`]), as long as the window has room.
    fn propose_queued(
        &self,
        ballot: Ballot,
        queue: &mut BTreeSet<ClientCommand<V>>,
        next_slot: &mut Slot,
        in_flight: &mut InFlight<V>,
        o: &mut Out<Self>,
    ) {
        while !queue.is_empty() && self.window_open(in_flight) {
            let mut batch = Vec::new();
            while let Some(next) = queue.first() {
                batch.push(next.clone());
                if !ClientCommand::fits(&batch, self.batch, self.batch_bytes) {
                    batch.pop();
                    break;
                }
                queue.pop_first();
            }
            if batch.is_empty() {
                break; // Only with `batch` 0, which no configuration allows: never loop.
            }
            self.propose_new(ballot, next_slot, in_flight, batch, o);
        }
    }

    /// A client's command, or one a follower forwarded.
    pub(super) fn handle_request(
        &self,
        id: Id,
        parts: &mut Parts<V>,
        src: Id,
        command: ClientCommand<V>,
        o: &mut Out<Self>,
    ) {
        let Parts {
            proposer,
            acceptor,
            replica,
        } = parts;
        if let Role::Leader {
            next_slot,
            in_flight,
            awaited,
        } = &proposer.role
        {
            // At most once: a request already applied is answered from the table, not re-run.
            let request = command.request;
            match replica.table(&command, self.variant.at_most_once()) {
                Some(Table::Answered(ret)) => {
                    o.send(command.client, Msg::Reply { request, ret });
                }
                // A number the client used up: said so, so that it can number anew (R3 in
                // spec/runtime.md).
                Some(Table::Stale(last)) => {
                    o.send(command.client, Msg::Stale { request, last });
                }
                // Batching: with the window full, the request waits for a slot to be chosen.
                _ if !self.window_open(in_flight) => {
                    keep(proposer, command);
                }
                // Batching (S6): the leader holds its waiting requests for the clients its
                // last chosen slot answered; this one joins them.
                _ if !awaited.is_empty() => {
                    let client = command.client;
                    let proposer = proposer.to_mut();
                    proposer.queue.insert(command);
                    let Role::Leader { awaited, .. } = &mut proposer.role else {
                        unreachable!("matched as leader above")
                    };
                    awaited.remove(&client);
                    if awaited.is_empty() || proposer.queue.len() >= self.batch {
                        o.cancel_timer(Timer::Batch);
                        self.release(proposer, o);
                    }
                }
                _ => {
                    // Written back even when no slot is left and nothing changes: stateright
                    // reads a step that leaves the state borrowed and sends nothing as a
                    // no-op, which would leave the request in the network, whereas this step
                    // has always consumed (dropped) it.
                    let (mut next_slot, mut in_flight) = (*next_slot, in_flight.clone());
                    let ballot = proposer.ballot;
                    let batch = vec![command];
                    self.propose_new(ballot, &mut next_slot, &mut in_flight, batch, o);
                    proposer.to_mut().role = Role::Leader {
                        next_slot,
                        in_flight,
                        awaited: BTreeSet::new(),
                    };
                }
            }
            return;
        }
        if let Some(ret) = self.variant.local_read(&command, &replica.machine) {
            let request = command.request;
            o.send(command.client, Msg::Reply { request, ret });
            return;
        }
        match acceptor.known_leader() {
            // Forward only what came from the client itself, so that forwarding never loops.
            Some(leader) if leader != id && src == command.client => {
                o.send(leader, Msg::Request { command });
            }
            _ => {
                keep(proposer, command);
            }
        }
        // A request a follower cannot serve itself starts its leader timer: if the leader it
        // knows (or none) does not take over, it will.
        o.set_timer(Timer::Election, self.election_after.clone());
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

    /// Batching: a slot left the window, and the requests that waited go into the next one
    /// (S4 in spec/runtime.md). With [`MultiPaxosActor::batch_wait`], the leader first holds
    /// them for the clients of the `chosen` slot, which its replica answers now: a closed-loop
    /// client sends its next request at once, and without the hold the clients would split
    /// into two groups taking turns, each slot holding about half of them (S6).
    fn fill_window(
        &self,
        proposer: &mut Cow<ProposerState<V>>,
        chosen: &Command<V>,
        o: &mut Out<Self>,
    ) {
        let answered: BTreeSet<Id> = chosen
            .clients()
            .iter()
            .map(|command| command.client)
            .filter(|&client| !proposer.queue.iter().any(|queued| queued.client == client))
            .collect();
        match &self.batch_wait {
            Some(wait) if !answered.is_empty() && proposer.queue.len() < self.batch => {
                let Role::Leader { awaited, .. } = &mut proposer.to_mut().role else {
                    return;
                };
                awaited.extend(answered);
                o.set_timer(Timer::Batch, wait.clone());
            }
            _ if !proposer.queue.is_empty() => self.release(proposer.to_mut(), o),
            _ => {}
        }
    }

    /// The hold is over ([`Timer::Batch`]): the waiting requests go into the next slots.
    pub(super) fn end_hold(&self, state: &mut Cow<MultiPaxosState<V>>, o: &mut Out<Self>) {
        if let Role::Leader { awaited, .. } = &state.proposer.role {
            if !awaited.is_empty() {
                self.release(&mut state.to_mut().proposer, o);
            }
        }
    }

    /// Ends a hold, if any, and proposes the waiting requests as the window allows.
    fn release(&self, proposer: &mut ProposerState<V>, o: &mut Out<Self>) {
        let Role::Leader {
            next_slot,
            in_flight,
            awaited,
        } = &mut proposer.role
        else {
            return;
        };
        awaited.clear();
        let ballot = proposer.ballot;
        self.propose_queued(ballot, &mut proposer.queue, next_slot, in_flight, o);
    }

    /// A leader that installed a snapshot of the slots below `upto`: its proposals there are
    /// chosen, so they leave its window, and the requests that waited go into the next slots.
    pub(super) fn drop_chosen_in_flight(
        &self,
        proposer: &mut Cow<ProposerState<V>>,
        upto: Slot,
        o: &mut Out<Self>,
    ) {
        let proposer = proposer.to_mut();
        let Role::Leader {
            next_slot,
            in_flight,
            ..
        } = &mut proposer.role
        else {
            return;
        };
        *in_flight = in_flight.split_off(&upto);
        *next_slot = (*next_slot).max(upto);
        let ballot = proposer.ballot;
        self.propose_queued(ballot, &mut proposer.queue, next_slot, in_flight, o);
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
    use super::super::testing::{actor, put, sent};
    use super::super::{KvOp, KvRet, MultiPaxosState, Variant};
    use super::*;
    use crate::protocol::ballot::tests::ballot;
    use crate::protocol::local::Handlers;
    use stateright::actor::Actor;

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

    // R3 (spec/runtime.md): a leader refuses a used-up request number explicitly (`Stale`),
    // whether it arrives as a request or was chosen in the log; a retry of the last request
    // with the same operation is still answered from the table.
    #[test]
    fn a_used_up_request_number_is_refused() {
        let a = actor(Variant::Correct);
        let (id, client) = (Id::from(0), Id::from(5));
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        a.on_timeout(id, &mut state, &Timer::Election, &mut Out::new());
        let promise = Msg::Promise {
            ballot: ballot(1, 0),
            accepted: BTreeMap::new(),
            more: None,
            snapshot: 0,
        };
        a.on_msg(id, &mut state, Id::from(1), promise, &mut Out::new());
        assert!(state.is_leader());
        let request = |request, op| Msg::Request {
            command: ClientCommand {
                client,
                request,
                op,
            },
        };
        let put = KvOp::Put {
            key: 'x',
            value: 'A',
        };
        let append = KvOp::Append {
            key: 'x',
            value: 'B',
        };
        let mut o = Out::new();
        a.on_msg(id, &mut state, client, request(10, put.clone()), &mut o);
        let Some((_, Msg::Accept { slot, proposal })) = sent(o).pop() else {
            panic!("the leader proposes");
        };
        let mut o = Out::new();
        let accepted = Msg::Accepted { slot, proposal };
        a.on_msg(id, &mut state, Id::from(1), accepted, &mut o);
        let ok = Msg::Reply {
            request: 10,
            ret: KvRet::PutOk,
        };
        assert!(sent(o).contains(&(client, ok.clone())));
        let answers = |state: &mut Cow<MultiPaxosState>, msg| {
            let mut o = Out::new();
            a.on_msg(id, state, client, msg, &mut o);
            sent(o)
        };
        assert_eq!(answers(&mut state, request(10, put)), vec![(client, ok)]);
        let reused = Msg::Stale {
            request: 10,
            last: 10,
        };
        assert_eq!(
            answers(&mut state, request(10, append.clone())),
            vec![(client, reused.clone())]
        );
        let stale = Msg::Stale {
            request: 3,
            last: 10,
        };
        assert_eq!(
            answers(&mut state, request(3, append.clone())),
            vec![(client, stale)]
        );
        // The reused number chosen all the same (a follower had queued it): refused too.
        let chosen = Msg::Chosen {
            slot: slot + 1,
            command: Command::Batch(
                vec![ClientCommand {
                    client,
                    request: 10,
                    op: append,
                }]
                .into(),
            ),
        };
        let mut o = Out::new();
        a.on_msg(id, &mut state, Id::from(1), chosen, &mut o);
        assert_eq!(sent(o), vec![(client, reused)]);
        assert_eq!(state.replica.machine.kv.data[&'x'], "A");
    }
}

#[cfg(test)]
mod tick_tests {
    use super::super::testing::{actor, put, sent};
    use super::super::Variant;
    use super::*;
    use stateright::actor::{Actor, Command as ActorCommand};

    /// Server 0 leading under (1, 0) with `command` in flight in slot 0, accepted by itself.
    fn leader_with_one_slot_in_flight(a: &MultiPaxosActor) -> Cow<'static, MultiPaxosState> {
        let id = Id::from(0);
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        a.on_timeout(id, &mut state, &Timer::Election, &mut Out::new());
        let promise = Msg::Promise {
            ballot: state.proposer.ballot,
            accepted: BTreeMap::new(),
            more: None,
            snapshot: 0,
        };
        a.on_msg(id, &mut state, Id::from(1), promise, &mut Out::new());
        let request = Msg::Request {
            command: super::super::testing::append(5, 1, 'A'),
        };
        a.on_msg(id, &mut state, Id::from(5), request, &mut Out::new());
        assert!(state.is_leader());
        state
    }

    // Reference: batching (S4, spec/runtime.md) and §3: with its window full, a leader keeps new requests;
    // when the slot in flight is chosen, they go into the next slot as one batch, and once
    // that is chosen each client gets its own reply, from the commands applied in order.
    #[test]
    fn requests_that_wait_for_the_window_go_in_one_batch() {
        use super::super::testing::append;
        let a = MultiPaxosActor {
            window: Some(1),
            batch: 2,
            ..actor(Variant::Correct)
        };
        let (id, acceptor) = (Id::from(0), Id::from(1));
        let mut state = leader_with_one_slot_in_flight(&a);
        for (client, value) in [(6, 'B'), (7, 'C'), (8, 'D')] {
            let mut o = Out::new();
            let command = append(client, 1, value);
            a.on_msg(
                id,
                &mut state,
                Id::from(client),
                Msg::Request { command },
                &mut o,
            );
            assert!(sent(o).is_empty(), "the window is full");
        }
        assert_eq!(state.proposer.queue.len(), 3);
        let accept = |o: Out<MultiPaxosActor>| {
            sent(o).into_iter().find_map(|(_, m)| match m {
                Msg::Accept { slot, proposal } => Some((slot, proposal)),
                _ => None,
            })
        };
        let first = Proposal {
            ballot: state.proposer.ballot,
            command: put(5, 1, 'A'),
        };
        let mut o = Out::new();
        let accepted = Msg::Accepted {
            slot: 0,
            proposal: first,
        };
        a.on_msg(id, &mut state, acceptor, accepted, &mut o);
        let (slot, proposal) = accept(o).expect("slot 0 chosen: the next batch goes out");
        let batch = vec![append(6, 1, 'B'), append(7, 1, 'C')];
        assert_eq!(
            (slot, &proposal.command),
            (1, &Command::Batch(batch.into()))
        );
        assert_eq!(state.proposer.queue.len(), 1, "at most `batch` in a slot");
        let mut o = Out::new();
        a.on_msg(
            id,
            &mut state,
            acceptor,
            Msg::Accepted { slot, proposal },
            &mut o,
        );
        let sent = sent(o);
        let reply = |client: usize, value: &str| {
            let ret = super::super::KvRet::AppendOk {
                value: value.to_owned(),
            };
            (Id::from(client), Msg::Reply { request: 1, ret })
        };
        assert!(sent.contains(&reply(6, "AB")), "{sent:?}");
        assert!(sent.contains(&reply(7, "ABC")), "{sent:?}");
        assert!(sent
            .iter()
            .any(|(_, m)| matches!(m, Msg::Accept { slot: 2, .. })));
        assert!(state.proposer.queue.is_empty());
    }

    // Reference: batching, the hold (S6 in spec/runtime.md): once a slot is chosen, a leader
    // with `batch_wait` holds the requests that waited for the clients that slot answered; the
    // last of them to come back ends the hold, and the batch goes out with it. The hold's timer
    // ends a hold that a client never ends.
    #[test]
    fn a_hold_waits_for_the_answered_clients_or_its_timer() {
        use super::super::testing::append;
        let a = MultiPaxosActor {
            window: Some(1),
            batch: 3,
            batch_wait: Some(std::time::Duration::ZERO..std::time::Duration::ZERO),
            ..actor(Variant::Correct)
        };
        let (id, acceptor) = (Id::from(0), Id::from(1));
        let accepts = |o: Out<MultiPaxosActor>| -> Vec<(Slot, Command)> {
            sent(o)
                .into_iter()
                .filter_map(|(to, m)| match m {
                    Msg::Accept { slot, proposal } if to == acceptor => {
                        Some((slot, proposal.command))
                    }
                    _ => None,
                })
                .collect()
        };
        let request = |state: &mut Cow<MultiPaxosState>, client: usize, number, value| {
            let mut o = Out::new();
            let command = append(client, number, value);
            let msg = Msg::Request { command };
            a.on_msg(id, state, Id::from(client), msg, &mut o);
            o
        };
        let choose = |state: &mut Cow<MultiPaxosState>, slot, command| {
            let proposal = Proposal {
                ballot: state.proposer.ballot,
                command,
            };
            let mut o = Out::new();
            a.on_msg(
                id,
                state,
                acceptor,
                Msg::Accepted { slot, proposal },
                &mut o,
            );
            o
        };
        let mut state = leader_with_one_slot_in_flight(&a);
        request(&mut state, 6, 1, 'B');
        let o = choose(&mut state, 0, put(5, 1, 'A'));
        assert!(
            o.iter()
                .any(|c| matches!(c, stateright::actor::Command::SetTimer(Timer::Batch, _))),
            "slot 0 answered client 5: the leader holds for it"
        );
        assert_eq!(accepts(o), vec![], "client 6's request waits");
        let o = request(&mut state, 5, 2, 'C');
        let batch = vec![append(5, 2, 'C'), append(6, 1, 'B')];
        assert_eq!(accepts(o), vec![(1, Command::Batch(batch.clone().into()))]);

        // Slot 1 answers clients 5 and 6; only client 6 comes back: the timer ends the hold.
        let o = choose(&mut state, 1, Command::Batch(batch.into()));
        assert_eq!(accepts(o), vec![]);
        assert_eq!(
            accepts(request(&mut state, 6, 2, 'D')),
            vec![],
            "client 5 is awaited"
        );
        let mut o = Out::new();
        a.on_timeout(id, &mut state, &Timer::Batch, &mut o);
        let alone = vec![append(6, 2, 'D')];
        assert_eq!(accepts(o), vec![(2, Command::Batch(alone.into()))]);

        // Without `batch_wait`, the requests that waited go out as the slot is chosen.
        let a = MultiPaxosActor {
            batch_wait: None,
            ..a
        };
        let mut state = leader_with_one_slot_in_flight(&a);
        let mut o = Out::new();
        let command = append(6, 1, 'B');
        a.on_msg(
            id,
            &mut state,
            Id::from(6),
            Msg::Request { command },
            &mut o,
        );
        let proposal = Proposal {
            ballot: state.proposer.ballot,
            command: put(5, 1, 'A'),
        };
        let mut o = Out::new();
        a.on_msg(
            id,
            &mut state,
            acceptor,
            Msg::Accepted { slot: 0, proposal },
            &mut o,
        );
        let alone = vec![append(6, 1, 'B')];
        assert_eq!(accepts(o), vec![(1, Command::Batch(alone.into()))]);
    }

    // Reference: L2 (spec/runtime.md): the leader's tick re-sends the Accept of a slot in flight to the
    // acceptors that have not accepted it, and tells the others it is alive; a follower that
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

    // Reference: no message grows with the log (spec/multi-paxos.md): a candidate asks for a promise's next piece, counts the promise only
    // once whole, and sends at most `piece` Accepts at once when it takes over.
    #[test]
    fn candidate_gathers_a_promise_in_pieces_and_paces_its_accepts() {
        let a = actor(Variant::Correct); // piece = 2
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
        assert_eq!(accepted_slots, BTreeSet::from([0, 1]), "a piece at a time");
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
