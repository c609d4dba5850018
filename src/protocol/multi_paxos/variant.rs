//! The deliberate bugs, one per safety property, each a hook named like the rule it breaks:
//! the protocol calls `self.variant.adopt(reported, queue)`, `self.variant.no_op(id)` ..., and
//! only here does a broken [`Variant`] depart from the rule.
use super::kv::{KvOp, KvRet, Text};
use super::machine::{ClientCommand, StateMachine};
use super::messages::{Command, Slot, Storage};
use super::state::ReplicaState;
use crate::protocol::ballot::{highest_reported, may_accept, Ballot};
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
    /// A replica applies every command as soon as it learns it, past any gap.
    ApplyPastGap,
    /// The state machine has no per-client table: a command chosen twice is applied twice.
    NoDedupTable,
    /// A leader refused for a higher ballot does not step down: it takes that ballot as its
    /// own and keeps proposing, without phase 1.
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

    /// Whether a leader's tick re-sends the `Accept` of the slots still in flight: it does
    /// ([`Variant::NeverRetransmits`] does not).
    pub(crate) fn retransmits(self) -> bool {
        self != Variant::NeverRetransmits
    }

    /// Whether a new leader runs phase 1 before it proposes. §3: the new leader "executes
    /// phase 1 of instances 135–137 and of all instances greater than 139." With
    /// [`Variant::SkipPhase1`] it leads at once, as if a majority had promised and reported
    /// nothing.
    pub(crate) fn runs_phase1(self) -> bool {
        self != Variant::SkipPhase1
    }

    /// Phase 2(a) in a slot that promises reported: the command of the highest-numbered
    /// reported proposal (P2c(b), [`highest_reported`]). [`Variant::IgnoreReported`] proposes
    /// its own next queued command instead, while it has one; [`Variant::AdoptLowest`] the
    /// command of the lowest-numbered reported proposal.
    pub(crate) fn adopt<V: Text>(
        self,
        reported: Vec<(Ballot, Command<V>)>,
        queue: &mut BTreeSet<ClientCommand<V>>,
    ) -> Command<V> {
        if self == Variant::IgnoreReported {
            if let Some(own) = queue.pop_first() {
                return Command::Batch(vec![own].into());
            }
        }
        if self == Variant::AdoptLowest {
            return reported
                .into_iter()
                .min_by_key(|(ballot, _)| *ballot)
                .expect("reported slots are non-empty")
                .1;
        }
        highest_reported(reported)
            .expect("reported slots are non-empty")
            .1
    }

    /// Whether a candidate counts a promise for `ballot` while its own ballot is `own`: §2.2
    /// phase 2(a) counts "a response to its prepare requests (numbered n)", so only
    /// `ballot == own`. [`Variant::CountStalePromises`] also counts promises to its earlier
    /// ballots.
    pub(crate) fn counts_promise(self, ballot: Ballot, own: Ballot) -> bool {
        ballot == own || (self == Variant::CountStalePromises && ballot < own)
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

    /// Whether an acceptor that promised `promised` may accept a proposal numbered `ballot`:
    /// P1a ([`may_accept`]). [`Variant::AcceptAnyBallot`] always may.
    pub(crate) fn may_accept(self, promised: Ballot, ballot: Ballot) -> bool {
        self == Variant::AcceptAnyBallot || may_accept(promised, ballot)
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

    /// What a new `leader` proposes in a gap below the highest reported slot. §3: "a special
    /// 'no-op' command that leaves the state unchanged" (P2c(a) allows any command).
    /// [`Variant::InventFiller`] proposes a command no client submitted.
    pub(crate) fn no_op<V: Text>(self, leader: Id) -> Command<V> {
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
            _ => Command::Noop,
        }
    }

    /// The next slot a replica applies: the next in slot order
    /// ([`ReplicaState::next_in_order`]). [`Variant::ApplyPastGap`] applies any chosen slot not
    /// yet applied, gap or not.
    pub(crate) fn next_to_apply<V: Text>(self, replica: &ReplicaState<V>) -> Option<Slot> {
        match self {
            Variant::ApplyPastGap => replica
                .chosen
                .keys()
                .copied()
                .find(|s| !replica.log.iter().any(|a| a.slot == *s)),
            _ => replica.next_in_order(),
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
