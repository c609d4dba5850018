//! Model checking: the harnesses that wrap the protocol actors with clients, ghost records
//! and the properties of *Paxos Made Simple*; the checker driver; the catalogue of models.
pub mod catalogue;
pub mod check;
pub mod checked;
pub mod harness;
pub mod multi_paxos;
pub mod paxos;
pub mod view;
pub mod voting;
