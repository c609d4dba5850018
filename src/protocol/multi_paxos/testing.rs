//! Test fixtures shared by the unit tests of the roles: a server among three, client
//! commands, and the messages a step sent.
use super::{ClientCommand, Command, KvOp, LeaderTick, Msg, MultiPaxosActor, RequestId, Variant};
use stateright::actor::{Command as ActorCommand, Id, Out};
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
        election_after: Duration::from_secs(1)..Duration::from_secs(2),
        piece: 2,
        burst: 2,
        window: None,
        batch: 1,
        batch_wait: None,
        batch_bytes: usize::MAX,
        snapshot_piece: 2,
        snapshot_after: None,
        leader_tick: LeaderTick::Always,
        tick_after: Duration::from_millis(100)..Duration::from_millis(100),
        text: PhantomData,
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
