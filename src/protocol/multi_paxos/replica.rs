//! The replica (the learner of every slot): it learns chosen commands, applies them in slot
//! order to the store with an at-most-once table, and catches up on gaps.
use super::actor::MultiPaxosActor;
use super::kv::Text;
use super::machine::{ClientCommand, StateMachine};
use super::messages::{Command, Msg, Slot, Snapshot, SnapshotEntry};
use super::state::{AcceptorState, Applied, ProposerState, ReplicaState, Role, RoleStates, Table};
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

impl<V: Text> ReplicaState<V> {
    /// Whether the client's request number `command.request` was applied with another
    /// operation: the per-client table's reply for it answers another request.
    pub(crate) fn reused(&self, command: &ClientCommand<V>) -> bool {
        let last = self.machine.last.get(&command.client);
        last.is_some_and(|last| last.request == command.request && last.op != command.op)
    }

    /// What the at-most-once table says of a client's request that reaches a leader: answered
    /// from it (the client's last applied request, with the same operation: its reply),
    /// stale (below the client's last applied request `last`, or that number with another
    /// operation), or `None`: a new request, to be run. Without `dedup`
    /// ([`Variant::NoDedupTable`](super::Variant::NoDedupTable)) the last request runs again.
    pub(crate) fn table(&self, command: &ClientCommand<V>, dedup: bool) -> Option<Table> {
        let last = self.machine.last.get(&command.client)?;
        if command.request == last.request && dedup && !self.reused(command) {
            Some(Table::Answered(last.ret.clone()))
        } else if command.request < last.request || (command.request == last.request && dedup) {
            Some(Table::Stale(last.request))
        } else {
            None
        }
    }

    /// The first slot not known to be chosen: where phase 1 starts.
    pub(crate) fn first_unknown(&self) -> Slot {
        self.first_unknown
    }

    /// The first slot not applied: every slot below it is.
    pub fn applied(&self) -> Slot {
        self.base + self.log.len() as Slot
    }

    /// The next slot to apply: the one after the applied prefix, once it is chosen.
    ///
    /// §3: the leader "can't execute commands 138–140, which it also knows, because commands
    /// 136 and 137 have yet to be chosen."
    pub(crate) fn next_in_order(&self) -> Option<Slot> {
        let next = self.applied();
        self.chosen.contains_key(&next).then_some(next)
    }

    /// Forgets the slots below `upto`, which `machine` covers: the replica goes on from there.
    fn truncate(&mut self, upto: Slot, machine: Option<StateMachine<V>>) {
        self.chosen = self.chosen.split_off(&upto);
        if let Some(machine) = machine {
            self.machine = machine;
            self.log.clear();
        } else {
            let applied = (upto - self.base) as usize;
            self.log.drain(..applied.min(self.log.len()));
        }
        self.base = upto;
        self.first_unknown = self.first_unknown.max(upto);
        while self.chosen.contains_key(&self.first_unknown) {
            self.first_unknown += 1;
        }
    }
}

impl<V: Text> MultiPaxosActor<V> {
    /// Records that `command` is chosen in `slot` and applies what that makes applicable; if
    /// the server's `proposer` leads, it answers the clients. Returns false if the slot was
    /// already known.
    pub(super) fn learn(
        &self,
        replica: &mut Cow<ReplicaState<V>>,
        proposer: &ProposerState<V>,
        slot: Slot,
        command: Command<V>,
        o: &mut Out<Self>,
    ) -> bool {
        if slot < replica.base || replica.chosen.contains_key(&slot) {
            return false;
        }
        let replica = replica.to_mut();
        replica.chosen.insert(slot, command);
        while replica.chosen.contains_key(&replica.first_unknown) {
            replica.first_unknown += 1;
        }
        self.apply_chosen(replica, proposer, o);
        true
    }

    /// Applies every chosen slot that is next in order; if the server's `proposer` leads, it
    /// answers the clients.
    fn apply_chosen(
        &self,
        replica: &mut ReplicaState<V>,
        proposer: &ProposerState<V>,
        o: &mut Out<Self>,
    ) {
        while let Some(next) = self.variant.next_to_apply(replica.next_in_order(), replica) {
            let command = replica.chosen[&next].clone();
            let dedup = self.variant.at_most_once();
            // A batch's commands apply in order, each with the at-most-once table, and each
            // client gets its own reply.
            let mut executed = Vec::new();
            let mut replies = Vec::new();
            for (i, cc) in command.clients().iter().enumerate() {
                let (ret, ran) = replica.machine.apply(cc, dedup);
                executed.push(ran);
                if let Some(ret) = ret {
                    replies.push((i, ret, ran));
                }
            }
            replica.log.push(Applied {
                slot: next,
                command,
                executed,
            });
            if !proposer.is_leader() {
                continue;
            }
            let clients = replica.log.last().expect("just applied").command.clients();
            for (i, ret, ran) in self.variant.replies(replies) {
                let (client, request) = (clients[i].client, clients[i].request);
                if !ran && dedup && replica.reused(&clients[i]) {
                    // The table's reply is another operation's: a reused number is stale.
                    let last = request;
                    o.send(client, Msg::Stale { request, last });
                } else {
                    o.send(client, Msg::Reply { request, ret });
                }
            }
        }
    }

    /// Takes a snapshot once the replica has applied [`Tuning::snapshot_after`]
    /// slots past the last one: the state machine after the applied prefix replaces the
    /// slots below it, in the replica and in the acceptor's log, and is saved.
    ///
    /// Safe because every slot below it is chosen (the replica applied it): no leader may
    /// propose anything else there (P2), and one that asks is told to propose nothing there
    /// ([`Msg::Promise::snapshot`]) and to catch up from the snapshot instead.
    pub(super) fn take_snapshot(&self, states: &mut RoleStates<V>, o: &mut Out<Self>) {
        let Some(after) = self.tuning.snapshot_after else {
            return;
        };
        let upto = states.replica.applied();
        if upto < states.acceptor.snapshot.upto + after {
            return;
        }
        let machine = states.replica.machine.clone();
        states.replica.to_mut().truncate(upto, None);
        Self::keep_snapshot(states, Snapshot { upto, machine }, o);
    }

    /// The acceptor's log is truncated at `snapshot`, which is saved with it; a leader stops
    /// proposing below it (those slots are chosen) and fills its window anew.
    fn keep_snapshot(states: &mut RoleStates<V>, snapshot: Snapshot<V>, o: &mut Out<Self>) {
        let acceptor = states.acceptor.to_mut();
        acceptor.accepted = acceptor.accepted.split_off(&snapshot.upto);
        acceptor.decided = acceptor.decided.max(snapshot.upto);
        acceptor.snapshot = Arc::new(snapshot);
        Self::save(&states.proposer, &states.acceptor, o);
    }

    /// A piece of a snapshot from a server that truncated its log past this replica's gap
    /// (or past a slot this server proposed in). Pieces are taken in order: the next one is
    /// asked for; a piece of a snapshot other than the one under way starts it anew only if
    /// it is its first. Once whole, it replaces every slot below `upto`.
    #[allow(clippy::too_many_arguments)] // The message's fields, as the other handlers take them.
    pub(super) fn handle_snapshot(
        &self,
        states: &mut RoleStates<V>,
        src: Id,
        upto: Slot,
        at: usize,
        entries: Vec<SnapshotEntry<V>>,
        total: usize,
        o: &mut Out<Self>,
    ) {
        if upto <= states.replica.applied() {
            return; // Nothing this replica has not applied.
        }
        let under_way = states.replica.incoming.as_ref().map(|s| (s.upto, s.len()));
        match under_way {
            Some((u, len)) if u == upto && len == at => {}
            _ if at == 0 => {}
            _ => return, // Out of order: the replica asks for what it misses.
        }
        let replica = states.replica.to_mut();
        let mut incoming = match replica.incoming.take() {
            Some(s) if s.upto == upto => s,
            _ => Snapshot {
                upto,
                machine: StateMachine::default(),
            },
        };
        entries.into_iter().for_each(|e| incoming.insert(e));
        if incoming.len() < total {
            let at = incoming.len();
            replica.incoming = Some(incoming);
            o.send(src, Msg::SnapshotFrom { upto, at });
            return;
        }
        replica.truncate(upto, Some(incoming.machine.clone()));
        self.apply_chosen(replica, &states.proposer, o);
        Self::keep_snapshot(states, incoming, o);
        if let Role::Leader { in_flight, .. } = &states.proposer.role {
            if in_flight.range(..upto).next().is_some() {
                self.drop_chosen_in_flight(&mut states.proposer, upto, o);
            }
        }
    }

    /// Sends a piece of this server's snapshot from entry `at` on.
    pub(super) fn send_snapshot(
        &self,
        acceptor: &AcceptorState<V>,
        dst: Id,
        at: usize,
        o: &mut Out<Self>,
    ) {
        let snapshot = &acceptor.snapshot;
        let (upto, total) = (snapshot.upto, snapshot.len());
        let entries = snapshot.entries(at, self.tuning.snapshot_piece);
        o.send(
            dst,
            Msg::Snapshot {
                upto,
                at,
                entries,
                total,
            },
        );
    }

    /// A replica receiving this server's snapshot asks for the entries from `at` on; if the
    /// server has taken a newer one meanwhile, it gets that one from its start.
    pub(super) fn handle_snapshot_from(
        &self,
        acceptor: &AcceptorState<V>,
        src: Id,
        upto: Slot,
        at: usize,
        o: &mut Out<Self>,
    ) {
        if acceptor.snapshot.upto == upto {
            self.send_snapshot(acceptor, src, at, o);
        } else if acceptor.snapshot.upto > upto {
            self.send_snapshot(acceptor, src, 0, o);
        }
    }

    /// A chosen slot from the leader (or a replica that knows more); a gap below it is asked
    /// for when this slot is the first known past the gap (so that a stream of slots past one
    /// gap asks once, not once per slot; a heartbeat asks again).
    pub(super) fn handle_chosen(
        &self,
        replica: &mut Cow<ReplicaState<V>>,
        proposer: &ProposerState<V>,
        src: Id,
        slot: Slot,
        command: Command<V>,
        o: &mut Out<Self>,
    ) {
        if !self.learn(replica, proposer, slot, command, o) {
            return;
        }
        let first = replica.first_unknown();
        if first < slot && replica.chosen.range(first..).next().map(|(s, _)| *s) == Some(slot) {
            o.send(
                src,
                Msg::CatchUp {
                    from: first,
                    to: slot,
                },
            );
        }
    }

    /// A lagging replica asks for the chosen slots of `gap`: the first `burst` of them are
    /// sent, or, if this server's snapshot covers the gap's first slot, the snapshot's first
    /// piece.
    pub(super) fn handle_catch_up(
        &self,
        replica: &ReplicaState<V>,
        acceptor: &AcceptorState<V>,
        src: Id,
        gap: Range<Slot>,
        o: &mut Out<Self>,
    ) {
        if gap.start < replica.base {
            return self.send_snapshot(acceptor, src, 0, o);
        }
        for (slot, command) in replica.chosen.range(gap).take(self.tuning.burst) {
            let (slot, command) = (*slot, command.clone());
            o.send(src, Msg::Chosen { slot, command });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{actor, append, put, sent, tuned};
    use super::super::tuning::Tuning;
    use super::super::{MultiPaxosState, Proposal, Variant};
    use super::*;
    use stateright::actor::Actor;
    use std::collections::BTreeMap;

    // Reference: at most once (spec/multi-paxos.md): a per-client table.
    #[test]
    fn table_applies_a_command_once_and_answers_the_retry() {
        let mut machine: StateMachine = StateMachine::default();
        let (first, executed) = machine.apply(&append(3, 1, 'A'), true);
        assert!(executed);
        let (again, executed) = machine.apply(&append(3, 1, 'A'), true);
        assert!(!executed);
        assert_eq!(first, again);
        assert_eq!(machine.kv.data[&'x'], "A");
        let (_, executed) = machine.apply(&append(3, 1, 'A'), false);
        assert!(executed, "without the table the duplicate runs again");
        assert_eq!(machine.kv.data[&'x'], "AA");
    }

    // Reference: at most once (spec/multi-paxos.md), at a leader (`handle_request`): the
    // client's last applied request is answered from the table, an older one or a reused
    // number is stale, a newer one runs.
    #[test]
    fn the_table_answers_the_last_request_and_refuses_older_ones() {
        let mut replica: ReplicaState = ReplicaState::default();
        assert_eq!(replica.table(&append(3, 1, 'A'), true), None);
        let (reply, _) = replica.machine.apply(&append(3, 2, 'A'), true);
        let reply = reply.expect("a command that runs has a reply");
        assert_eq!(
            replica.table(&append(3, 2, 'A'), true),
            Some(Table::Answered(reply))
        );
        assert_eq!(
            replica.table(&append(3, 1, 'A'), true),
            Some(Table::Stale(2))
        );
        assert_eq!(
            replica.table(&append(3, 2, 'B'), true),
            Some(Table::Stale(2))
        );
        assert_eq!(replica.table(&append(3, 3, 'A'), true), None);
        assert_eq!(replica.table(&append(4, 1, 'A'), true), None);
        // Without the table's dedup the last request runs again; an older one is still stale.
        assert_eq!(replica.table(&append(3, 2, 'A'), false), None);
        assert_eq!(
            replica.table(&append(3, 1, 'A'), false),
            Some(Table::Stale(2))
        );
    }

    // Reference: §3, a special "no-op" command that leaves the state unchanged.
    #[test]
    fn noop_changes_nothing() {
        let a = actor(Variant::Correct);
        let id = Id::from(1);
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        let chosen = Msg::Chosen {
            slot: 0,
            command: Command::Noop,
        };
        a.on_msg(id, &mut state, Id::from(0), chosen, &mut Out::new());
        assert_eq!(state.replica.log.len(), 1);
        assert!(state.replica.log[0].executed.is_empty());
        assert_eq!(state.replica.machine, StateMachine::default());
    }

    // Reference: §3: commands are applied in slot order; a replica past a gap catches up.
    #[test]
    fn replica_waits_for_the_gap_and_asks_only_for_it() {
        let a = actor(Variant::Correct);
        let (id, leader) = (Id::from(1), Id::from(0));
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        let mut o = Out::new();
        let command = put(3, 1, 'A');
        a.on_msg(
            id,
            &mut state,
            leader,
            Msg::Chosen { slot: 1, command },
            &mut o,
        );
        assert!(state.replica.log.is_empty(), "slot 0 is not known yet");
        assert_eq!(sent(o), vec![(leader, Msg::CatchUp { from: 0, to: 1 })]);
        let mut o = Out::new();
        let chosen = Msg::Chosen {
            slot: 0,
            command: Command::Noop,
        };
        a.on_msg(id, &mut state, leader, chosen, &mut o);
        assert!(sent(o).is_empty());
        let slots: Vec<Slot> = state.replica.log.iter().map(|e| e.slot).collect();
        assert_eq!(slots, vec![0, 1]);
        // The leader answers a catch-up with the gap only.
        let mut o = Out::new();
        a.handle_catch_up(&state.replica, &state.acceptor, Id::from(2), 0..1, &mut o);
        assert!(matches!(sent(o)[..], [(_, Msg::Chosen { slot: 0, .. })]));
    }

    /// A server among three that takes a snapshot every `after` slots, in pieces of 2 entries.
    fn snapshotting(after: Slot) -> MultiPaxosActor {
        tuned(Tuning {
            snapshot_after: Some(after),
            ..actor(Variant::Correct).tuning
        })
    }

    /// Server `id` of `a` after accepting, under ballot (1, 0), and learning client 3's
    /// appends 'A', 'B', ... in slots `0..n`, each from client 3 + slot (so that the
    /// snapshot's table has one client per slot).
    fn learned(a: &MultiPaxosActor, id: Id, n: Slot) -> Cow<'static, MultiPaxosState> {
        let mut state = Cow::Owned(a.on_start(id, &None, &mut Out::new()));
        for slot in 0..n {
            let command = put(3 + slot as usize, 1, (b'A' + slot as u8) as char);
            let proposal = Proposal {
                ballot: crate::protocol::ballot::tests::ballot(1, 0),
                command: command.clone(),
            };
            let leader = Id::from(0);
            a.on_msg(
                id,
                &mut state,
                leader,
                Msg::Accept { slot, proposal },
                &mut Out::new(),
            );
            a.on_msg(
                id,
                &mut state,
                leader,
                Msg::Chosen { slot, command },
                &mut Out::new(),
            );
        }
        state
    }

    // Snapshots: once a replica applied `snapshot_after` slots, the state machine after them
    // replaces them, in the replica and in the acceptor's log, and is saved with the truncated
    // log.
    #[test]
    fn a_snapshot_replaces_the_applied_slots_and_is_saved() {
        let a = snapshotting(2);
        let id = Id::from(1);
        let one = learned(&a, id, 1);
        assert_eq!(
            one.acceptor.snapshot.upto, 0,
            "one slot applied: no snapshot yet"
        );
        let state = learned(&a, id, 3);
        assert_eq!(state.acceptor.snapshot.upto, 2);
        assert_eq!(state.acceptor.snapshot.machine.kv.data[&'x'], "AB");
        assert_eq!(state.acceptor.accepted.keys().collect::<Vec<_>>(), [&2]);
        assert_eq!((state.replica.base, state.replica.applied()), (2, 3));
        assert_eq!(state.replica.chosen.keys().collect::<Vec<_>>(), [&2]);
        assert_eq!(state.replica.machine.kv.data[&'x'], "ABC");
        // The step that took it saved it, truncated log and all.
        let mut o = Out::new();
        let mut state = learned(&a, id, 1);
        let command = put(4, 1, 'B');
        let proposal = Proposal {
            ballot: crate::protocol::ballot::tests::ballot(1, 0),
            command: command.clone(),
        };
        let leader = Id::from(0);
        a.on_msg(
            id,
            &mut state,
            leader,
            Msg::Accept { slot: 1, proposal },
            &mut Out::new(),
        );
        a.on_msg(
            id,
            &mut state,
            leader,
            Msg::Chosen { slot: 1, command },
            &mut o,
        );
        let saved = o.into_iter().find_map(|c| match c {
            stateright::actor::Command::Save(storage) => Some(storage),
            _ => None,
        });
        let saved = saved.expect("the snapshot is saved");
        assert_eq!(saved.snapshot.upto, 2);
        assert!(saved.accepted.is_empty() && saved.decided == 2);
        // A restart goes on from it.
        let restarted = a.on_start(id, &Some(saved), &mut Out::new());
        assert_eq!(
            (restarted.replica.base, restarted.replica.applied()),
            (2, 2)
        );
        assert_eq!(restarted.replica.machine, state.replica.machine);
    }

    // Snapshots, phase 1: an acceptor's promise names its snapshot and reports from there;
    // the new leader proposes nothing below it, and asks that acceptor to catch it up.
    #[test]
    fn a_new_leader_takes_over_above_a_named_snapshot() {
        let a = snapshotting(2);
        let (candidate, acceptor) = (Id::from(2), Id::from(1));
        let mut behind = Cow::Owned(a.on_start(candidate, &None, &mut Out::new()));
        let mut ahead = learned(&a, acceptor, 3);
        a.on_timeout(
            candidate,
            &mut behind,
            &super::super::Timer::Election,
            &mut Out::new(),
        );
        let ballot = behind.proposer.ballot;
        let mut o = Out::new();
        let prepare = Msg::Prepare { ballot, from: 0 };
        a.on_msg(acceptor, &mut ahead, candidate, prepare, &mut o);
        let [(_, promise)] = &sent(o)[..] else {
            panic!("one promise")
        };
        let Msg::Promise {
            accepted, snapshot, ..
        } = promise
        else {
            panic!("a promise: {promise:?}")
        };
        assert_eq!(*snapshot, 2);
        assert_eq!(
            accepted.keys().collect::<Vec<_>>(),
            [&2],
            "reported from the snapshot"
        );
        // The candidate's own promise (it names no snapshot) and this one make a majority.
        let own = Msg::Promise {
            ballot,
            accepted: BTreeMap::new(),
            more: None,
            snapshot: 0,
        };
        a.on_msg(candidate, &mut behind, candidate, own, &mut Out::new());
        let mut o = Out::new();
        a.on_msg(candidate, &mut behind, acceptor, promise.clone(), &mut o);
        let Role::Leader { in_flight, .. } = &behind.proposer.role else {
            panic!("leads")
        };
        assert_eq!(in_flight.keys().collect::<Vec<_>>(), [&2], "slot 2 only");
        let asked = sent(o);
        assert!(asked.contains(&(acceptor, Msg::CatchUp { from: 0, to: 2 })));
        assert!(!asked
            .iter()
            .any(|(_, m)| matches!(m, Msg::Accept { slot: 0 | 1, .. })));
        // Until it has caught up, each of its ticks asks the others again.
        let mut o = Out::new();
        a.on_timeout(candidate, &mut behind, &super::super::Timer::Leader, &mut o);
        let asked = sent(o);
        for server in [Id::from(0), acceptor] {
            assert!(asked.contains(&(server, Msg::CatchUp { from: 0, to: 3 })));
        }
    }

    // Snapshots, catch-up: a replica behind a server's snapshot gets it in pieces, each asked
    // for in turn, and goes on from it; its acceptor keeps it, truncated, as its own.
    #[test]
    fn a_replica_behind_a_snapshot_catches_up_from_it_in_pieces() {
        let a = snapshotting(3);
        let (behind_id, ahead_id) = (Id::from(2), Id::from(1));
        let ahead = learned(&a, ahead_id, 3);
        assert_eq!(ahead.acceptor.snapshot.len(), 4, "key x and three clients");
        let mut behind = Cow::Owned(a.on_start(behind_id, &None, &mut Out::new()));
        let mut o = Out::new();
        a.handle_catch_up(&ahead.replica, &ahead.acceptor, behind_id, 0..3, &mut o);
        let mut pieces = 0;
        let mut inbox = sent(o);
        while let Some((_, msg)) = inbox.pop() {
            let mut o = Out::new();
            match msg {
                Msg::Snapshot { .. } => {
                    pieces += 1;
                    a.on_msg(behind_id, &mut behind, ahead_id, msg, &mut o);
                }
                Msg::SnapshotFrom { .. } => {
                    a.on_msg(ahead_id, &mut ahead.clone(), behind_id, msg, &mut o)
                }
                other => panic!("unexpected {other:?}"),
            }
            inbox.extend(sent(o));
        }
        assert_eq!(pieces, 2);
        assert_eq!(behind.replica.base, 3);
        assert_eq!(behind.replica.machine, ahead.replica.machine);
        assert_eq!(behind.acceptor.snapshot, ahead.acceptor.snapshot);
        assert!(behind.replica.incoming.is_none());
        // A piece out of order is dropped, and nothing is asked.
        let start = a.on_start(behind_id, &None, &mut Out::new());
        let mut fresh = Cow::Borrowed(&start);
        let mut o = Out::new();
        let late = Msg::Snapshot {
            upto: 3,
            at: 2,
            entries: ahead.acceptor.snapshot.entries(2, 2),
            total: 4,
        };
        a.on_msg(behind_id, &mut fresh, ahead_id, late, &mut o);
        assert!(
            matches!(fresh, Cow::Borrowed(_)),
            "the state is left as it was"
        );
        assert!(sent(o).is_empty());
    }

    // Snapshots, phase 2: an accept in a slot below the acceptor's snapshot is chosen
    // already; the acceptor answers with its snapshot, which the leader goes on from.
    #[test]
    fn an_accept_below_the_snapshot_is_answered_with_it() {
        let a = snapshotting(2);
        let id = Id::from(1);
        let mut state = learned(&a, id, 2);
        let proposal = Proposal {
            ballot: crate::protocol::ballot::tests::ballot(2, 0),
            command: put(9, 1, 'Z'),
        };
        let mut o = Out::new();
        a.on_msg(
            id,
            &mut state,
            Id::from(0),
            Msg::Accept { slot: 1, proposal },
            &mut o,
        );
        assert!(
            state.acceptor.accepted.is_empty(),
            "nothing accepted below the snapshot"
        );
        assert!(matches!(
            sent(o)[..],
            [(_, Msg::Snapshot { upto: 2, at: 0, .. })]
        ));
    }
}
