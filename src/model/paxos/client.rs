//! The model's clients of the write-once register: a put of the client's value, then reads,
//! with their retries.
use crate::model::node;
use crate::model::node::ClientOut;
use crate::protocol::paxos::{Msg, PaxosActor, RequestId, Timer, Value};
use serde::Serialize;
use stateright::actor::{model_timeout, Id};
use std::borrow::Cow;

/// A client of the write-once register, like the real client: it puts its value (if it has
/// one) through one server and, when its retry timer fires before an answer, resends the put
/// to the next server, at most `retries` times; once its put is answered, it reads the
/// register through the server after the last one it put to, so that the read may be a quorum
/// read. A reader has no value and reads from the start, racing the proposals.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegisterClient {
    /// The value to put; a reader has none and only reads.
    pub value: Option<Value>,
    /// The servers, in the order the client tries them, starting with its first.
    pub servers: Vec<Id>,
    /// How many times an unanswered put is resent to the next server.
    pub retries: u32,
    /// Whether the client stops after its put, without reading.
    pub put_only: bool,
    /// Whether a writer reads through the next server rather than its last put's.
    pub read_elsewhere: bool,
}

/// A register client's state. `id` comes first so that sorting actor states never reorders clients.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RegisterClientState {
    /// The client's own id.
    pub id: Id,
    /// The request waiting for its reply: 1 is the put, 2 the get.
    pub awaiting: Option<RequestId>,
    /// How many times the put was resent.
    pub resent: u32,
}

pub(super) const PUT: RequestId = 1;
pub(super) const GET: RequestId = 2;

impl RegisterClient {
    /// The server the client puts through after `resent` retries.
    fn put_to(&self, resent: u32) -> Id {
        self.servers[resent as usize % self.servers.len()]
    }

    /// The server the client reads through: the one after its last put's, so not the one
    /// that learned the outcome to answer it.
    fn get_from(&self, resent: u32) -> Id {
        match self.value {
            Some(_) => self.put_to(resent + u32::from(self.read_elsewhere)),
            None => self.servers[0],
        }
    }

    fn put(&self, resent: u32, o: &mut ClientOut<Self>) {
        let value = self.value.expect("only a writer puts");
        o.send(
            self.put_to(resent),
            Msg::Put {
                request: PUT,
                value,
            },
        );
        if resent < self.retries {
            o.set_timer(Timer::Retry, model_timeout());
        }
    }
}

impl node::ModelClient for RegisterClient {
    type Protocol = PaxosActor;
    type State = RegisterClientState;

    fn on_start(&self, id: Id, o: &mut ClientOut<Self>) -> RegisterClientState {
        let awaiting = match self.value {
            Some(_) => {
                self.put(0, o);
                PUT
            }
            None => {
                o.send(self.get_from(0), Msg::Get { request: GET });
                GET
            }
        };
        RegisterClientState {
            id,
            awaiting: Some(awaiting),
            resent: 0,
        }
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<RegisterClientState>,
        msg: Msg,
        o: &mut ClientOut<Self>,
    ) {
        let resent = state.resent;
        match (state.awaiting, msg) {
            (Some(PUT), Msg::PutOk { request: PUT } | Msg::PutFail { request: PUT })
                if self.put_only =>
            {
                o.cancel_timer(Timer::Retry);
                *state = Cow::Owned(RegisterClientState {
                    id,
                    awaiting: None,
                    resent,
                });
            }
            (Some(PUT), Msg::PutOk { request: PUT } | Msg::PutFail { request: PUT }) => {
                o.cancel_timer(Timer::Retry);
                o.send(self.get_from(resent), Msg::Get { request: GET });
                *state = Cow::Owned(RegisterClientState {
                    id,
                    awaiting: Some(GET),
                    resent,
                });
            }
            (Some(GET), Msg::GetOk { request: GET, .. }) => {
                *state = Cow::Owned(RegisterClientState {
                    id,
                    awaiting: None,
                    resent,
                });
            }
            _ => {} // A duplicate or stale reply.
        }
    }

    /// A client awaits its put, then its get, then nothing: a reply to a request it no longer
    /// awaits, or that it never awaits, stays ignored.
    fn ignores_forever(&self, state: &RegisterClientState, msg: &Msg) -> bool {
        match (state.awaiting, msg) {
            (Some(PUT), Msg::PutOk { request } | Msg::PutFail { request }) => *request != PUT,
            (Some(PUT | GET), Msg::GetOk { request, .. }) => *request != GET,
            _ => true,
        }
    }

    /// No answer yet: resend the put to the next server.
    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<RegisterClientState>,
        _: &Timer,
        o: &mut ClientOut<Self>,
    ) {
        if state.awaiting != Some(PUT) || state.resent >= self.retries {
            return;
        }
        let resent = state.resent + 1;
        self.put(resent, o);
        *state = Cow::Owned(RegisterClientState {
            id,
            awaiting: Some(PUT),
            resent,
        });
    }
}
