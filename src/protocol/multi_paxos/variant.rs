//! The deliberate bugs, one per safety property, each a hook named like the rule it breaks:
//! the protocol computes the rule's value and passes it through the hook
//! (`self.variant.adopted(adopted, reported, queue)`, `self.variant.filler(Command::Noop, id)`
//! ...), which gives it back unchanged for [`Variant::Correct`]; only here does a broken
//! [`Variant`] replace it. A bug that takes another path than the protocol's is a wrapper in
//! `bugs.rs`, or a test of the variant where the path departs.
use super::kv::{KvOp, KvRet, Text};
use super::machine::{ClientCommand, StateMachine};
use super::messages::{Command, Slot, Storage};
use super::state::ReplicaState;
use crate::protocol::ballot::Ballot;
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::semantics::SequentialSpec;
use std::collections::BTreeSet;

/// Deliberate bugs, one per safety property; [`Variant::Correct`] is the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The protocol of the paper.
    #[default]
    Correct,
    /// A new leader skips phase 1 and proposes its commands from its first unknown slot.
    SkipPhase1,
    /// A new leader proposes a command of its own in a slot where a promise reported one.
    IgnoreReported,
    /// A replica applies every command as soon as it learns it, past any gap: its log is no
    /// longer a prefix of the chosen slots.
    ApplyPastGap,
    /// The state machine has no per-client table: a command chosen twice is applied twice.
    NoDedupTable,
    /// A leader refused for a higher ballot does not step down: it takes that ballot, another
    /// server's, as its own and keeps proposing, without phase 1.
    KeepProposing,
    /// A new leader fills gaps with a command of its own making instead of a no-op.
    InventFiller,
    /// A follower answers reads from its own, possibly stale, store.
    LocalRead,
    /// A new leader adopts, per slot, the command of the lowest-numbered reported proposal.
    AdoptLowest,
    /// A candidate counts a promise made to an earlier ballot of its own toward its current
    /// ballot's majority (leader-change path: a candidate that campaigns again).
    CountStalePromises,
    /// An acceptor's promise reports its accepted proposals from the slot after the
    /// prepare's `from` on, leaving out slot `from` itself (recovery path: an off-by-one).
    ReportPastFrom,
    /// An acceptor accepts every proposal, whatever it promised (P1a dropped).
    AcceptAnyBallot,
    /// An acceptor that refuses an accept still stores the refused proposal as its own
    /// accepted one, saying nothing about it (a change of state that sends nothing).
    KeepRefused,
    /// A leader counts a slot chosen one acceptance short of a majority.
    LearnEarly,
    /// A leader never re-sends an `Accept`: a lost one leaves its slot in flight, and every
    /// slot after it unapplied, for good (a liveness bug).
    NeverRetransmits,
    /// A replica answers every client of a batch with the reply of the batch's last command:
    /// one reply per slot, as before batching (batch path).
    OneReplyPerSlot,
    /// An acceptor's promise does not name its snapshot: a new leader takes over slots below
    /// it, which are chosen but which the acceptor no longer reports (snapshot path).
    HideSnapshot,
    /// A restarted server keeps its promise (and round) but not its accepted proposals: its
    /// storage held the promise only (crash path).
    ForgetAccepted,
    /// A restarted server loses its decided prefix: its storage kept only the accepted
    /// proposals at or above its decided slot, as if the prefix were kept elsewhere, so it
    /// neither relearns the prefix nor reports it (crash path).
    ForgetDecided,
    /// A restarted server starts from an older snapshot than its last (the empty one, its
    /// first), while its accepted proposals stay truncated at the last: the slots between
    /// are in neither (crash and snapshot path).
    StaleSnapshot,
    /// An acceptor sends its `Accepted` before it saves the acceptance, so that the answer
    /// may leave while the acceptance is not on disk: a crash between the two loses an
    /// acceptance that was counted (crash path, D1).
    AnswerBeforeSave,
}

impl Variant {
    /// Every variant, the correct one first.
    pub const ALL: [Variant; 21] = [
        Variant::Correct,
        Variant::SkipPhase1,
        Variant::IgnoreReported,
        Variant::ApplyPastGap,
        Variant::NoDedupTable,
        Variant::KeepProposing,
        Variant::InventFiller,
        Variant::LocalRead,
        Variant::AdoptLowest,
        Variant::CountStalePromises,
        Variant::ReportPastFrom,
        Variant::AcceptAnyBallot,
        Variant::KeepRefused,
        Variant::LearnEarly,
        Variant::NeverRetransmits,
        Variant::OneReplyPerSlot,
        Variant::HideSnapshot,
        Variant::ForgetAccepted,
        Variant::ForgetDecided,
        Variant::StaleSnapshot,
        Variant::AnswerBeforeSave,
    ];

    /// How many slots in flight a leader's tick re-sends the `Accept` of, given the `burst`
    /// the protocol sends. [`Variant::NeverRetransmits`] re-sends none.
    pub(crate) fn resent(self, burst: usize) -> usize {
        match self {
            Variant::NeverRetransmits => 0,
            _ => burst,
        }
    }

    /// Whether a new leader runs phase 1 before it proposes. §3: the new leader "executes
    /// phase 1 of instances 135–137 and of all instances greater than 139." With
    /// [`Variant::SkipPhase1`] it leads at once, as if a majority had promised and reported
    /// nothing.
    pub(crate) fn runs_phase1(self) -> bool {
        self != Variant::SkipPhase1
    }

    /// The command a new leader proposes in a slot that promises `reported`, given the one
    /// P2c(b) adopts (`adopted`). [`Variant::IgnoreReported`] proposes its own next queued
    /// command instead, while it has one; [`Variant::AdoptLowest`] the command of the
    /// lowest-numbered reported proposal.
    pub(crate) fn adopted<V: Text>(
        self,
        adopted: Command<V>,
        reported: Vec<(Ballot, Command<V>)>,
        queue: &mut BTreeSet<ClientCommand<V>>,
    ) -> Command<V> {
        match self {
            Variant::IgnoreReported => match queue.pop_first() {
                Some(own) => Command::Batch(vec![own].into()),
                None => adopted,
            },
            Variant::AdoptLowest => {
                reported
                    .into_iter()
                    .min_by_key(|(ballot, _)| *ballot)
                    .expect("reported slots are non-empty")
                    .1
            }
            _ => adopted,
        }
    }

    /// Whether a candidate counts a promise for `ballot` while its own ballot is `own`, given
    /// whether the protocol counts it (`counts`). [`Variant::CountStalePromises`] also counts
    /// promises to its earlier ballots.
    pub(crate) fn counts_promise(self, counts: bool, ballot: Ballot, own: Ballot) -> bool {
        counts || (self == Variant::CountStalePromises && ballot < own)
    }

    /// The first slot whose accepted proposal a promise to a prepare `from` reports: `from`
    /// itself (§3: phase 1 "for infinitely many instances" from the first unknown one on).
    /// [`Variant::ReportPastFrom`] starts one slot later.
    pub(crate) fn reported_from(self, from: Slot) -> Slot {
        match self {
            Variant::ReportPastFrom => from + 1,
            _ => from,
        }
    }

    /// The snapshot an acceptor's promise names: its own ([`Msg::Promise::snapshot`]).
    /// [`Variant::HideSnapshot`] names none.
    ///
    /// [`Msg::Promise::snapshot`]: super::Msg::Promise::snapshot
    pub(crate) fn reported_snapshot(self, upto: Slot) -> Slot {
        match self {
            Variant::HideSnapshot => 0,
            _ => upto,
        }
    }

    /// Whether an acceptor accepts, given whether P1a lets it (`may_accept`).
    /// [`Variant::AcceptAnyBallot`] always does.
    pub(crate) fn may_accept(self, may_accept: bool) -> bool {
        self == Variant::AcceptAnyBallot || may_accept
    }

    /// Whether an acceptor stores a proposal it refused: never ([`Variant::KeepRefused`]
    /// does).
    pub(crate) fn keeps_refused(self) -> bool {
        self == Variant::KeepRefused
    }

    /// How many acceptances make a slot chosen: a majority, `quorum` (§2.2: "accepted by a
    /// majority of the acceptors"). [`Variant::LearnEarly`] counts one fewer.
    pub(crate) fn chosen_at(self, quorum: usize) -> usize {
        match self {
            Variant::LearnEarly => quorum - 1,
            _ => quorum,
        }
    }

    /// What a new `leader` proposes in a gap below the highest reported slot, given the
    /// protocol's `no_op`. [`Variant::InventFiller`] proposes a command no client submitted.
    pub(crate) fn filler<V: Text>(self, no_op: Command<V>, leader: Id) -> Command<V> {
        match self {
            Variant::InventFiller => Command::Batch(
                vec![ClientCommand {
                    client: leader,
                    request: 0,
                    op: KvOp::Put {
                        key: V::from('x'),
                        value: V::from('?'),
                    },
                }]
                .into(),
            ),
            _ => no_op,
        }
    }

    /// The next slot a replica applies, given the protocol's `in_order` (the next in slot
    /// order, [`ReplicaState::next_in_order`]). [`Variant::ApplyPastGap`] applies any chosen
    /// slot not yet applied, gap or not.
    pub(crate) fn next_to_apply<V: Text>(
        self,
        in_order: Option<Slot>,
        replica: &ReplicaState<V>,
    ) -> Option<Slot> {
        match self {
            Variant::ApplyPastGap => replica
                .chosen
                .keys()
                .copied()
                .find(|s| !replica.log.iter().any(|a| a.slot == *s)),
            _ => in_order,
        }
    }

    /// Whether a replica keeps its per-client table, so that a command chosen twice is
    /// applied once and a retry is answered from the table. [`Variant::NoDedupTable`] has none.
    pub(crate) fn at_most_once(self) -> bool {
        self != Variant::NoDedupTable
    }

    /// The replies a leader's replica sends for one applied batch, as `(index in the batch,
    /// reply, whether the store ran it)`: each command's own. [`Variant::OneReplyPerSlot`]
    /// gives every one the reply of the batch's last command.
    pub(crate) fn replies(
        self,
        mut replies: Vec<(usize, KvRet, bool)>,
    ) -> Vec<(usize, KvRet, bool)> {
        if self == Variant::OneReplyPerSlot {
            if let Some((_, last, _)) = replies.last().cloned() {
                for reply in &mut replies {
                    reply.1 = last.clone();
                }
            }
        }
        replies
    }

    /// What a server restarts from, given the storage it saved: all of it. §2.2: "an
    /// acceptor must remember this information even if it fails and then restarts" (its
    /// promise and every accepted proposal it may still have to report), and a server's
    /// decided prefix and snapshot stand for chosen slots it no longer needs to ask about.
    /// [`Variant::ForgetAccepted`] restarts with no accepted proposal,
    /// [`Variant::ForgetDecided`] without those below its decided slot, and
    /// [`Variant::StaleSnapshot`] from the empty snapshot, its log truncated at the last.
    /// Each keeps the promise and the round, on which
    /// [`MultiPaxosActor::ignores_forever`] rests.
    pub(crate) fn restored<V: Text>(self, mut saved: Storage<V>) -> Storage<V> {
        match self {
            Variant::ForgetAccepted => saved.accepted.clear(),
            Variant::ForgetDecided => {
                saved.accepted = saved.accepted.split_off(&saved.decided);
                saved.decided = saved.snapshot.upto;
            }
            Variant::StaleSnapshot => saved.snapshot = Default::default(),
            _ => {}
        }
        saved
    }

    /// Whether an acceptor saves an acceptance before it sends the `Accepted` that answers it:
    /// §2.5, "An acceptor records its intended response in stable storage before actually
    /// sending the response". [`Variant::AnswerBeforeSave`] sends first.
    pub(crate) fn saves_before_answering(self) -> bool {
        self != Variant::AnswerBeforeSave
    }

    /// Whether a proposer that learns of a higher ballot abandons its own. §2.2: the acceptor
    /// "should probably inform the proposer, who should then abandon its proposal."
    /// [`Variant::KeepProposing`] does not: see [`MultiPaxosActor::keep_proposing`].
    pub(crate) fn abandons(self) -> bool {
        self != Variant::KeepProposing
    }

    /// A follower's own answer to a client's command: none, since §3 has "Clients send
    /// commands to the leader". [`Variant::LocalRead`] answers a `Get` from its own store,
    /// which may lag behind the log.
    pub(crate) fn local_read<V: Text>(
        self,
        command: &ClientCommand<V>,
        machine: &StateMachine<V>,
    ) -> Option<KvRet> {
        match (self, &command.op) {
            (Variant::LocalRead, KvOp::Get { .. }) => Some(machine.kv.clone().invoke(&command.op)),
            _ => None,
        }
    }
}
