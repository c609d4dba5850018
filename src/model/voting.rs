//! Lamport's abstract specifications `Voting` and `Consensus`, in Rust, and the check that a
//! step of a model refines them: the auditor's link between our actors and the algorithm
//! that Lamport's own TLA+ Paxos is proved against.
//!
//! `Voting` ("The Paxos algorithm", Lamport's TLA+ module `Voting`): each acceptor `a` has a
//! set of votes `votes[a] ⊆ Ballot × Value` and a ballot `maxBal[a]`; its actions are
//!
//! - `IncreaseMaxBal(a, b)`: `b > maxBal[a]`, and `maxBal' = b`;
//! - `VoteFor(a, b, v)`: `maxBal[a] ≤ b`, `a` has not voted at `b`, no other acceptor voted
//!   for another value at `b`, and `∃Q ∈ Quorums: ShowsSafeAt(Q, b, v)`; then
//!   `votes[a]' = votes[a] ∪ {(b, v)}` and `maxBal[a]' = b`;
//!
//! where, as in Lamport's module (`specifications/Paxos/Voting.tla` of the TLA+ examples,
//! github.com/tlaplus/Examples):
//!
//! ```text
//! ShowsSafeAt(Q, b, v) ≜ ∧ ∀a ∈ Q: maxBal[a] ≥ b
//!                        ∧ ∃c ∈ -1..(b-1): ∧ c ≠ -1 ⇒ ∃a ∈ Q: VotedFor(a, c, v)
//!                                          ∧ ∀d ∈ (c+1)..(b-1), a ∈ Q: DidNotVoteAt(a, d)
//! ```
//!
//! Lamport's theorem `ShowsSafety` (it implies `SafeAt(b, v)` in every reachable state) is
//! what makes each vote safe; `Paxos.tla` computes the same condition from the phase 1b
//! messages of the quorum its leader heard.
//! `chosen` is the set of values voted for by a quorum at one ballot. `Consensus` has one
//! variable, `chosen`, which starts empty and may once become a single value.
//!
//! [`check_step`] maps a model step to a `Voting` step: each acceptor that changed must have
//! made legal `IncreaseMaxBal` and `VoteFor` actions, judged one at a time in the order the
//! acceptor made them (a node delivers its own messages within a step, so one step may hold
//! several), or nothing changed at all (a stutter). [`check_consensus_step`] checks the
//! mapped `Consensus` step: `chosen` never changes once it holds a value, and never holds two.
use crate::protocol::ballot::{quorum, Ballot};
use itertools::Itertools;
use stateright::actor::Id;
use std::collections::BTreeSet;
use std::fmt::{self, Debug};

/// A `Voting` state: each acceptor's `maxBal` and votes. Kept as two sorted lists rather than
/// maps: the judge builds two of these for every step that changes a vote, and with a handful
/// of acceptors a list is cheaper to build, copy and search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voting<V> {
    /// `maxBal[a]` of every acceptor `a` that has one, sorted by acceptor, each once.
    max_bal: Vec<(Id, Ballot)>,
    /// `votes`: every `(a, b, v)` such that acceptor `a` voted for `v` at `b`, sorted, each once.
    votes: Vec<(Id, Ballot, V)>,
}

/// `Voting`'s initial state: no acceptor has promised or voted.
impl<V> Default for Voting<V> {
    fn default() -> Self {
        Voting {
            max_bal: Vec::new(),
            votes: Vec::new(),
        }
    }
}
/// A `Voting` action that a model step maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<V> {
    /// `IncreaseMaxBal(a, b)`.
    IncreaseMaxBal(Id, Ballot),
    /// `VoteFor(a, b, v)`.
    VoteFor(Id, Ballot, V),
}

impl<V: Debug> fmt::Display for Action<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::IncreaseMaxBal(a, b) => write!(f, "IncreaseMaxBal({a:?}, {b:?})"),
            Action::VoteFor(a, b, v) => write!(f, "VoteFor({a:?}, {b:?}, {v:?})"),
        }
    }
}

/// Why a model step is not a `Voting` (or `Consensus`) step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Illegal {
    /// The abstract action the step would have to be, or what it changed.
    pub action: String,
    /// The enabling condition it breaks.
    pub reason: String,
}

impl fmt::Display for Illegal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not allowed: {}", self.action, self.reason)
    }
}

impl<V: Clone + Ord + Debug> Voting<V> {
    /// The initial state, with room for `acceptors` acceptors' `maxBal` and `votes` votes (so
    /// that building it allocates once for each list).
    pub fn with_room(acceptors: usize, votes: usize) -> Self {
        Voting {
            max_bal: Vec::with_capacity(acceptors),
            votes: Vec::with_capacity(votes),
        }
    }

    /// Sets `maxBal[a]` to `b`.
    pub fn set_max_bal(&mut self, a: Id, b: Ballot) {
        match self.max_bal.binary_search_by_key(&a, |(x, _)| *x) {
            Ok(i) => self.max_bal[i].1 = b,
            Err(i) => self.max_bal.insert(i, (a, b)),
        }
    }

    /// Adds `(b, v)` to `votes[a]`.
    pub fn add_vote(&mut self, a: Id, b: Ballot, v: V) {
        let vote = (a, b, v);
        if let Err(i) = self.votes.binary_search(&vote) {
            self.votes.insert(i, vote);
        }
    }

    /// `maxBal[a]`, the lowest ballot for an acceptor that has none yet.
    fn max_bal(&self, a: Id) -> Ballot {
        let found = self.max_bal.iter().find(|(x, _)| *x == a);
        found.map(|(_, b)| *b).unwrap_or_default()
    }

    /// `votes[a]`, in order.
    fn votes_of(&self, a: Id) -> impl Iterator<Item = (Ballot, &V)> {
        let start = self.votes.partition_point(|(x, ..)| *x < a);
        let of_a = self.votes[start..]
            .iter()
            .take_while(move |(x, ..)| *x == a);
        of_a.map(|(_, b, v)| (*b, v))
    }

    /// Whether `(b, v) ∈ votes[a]`.
    fn has_vote(&self, a: Id, b: Ballot, v: &V) -> bool {
        self.votes_of(a).any(|(c, w)| c == b && w == v)
    }

    fn voted(&self, a: Id, b: Ballot) -> Option<&V> {
        self.votes_of(a).find(|(c, _)| *c == b).map(|(_, v)| v)
    }

    /// Every acceptor that has a `maxBal` or a vote, in order, each once (both lists are
    /// sorted by acceptor).
    fn acceptors(&self) -> impl Iterator<Item = Id> + Clone + '_ {
        let with_max_bal = self.max_bal.iter().map(|(a, _)| *a);
        with_max_bal
            .merge(self.votes.iter().map(|(a, ..)| *a))
            .dedup()
    }

    /// `chosen`: the values a quorum of the `n` acceptors voted for at one ballot, sorted.
    pub fn chosen(&self, n: usize) -> Vec<V> {
        // An acceptor lists a vote once, so equal votes side by side are distinct acceptors'.
        let mut votes: Vec<(Ballot, &V)> = self.votes.iter().map(|(_, b, v)| (*b, v)).collect();
        votes.sort_unstable();
        let counted = votes.into_iter().dedup_with_count();
        let mut chosen: Vec<V> = (counted.filter(|(count, _)| *count >= quorum(n)))
            .map(|(_, (_, v))| v.clone())
            .collect();
        chosen.sort_unstable();
        chosen.dedup();
        chosen
    }

    /// `ShowsSafeAt(Q, b, v)` (Lamport's TLA+ module `Voting`):
    ///
    /// ```text
    /// ShowsSafeAt(Q, b, v) ≜ ∧ ∀a ∈ Q: maxBal[a] ≥ b
    ///                        ∧ ∃c ∈ -1..(b-1): ∧ c ≠ -1 ⇒ ∃a ∈ Q: VotedFor(a, c, v)
    ///                                           ∧ ∀d ∈ (c+1)..(b-1), a ∈ Q: DidNotVoteAt(a, d)
    /// ```
    ///
    /// The only `c` that can serve is the highest ballot below `b` at which a member of `Q`
    /// voted (`-1` if none did): a lower one leaves that vote inside `(c+1)..(b-1)`, and a
    /// higher one has no vote of `Q` to show.
    fn shows_safe_at(&self, q: &[Id], b: Ballot, v: &V) -> bool {
        if q.iter().any(|a| self.max_bal(*a) < b) {
            return false;
        }
        let below = || {
            (self.votes.iter())
                .filter(|(a, c, _)| *c < b && q.contains(a))
                .map(|(_, c, w)| (*c, w))
        };
        match below().map(|(c, _)| c).max() {
            None => true,
            Some(c) => below().any(|(d, w)| d == c && w == v),
        }
    }

    /// `∃Q ∈ Quorums: ShowsSafeAt(Q, b, v)` among `n` acceptors, `VoteFor`'s last condition in
    /// Lamport's `Voting`: every quorum of the acceptors is tried. An acceptor with neither a
    /// `maxBal` nor a vote has `maxBal` -1 and cannot be in such a `Q`.
    pub fn shown_safe(&self, n: usize, b: Ballot, v: &V) -> Result<(), String> {
        let mut quorums = self.acceptors().combinations(quorum(n));
        if quorums.any(|q| self.shows_safe_at(&q, b, v)) {
            return Ok(());
        }
        Err(format!(
            "no quorum Q has ShowsSafeAt(Q, {b:?}, {v:?}): in each, a member has maxBal below \
             {b:?}, or the highest vote below {b:?} is for another value"
        ))
    }

    /// Whether `VoteFor(a, b, v)` is enabled among `n` acceptors.
    fn may_vote(&self, n: usize, a: Id, b: Ballot, v: &V) -> Result<(), String> {
        if self.max_bal(a) > b {
            return Err(format!("maxBal[{a:?}] = {:?} > {b:?}", self.max_bal(a)));
        }
        if let Some(w) = self.voted(a, b) {
            return Err(format!("{a:?} already voted {w:?} at {b:?}"));
        }
        if let Some((c, _, w)) = self.votes.iter().find(|(_, d, w)| *d == b && w != v) {
            return Err(format!("{c:?} voted another value, {w:?}, at {b:?}"));
        }
        self.shown_safe(n, b, v)
    }

    /// `VoteFor(a, b, v)` among `n` acceptors, if it is enabled.
    fn vote(&mut self, n: usize, a: Id, b: Ballot, v: &V) -> Result<Action<V>, Illegal> {
        let action = Action::VoteFor(a, b, v.clone());
        if let Err(reason) = self.may_vote(n, a, b, v) {
            let action = action.to_string();
            return Err(Illegal { action, reason });
        }
        self.add_vote(a, b, v.clone());
        self.set_max_bal(a, b);
        Ok(action)
    }

    /// Lamport's invariants of `Voting`, which every reachable state satisfies: `VotesSafe`
    /// (every vote was safe) is implied by checking each vote as it is cast; this checks
    /// `OneValuePerBallot`.
    pub fn one_value_per_ballot(&self) -> Result<(), String> {
        let mut votes: Vec<(Ballot, &V)> = self.votes.iter().map(|(_, b, v)| (*b, v)).collect();
        votes.sort_unstable();
        match votes
            .windows(2)
            .find(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1)
        {
            Some(w) => Err(format!(
                "two values voted at {:?}: {:?} and {:?}",
                w[0].0, w[0].1, w[1].1
            )),
            None => Ok(()),
        }
    }
}

/// One event of an acceptor within a model step, in the order the acceptor made it: its
/// `Promise` and `Accepted` messages, which the state after the step does not order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<V> {
    /// The acceptor promised this ballot (or, in another `Voting` instance of the same
    /// acceptor, voted at it: its `maxBal` is shared).
    Promise(Id, Ballot),
    /// The acceptor voted.
    Vote(Id, Ballot, V),
}

/// Whether the order of an acceptor's events within a step can change the verdict of
/// [`check_step`], for an acceptor whose `maxBal` went from `was` to `is` in the step and who
/// cast votes at `cast`: unless it cast at most one vote, at the ballot it held before and
/// still holds, its promises and votes in the step may have come in any order.
pub fn order_matters(was: Ballot, is: Ballot, mut cast: impl Iterator<Item = Ballot>) -> bool {
    match (cast.next(), cast.next()) {
        (None, _) => false,
        (Some(b), None) => b != was || b != is,
        (Some(_), Some(_)) => true,
    }
}

/// Checks that `before -> after`, among `n` acceptors, is a sequence of legal `Voting`
/// actions (or a stutter); returns the actions. The acceptors' `events` in the step, in
/// order, are taken first, each as the action it is (a promise not above `maxBal` is none);
/// then whatever else changed, an acceptor at a time: its remaining new votes, then a rise of
/// its `maxBal`.
pub fn check_step<V: Clone + Ord + Debug>(
    n: usize,
    before: &Voting<V>,
    after: &Voting<V>,
    events: &[Event<V>],
) -> Result<Vec<Action<V>>, Illegal> {
    let mut actions = Vec::new();
    let mut now = before.clone();
    for event in events {
        match event {
            Event::Promise(a, b) if *b > now.max_bal(*a) => {
                now.set_max_bal(*a, *b);
                actions.push(Action::IncreaseMaxBal(*a, *b));
            }
            Event::Promise(..) => {}
            Event::Vote(a, b, v) => {
                if after.has_vote(*a, *b, v) && !now.has_vote(*a, *b, v) {
                    actions.push(now.vote(n, *a, *b, v)?);
                }
            }
        }
    }
    for a in before.acceptors().merge(after.acceptors()).dedup() {
        let (old, new) = (before.max_bal(a), after.max_bal(a));
        if let Some(lost) = before.votes_of(a).find(|(b, v)| !after.has_vote(a, *b, v)) {
            return Err(Illegal {
                action: format!("acceptor {a:?} forgetting its vote {lost:?}"),
                reason: "votes are never withdrawn in Voting".to_owned(),
            });
        }
        for (b, v) in after.votes_of(a) {
            if !now.has_vote(a, b, v) {
                actions.push(now.vote(n, a, b, v)?);
            }
        }
        let reached = now.max_bal(a);
        if new < reached {
            let action = if new < old {
                format!("maxBal[{a:?}] falling from {old:?} to {new:?}")
            } else {
                format!("maxBal[{a:?}] = {new:?} after reaching {reached:?}")
            };
            return Err(Illegal {
                action,
                reason: "maxBal never decreases (IncreaseMaxBal needs b > maxBal[a])".to_owned(),
            });
        }
        if new > reached {
            now.set_max_bal(a, new);
            actions.push(Action::IncreaseMaxBal(a, new));
        }
    }
    Ok(actions)
}

/// Checks that the `chosen` sets of `before -> after`, among `n` acceptors, make a legal
/// `Consensus` step: `chosen` starts empty, may become one value, and never changes after; and
/// the value is one that was `proposed` (§2.1: "Only a value that has been proposed may be
/// chosen": `Consensus`'s set `Value` is the values proposed).
pub fn check_consensus_step<V: Clone + Ord + Debug>(
    n: usize,
    before: &Voting<V>,
    after: &Voting<V>,
    proposed: impl Fn(&V) -> bool,
) -> Result<(), Illegal> {
    let (was, is) = (before.chosen(n), after.chosen(n));
    let set = |values: &[V]| values.iter().cloned().collect::<BTreeSet<V>>();
    if was == is && is.len() <= 1 {
        return Ok(());
    }
    if was.is_empty() && is.len() == 1 {
        let v = is.first().expect("one value");
        if proposed(v) {
            return Ok(()); // Choose(v).
        }
        return Err(Illegal {
            action: format!("Choose({v:?})"),
            reason: format!("{v:?} was never proposed (chosen is a set of proposed values)"),
        });
    }
    Err(Illegal {
        action: format!("Consensus: chosen {:?} -> {:?}", set(&was), set(&is)),
        reason: "chosen starts empty, may become one value, and never changes after".to_owned(),
    })
}

/// The judge's sticky record of the refinement: the first step of a run that was not a
/// `Voting` step, and the first that was not a `Consensus` step, as [`Illegal`] renders them.
/// Set only on a failure, so in a correct model it is always empty and splits no states.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Refinement {
    /// The first step that did not refine `Voting`.
    pub voting: Option<Illegal>,
    /// The first step that did not refine `Consensus`.
    pub consensus: Option<Illegal>,
}

impl Refinement {
    /// Judges the step `before -> after` of one `Voting` instance among `n` acceptors, with
    /// the acceptors' `events` in it in order ([`check_step`]) (and
    /// the `Consensus` it refines, whose values are those `proposed`), keeping the first
    /// failure of each. `instance` names the instance in the failure ("slot 1: ..."), if there
    /// are several.
    pub fn judge<V: Clone + Ord + Debug>(
        &mut self,
        instance: Option<String>,
        n: usize,
        before: &Voting<V>,
        after: &Voting<V>,
        events: &[Event<V>],
        proposed: impl Fn(&V) -> bool,
    ) {
        let name = |mut illegal: Illegal| {
            if let Some(instance) = &instance {
                illegal.action = format!("{instance}: {}", illegal.action);
            }
            illegal
        };
        if self.voting.is_none() {
            self.voting = check_step(n, before, after, events).err().map(name);
        }
        if self.consensus.is_none() {
            self.consensus = check_consensus_step(n, before, after, proposed)
                .err()
                .map(name);
        }
    }

    /// What the property named `property` found, if it is one of the two and failed.
    pub fn finding(&self, property: &str) -> Option<String> {
        match property {
            REFINES_VOTING => self.voting.as_ref().map(Illegal::to_string),
            REFINES_CONSENSUS => self.consensus.as_ref().map(Illegal::to_string),
            _ => None,
        }
    }
}

/// The property that every step refines `Voting`.
pub const REFINES_VOTING: &str = "refines Voting";
/// The property that every step refines `Consensus`.
pub const REFINES_CONSENSUS: &str = "refines Consensus";

#[cfg(test)]
mod tests {
    use super::*;

    fn b(round: u32, proposer: usize) -> Ballot {
        Ballot {
            round,
            proposer: Id::from(proposer),
        }
    }

    fn voting(max_bal: &[(usize, Ballot)], votes: &[(usize, Ballot, char)]) -> Voting<char> {
        let mut v = Voting::default();
        for (a, m) in max_bal {
            v.set_max_bal(Id::from(*a), *m);
        }
        for (a, bal, val) in votes {
            v.add_vote(Id::from(*a), *bal, *val);
        }
        v
    }

    // Reference: Voting's IncreaseMaxBal and VoteFor.
    #[test]
    fn promises_and_safe_votes_are_voting_steps() {
        let s0 = voting(&[], &[]);
        let s1 = voting(&[(0, b(1, 0)), (1, b(1, 0))], &[]);
        assert_eq!(
            check_step(3, &s0, &s1, &[]),
            Ok(vec![
                Action::IncreaseMaxBal(Id::from(0), b(1, 0)),
                Action::IncreaseMaxBal(Id::from(1), b(1, 0))
            ])
        );
        let s2 = voting(&[(0, b(1, 0)), (1, b(1, 0))], &[(0, b(1, 0), 'A')]);
        assert_eq!(
            check_step(3, &s1, &s2, &[]),
            Ok(vec![Action::VoteFor(Id::from(0), b(1, 0), 'A')])
        );
        assert_eq!(check_step(3, &s2, &s2, &[]), Ok(vec![]));
    }

    // Reference: SafeAt; a vote without a quorum of promises above the lower ballots.
    #[test]
    fn a_vote_without_phase_1_is_not_safe() {
        let s0 = voting(
            &[(0, b(1, 0)), (1, b(1, 0))],
            &[(0, b(1, 0), 'A'), (1, b(1, 0), 'A')],
        );
        // Acceptor 2 votes B at a higher ballot that no quorum promised.
        let mut s1 = s0.clone();
        s1.add_vote(Id::from(2), b(2, 1), 'B');
        s1.set_max_bal(Id::from(2), b(2, 1));
        let err = check_step(3, &s0, &s1, &[]).expect_err("unsafe vote");
        assert!(err.action.starts_with("VoteFor"), "{err}");
        assert!(err.reason.contains("ShowsSafeAt"), "{err}");
    }

    // Reference: P1a as Voting states it: maxBal[a] <= b to vote, and maxBal never falls.
    #[test]
    fn a_vote_below_max_bal_and_a_forgotten_promise_are_not_voting_steps() {
        let s0 = voting(&[(0, b(2, 1))], &[]);
        let s1 = voting(&[(0, b(2, 1))], &[(0, b(1, 0), 'A')]);
        let err = check_step(3, &s0, &s1, &[]).expect_err("vote below maxBal");
        assert!(err.reason.contains("maxBal"), "{err}");
        let forgot = voting(&[(0, b(1, 1))], &[]);
        let err = check_step(3, &s0, &forgot, &[]).expect_err("maxBal falls");
        assert!(err.action.contains("falling"), "{err}");
    }

    // Reference: Voting.tla's ShowsSafeAt: the highest vote below b among a quorum that
    // promised b names the value; a lower vote for another value does not.
    #[test]
    fn only_the_highest_vote_a_promised_quorum_shows_is_safe() {
        let s0 = voting(
            &[(0, b(3, 0)), (1, b(3, 0))],
            &[(0, b(1, 0), 'A'), (1, b(2, 1), 'B')],
        );
        let vote = |v| {
            let mut s1 = s0.clone();
            s1.add_vote(Id::from(2), b(3, 0), v);
            s1.set_max_bal(Id::from(2), b(3, 0));
            check_step(3, &s0, &s1, &[])
        };
        assert_eq!(
            vote('B'),
            Ok(vec![Action::VoteFor(Id::from(2), b(3, 0), 'B')])
        );
        let err = vote('A').expect_err("A is below the quorum's highest vote");
        assert!(err.reason.contains("ShowsSafeAt"), "{err}");
    }

    // Reference: P1a, and Voting's `maxBal[a] ≤ b`, judged event by event: a node that
    // promises (3, 1) and then, in the same step, accepts (2, 0) breaks it, though the state
    // after the step is also what accepting first and promising after would leave.
    #[test]
    fn a_vote_after_a_higher_promise_in_the_same_step_is_not_a_voting_step() {
        let s0 = voting(&[(0, b(2, 0)), (1, b(2, 0))], &[]);
        let s1 = voting(&[(0, b(3, 1)), (1, b(2, 0))], &[(0, b(2, 0), 'A')]);
        let (a, vote) = (Id::from(0), Event::Vote(Id::from(0), b(2, 0), 'A'));
        let accept_then_promise = [vote.clone(), Event::Promise(a, b(3, 1))];
        assert!(check_step(3, &s0, &s1, &accept_then_promise).is_ok());
        assert!(
            check_step(3, &s0, &s1, &[]).is_ok(),
            "the state alone cannot tell"
        );
        let promise_then_accept = [Event::Promise(a, b(3, 1)), vote];
        let err = check_step(3, &s0, &s1, &promise_then_accept).expect_err("P1a");
        assert!(err.reason.contains("maxBal"), "{err}");
    }

    #[test]
    fn the_order_matters_unless_one_vote_at_the_held_promise() {
        let (one, two) = (b(1, 0), b(2, 0));
        assert!(!order_matters(one, one, [].into_iter()));
        assert!(!order_matters(one, one, [one].into_iter()));
        assert!(order_matters(one, two, [one].into_iter()));
        assert!(order_matters(one, two, [two].into_iter()));
        assert!(order_matters(two, two, [one, two].into_iter()));
    }

    #[test]
    fn two_values_at_one_ballot_and_two_chosen_values_are_caught() {
        let s0 = voting(&[(0, b(1, 0)), (1, b(1, 0))], &[(0, b(1, 0), 'A')]);
        let s1 = voting(
            &[(0, b(1, 0)), (1, b(1, 0))],
            &[(0, b(1, 0), 'A'), (1, b(1, 0), 'B')],
        );
        let err = check_step(3, &s0, &s1, &[]).expect_err("two values at one ballot");
        assert!(err.reason.contains("another value"), "{err}");
        assert!(s1.one_value_per_ballot().is_err());
        // Two majorities at two ballots: Consensus refuses the second value.
        let one = voting(&[], &[(0, b(1, 0), 'A'), (1, b(1, 0), 'A')]);
        let two = voting(
            &[],
            &[
                (0, b(1, 0), 'A'),
                (1, b(1, 0), 'A'),
                (1, b(2, 1), 'B'),
                (2, b(2, 1), 'B'),
            ],
        );
        assert_eq!(
            check_consensus_step(3, &voting(&[], &[]), &one, |_| true),
            Ok(())
        );
        let err = check_consensus_step(3, &one, &two, |_| true).expect_err("a second chosen value");
        assert!(err.action.starts_with("Consensus"), "{err}");
    }

    // Reference: §2.1, "Only a value that has been proposed may be chosen".
    #[test]
    fn choosing_a_value_never_proposed_is_not_a_consensus_step() {
        let one = voting(&[], &[(0, b(1, 0), '?'), (1, b(1, 0), '?')]);
        let err = check_consensus_step(3, &voting(&[], &[]), &one, |v| *v != '?')
            .expect_err("an invented value");
        assert_eq!(err.action, "Choose('?')");
    }
}
