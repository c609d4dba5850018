//! The deliberate bugs, each a hook named like the rule it breaks: the protocol calls
//! `self.variant.quorum(n)`, `self.variant.accepts(promised, n)` ..., and only here does a
//! broken [`Variant`] depart from the rule. Each is a model setting (`variant = "..."` in
//! `models/*.toml`), so that the checker can show the property that catches it.
use super::messages::{Proposal, Value};
use crate::protocol::ballot::{highest_reported, may_accept, quorum, Ballot};
use serde::{Deserialize, Serialize};
use stateright::actor::Id;

/// Deliberate bugs. Each is a model setting, so that the checker can show the property that
/// catches it; [`Variant::Correct`] is the protocol itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The protocol of the paper.
    #[default]
    Correct,
    /// The acceptor does not save its promise or acceptance, so a crash forgets them.
    ForgetOnCrash,
    /// The acceptor saves its promise but not its accepted proposal: a restarted acceptor
    /// keeps its promise and has accepted nothing.
    ForgetAccepted,
    /// The acceptor accepts any proposal, whatever it promised.
    AcceptAlways,
    /// The proposer ignores the proposals reported in promises and proposes its own value.
    IgnorePromisedValues,
    /// The proposer adopts the first reported proposal instead of the highest-numbered one.
    AdoptFirstValue,
    /// Quorums are `n / 2` acceptors instead of a majority.
    HalfQuorum,
    /// Every proposer numbers its proposals `(round, 0)`: numbers are not unique.
    SharedBallots,
    /// A quorum read reports a value held by a majority, whatever proposal numbers hold it.
    ReadByValue,
    /// The proposer proposes a value of its own instead of its client's.
    InventValue,
    /// The proposer counts a promise made to an earlier ballot of its own as a promise for
    /// its current one.
    StalePromises,
    /// The proposer adopts the lowest-numbered reported proposal instead of the
    /// highest-numbered one.
    AdoptLowestValue,
    /// A quorum read answers `None` as soon as one acceptor reports nothing.
    ReadNoneEarly,
    /// A proposer retrying after a timeout or a refusal skips phase 1 and proposes its
    /// client's value at once under the higher number.
    RetrySkipsPhase1,
    /// The acceptor accepts a proposal whose value it already holds without announcing it
    /// (an "optimisation": the value did not change).
    AcceptSilently,
}

/// The value that [`Variant::InventValue`] proposes: no client ever proposes it.
const INVENTED_VALUE: Value = '?';

impl Variant {
    /// Every variant, the correct one first.
    pub const ALL: [Variant; 15] = [
        Variant::Correct,
        Variant::ForgetOnCrash,
        Variant::ForgetAccepted,
        Variant::AcceptAlways,
        Variant::IgnorePromisedValues,
        Variant::AdoptFirstValue,
        Variant::HalfQuorum,
        Variant::SharedBallots,
        Variant::ReadByValue,
        Variant::InventValue,
        Variant::StalePromises,
        Variant::AdoptLowestValue,
        Variant::ReadNoneEarly,
        Variant::RetrySkipsPhase1,
        Variant::AcceptSilently,
    ];

    /// How many of `acceptors` acceptors make a quorum: a majority ([`quorum`]; §2.2: "any
    /// two majorities have at least one acceptor in common"). [`Variant::HalfQuorum`] takes
    /// half, so that two quorums may not intersect.
    pub(crate) fn quorum(self, acceptors: usize) -> usize {
        match self {
            Variant::HalfQuorum => (acceptors / 2).max(1),
            _ => quorum(acceptors),
        }
    }

    /// The proposal number of `proposer`'s `round`. §2.5: "Different proposers choose their
    /// numbers from disjoint sets of numbers". [`Variant::SharedBallots`] numbers every
    /// proposer's round alike.
    pub(crate) fn ballot(self, round: u32, proposer: Id) -> Ballot {
        let proposer = match self {
            Variant::SharedBallots => Id::from(0),
            _ => proposer,
        };
        Ballot { round, proposer }
    }

    /// Whether the actor writes its stable storage. §2.2: "an acceptor must remember this
    /// information even if it fails and then restarts." [`Variant::ForgetOnCrash`] writes
    /// nothing, the proposer's round included.
    pub(crate) fn remembers(self) -> bool {
        self != Variant::ForgetOnCrash
    }

    /// Whether the acceptor's stable storage holds its accepted proposal beside its promise.
    /// §2.2: "an acceptor needs to remember only the highest-numbered proposal that it has
    /// ever accepted and the number of the highest-numbered prepare request to which it has
    /// responded ... even if it fails and then restarts." [`Variant::ForgetAccepted`] saves
    /// the promise (and the proposer's round) only.
    pub(crate) fn remembers_accepted(self) -> bool {
        self != Variant::ForgetAccepted
    }

    /// P1a ([`may_accept`]): whether an acceptor that promised `promised` may accept a
    /// proposal numbered `ballot`. [`Variant::AcceptAlways`] accepts anything.
    pub(crate) fn accepts(self, promised: Ballot, ballot: Ballot) -> bool {
        self == Variant::AcceptAlways || may_accept(promised, ballot)
    }

    /// Phase 2(a): the value to propose, given the proposals that a majority of promises
    /// reported (in acceptor order) and the proposer's `own` client's value. The correct rule
    /// is P2c: the value of the [`highest_reported`] proposal, or `own` if none was reported.
    /// [`Variant::IgnorePromisedValues`] always proposes `own`, [`Variant::AdoptFirstValue`]
    /// the first reported value, and [`Variant::InventValue`] a value no client proposed.
    pub(crate) fn adopt(self, mut reported: impl Iterator<Item = Proposal>, own: Value) -> Value {
        let adopted = match self {
            Variant::IgnorePromisedValues => return own,
            Variant::InventValue => return INVENTED_VALUE,
            Variant::AdoptFirstValue => reported.next().map(|p| (p.ballot, p.value)),
            Variant::AdoptLowestValue => reported.map(|p| (p.ballot, p.value)).min(),
            _ => highest_reported(reported.map(|p| (p.ballot, p.value))),
        };
        adopted.map_or(own, |(_, value)| value)
    }

    /// Phase 2(a): whether a promise for `promise` counts towards the proposer's `current`
    /// ballot: only a promise for that very ballot does (§2.2: "a response to its prepare
    /// requests (numbered n)"). [`Variant::StalePromises`] counts any earlier one too.
    pub(crate) fn counts_promise(self, promise: Ballot, current: Ballot) -> bool {
        match self {
            Variant::StalePromises => promise <= current,
            _ => promise == current,
        }
    }

    /// How many acceptors reporting nothing let a quorum read answer `None`: a quorum (any
    /// chosen value's majority intersects them). [`Variant::ReadNoneEarly`] takes one.
    pub(crate) fn none_quorum(self, quorum: usize) -> usize {
        match self {
            Variant::ReadNoneEarly => 1,
            _ => quorum,
        }
    }

    /// Whether a retry (after a timeout or a refusal) starts with phase 1, as every ballot
    /// must. [`Variant::RetrySkipsPhase1`] goes to phase 2 at once.
    pub(crate) fn retry_prepares(self) -> bool {
        self != Variant::RetrySkipsPhase1
    }

    /// Phase 2(b): whether an acceptor that held `previous` announces its acceptance of
    /// `proposal` (§2.3: "whenever it accepts a proposal, respond to all learners").
    /// [`Variant::AcceptSilently`] says nothing when the value did not change.
    pub(crate) fn announces(self, previous: Option<Proposal>, proposal: Proposal) -> bool {
        self != Variant::AcceptSilently || previous.is_none_or(|p| p.value != proposal.value)
    }

    /// What makes two reports of a quorum read the same: the proposal, number and value
    /// (§2.2: "a single proposal with that value has been accepted by a majority").
    /// [`Variant::ReadByValue`] compares values only.
    pub(crate) fn same_proposal(self, proposal: Proposal) -> (Option<Ballot>, Value) {
        match self {
            Variant::ReadByValue => (None, proposal.value),
            _ => (Some(proposal.ballot), proposal.value),
        }
    }
}
