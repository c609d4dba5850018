//! The network of a model as the harnesses handle it: the kinds of network a model file
//! names, and the operations on stateright's `Network` that it lacks (walking every message
//! once, removing, sending and taking a delivered message as its own steps do).
use serde::{Deserialize, Serialize};
use stateright::actor::{Envelope, Network};
use std::fmt::{self, Debug};
use std::hash::Hash;

/// Message delivery semantics, as stateright's [`Network`] offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkKind {
    /// Each channel delivers in order, without loss or duplication.
    Ordered,
    /// Any message in flight may arrive next, and again later.
    UnorderedDuplicating,
    /// Any message in flight may arrive next, once.
    UnorderedNonduplicating,
}

impl NetworkKind {
    /// An empty network of this kind.
    pub fn network<M: Eq + Hash + Clone>(self) -> Network<M> {
        match self {
            NetworkKind::Ordered => Network::new_ordered([]),
            NetworkKind::UnorderedDuplicating => Network::new_unordered_duplicating([]),
            NetworkKind::UnorderedNonduplicating => Network::new_unordered_nonduplicating([]),
        }
    }
}

/// As a model's one-line summary says it.
impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Ordered => "ordered",
            NetworkKind::UnorderedDuplicating => "unordered duplicating",
            NetworkKind::UnorderedNonduplicating => "unordered non-duplicating",
        })
    }
}

/// Every message in `network`. stateright 0.31's `Network::iter_all` never ends on an ordered
/// network (its cursor does not advance past a channel's first message): those channels are
/// walked here, each message once. Elsewhere it is `iter_all`, which on an unordered
/// non-duplicating network yields a message held `n > 1` times `n + 1` times (kept as it is:
/// `copies_bounded` in the Multi-Paxos model, and the liveness model's pin, count that way;
/// spec/multi-paxos.md, "What the model shows").
pub(crate) fn envelopes<M: Eq + Hash>(network: &Network<M>) -> impl Iterator<Item = Envelope<&M>> {
    match network {
        Network::Ordered(channels) => {
            itertools::Either::Left(channels.iter().flat_map(|(&(src, dst), msgs)| {
                msgs.iter().map(move |msg| Envelope { src, dst, msg })
            }))
        }
        network => itertools::Either::Right(network.iter_all()),
    }
}

/// `env` with its message borrowed.
fn borrowed<M>(env: &Envelope<M>) -> Envelope<&M> {
    Envelope {
        src: env.src,
        dst: env.dst,
        msg: &env.msg,
    }
}

/// Removes from `network` every message that `gone` picks, each copy of it.
pub(crate) fn remove<M: Eq + Hash>(
    network: &mut Network<M>,
    mut gone: impl FnMut(Envelope<&M>) -> bool,
) {
    match network {
        Network::UnorderedDuplicating(set, _) => set.retain(|env| !gone(borrowed(env))),
        Network::UnorderedNonDuplicating(bag) => bag.retain(|env, _| !gone(borrowed(env))),
        Network::Ordered(flows) => flows.retain(|(src, dst), flow| {
            flow.retain(|msg| {
                !gone(Envelope {
                    src: *src,
                    dst: *dst,
                    msg,
                })
            });
            !flow.is_empty()
        }),
    }
}

/// Puts `env` on `network`, as stateright's own send does.
pub(super) fn send<M: Eq + Hash>(network: &mut Network<M>, env: Envelope<M>) {
    match network {
        Network::UnorderedDuplicating(set, _) => {
            set.insert(env);
        }
        Network::UnorderedNonDuplicating(bag) => *bag.entry(env).or_insert(0) += 1,
        Network::Ordered(flows) => flows
            .entry((env.src, env.dst))
            .or_default()
            .push_back(env.msg),
    }
}

/// Takes `env`, delivered, off `network`, as stateright's own delivery does.
pub(super) fn take_delivered<M: Clone + Eq + Hash>(network: &mut Network<M>, env: Envelope<&M>) {
    let owned = Envelope {
        src: env.src,
        dst: env.dst,
        msg: env.msg.clone(),
    };
    match network {
        // A duplicating network keeps the message, and remembers the last one delivered.
        Network::UnorderedDuplicating(_, last) => *last = Some(owned),
        Network::UnorderedNonDuplicating(bag) => {
            if let Some(count) = bag.get_mut(&owned) {
                *count -= 1;
                if *count == 0 {
                    bag.remove(&owned);
                }
            }
        }
        Network::Ordered(flows) => {
            if let Some(flow) = flows.get_mut(&(env.src, env.dst)) {
                if let Some(at) = flow.iter().position(|m| m == env.msg) {
                    flow.remove(at);
                }
                if flow.is_empty() {
                    flows.remove(&(env.src, env.dst));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::actor::Id;

    // stateright's `Network::iter_all` repeats a channel's first message for ever on an ordered
    // network; `envelopes` walks every message of every channel once, in channel order.
    #[test]
    fn envelopes_walks_every_message_of_an_ordered_network_once() {
        let (a, b) = (Id::from(0), Id::from(1));
        let sent = [(a, b, 'x'), (a, b, 'y'), (a, b, 'x'), (b, a, 'z')];
        let network = Network::new_ordered(sent.map(|(src, dst, msg)| Envelope { src, dst, msg }));
        let walked: Vec<(Id, Id, char)> = envelopes(&network)
            .map(|e| (e.src, e.dst, *e.msg))
            .collect();
        assert_eq!(walked, sent);
    }
}
