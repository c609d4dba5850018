//! The model's clients of the key-value store: what each requests, where it sends it, and
//! when it retries.
use crate::model::node;
use crate::model::node::ClientOut;
use crate::protocol::multi_paxos::{ClientCommand, KvOp, Msg, MultiPaxosActor, RequestId, Timer};
use serde::Serialize;
use stateright::actor::{model_timeout, Id};
use std::borrow::Cow;

/// The key every client works on.
pub(super) const KEY: char = 'x';

/// A client: client 0 puts `'A'`, client `k > 0` appends `'A' + k`; then each reads, if
/// configured. It sends request `i` first to server `k + i` and retries at the next server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvClient {
    /// The client's index `k` among the clients.
    pub index: usize,
    /// Every server, in id order.
    pub servers: Vec<Id>,
    /// The operations, in the order the client issues them.
    pub ops: Vec<KvOp>,
    /// How many times the client may resend a request, in all.
    pub retries: u8,
}

/// A key-value client's state. `id` first, so that sorting actor states never reorders clients.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KvClientState {
    /// The client's own id.
    pub id: Id,
    /// The index of the operation awaiting its reply; `ops.len()` once all are answered.
    pub next: usize,
    /// The server the current request was last sent to.
    pub server: Id,
    /// How many more times the client may resend a request.
    pub retries_left: u8,
}

impl KvClient {
    fn send(&self, id: Id, state: &KvClientState, o: &mut ClientOut<Self>) {
        let command = ClientCommand {
            client: id,
            request: state.next as RequestId + 1,
            op: self.ops[state.next].clone(),
        };
        o.send(state.server, Msg::Request { command });
        if state.retries_left > 0 {
            o.set_timer(Timer::ClientRetry, model_timeout());
        }
    }
}

impl node::ModelClient for KvClient {
    type Protocol = MultiPaxosActor;
    type State = KvClientState;

    fn on_start(&self, id: Id, o: &mut ClientOut<Self>) -> KvClientState {
        let state = KvClientState {
            id,
            next: 0,
            server: self.servers[self.index % self.servers.len()],
            retries_left: self.retries,
        };
        self.send(id, &state, o);
        state
    }

    fn on_msg(&self, id: Id, state: &mut Cow<KvClientState>, msg: Msg, o: &mut ClientOut<Self>) {
        // A `Stale` refusal never reaches a model client (it numbers its requests 1, 2, ...
        // and waits for each answer): like any other message, it is ignored.
        let Msg::Reply { request, .. } = msg else {
            return;
        };
        if state.next >= self.ops.len() || request != state.next as RequestId + 1 {
            return; // A duplicate or stale reply.
        }
        let mut next = (**state).clone();
        next.next += 1;
        if next.next < self.ops.len() {
            let n = self.servers.len();
            next.server = self.servers[(self.index + next.next) % n];
            self.send(id, &next, o);
        } else {
            o.cancel_timer(Timer::ClientRetry);
        }
        *state = Cow::Owned(next);
    }

    /// A client numbers its requests 1, 2, ... and awaits each answer in turn: a reply to a
    /// request below the one it awaits, or any other message, stays ignored.
    fn ignores_forever(&self, state: &KvClientState, msg: &Msg) -> bool {
        match msg {
            Msg::Reply { request, .. } => *request <= state.next as RequestId,
            _ => true,
        }
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<KvClientState>,
        _: &Timer,
        o: &mut ClientOut<Self>,
    ) {
        if state.next >= self.ops.len() || state.retries_left == 0 {
            return;
        }
        let mut next = (**state).clone();
        let at = self
            .servers
            .iter()
            .position(|s| *s == next.server)
            .expect("a client sends to servers");
        next.server = self.servers[(at + 1) % self.servers.len()];
        next.retries_left -= 1;
        self.send(id, &next, o);
        *state = Cow::Owned(next);
    }
}
