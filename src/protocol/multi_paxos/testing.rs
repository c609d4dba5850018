//! Test fixtures shared by the unit tests of the roles: a server among three, client
//! commands, and the messages a step sent.
use super::tuning::Tuning;
use super::{
    ClientCommand, Command, KvOp, LeaderTick, Msg, MultiPaxosActor, MultiPaxosState, RequestId,
    Timer, Variant,
};
use stateright::actor::{Actor, Command as ActorCommand, Id, Out};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

/// Client `client`'s append of `value` to key `x`, as its `request`.
pub(super) fn append(client: usize, request: RequestId, value: char) -> ClientCommand {
    ClientCommand {
        client: Id::from(client),
        request,
        op: KvOp::Append { key: 'x', value },
    }
}

/// A slot holding [`append`] alone.
pub(super) fn put(client: usize, request: RequestId, value: char) -> Command {
    Command::Batch(vec![append(client, request, value)].into())
}

/// A server among three, with a log of four slots, running `variant`.
pub(super) fn actor(variant: Variant) -> MultiPaxosActor {
    MultiPaxosActor {
        servers: Id::vec_from(0..3),
        slots: 4,
        variant,
        tuning: Tuning {
            election_after: Duration::from_secs(1)..Duration::from_secs(2),
            leader_tick: LeaderTick::Always,
            tick_after: Duration::from_millis(100)..Duration::from_millis(100),
            piece: 2,
            burst: 2,
            snapshot_piece: 2,
            ..Tuning::default()
        },
        text: PhantomData,
    }
}

/// A correct server of [`actor`], with `tuning`.
pub(super) fn tuned(tuning: Tuning) -> MultiPaxosActor {
    MultiPaxosActor {
        tuning,
        ..actor(Variant::Correct)
    }
}

/// The messages of `o`, with their recipients.
pub(super) fn sent(o: Out<MultiPaxosActor>) -> Vec<(Id, Msg)> {
    o.into_iter()
        .filter_map(|c| match c {
            ActorCommand::Send(dst, msg) => Some((dst, msg)),
            _ => None,
        })
        .collect()
}

/// Server 0 leading under (1, 0) with `command` in flight in slot 0, accepted by itself.
pub(super) fn leader_with_one_slot_in_flight(a: &MultiPaxosActor) -> Cow<'static, MultiPaxosState> {
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
        command: append(5, 1, 'A'),
    };
    a.on_msg(id, &mut state, Id::from(5), request, &mut Out::new());
    assert!(state.is_leader());
    state
}
