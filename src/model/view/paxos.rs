//! The Explorer's view of a single-decree state: one row per server (promised, accepted,
//! learned, the proposer's ballot and phase, the quorum reads under way), the clients, and
//! the ghost summary: every acceptance, the chosen proposals with the acceptors that chose
//! them, the issued proposals.
use super::{ballot, ids, name, or_none, yes_no, Page, Readable};
use crate::model::harness::{Actors, ModelState};
use crate::model::node::{protocol_actors, NodeState};
use crate::model::paxos::PaxosHarness;
use crate::protocol::paxos::{PaxosState, Phase, Proposal, Value};
use crate::protocol::sorted::SortedSet;
use itertools::Itertools;
use stateright::actor::Id;
use std::collections::{BTreeMap, BTreeSet};

type Model = Actors<PaxosHarness>;
type State = ModelState<PaxosHarness>;

impl Readable for PaxosHarness {
    fn tables(model: &Model, state: &State, page: &mut Page) {
        let rows: Vec<Vec<String>> = protocol_actors(state)
            .map(|(id, node)| {
                let mut who = name(model, id);
                if state.crashed[usize::from(id)] {
                    who.push_str(" (down)");
                }
                let s = &node.state;
                let acceptor = s.acceptor.as_ref();
                vec![
                    who,
                    acceptor.map_or("-".to_owned(), |a| ballot(a.promised)),
                    acceptor
                        .and_then(|a| a.accepted)
                        .map_or("-".to_owned(), |p| format!("{p:?}")),
                    s.learner
                        .as_ref()
                        .and_then(|l| l.learned)
                        .map_or("-".to_owned(), |v| format!("{v:?}")),
                    proposer(s),
                    reads(model, s),
                ]
            })
            .collect();
        page.line("servers:".to_owned());
        page.table(
            &["", "promised", "accepted", "learned", "proposer", "reads"],
            &rows,
        );
        page.blank();
        page.line("clients:".to_owned());
        for (i, actor_state) in state.actor_states.iter().enumerate() {
            if let NodeState::Client(client) = &***actor_state {
                let doing = match client.awaiting {
                    Some(1) => "waits for its put".to_owned(),
                    Some(2) => "waits for its get".to_owned(),
                    Some(other) => format!("waits for request {other}"),
                    None => "done".to_owned(),
                };
                page.line(format!("  {}: {doing}", name(model, Id::from(i))));
            }
        }
        page.blank();
        ghost(model, state, page);
    }

    fn why_violated(property: &str, model: &Model, state: &State) -> Option<String> {
        let acceptances = acceptances(state);
        let majority = model.cfg.majority();
        let chosen = chosen(&acceptances, majority);
        let chosen_values: SortedSet<Value> = chosen.keys().map(|p| p.value).collect();
        let by = |p: &Proposal| format!("{p:?} (accepted by {})", ids(&acceptances[p]));
        Some(match property {
            "agreement" => {
                let two = chosen
                    .keys()
                    .tuple_combinations()
                    .find(|(a, b)| a.value != b.value)?;
                format!(
                    "two different values are chosen: {} and {}, each by a majority of {majority}",
                    by(two.0),
                    by(two.1)
                )
            }
            "validity" => {
                let proposed = &state.history.proposed;
                let value = chosen_values.difference(proposed).next()?;
                format!(
                    "{value:?} is chosen but no client proposed it (proposed: {})",
                    values(proposed)
                )
            }
            "P1a" => {
                let (id, node) =
                    protocol_actors(state).find(|(_, n)| n.trail.p1a_broken.is_some())?;
                format!(
                    "{} accepted {:?} after promising a higher number (its highest promise: {})",
                    name(model, id),
                    node.trail.p1a_broken?,
                    ballot(node.trail.promised)
                )
            }
            "P2c" => {
                let (id, p) = issued(state)
                    .into_iter()
                    .find(|(_, p)| !p2c_holds(&acceptances, *p, &model.cfg.acceptors, majority))?;
                format!(
                    "{} issued {p:?}, but every majority accepted a proposal below {} whose \
                     highest has another value (acceptances: {})",
                    name(model, id),
                    ballot(p.ballot),
                    all_acceptances(&acceptances)
                )
            }
            "P2b" => {
                let issued = issued(state);
                let (c, (id, p)) = chosen
                    .keys()
                    .cartesian_product(&issued)
                    .find(|(c, (_, p))| p.ballot > c.ballot && p.value != c.value)?;
                format!(
                    "{} is chosen, yet {} issued {p:?}, numbered higher with another value",
                    by(c),
                    name(model, *id)
                )
            }
            "learners agree" => {
                let learned: Vec<String> = protocol_actors(state)
                    .filter_map(|(id, n)| {
                        let v = n.state.learner.as_ref()?.learned?;
                        Some(format!("{} learned {v:?}", name(model, id)))
                    })
                    .collect();
                format!("{}; chosen: {}", learned.join(", "), values(&chosen_values))
            }
            "reads only chosen" => {
                let value = state.history.read.difference(&chosen_values).next()?;
                let held: Vec<String> = acceptances
                    .iter()
                    .filter(|(p, _)| p.value == *value)
                    .map(|(p, a)| format!("{p:?} by {}", ids(a)))
                    .collect();
                format!(
                    "a read reported {value:?}, which is not chosen: no single proposal of it \
                     has a majority of {majority} (accepted: {})",
                    held.join("; ")
                )
            }
            "linearizable" => "the clients' calls and returns have no order a write-once \
                               register could have produced"
                .to_owned(),
            _ => return None,
        })
    }
}

/// The ghost summary: acceptances, chosen proposals, issued proposals, clients' values.
fn ghost(model: &Model, state: &State, page: &mut Page) {
    let acceptances = acceptances(state);
    let majority = model.cfg.majority();
    let chosen = chosen(&acceptances, majority);
    page.line(format!(
        "ghost (a majority is {majority} of {} acceptors):",
        model.cfg.acceptors.len()
    ));
    let chosen: Vec<String> = chosen
        .iter()
        .map(|(p, by)| format!("{p:?} by {}", ids(*by)))
        .collect();
    page.line(format!("  chosen: {}", or_none(chosen.join("; "))));
    page.line(format!(
        "  accepted (ever): {}",
        or_none(all_acceptances(&acceptances))
    ));
    let issued: Vec<String> = issued(state)
        .iter()
        .map(|(id, p)| format!("{p:?} by {}", name(model, *id)))
        .collect();
    page.line(format!("  issued: {}", or_none(issued.join("; "))));
    page.line(format!(
        "  proposed by clients: {}; reported to reads: {}; history linearizable: {}",
        values(&state.history.proposed),
        values(&state.history.read),
        yes_no(state.history.calls.linearizable)
    ));
}

/// The proposer's ballot and phase, and the clients it answers.
fn proposer(s: &PaxosState) -> String {
    let Some(p) = &s.proposer else {
        return "-".to_owned();
    };
    let phase = match &p.phase {
        Phase::Idle => "idle".to_owned(),
        Phase::Preparing { promises } => {
            format!(
                "{} preparing, promises from [{}]",
                ballot(p.ballot),
                ids(promises.keys())
            )
        }
        Phase::Accepting { value } => format!("{} accepting {value:?}", ballot(p.ballot)),
        Phase::Done => "done".to_owned(),
    };
    if p.waiting.is_empty() {
        phase
    } else {
        let waiting = p
            .waiting
            .iter()
            .map(|(c, _, v)| format!("{} ({v:?})", usize::from(*c)));
        format!("{phase}, for client {}", waiting.format(", "))
    }
}

/// The quorum reads a server runs: for whom, and each acceptor's report.
fn reads(model: &Model, s: &PaxosState) -> String {
    let reads = s.reads.iter().map(|((client, _), reports)| {
        let reports = reports.iter().map(|(a, p)| match p {
            Some(p) => format!("{} {p:?}", usize::from(*a)),
            None => format!("{} none", usize::from(*a)),
        });
        format!("for {}: [{}]", name(model, *client), reports.format(", "))
    });
    let reads = reads.format("; ").to_string();
    if reads.is_empty() {
        "-".to_owned()
    } else {
        reads
    }
}

/// Every acceptance that ever happened: each proposal with the acceptors that accepted it.
fn acceptances(state: &State) -> BTreeMap<Proposal, BTreeSet<Id>> {
    let mut all: BTreeMap<Proposal, BTreeSet<Id>> = BTreeMap::new();
    for (id, node) in protocol_actors(state) {
        for p in &node.trail.accepted {
            all.entry(*p).or_default().insert(id);
        }
    }
    all
}

/// The proposals a majority accepted, with their acceptors.
fn chosen(
    acceptances: &BTreeMap<Proposal, BTreeSet<Id>>,
    majority: usize,
) -> BTreeMap<Proposal, &BTreeSet<Id>> {
    acceptances
        .iter()
        .filter(|(_, by)| by.len() >= majority)
        .map(|(p, by)| (*p, by))
        .collect()
}

/// Every issued proposal, with its proposer.
fn issued(state: &State) -> BTreeSet<(Id, Proposal)> {
    protocol_actors(state)
        .flat_map(|(id, node)| node.trail.issued.iter().map(move |p| (id, *p)))
        .collect()
}

/// P2c for `proposal`, as the model's property states it.
fn p2c_holds(
    acceptances: &BTreeMap<Proposal, BTreeSet<Id>>,
    proposal: Proposal,
    acceptors: &[Id],
    majority: usize,
) -> bool {
    acceptors.iter().combinations(majority).any(|s| {
        let highest = acceptances
            .iter()
            .filter(|(p, by)| p.ballot < proposal.ballot && s.iter().any(|a| by.contains(a)))
            .map(|(p, _)| p)
            .max_by_key(|p| p.ballot);
        highest.is_none_or(|p| p.value == proposal.value)
    })
}

fn all_acceptances(acceptances: &BTreeMap<Proposal, BTreeSet<Id>>) -> String {
    acceptances
        .iter()
        .map(|(p, by)| format!("{p:?} by {}", ids(by)))
        .join("; ")
}

fn values(values: &SortedSet<Value>) -> String {
    or_none(values.iter().map(|v| format!("{v:?}")).join(", "))
}
