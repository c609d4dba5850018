//! A leader's client requests (§3: "Clients send commands to the leader"): the at-most-once
//! table, the window of slots in flight, the hold (S6) and the batches that fill the next
//! slots; a follower hands a request on.
use super::actor::MultiPaxosActor;
use super::kv::{KvRet, Text};
use super::machine::{ClientCommand, RequestId};
use super::messages::{Command, Msg, Slot, Timer};
use super::state::{InFlight, MultiPaxosState, ProposerState, Role, RoleStates, Table};
use crate::protocol::ballot::Ballot;
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Keeps a request in the proposer's queue; a request kept already leaves the state as it is
/// (borrowed, so that stateright reads the step as a no-op).
fn keep<V: Text>(proposer: &mut Cow<ProposerState<V>>, command: ClientCommand<V>) {
    if !proposer.queue.contains(&command) {
        proposer.to_mut().queue.insert(command);
    }
}

impl<V: Text> MultiPaxosActor<V> {
    /// A client's command, or one a follower forwarded: a follower hands it on; a leader
    /// answers it from the at-most-once table, refuses a used-up number, or orders it into
    /// the log.
    pub(super) fn handle_request(
        &self,
        id: Id,
        states: &mut RoleStates<V>,
        src: Id,
        command: ClientCommand<V>,
        o: &mut Out<Self>,
    ) {
        if !states.proposer.is_leader() {
            return self.hand_on_request(id, states, src, command, o);
        }
        match states.replica.table(&command, self.variant.at_most_once()) {
            Some(Table::Answered(ret)) => Self::answer_from_table(command, ret, o),
            Some(Table::Stale(last)) => Self::refuse_stale(command, last, o),
            None => self.order_request(&mut states.proposer, command, o),
        }
    }

    /// At most once: a request already applied is answered from the table, not re-run.
    fn answer_from_table(command: ClientCommand<V>, ret: KvRet, o: &mut Out<Self>) {
        let request = command.request;
        o.send(command.client, Msg::Reply { request, ret });
    }

    /// A number the client used up: said so, so that it can number anew (R3 in
    /// spec/runtime.md).
    fn refuse_stale(command: ClientCommand<V>, last: RequestId, o: &mut Out<Self>) {
        let request = command.request;
        o.send(command.client, Msg::Stale { request, last });
    }

    /// A new request at the leader: it waits while the window is full, joins the hold (S6)
    /// while there is one, and otherwise goes into the next slot at once.
    fn order_request(
        &self,
        proposer: &mut Cow<ProposerState<V>>,
        command: ClientCommand<V>,
        o: &mut Out<Self>,
    ) {
        let Role::Leader {
            in_flight, awaited, ..
        } = &proposer.role
        else {
            return;
        };
        if !self.window_open(in_flight) {
            // Batching: with the window full, the request waits for a slot to be chosen.
            keep(proposer, command);
        } else if !awaited.is_empty() {
            self.join_hold(proposer.to_mut(), command, o);
        } else {
            self.propose_request(proposer, command, o);
        }
    }

    /// Batching (S6): the leader holds its waiting requests for the clients its last chosen
    /// slot answered; this one joins them, and the last of those clients, or a full batch,
    /// ends the hold.
    fn join_hold(
        &self,
        proposer: &mut ProposerState<V>,
        command: ClientCommand<V>,
        o: &mut Out<Self>,
    ) {
        let client = command.client;
        proposer.queue.insert(command);
        let Role::Leader { awaited, .. } = &mut proposer.role else {
            unreachable!("only a leader holds its requests")
        };
        awaited.remove(&client);
        if awaited.is_empty() || proposer.queue.len() >= self.tuning.batch {
            o.cancel_timer(Timer::Batch);
            self.release(proposer, o);
        }
    }

    /// Phase 2(a) for a request alone: it goes into the next free slot, if any is left.
    fn propose_request(
        &self,
        proposer: &mut Cow<ProposerState<V>>,
        command: ClientCommand<V>,
        o: &mut Out<Self>,
    ) {
        let Role::Leader {
            next_slot,
            in_flight,
            ..
        } = &proposer.role
        else {
            return;
        };
        // Written back even when no slot is left and nothing changes: stateright reads a step
        // that leaves the state borrowed and sends nothing as a no-op, which would leave the
        // request in the network, whereas this step has always consumed (dropped) it.
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

    /// A follower's request: answered by none but [`Variant::LocalRead`], forwarded to the
    /// leader it knows if it came from the client itself, or kept until a leader is known.
    ///
    /// [`Variant::LocalRead`]: super::Variant::LocalRead
    fn hand_on_request(
        &self,
        id: Id,
        states: &mut RoleStates<V>,
        src: Id,
        command: ClientCommand<V>,
        o: &mut Out<Self>,
    ) {
        if let Some(ret) = self.variant.local_read(&command, &states.replica.machine) {
            let request = command.request;
            o.send(command.client, Msg::Reply { request, ret });
            return;
        }
        match states.acceptor.known_leader() {
            // Forward only what came from the client itself, so that forwarding never loops.
            Some(leader) if leader != id && src == command.client => {
                o.send(leader, Msg::Request { command });
            }
            _ => {
                keep(&mut states.proposer, command);
            }
        }
        // A request a follower cannot serve itself starts its leader timer: if the leader it
        // knows (or none) does not take over, it will.
        o.set_timer(Timer::Election, self.tuning.election_after.clone());
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
        self.tuning
            .window
            .is_none_or(|window| in_flight.len() < window)
    }

    /// The queued requests go into new slots, up to [`Tuning::batch`] in each
    /// ([`ClientCommand::fits`]), as long as the window has room.
    pub(super) fn propose_queued(
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
                if !ClientCommand::fits(&batch, self.tuning.batch, self.tuning.batch_bytes) {
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

    /// Batching: a slot left the window, and the requests that waited go into the next one
    /// (S4 in spec/runtime.md). With [`Tuning::batch_wait`], the leader first holds
    /// them for the clients of the `chosen` slot, which its replica answers now: a closed-loop
    /// client sends its next request at once, and without the hold the clients would split
    /// into two groups taking turns, each slot holding about half of them (S6).
    pub(super) fn fill_window(
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
        match &self.tuning.batch_wait {
            Some(wait) if !answered.is_empty() && proposer.queue.len() < self.tuning.batch => {
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::{actor, leader_with_one_slot_in_flight, put, sent, tuned};
    use super::super::tuning::Tuning;
    use super::super::{KvOp, KvRet, MultiPaxosState, Proposal, Variant};
    use super::*;
    use crate::protocol::ballot::tests::ballot;
    use stateright::actor::Actor;
    use std::collections::BTreeMap;

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

    // Reference: batching (S4, spec/runtime.md) and §3: with its window full, a leader keeps new
    // requests; when the slot in flight is chosen, they go into the next slot as one batch, and
    // once that is chosen each client gets its own reply, from the commands applied in order.
    #[test]
    fn requests_that_wait_for_the_window_go_in_one_batch() {
        use super::super::testing::append;
        let a = tuned(Tuning {
            window: Some(1),
            batch: 2,
            ..actor(Variant::Correct).tuning
        });
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
        let a = tuned(Tuning {
            window: Some(1),
            batch: 3,
            batch_wait: Some(std::time::Duration::ZERO..std::time::Duration::ZERO),
            ..actor(Variant::Correct).tuning
        });
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
        let a = tuned(Tuning {
            batch_wait: None,
            ..a.tuning
        });
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
}
