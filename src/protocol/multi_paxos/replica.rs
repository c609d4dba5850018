//! The replica (the learner of every slot): it learns chosen commands, applies them in slot
//! order to the store with an at-most-once table, and catches up on gaps.
use super::{
    ClientCommand, Command, Kv, KvRet, Msg, MultiPaxosActor, ProposerState, RequestId, Slot, Text,
};
use serde::Serialize;
use stateright::actor::{Id, Out};
use stateright::semantics::SequentialSpec;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

/// The state machine a replica applies the log to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub struct StateMachine<V = char> {
    /// The store.
    pub kv: Kv<V>,
    /// At most once: each client's last applied request and its reply.
    pub last: BTreeMap<Id, (RequestId, KvRet)>,
}

impl<V: Text> StateMachine<V> {
    /// Applies one client command: returns the reply to send, if any, and whether the store
    /// ran it. With `dedup`, a request at or below the client's last applied one is not run
    /// again; the last one is answered from the table.
    pub(crate) fn apply(&mut self, cc: &ClientCommand<V>, dedup: bool) -> (Option<KvRet>, bool) {
        if dedup {
            if let Some((request, ret)) = self.last.get(&cc.client) {
                if cc.request == *request {
                    return (Some(ret.clone()), false);
                }
                if cc.request < *request {
                    return (None, false);
                }
            }
        }
        let ret = self.kv.invoke(&cc.op);
        self.last.insert(cc.client, (cc.request, ret.clone()));
        (Some(ret), true)
    }
}

/// One applied log entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub struct Applied<V = char> {
    /// The slot applied.
    pub slot: Slot,
    /// The command chosen in it.
    pub command: Command<V>,
    /// For each client command of the slot's batch, in order, whether the store ran it
    /// (false for duplicates the table caught; empty for a no-op).
    pub executed: Vec<bool>,
}

/// Replica (learner) state.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(bound = "V: Text")]
pub struct ReplicaState<V = char> {
    /// Every slot known to be chosen. Invariant: each is chosen (slot agreement).
    pub chosen: BTreeMap<Slot, Command<V>>,
    /// The commands applied, in the order applied. Invariant: `log[i].slot == i`, so that the
    /// log is a prefix of the chosen slots (but for
    /// [`Variant::ApplyPastGap`](super::Variant::ApplyPastGap)).
    pub log: Vec<Applied<V>>,
    /// The store and its at-most-once table, after applying `log`.
    pub machine: StateMachine<V>,
    /// The first slot not known to be chosen. Invariant: every slot below it is in `chosen`,
    /// and it is not (kept up to date by `MultiPaxosActor::learn`).
    pub first_unknown: Slot,
}

impl<V: Text> ReplicaState<V> {
    /// Whether the client's request number `command.request` was applied with another
    /// operation: the per-client table's reply for it answers another request.
    pub(crate) fn reused(&self, command: &ClientCommand<V>) -> bool {
        let applied = self.log.iter().rev().find_map(|a| {
            let ran = a.command.clients().iter().zip(&a.executed).rev();
            ran.filter(|(cc, executed)| **executed && cc.client == command.client)
                .find(|(cc, _)| cc.request == command.request)
                .map(|(cc, _)| &cc.op)
        });
        applied.is_some_and(|op| *op != command.op)
    }

    /// The first slot not known to be chosen: where phase 1 starts.
    pub(crate) fn first_unknown(&self) -> Slot {
        self.first_unknown
    }

    /// The next slot to apply: the one after the applied prefix, once it is chosen.
    ///
    /// §3: the leader "can't execute commands 138–140, which it also knows, because commands
    /// 136 and 137 have yet to be chosen."
    pub(crate) fn next_in_order(&self) -> Option<Slot> {
        let next = self.log.len() as Slot;
        self.chosen.contains_key(&next).then_some(next)
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
        if replica.chosen.contains_key(&slot) {
            return false;
        }
        let replica = replica.to_mut();
        replica.chosen.insert(slot, command);
        while replica.chosen.contains_key(&replica.first_unknown) {
            replica.first_unknown += 1;
        }
        while let Some(next) = self.variant.next_to_apply(replica) {
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
        true
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
    /// sent.
    pub(super) fn handle_catch_up(
        &self,
        replica: &ReplicaState<V>,
        src: Id,
        gap: Range<Slot>,
        o: &mut Out<Self>,
    ) {
        for (slot, command) in replica.chosen.range(gap).take(self.burst) {
            let (slot, command) = (*slot, command.clone());
            o.send(src, Msg::Chosen { slot, command });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{actor, append, put, sent};
    use super::super::Variant;
    use super::*;
    use stateright::actor::Actor;

    // Reference: the at-most-once requirement (a per-client table).
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
        a.handle_catch_up(&state.replica, Id::from(2), 0..1, &mut o);
        assert!(matches!(sent(o)[..], [(_, Msg::Chosen { slot: 0, .. })]));
    }
}
