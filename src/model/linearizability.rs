//! The linearizability checker of the clients' calls: the whole history in stateright's
//! `LinearizabilityTester`, or only the summary that decides every later verdict (the
//! linearizations still open: spec/reductions.md, `HistorySummary`).
use crate::protocol::sorted::SortedMap;
use stateright::actor::Id;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};
use std::fmt::Debug;
use std::hash::Hash;

/// The clients' calls and their returns, judged for linearizability against the sequential
/// specification `S`; `R` numbers a client's requests. Part of both models' history.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Calls<S, R>
where
    S: SequentialSpec,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    /// The request each client is waiting on, so that only the reply it consumes is recorded.
    pub awaiting: SortedMap<Id, R>,
    /// Whether the history was linearizable after its last return.
    pub linearizable: bool,
    /// What is kept of the history to judge the next returns.
    pub record: CallRecord<S>,
}

/// What [`Calls`] keeps of the history to judge linearizability.
#[derive(Clone, Debug, PartialEq, Hash)]
pub enum CallRecord<S>
where
    S: SequentialSpec,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    /// The whole history, in stateright's [`LinearizabilityTester`], which searches it for a
    /// linearization at each return. States that differ only in the order of past calls and
    /// returns stay apart.
    Full(LinearizabilityTester<Id, S>),
    /// Only what decides every later verdict ([`Linearizations`]): the
    /// [`Reduction::HistorySummary`](crate::model::check::Reduction) reduction.
    Summary(Linearizations<S>),
}

impl<S, R> Calls<S, R>
where
    S: SequentialSpec + Clone + Hash + PartialEq,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
    R: Eq,
{
    /// No calls yet, on an object that starts as `init`, judged on the summary.
    pub(crate) fn new(init: S) -> Self {
        Calls {
            awaiting: SortedMap::new(),
            linearizable: true,
            record: CallRecord::Summary(Linearizations::new(init)),
        }
    }

    /// Keeps the whole history instead of the summary (before any call).
    pub(crate) fn keep_full_history(&mut self) {
        let CallRecord::Summary(summary) = &self.record else {
            return;
        };
        assert!(
            self.awaiting.is_empty() && summary.pending.is_empty(),
            "the record is chosen before the first call"
        );
        let init = summary.ways[0].object.clone();
        self.record = CallRecord::Full(LinearizabilityTester::new(init));
    }

    /// Whether `client` is waiting on the reply to `request`: a client ignores any other
    /// reply (a duplicate or a stale one), so that only this one is a return.
    pub(crate) fn awaits(&self, client: Id, request: &R) -> bool {
        self.awaiting.get(&client) == Some(request)
    }

    /// Records that `client` called `op` with its request `request`.
    pub(crate) fn invoke(&mut self, client: Id, request: R, op: S::Op) {
        self.awaiting.insert(client, request);
        match &mut self.record {
            CallRecord::Full(tester) => {
                let _ = tester.on_invoke(client, op);
            }
            CallRecord::Summary(summary) => summary.invoke(client, op),
        }
    }

    /// Records that the call `client` awaits returned `ret`.
    pub(crate) fn ret(&mut self, client: Id, ret: S::Ret) {
        self.awaiting.remove(&client);
        // Only a return can make a history non-linearizable, and it stays so: judge it once
        // here.
        self.linearizable = match &mut self.record {
            CallRecord::Full(tester) => {
                let _ = tester.on_return(client, ret);
                tester.serialized_history().is_some()
            }
            CallRecord::Summary(summary) => summary.ret(client, &ret),
        };
    }
}

/// A history of calls summarised by the ways it can be linearized so far: Lowe's
/// "just-in-time" linearizability check (*Testing for linearizability*, 2017). A way is the
/// object's state after the calls that have taken effect, with the result of each pending
/// call that has already taken effect. Every pending call may take effect at any moment
/// before it returns, so the set of ways is kept closed under "one more pending call takes
/// effect"; a return keeps the ways in which the call took effect with the result returned.
/// The history is linearizable exactly when some way remains. Two histories with the same
/// pending calls and the same ways have the same verdict after any continuation, so the
/// order of past calls need not be kept (spec/reductions.md).
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Linearizations<S>
where
    S: SequentialSpec,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    /// The calls invoked and not yet returned, by client.
    pub pending: SortedMap<Id, S::Op>,
    /// The ways, each once, in a canonical order (by fingerprint) so that equal sets are equal.
    pub ways: Vec<Way<S>>,
}

/// One way a history can have been linearized: see [`Linearizations`].
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Way<S>
where
    S: SequentialSpec,
    S::Ret: Clone + Debug + Hash,
{
    /// The object after the calls that took effect.
    pub object: S,
    /// The result of each pending call that already took effect.
    pub took_effect: SortedMap<Id, S::Ret>,
}

impl<S> Linearizations<S>
where
    S: SequentialSpec + Clone + Hash + PartialEq,
    S::Op: Clone + Debug + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    fn new(init: S) -> Self {
        Linearizations {
            pending: SortedMap::new(),
            ways: vec![Way {
                object: init,
                took_effect: SortedMap::new(),
            }],
        }
    }

    /// `client` calls `op`: it may take effect from now on, in any way and after any of the
    /// other pending calls.
    fn invoke(&mut self, client: Id, op: S::Op) {
        self.pending.insert(client, op);
        let mut todo = std::mem::take(&mut self.ways);
        let mut closed: Vec<Way<S>> = Vec::new();
        while let Some(way) = todo.pop() {
            if closed.contains(&way) {
                continue;
            }
            for (client, op) in self.pending.iter() {
                if way.took_effect.contains_key(client) {
                    continue;
                }
                let mut next = way.clone();
                let ret = next.object.invoke(op);
                next.took_effect.insert(*client, ret);
                todo.push(next);
            }
            closed.push(way);
        }
        self.ways = canonical(closed);
    }

    /// `client`'s call returned `ret`: keeps the ways where it took effect with that result.
    /// Returns whether the history is still linearizable.
    fn ret(&mut self, client: Id, ret: &S::Ret) -> bool {
        self.pending.remove(&client);
        let ways = std::mem::take(&mut self.ways)
            .into_iter()
            .filter_map(|mut way| (way.took_effect.remove(&client)? == *ret).then_some(way))
            .collect::<Vec<_>>();
        self.ways = canonical(ways);
        !self.ways.is_empty()
    }
}

/// `ways` without repeats, ordered by fingerprint (equal fingerprints keep their order: at
/// worst two equal sets then differ in order, which keeps apart states that could be one).
fn canonical<S>(ways: Vec<Way<S>>) -> Vec<Way<S>>
where
    S: SequentialSpec + Hash + PartialEq,
    S::Ret: Clone + Debug + Hash,
{
    if ways.len() < 2 {
        return ways; // Already without repeats and in order.
    }
    let mut keyed: Vec<(u64, Way<S>)> = ways
        .into_iter()
        .map(|way| (super::hashed::hash_of(&way), way))
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    let mut out: Vec<Way<S>> = Vec::with_capacity(keyed.len());
    for (_, way) in keyed {
        if !out.contains(&way) {
            out.push(way);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::semantics::write_once_register::{WORegister, WORegisterOp, WORegisterRet};
    use std::collections::BTreeMap;

    type Register = WORegister<char>;

    /// A small deterministic generator (xorshift), so that a failure reproduces.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A random call on the write-once register.
    fn call(random: &mut Random) -> WORegisterOp<char> {
        match random.below(2) {
            0 => WORegisterOp::Write(['A', 'B', 'C'][random.below(3)]),
            _ => WORegisterOp::Read,
        }
    }

    /// An answer to `op`: usually the register's as if the call took effect now, sometimes
    /// another one.
    fn answer(
        random: &mut Random,
        register: &mut Register,
        op: &WORegisterOp<char>,
    ) -> WORegisterRet<char> {
        let right = register.invoke(op);
        if random.below(4) > 0 {
            return right;
        }
        match op {
            WORegisterOp::Write(_) if random.below(2) == 0 => WORegisterRet::WriteOk,
            WORegisterOp::Write(_) => WORegisterRet::WriteFail,
            WORegisterOp::Read => {
                WORegisterRet::ReadOk((random.below(3) > 0).then(|| ['A', 'B'][random.below(2)]))
            }
        }
    }

    // The summary (Lowe's just-in-time linearizations) must give stateright's verdict after
    // every return, on every history: thousands of random histories of three clients with two
    // calls each, interleaved at random, answered at random.
    #[test]
    fn the_history_summary_judges_as_the_whole_history() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let (mut linearizable, mut not) = (0, 0);
        for _ in 0..5000 {
            let mut summary = Calls::<Register, u8>::new(WORegister(None));
            let mut full = summary.clone();
            full.keep_full_history();
            let mut register = WORegister(None);
            let mut calls_left = [2u8; 3];
            let mut pending: BTreeMap<Id, WORegisterOp<char>> = BTreeMap::new();
            while calls_left.iter().any(|c| *c > 0) || !pending.is_empty() {
                let client = random.below(3);
                let id = Id::from(client);
                if let Some(op) = pending.remove(&id) {
                    let ret = answer(&mut random, &mut register, &op);
                    summary.ret(id, ret.clone());
                    full.ret(id, ret);
                    assert_eq!(summary.linearizable, full.linearizable, "{full:?}");
                } else if calls_left[client] > 0 {
                    calls_left[client] -= 1;
                    let op = call(&mut random);
                    summary.invoke(id, calls_left[client], op.clone());
                    full.invoke(id, calls_left[client], op.clone());
                    pending.insert(id, op);
                }
            }
            if full.linearizable {
                linearizable += 1;
            } else {
                not += 1;
            }
        }
        // Both verdicts were exercised, often.
        assert!(linearizable > 500 && not > 500, "{linearizable} {not}");
    }
}
