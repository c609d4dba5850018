//! Trace validation (`paxos validate DIR`): the traces a real cluster recorded
//! ([`crate::runtime::trace`]) merged into one execution consistent with causality and replayed
//! through the model's own actors, ghost records and judge, with every `always` property checked
//! on every state. The rules (V1-V5) are in `spec/runtime.md`, "Trace recording and validation":
//!
//! - **V1** Ids: the cluster's servers, sorted by address (the order `paxos spawn` gives them,
//!   and the order of their [`Id`](stateright::actor::Id)s, which ballots compare), are model
//!   actors `0..n`; every other address (a client) is `n, n + 1, ...` in the order of the
//!   addresses (a proposer proposes the value of the first waiting client, by `Id`). Inside the
//!   protocol's JSON an actor is its `Id`, a number: it is taken for its address where the
//!   protocol's types hold an `Id`, and nowhere else.
//!
//! A trace is read line by line as the type the runtime writes it with,
//! [`TraceLine`](crate::runtime::trace::TraceLine); the protocol's messages, timers and storage
//! in it stay JSON values until the replay decodes them as the protocol's types, ids renamed
//! (V1).
//! - **V2** Merge: each node's events are taken in its own order; a receive from a server waits
//!   until some node recorded sending that message to that node (UDP may duplicate, so one send
//!   may be received many times). A receive from a client is an input. When only receives are
//!   left, the first whose message no node ever recorded sending is a divergence.
//! - **V3** Replay: the model is the protocol's with the cluster's servers, no model clients, an
//!   unordered duplicating lossy network; a client request is recorded in the model's history
//!   (as the model's clients' sends are) then delivered; a receive is the model's `Deliver`, a
//!   timeout its `Timeout` (the timer must be set in the model), a restart `Crash` then
//!   `Recover`, all through
//!   [`HarnessModel`](crate::model::harness_model::HarnessModel)'s `next_state`, so that the
//!   judge and the ghost records run. The model's network is kept empty: V2 and V4 check the messages, and the duplicating
//!   network's `Deliver` takes any envelope.
//! - **V4** Each step must do what the node recorded: save what it saved, send (at least) what
//!   it sent; a restart must start from the storage the model last saved for it.
//! - **V5** Kill -9 (T2): the last step of a node before a restart may be cut short after its
//!   line was written, if none of its messages was received: when the restart's storage is the
//!   one from before that step, the step is skipped; when it is one the step saved before its
//!   last save (a step may save more than once), the step is replayed and the restart starts
//!   from that save.
//!
//! Validation sits above both the model and the runtime: it reads what the runtime wrote and
//! runs the model's actors on it. The files, one job each:
//! - `outcome.rs`: what a validation returns ([`ValidationReport`]) or why it could not
//!   run ([`BadTrace`]);
//! - `traces.rs`: a directory's traces read, checked and ordered per node (V1);
//! - `ids.rs`: the real ids inside the protocol's JSON decoded as model ids (V1);
//! - `models.rs`: the replay model of each protocol, and [`validate`];
//! - `replay.rs`: the merge and the replay through the model (V2-V5).
mod ids;
mod models;
mod outcome;
mod replay;
mod traces;

pub use models::validate;
pub use outcome::{BadTrace, ValidationReport};
