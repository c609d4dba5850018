//! What both model harnesses share: the network settings and the wrapper plumbing that
//! keeps a protocol actor's ghost record beside its state.
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Command, Network, Out};

/// Message delivery semantics, as stateright's [`Network`] offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkKind {
    Ordered,
    UnorderedDuplicating,
    UnorderedNonduplicating,
}

impl NetworkKind {
    pub fn network<M: Eq + std::hash::Hash + Clone>(self) -> Network<M> {
        match self {
            NetworkKind::Ordered => Network::new_ordered([]),
            NetworkKind::UnorderedDuplicating => Network::new_unordered_duplicating([]),
            NetworkKind::UnorderedNonduplicating => Network::new_unordered_nonduplicating([]),
        }
    }
}

/// Forwards the commands of a wrapped protocol actor to its model wrapper, except saves: the
/// last one, if any, is returned for the wrapper to save together with the node's trail.
/// Shared by the single-decree and Multi-Paxos harnesses.
pub fn forward_except_saves<A, W>(out: Out<A>, o: &mut Out<W>) -> Option<A::Storage>
where
    A: Actor<Random = ()>,
    W: Actor<Msg = A::Msg, Timer = A::Timer>,
{
    let mut saved = None;
    for command in out {
        match command {
            Command::Save(storage) => saved = Some(storage),
            Command::Send(dst, msg) => o.send(dst, msg),
            Command::SetTimer(timer, duration) => o.set_timer(timer, duration),
            Command::CancelTimer(timer) => o.cancel_timer(timer),
            Command::ChooseRandom(..) => unreachable!("the protocols make no random choices"),
        }
    }
    saved
}
