//! Single-decree Paxos, as in §2 of Lamport's *Paxos Made Simple* (2001), written as one
//! [`stateright`] actor that plays any subset of the three roles.
//!
//! # The algorithm
//!
//! **Phase 1 (prepare/promise).** A proposer picks a proposal number `n` higher than any it
//! has used and sends `Prepare { n }` to the acceptors (§2.2 phase 1(a)). An acceptor that has
//! not responded to a prepare numbered above `n` promises never again to accept a proposal
//! numbered below `n` and answers with the highest-numbered proposal it has accepted, if any
//! (phase 1(b)).
//!
//! **Phase 2 (accept/accepted).** With promises from a majority, the proposer sends
//! `Accept { n, v }`, where `v` is the value of the highest-numbered proposal among the
//! promises, or its client's value when none reported one (phase 2(a), which keeps P2c). An
//! acceptor accepts unless it has promised a higher number (phase 2(b), P1a). A value is
//! *chosen* once a majority accepted the same proposal; learners count `Accepted` messages to
//! find out (§2.3).
//!
//! # Why the hand-off between proposers is safe
//!
//! Any two majorities intersect. If `v` was chosen at number `m`, every prepare quorum for a
//! later `n > m` contains an acceptor that accepted `(m, v)` and, by induction on P2c, every
//! proposal numbered between `m` and `n` also carries `v`; so the highest proposal below `n`
//! that the quorum reports carries `v`, and the new proposer re-proposes it (P2b).
//!
//! # What this implementation simplifies or adds
//!
//! - Proposal numbers are [`Ballot`]s `(round, proposer)`: unique and totally ordered (§2.5).
//! - A message an actor sends to itself (a server's proposer to its own acceptor and back)
//!   is handled at once, within the same step, in the model and on UDP alike.
//! - A proposer keeps the clients waiting on it and answers them when its own learner part
//!   learns the outcome (§2.3's "distinguished learner"); acceptors send `Accepted` to every
//!   learner and to the proposer that asked.
//! - Reads are *quorum reads*: the server asks the acceptors and answers only when a majority
//!   report the same accepted proposal (or a majority report none), so reads need no leader.
//! - Acceptor state and the proposer's last round are durable ([`Storage`]), saved by the
//!   handler that sends the reply depending on them (§2.5).
//! - [`Variant`] selects deliberately broken versions, so that every safety property can be
//!   shown to catch the bug it exists for.
//!
//! # Where the code is
//!
//! `actor.rs` says who an actor is (its roles, its peers, its variant). `step.rs` holds its
//! state, one part per role, and [`Handlers::handle`] there sends each message to the role it
//! is for, with that role's part of the state: `proposer.rs` (phases 1(a) and 2(a), retries,
//! client replies), `acceptor.rs` (phases 1(b) and 2(b), stable storage), `learner.rs`
//! (learning, quorum reads). `messages.rs` holds the wire and disk types, `variant.rs`
//! the deliberate bugs, each a hook named like the rule it breaks, and `bugs.rs` the bug that
//! takes another path than the protocol's.
//!
//! [`Handlers::handle`]: crate::protocol::self_delivery::Handlers::handle
mod acceptor;
mod actor;
mod bugs;
mod learner;
mod messages;
mod proposer;
mod step;
#[cfg(test)]
mod testing;
mod variant;

pub use super::ballot::Ballot;
pub use acceptor::AcceptorState;
pub use actor::{PaxosActor, Roles};
pub use learner::LearnerState;
pub use messages::{Msg, Proposal, RequestId, Storage, Timer, Value};
pub use proposer::{Phase, ProposerState};
pub use step::PaxosState;
pub use variant::Variant;
