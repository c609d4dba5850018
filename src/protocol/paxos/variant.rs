//! The deliberate bugs, each a hook named like the rule it breaks: the protocol computes the
//! rule's value and passes it through the hook (`self.variant.quorum(majority, n)`,
//! `self.variant.accepts(may_accept(promised, n))` ...), which gives it back unchanged for
//! [`Variant::Correct`]; only here does a broken [`Variant`] replace it. A bug that takes
//! another path than the protocol's is a wrapper in `bugs.rs`. Each is a model setting
//! (`variant = "..."` in `models/*.toml`), so that the checker can show the property that
//! catches it.
use super::messages::{Proposal, Storage, Value};
use crate::protocol::ballot::Ballot;
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

    /// The quorum, given the `majority` of the `acceptors` that the protocol takes.
    /// [`Variant::HalfQuorum`] takes half, so that two quorums may not intersect.
    pub(crate) fn quorum(self, majority: usize, acceptors: usize) -> usize {
        match self {
            Variant::HalfQuorum => (acceptors / 2).max(1),
            _ => majority,
        }
    }

    /// The proposal number a proposer uses, given its own `ballot`.
    /// [`Variant::SharedBallots`] numbers every proposer's round alike, as proposer 0's.
    pub(crate) fn ballot(self, ballot: Ballot) -> Ballot {
        match self {
            Variant::SharedBallots => Ballot {
                proposer: Id::from(0),
                ..ballot
            },
            _ => ballot,
        }
    }

    /// What the actor writes of `storage`, its stable storage: all of it.
    /// [`Variant::ForgetOnCrash`] writes nothing, the proposer's round included;
    /// [`Variant::ForgetAccepted`] saves the promise (and the proposer's round) only.
    pub(crate) fn saved(self, storage: Storage) -> Option<Storage> {
        match self {
            Variant::ForgetOnCrash => None,
            Variant::ForgetAccepted => Some(Storage {
                accepted: None,
                ..storage
            }),
            _ => Some(storage),
        }
    }

    /// Whether the actor writes its stable storage at all: [`Variant::ForgetOnCrash`] does
    /// not, so that nothing it knows survives a restart.
    pub(crate) fn saves(self) -> bool {
        self != Variant::ForgetOnCrash
    }

    /// Whether an acceptor accepts, given whether P1a lets it (`may_accept`).
    /// [`Variant::AcceptAlways`] accepts anything.
    pub(crate) fn accepts(self, may_accept: bool) -> bool {
        self == Variant::AcceptAlways || may_accept
    }

    /// The value to propose, given the one P2c chooses (`chosen`), the proposals that a
    /// majority of promises reported (in acceptor order) and the proposer's `own` client's
    /// value. [`Variant::IgnorePromisedValues`] always proposes `own`,
    /// [`Variant::AdoptFirstValue`] the first reported value, [`Variant::AdoptLowestValue`]
    /// the lowest-numbered one, and [`Variant::InventValue`] a value no client proposed.
    pub(crate) fn proposed_value(
        self,
        chosen: Value,
        mut reported: impl Iterator<Item = Proposal>,
        own: Value,
    ) -> Value {
        let adopted = match self {
            Variant::IgnorePromisedValues => return own,
            Variant::InventValue => return INVENTED_VALUE,
            Variant::AdoptFirstValue => reported.next().map(|p| (p.ballot, p.value)),
            Variant::AdoptLowestValue => reported.map(|p| (p.ballot, p.value)).min(),
            _ => return chosen,
        };
        adopted.map_or(own, |(_, value)| value)
    }

    /// Whether a promise for `promise` counts towards the proposer's `current` ballot, given
    /// whether the protocol counts it (`counts`). [`Variant::StalePromises`] counts any
    /// earlier one too.
    pub(crate) fn counts_promise(self, counts: bool, promise: Ballot, current: Ballot) -> bool {
        match self {
            Variant::StalePromises => promise <= current,
            _ => counts,
        }
    }

    /// How many acceptors reporting nothing let a quorum read answer `None`, given the
    /// protocol's `quorum`. [`Variant::ReadNoneEarly`] takes one.
    pub(crate) fn none_quorum(self, quorum: usize) -> usize {
        match self {
            Variant::ReadNoneEarly => 1,
            _ => quorum,
        }
    }

    /// Whether a retry (after a timeout or a refusal) starts with phase 1, as every ballot
    /// must. [`Variant::RetrySkipsPhase1`] goes to phase 2 at once
    /// (`PaxosActor::retry_skipping_phase1`, in `bugs.rs`).
    pub(crate) fn retry_prepares(self) -> bool {
        self != Variant::RetrySkipsPhase1
    }

    /// Phase 2(b): whether an acceptor that held `previous` announces its acceptance of
    /// `proposal` (§2.3: "whenever it accepts a proposal, respond to all learners").
    /// [`Variant::AcceptSilently`] says nothing when the value did not change.
    pub(crate) fn announces(self, previous: Option<Proposal>, proposal: Proposal) -> bool {
        self != Variant::AcceptSilently || previous.is_none_or(|p| p.value != proposal.value)
    }

    /// What makes two reports of a quorum read the same, given the protocol's `key` (the
    /// proposal's number and value). [`Variant::ReadByValue`] compares values only.
    pub(crate) fn same_proposal(self, key: (Option<Ballot>, Value)) -> (Option<Ballot>, Value) {
        match self {
            Variant::ReadByValue => (None, key.1),
            _ => key,
        }
    }
}
