//! The Explorer's view of a Multi-Paxos state: one row per server (its role and ballot, its
//! promise, its log slot by slot, in its snapshot, chosen or accepted, the applied prefix and
//! the store), the
//! clients, and the ghost summary: the chosen proposals per slot with the acceptors that chose
//! them, the issued proposals.
use super::{ballot, ids, name, or_none, yes_no, Page, Readable};
use crate::model::harness::{Actors, ModelState};
use crate::model::multi_paxos::{applied_prefix_consistent, run_twice, MultiPaxosHarness};
use crate::model::node::{protocol_actors, Node, NodeState};
use crate::protocol::multi_paxos::{
    ClientCommand, Command, KvOp, MultiPaxosState, Proposal, Role, Slot, StateMachine,
};
use itertools::Itertools;
use stateright::actor::Id;
use std::collections::{BTreeMap, BTreeSet};

type Model = Actors<MultiPaxosHarness>;
type State = ModelState<MultiPaxosHarness>;

/// Every acceptance that ever happened: per slot and proposal, the acceptors.
type Acceptances<'a> = BTreeMap<(Slot, &'a Proposal), BTreeSet<Id>>;

impl Readable for MultiPaxosHarness {
    fn tables(model: &Model, state: &State, page: &mut Page) {
        let slots = model.cfg.config.slots;
        let rows: Vec<Vec<String>> = protocol_actors(state)
            .map(|(id, node)| {
                let mut who = name(model, id);
                if state.crashed[usize::from(id)] {
                    who.push_str(" (down)");
                }
                let s = &node.state;
                vec![
                    who,
                    role(s),
                    ballot(s.acceptor.promised),
                    log(s, slots),
                    applied(s),
                    store(s),
                ]
            })
            .collect();
        page.line(format!(
            "servers (log: slot=S in the snapshot, slot=C command chosen, slot=a(ballot) command \
             accepted, slot=. empty; \
             {slots} slots):"
        ));
        page.table(&["", "role", "promised", "log", "applied", "store"], &rows);
        page.blank();
        page.line("clients:".to_owned());
        for (i, actor_state) in state.actor_states.iter().enumerate() {
            let (NodeState::Client(c), Some(Node::Client(client))) =
                (&***actor_state, model.actors.get(i))
            else {
                continue;
            };
            let doing = match client.ops.get(c.next) {
                Some(op) => format!(
                    "waits for request {} ({}), last sent to {}, {} retries left",
                    c.next + 1,
                    kv_op(op),
                    name(model, c.server),
                    c.retries_left
                ),
                None => "done".to_owned(),
            };
            page.line(format!("  {}: {doing}", name(model, Id::from(i))));
        }
        page.blank();
        ghost(model, state, page);
    }

    fn why_violated(property: &str, model: &Model, state: &State) -> Option<String> {
        let acceptances = acceptances(state);
        let majority = model.cfg.majority();
        let chosen = chosen(&acceptances, majority);
        let by = |slot: Slot, p: &Proposal| {
            format!(
                "{} (accepted by {})",
                proposal(p),
                ids(&acceptances[&(slot, p)])
            )
        };
        Some(match property {
            "slot agreement" => {
                let ((slot, a), (_, b)) = chosen
                    .keys()
                    .tuple_combinations()
                    .find(|((s, a), (t, b))| s == t && a.command != b.command)?;
                format!(
                    "slot {slot} has two different chosen commands: {} and {}, each by a \
                     majority of {majority}",
                    by(*slot, a),
                    by(*slot, b)
                )
            }
            "P2c" => {
                let (id, slot, p) = issued(state).into_iter().find(|(_, slot, p)| {
                    !p2c_holds(&acceptances, *slot, p, &model.cfg.acceptors, majority)
                })?;
                let below: Vec<String> = acceptances
                    .iter()
                    .filter(|((s, q), _)| *s == slot && q.ballot < p.ballot)
                    .map(|((_, q), a)| format!("{} by {}", proposal(q), ids(a)))
                    .collect();
                format!(
                    "{} issued {} in slot {slot}, but every majority's highest acceptance \
                     below it there has another command (accepted in slot {slot}: {})",
                    name(model, id),
                    proposal(p),
                    below.join("; ")
                )
            }
            "log consistency" => {
                // A replica's entry whose slot is not its position's (`base + i`), or whose
                // command is not chosen there; or a snapshot that is not the chosen prefix.
                let chosen_by_slot = chosen_by_slot(&chosen);
                let dedup = model.cfg.config.variant.at_most_once();
                let (id, node) = protocol_actors(state)
                    .find(|(_, n)| !applied_prefix_consistent(&n.state, &chosen_by_slot, dedup))?;
                let replica = &node.state.replica;
                let base = replica.base;
                let wrong = replica.log.iter().enumerate().find(|(i, a)| {
                    a.slot != base + *i as Slot
                        || !(chosen_by_slot.get(&a.slot)).is_some_and(|c| c.contains(&a.command))
                });
                match wrong {
                    Some((i, a)) => {
                        let at = base + i as Slot;
                        let there = chosen_in(&chosen, at);
                        format!(
                            "{} applied {} (slot {}) as the entry of slot {at}, where {there} is \
                             chosen",
                            name(model, id),
                            command(&a.command),
                            a.slot
                        )
                    }
                    None => format!(
                        "{} keeps a snapshot of the slots below {base} (taken at slot {}) whose \
                         store {} is not the one the commands chosen there make",
                        name(model, id),
                        node.state.acceptor.snapshot.upto,
                        machine_store(&node.state.acceptor.snapshot.machine),
                    ),
                }
            }
            "validity" => {
                let ((slot, p), _) = chosen.iter().find(|((_, p), _)| {
                    let submitted = &state.history.submitted;
                    p.command.clients().iter().any(|cc| !submitted.contains(cc))
                })?;
                format!(
                    "{} is chosen in slot {slot}, but no client submitted it",
                    by(*slot, p)
                )
            }
            "at most once" => {
                let (id, twice) = protocol_actors(state).find_map(|(id, n)| {
                    let snapshot = &n.state.acceptor.snapshot.machine;
                    let twice = run_twice(&n.state.replica, snapshot).into_iter().next()?;
                    Some((id, twice))
                })?;
                format!(
                    "{} ran {} on its store twice (in its log twice, or in its log after a \
                     snapshot whose at-most-once table had run it)",
                    name(model, id),
                    client_command(&twice)
                )
            }
            "linearizable" => "the clients' calls and returns have no order a single key-value \
                               store could have produced"
                .to_owned(),
            _ => return None,
        })
    }
}

/// The ghost summary: chosen proposals per slot, issued proposals, submitted commands.
fn ghost(model: &Model, state: &State, page: &mut Page) {
    let acceptances = acceptances(state);
    let majority = model.cfg.majority();
    page.line(format!(
        "ghost (a majority is {majority} of {} acceptors):",
        model.cfg.acceptors.len()
    ));
    let chosen: Vec<String> = chosen(&acceptances, majority)
        .iter()
        .map(|((slot, p), by)| format!("slot {slot}: {} by {}", proposal(p), ids(*by)))
        .collect();
    page.line(format!("  chosen: {}", or_none(chosen.join("; "))));
    let accepted: Vec<String> = acceptances
        .iter()
        .map(|((slot, p), by)| format!("slot {slot}: {} by {}", proposal(p), ids(by)))
        .collect();
    page.line(format!(
        "  accepted (ever): {}",
        or_none(accepted.join("; "))
    ));
    let issued: Vec<String> = issued(state)
        .iter()
        .map(|(id, slot, p)| format!("slot {slot}: {} by {}", proposal(p), name(model, *id)))
        .collect();
    page.line(format!("  issued: {}", or_none(issued.join("; "))));
    let submitted = state
        .history
        .submitted
        .iter()
        .map(client_command)
        .join(", ");
    page.line(format!(
        "  submitted by clients: {}; history linearizable: {}",
        or_none(submitted),
        yes_no(state.history.calls.linearizable)
    ));
}

/// The server's role and ballot: follower, candidate (with the promises so far) or leader
/// (with its next slot and the proposals it has in flight).
fn role(s: &MultiPaxosState) -> String {
    let b = ballot(s.proposer.ballot);
    let mut role = match &s.proposer.role {
        Role::Follower => format!("follower {b}"),
        Role::Candidate { from, promises, .. } => format!(
            "candidate {b} from slot {from}, promises from [{}]",
            ids(promises.keys())
        ),
        Role::Leader {
            next_slot,
            in_flight,
            awaited,
        } => {
            let in_flight = in_flight
                .iter()
                .map(|(slot, (_, by))| format!("{slot} by [{}]", ids(by)))
                .join(", ");
            let mut leader = format!("LEADER {b}, next slot {next_slot}");
            if !in_flight.is_empty() {
                leader += &format!(", in flight {in_flight}");
            }
            if !awaited.is_empty() {
                leader += &format!(", holding for [{}]", ids(awaited));
            }
            leader
        }
    };
    if !s.proposer.queue.is_empty() {
        role.push_str(&format!(", {} queued", s.proposer.queue.len()));
    }
    role
}

/// The log, slot by slot: in the snapshot (truncated), chosen (as the replica knows it),
/// accepted, or empty.
fn log(s: &MultiPaxosState, slots: Slot) -> String {
    (0..slots)
        .map(|slot| {
            if slot < s.replica.base {
                format!("{slot}=S")
            } else if let Some(c) = s.replica.chosen.get(&slot) {
                format!("{slot}=C {}", command(c))
            } else if let Some(p) = s.acceptor.accepted.get(&slot) {
                format!("{slot}=a{:?} {}", p.ballot, command(&p.command))
            } else {
                format!("{slot}=.")
            }
        })
        .join(" | ")
}

/// The applied prefix: the slots, with those below the snapshot (`base`) said so, or the
/// slots themselves where they are no prefix.
fn applied(s: &MultiPaxosState) -> String {
    let (log, base) = (&s.replica.log, s.replica.base);
    let snapshot = if base > 0 {
        format!(" (0..{base} in snapshot)")
    } else {
        String::new()
    };
    if log.is_empty() && base == 0 {
        return "-".to_owned();
    }
    if log
        .iter()
        .enumerate()
        .all(|(i, a)| a.slot == base + i as Slot)
    {
        format!("0..{}{snapshot}", s.replica.applied())
    } else {
        format!("slots {}{snapshot}", log.iter().map(|a| a.slot).join(", "))
    }
}

fn store(s: &MultiPaxosState) -> String {
    machine_store(&s.replica.machine)
}

fn machine_store(machine: &StateMachine) -> String {
    let data = &machine.kv.data;
    or_none(data.iter().map(|(k, v)| format!("{k}={v:?}")).join(", "))
}

/// The chosen commands of each slot, as the model's properties take them.
fn chosen_by_slot<'a>(
    chosen: &BTreeMap<(Slot, &'a Proposal), &BTreeSet<Id>>,
) -> BTreeMap<Slot, BTreeSet<&'a Command>> {
    let mut by_slot: BTreeMap<Slot, BTreeSet<&Command>> = BTreeMap::new();
    for (slot, p) in chosen.keys() {
        by_slot.entry(*slot).or_default().insert(&p.command);
    }
    by_slot
}

/// What is chosen in `slot`: its commands, or "nothing".
fn chosen_in(chosen: &BTreeMap<(Slot, &Proposal), &BTreeSet<Id>>, slot: Slot) -> String {
    let there = (chosen.keys())
        .filter(|(s, _)| *s == slot)
        .map(|(_, p)| command(&p.command))
        .join(" and ");
    if there.is_empty() {
        "nothing".to_owned()
    } else {
        there
    }
}

fn proposal(p: &Proposal) -> String {
    format!("{:?} {}", p.ballot, command(&p.command))
}

/// A command, short: `noop`, or the client's operation with its request (`c3#1 put x=A`); a
/// batch of several, bracketed (`[c3#1 put x=A, c4#1 append x+B]`).
fn command(c: &Command) -> String {
    match c.clients() {
        [] => "noop".to_owned(),
        [cc] => client_command(cc),
        batch => format!("[{}]", batch.iter().map(client_command).join(", ")),
    }
}

fn client_command(cc: &ClientCommand) -> String {
    format!(
        "c{}#{} {}",
        usize::from(cc.client),
        cc.request,
        kv_op(&cc.op)
    )
}

fn kv_op(op: &KvOp) -> String {
    match op {
        KvOp::Put { key, value } => format!("put {key}={value}"),
        KvOp::Get { key } => format!("get {key}"),
        KvOp::Append { key, value } => format!("append {key}+{value}"),
    }
}

fn acceptances(state: &State) -> Acceptances<'_> {
    let mut all: Acceptances = BTreeMap::new();
    for (id, node) in protocol_actors(state) {
        for (slot, p) in &node.trail.accepted {
            all.entry((*slot, p)).or_default().insert(id);
        }
    }
    all
}

fn chosen<'a, 'b>(
    acceptances: &'b Acceptances<'a>,
    majority: usize,
) -> BTreeMap<(Slot, &'a Proposal), &'b BTreeSet<Id>> {
    acceptances
        .iter()
        .filter(|(_, by)| by.len() >= majority)
        .map(|(k, by)| (*k, by))
        .collect()
}

fn issued(state: &State) -> BTreeSet<(Id, Slot, &Proposal)> {
    protocol_actors(state)
        .flat_map(|(id, node)| node.trail.issued.iter().map(move |(s, p)| (id, *s, p)))
        .collect()
}

/// P2c for `p` issued in `slot`, as the model's property states it.
fn p2c_holds(
    acceptances: &Acceptances,
    slot: Slot,
    p: &Proposal,
    acceptors: &[Id],
    majority: usize,
) -> bool {
    acceptors.iter().combinations(majority).any(|s| {
        let highest = acceptances
            .iter()
            .filter(|((at, q), by)| {
                *at == slot && q.ballot < p.ballot && s.iter().any(|a| by.contains(a))
            })
            .map(|((_, q), _)| *q)
            .max_by_key(|q| q.ballot);
        highest.is_none_or(|q| q.command == p.command)
    })
}
