//! The guard: the actor `spawn` runs, wrapping a protocol actor. It decides what reaches the
//! inner actor (H2-H4, A1, F1, L1), binds client requests to their source (R1), seals what it
//! sends to peers (A1) and carries out the actor's commands in order, its saves made durable
//! before what depends on them (D1).
use crate::protocol::self_delivery::CommandOf;
use crate::runtime::auth::ClusterKey;
use crate::runtime::faults::Faults;
use crate::runtime::guard::codec::{decode_json, Wire};
use crate::runtime::guard::drops::{DropStats, Dropped};
use crate::runtime::guard::policy::{MsgKind, WireProtocol};
use crate::runtime::guard::stop::{Stop, Stopping};
use crate::runtime::trace::{Handled, Tracer};
use crate::runtime::wal::{Journal, Store};
use serde::de::DeserializeOwned;
use serde::Serialize;
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// L1: how long a preemption notice is held back, drawn at random by `spawn`'s timers.
pub const BACKOFF: Range<Duration> = Duration::from_millis(10)..Duration::from_millis(60);

/// The guard's timers: the actor's own, held-back messages (L1) and delayed copies (F1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GuardTimer<T, M> {
    /// A timer of the inner actor.
    Inner(T),
    /// L1: hand this message from this peer to the inner actor now.
    Deliver(Id, M),
    /// D1: the step before sent the messages its actor gave before its save, and saved
    /// nothing yet: save now, then carry out the rest ([`FLUSH_AFTER`]).
    Flush,
    /// F1 (tests only): send this copy of a datagram now; `copy` tells copies apart.
    Send {
        /// A number unique in the process.
        copy: u64,
        /// The peer it is for.
        dst: Id,
        /// The datagram, sealed if the cluster has a key.
        wire: Wire<M>,
    },
}

/// The runtime's wrapper around a protocol actor: filters what reaches it (H2, H3, A1), binds
/// client requests to their source (R1), seals what it sends to peers (A1) and writes its
/// storage durably (D1). State, timers and messages are the inner actor's own.
#[derive(Clone, Debug)]
pub struct Guard<A: Actor>
where
    A::Storage: Journal,
{
    /// The protocol actor, as the model checks it.
    pub inner: A,
    /// Every member of the cluster, this node included.
    pub peers: BTreeSet<Id>,
    /// D1: this node's storage on disk (`<data dir>/<address>.storage` and its log).
    pub store: Arc<Store<A::Storage>>,
    /// A1: the cluster key; without one, peers are known by source address only (H2).
    pub key: Option<ClusterKey>,
    /// F1: the test-only fault layer; `None` but in tests.
    pub faults: Option<Arc<Faults>>,
    /// T1, T2: where the events the actor handles are recorded (`--trace`); `None` by default.
    pub trace: Option<Arc<Tracer>>,
    /// D1: what the last step left to do after the messages that left before its save: the
    /// save, then the rest of its commands. Empty between steps but for that.
    pub deferred: Arc<Mutex<Deferred<A>>>,
    /// Why the node stops, once something stops it: a guard whose save failed stops the node
    /// here and handles nothing more; `node::serve` waits for it and returns it.
    pub stop: Arc<Stop>,
    /// H1-H4, A1, R1: what this guard dropped (or rebound), by kind; each count numbers the
    /// log lines of its kind.
    pub drops: Arc<DropStats>,
}

/// D1: the commands of a step from its first save on, when messages of the step left before
/// that save ([`Guard::deferred`]).
pub struct Deferred<A: Actor>(Vec<CommandOf<A>>);

impl<A: Actor> Default for Deferred<A> {
    fn default() -> Self {
        Deferred(Vec::new())
    }
}

impl<A: Actor> fmt::Debug for Deferred<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Deferred").field(&self.0.len()).finish()
    }
}

/// D1: how soon a step's deferred save runs (the [`GuardTimer::Flush`] timer): at once, once
/// `spawn` has sent the messages that leave before it. Not zero: `spawn` waits for a datagram
/// until the next timer, and a wait of zero is an error for a socket; any step that runs
/// first flushes too.
pub const FLUSH_AFTER: Duration = Duration::from_nanos(1);

impl<A> Guard<A>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Journal,
    A::Timer: Serialize,
{
    /// T2: records the step that handled `handled` and gave `out`, before any of it is carried
    /// out; then carries it out.
    fn record_and_forward(&self, id: Id, handled: Handled<'_, A>, out: Out<A>, o: &mut Out<Self>) {
        if let Some(trace) = &self.trace {
            trace.step(handled, &out, &self.store);
        }
        self.forward(id, out, o);
    }

    /// D1: carries out the inner actor's commands in the order it gave them, and decides
    /// nothing about it: the protocol gives first the messages that may leave before its save,
    /// then the save, then the rest ([`crate::protocol::self_delivery`]). `spawn` sends a step's
    /// messages once the step returns, so a save with no message before it is made at once,
    /// and a save after messages waits, with every command after it, for the
    /// [`GuardTimer::Flush`] timer (or for the next step, which flushes first).
    fn forward(&self, id: Id, out: Out<A>, o: &mut Out<Self>) {
        let mut sent = false;
        let mut commands = out.into_iter();
        while let Some(command) = commands.next() {
            match command {
                Command::Save(storage) if sent => {
                    let mut deferred = self.lock_deferred();
                    deferred.0.push(Command::Save(storage));
                    deferred.0.extend(commands);
                    o.set_timer(GuardTimer::Flush, FLUSH_AFTER..FLUSH_AFTER);
                    return;
                }
                Command::Save(storage) => {
                    if !self.save(id, &storage) {
                        return;
                    }
                }
                Command::Send(dst, msg) => {
                    self.send(id, dst, msg, o);
                    sent = true;
                }
                Command::SetTimer(timer, duration) => {
                    o.set_timer(GuardTimer::Inner(timer), duration)
                }
                Command::CancelTimer(timer) => o.cancel_timer(GuardTimer::Inner(timer)),
                Command::ChooseRandom(key, random) => o.choose_random(key, random),
            }
        }
    }

    /// D1: the commands a step deferred, from its save on; nothing when no step deferred
    /// anything. Every step runs it first, so that no step starts before the last one's
    /// storage is on disk.
    fn flush(&self, id: Id, o: &mut Out<Self>) {
        let Deferred(commands) = std::mem::take(&mut *self.lock_deferred());
        let mut out = Out::new();
        for command in commands {
            match command {
                Command::Save(storage) => out.save(storage),
                Command::Send(dst, msg) => out.send(dst, msg),
                Command::SetTimer(timer, duration) => out.set_timer(timer, duration),
                Command::CancelTimer(timer) => out.cancel_timer(timer),
                Command::ChooseRandom(key, random) => out.choose_random(key, random),
            }
        }
        self.forward(id, out, o);
    }

    fn lock_deferred(&self) -> std::sync::MutexGuard<'_, Deferred<A>> {
        self.deferred
            .lock()
            .expect("a node's steps never panic while they hold its deferred save")
    }

    /// A1: a message to a peer is sealed when the cluster has a key; F1: in tests, the fault
    /// layer decides what becomes of it.
    fn send(&self, id: Id, dst: Id, msg: A::Msg, o: &mut Out<Self>) {
        let to_peer = self.peers.contains(&dst);
        let wire = match &self.key {
            Some(key) if to_peer => match serde_json::to_vec(&msg) {
                Ok(body) => Wire::Sealed {
                    tag: key.tag(id, dst, &body),
                    body,
                },
                Err(e) => {
                    log::warn!("Unable to serialize. Ignoring. id={id}, dst={dst}, err={e}");
                    return;
                }
            },
            _ => Wire::Plain(msg),
        };
        match &self.faults {
            Some(faults) if to_peer => {
                for delay in faults.copies() {
                    match delay {
                        None => o.send(dst, wire.clone()),
                        Some(delay) => {
                            let copy = faults.copy_number();
                            let wire = wire.clone();
                            o.set_timer(GuardTimer::Send { copy, dst, wire }, delay);
                        }
                    }
                }
            }
            _ => o.send(dst, wire),
        }
    }

    /// A1: the message a datagram from `src` carries, if it may reach the actor: from a peer's
    /// address only a sealed one whose tag checks out when the cluster has a key; a sealed
    /// one only from a peer, and only with a key.
    fn open(&self, id: Id, src: Id, wire: Wire<A::Msg>) -> Option<A::Msg> {
        let from_peer = self.peers.contains(&src);
        match (wire, &self.key) {
            (Wire::Plain(msg), Some(_)) if from_peer => {
                if let Some(dropped) = self.drops.worth_logging(Dropped::Unauthenticated) {
                    log::warn!(
                        "Dropped unauthenticated message from a peer address. id={id}, \
                         src={src}, msg={msg:?}, dropped={dropped}"
                    );
                }
                None
            }
            (Wire::Plain(msg), _) => Some(msg),
            (Wire::Sealed { .. }, None) => {
                if let Some(dropped) = self.drops.worth_logging(Dropped::Sealed) {
                    log::warn!(
                        "Dropped sealed message: this node has no cluster key. id={id}, \
                         src={src}, dropped={dropped}"
                    );
                }
                None
            }
            (Wire::Sealed { .. }, Some(_)) if !from_peer => {
                if let Some(dropped) = self.drops.worth_logging(Dropped::NonPeer) {
                    log::warn!(
                        "Dropped internal message from a non-peer. id={id}, src={src}, \
                         msg=(sealed), dropped={dropped}"
                    );
                }
                None
            }
            (Wire::Sealed { tag, body }, Some(key)) => {
                // A1: sealed by `src`, for this node, with the cluster's key.
                if !key.verify(src, id, &body, &tag) {
                    if let Some(dropped) = self.drops.worth_logging(Dropped::BadMac) {
                        log::warn!(
                            "Dropped peer message with a bad MAC. id={id}, src={src}, \
                             bytes={}, dropped={dropped}",
                            body.len()
                        );
                    }
                    return None;
                }
                decode_json::<A>(&body, &self.drops).ok()
            }
        }
    }

    /// F1: while partitioned, nothing from a peer arrives.
    fn cut_off_from(&self, src: Id) -> bool {
        self.faults
            .as_ref()
            .is_some_and(|faults| faults.partitioned() && self.peers.contains(&src))
    }

    /// D1: a node that cannot save must not send what depends on the save: it stops, and
    /// says so. Whether the save is on disk.
    fn save(&self, id: Id, saved: &A::Storage) -> bool {
        let Err(e) = self.store.save(saved) else {
            return true;
        };
        let path = self.store.path().display();
        log::error!("Unable to save storage: stopping the node. id={id}, path={path}, err={e}");
        self.stop.stop(Stopping::CannotSave(format!(
            "cannot save storage to {path}: {e}; the node stops rather than run without \
             durable state"
        )));
        false
    }
}

impl<A> Actor for Guard<A>
where
    A: WireProtocol,
    A::Msg: Serialize + DeserializeOwned,
    A::Storage: Journal,
    A::Timer: Serialize,
{
    type Msg = Wire<A::Msg>;
    type State = A::State;
    type Timer = GuardTimer<A::Timer, A::Msg>;
    type Random = A::Random;
    type Storage = A::Storage;

    fn name(&self) -> String {
        self.inner.name()
    }

    /// D2: the actor starts from the storage the store read and checked at open (`spawn`'s
    /// own reading, from its working directory, is not used).
    fn on_start(&self, id: Id, _: &Option<A::Storage>, o: &mut Out<Self>) -> A::State {
        let mut out = Out::new();
        let state = self.store.with_saved(|storage| {
            if let Some(trace) = &self.trace {
                trace.start::<A>(storage);
            }
            self.inner.on_start(id, storage, &mut out)
        });
        self.forward(id, out, o);
        state
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<A::State>,
        src: Id,
        wire: Wire<A::Msg>,
        o: &mut Out<Self>,
    ) {
        if self.stop.stopping() {
            return;
        }
        self.flush(id, o);
        if self.cut_off_from(src) {
            return;
        }
        let Some(mut msg) = self.open(id, src, wire) else {
            return;
        };
        let from_peer = self.peers.contains(&src);
        // H4: nothing over the size limits reaches the actor.
        if let Some(why) = A::refuse(&msg) {
            if let Some(dropped) = self.drops.worth_logging(Dropped::TooLarge) {
                let what = match A::kind(&msg) {
                    MsgKind::ClientRequest => "client request",
                    _ => "peer message",
                };
                log::warn!(
                    "Dropped {what} over the size limits: {why}. id={id}, src={src}, \
                     dropped={dropped}"
                );
            }
            return;
        }
        match A::kind(&msg) {
            // H2: peer-to-peer messages only from configured peers.
            MsgKind::Internal | MsgKind::Preemption if !from_peer => {
                if let Some(dropped) = self.drops.worth_logging(Dropped::NonPeer) {
                    log::warn!(
                        "Dropped internal message from a non-peer. id={id}, src={src}, \
                         msg={msg:?}, dropped={dropped}"
                    );
                }
                return;
            }
            // H3: servers expect no client replies.
            MsgKind::ClientReply => {
                if let Some(dropped) = self.drops.worth_logging(Dropped::Reply) {
                    log::warn!(
                        "Dropped unexpected client reply. id={id}, src={src}, msg={msg:?}, \
                         dropped={dropped}"
                    );
                }
                return;
            }
            // L1: back off before acting on a preemption.
            MsgKind::Preemption => {
                o.set_timer(GuardTimer::Deliver(src, msg), BACKOFF);
                return;
            }
            // R1: straight from a client, a request speaks for its source address only; from
            // a peer it is a forwarded one, in the name of the client the peer bound it to.
            MsgKind::ClientRequest if !from_peer => msg = A::bind_to_source(msg, src, &self.drops),
            MsgKind::Internal | MsgKind::ClientRequest => {}
        }
        let mut out = Out::new();
        let Some(trace) = &self.trace else {
            self.inner.on_msg(id, state, src, msg, &mut out);
            return self.forward(id, out, o);
        };
        self.inner.on_msg(id, state, src, msg.clone(), &mut out);
        trace.step(Handled::Msg(src, &msg), &out, &self.store);
        self.forward(id, out, o);
    }

    fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<A::State>,
        timer: &Self::Timer,
        o: &mut Out<Self>,
    ) {
        if self.stop.stopping() {
            return;
        }
        self.flush(id, o);
        let mut out = Out::new();
        match timer {
            GuardTimer::Flush => {}
            GuardTimer::Inner(timer) => {
                self.inner.on_timeout(id, state, timer, &mut out);
                self.record_and_forward(id, Handled::Timeout(timer), out, o);
            }
            GuardTimer::Deliver(src, msg) => {
                self.inner.on_msg(id, state, *src, msg.clone(), &mut out);
                self.record_and_forward(id, Handled::Msg(*src, msg), out, o);
            }
            GuardTimer::Send { dst, wire, .. } => {
                // F1: a copy held back; a partition that began meanwhile loses it.
                if !self.faults.as_ref().is_some_and(|f| f.partitioned()) {
                    o.send(*dst, wire.clone());
                }
            }
        }
    }

    fn on_random(&self, id: Id, state: &mut Cow<A::State>, random: &A::Random, o: &mut Out<Self>) {
        self.flush(id, o);
        let mut out = Out::new();
        self.inner.on_random(id, state, random, &mut out);
        self.forward(id, out, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::paxos::{Ballot, Msg, PaxosActor, Proposal};
    use crate::runtime::auth::TAG_BYTES;
    use crate::runtime::node::paxos_server;
    use std::net::SocketAddrV4;

    /// A Multi-Paxos message on UDP: keys and values are strings.
    type MpMsg = crate::protocol::multi_paxos::Msg<String>;

    /// The store of a node that never saved, at a path of its own in the temporary directory.
    fn unsaved<S: Journal>(tag: &str) -> Arc<Store<S>> {
        let path =
            std::env::temp_dir().join(format!("paxos-guard-{tag}-{}.storage", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(crate::runtime::wal::log_path(&path));
        Arc::new(Store::open(&path, crate::runtime::wal::COMPACT_AFTER).expect("nothing to read"))
    }

    /// Three loopback peers, and a guard without key, faults or trace around the server
    /// `server` makes for them, with the store of a node that never saved (named after `tag`).
    pub(super) fn loopback_guard<A: Actor>(
        server: impl FnOnce(&[Id]) -> A,
        tag: &str,
    ) -> (Guard<A>, Vec<Id>)
    where
        A::Storage: Journal,
    {
        let peers: Vec<Id> = (1..=3)
            .map(|p| Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), p)))
            .collect();
        let guard = Guard {
            inner: server(&peers),
            peers: peers.iter().copied().collect(),
            store: unsaved(tag),
            key: None,
            faults: None,
            trace: None,
            deferred: Arc::default(),
            stop: Arc::default(),
            drops: Arc::default(),
        };
        (guard, peers)
    }

    /// A guarded Paxos server among three loopback peers; its storage is never written.
    fn test_guard() -> (Vec<Id>, Guard<PaxosActor>) {
        let (guard, peers) = loopback_guard(paxos_server, "never-written");
        (peers, guard)
    }

    // H2: an internal message from a non-peer leaves the state as it was and sends nothing.
    #[test]
    fn guard_drops_internal_messages_from_non_peers() {
        let (peers, guard) = test_guard();
        let mut o = Out::new();
        let start = guard.on_start(peers[0], &None, &mut o);
        let mut state = Cow::Borrowed(&start);
        let stranger = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let ballot = Ballot {
            round: u32::MAX,
            proposer: stranger,
        };
        let proposal = Proposal { ballot, value: 'Z' };
        for msg in [
            Msg::Prepare { ballot },
            Msg::Accept { proposal },
            Msg::PutOk { request: 1 },
            Msg::Rejected {
                ballot,
                promised: ballot,
            },
        ] {
            guard.on_msg(peers[0], &mut state, stranger, Wire::Plain(msg), &mut o);
        }
        assert!(matches!(state, Cow::Borrowed(_)));
        assert!(o.is_empty());
    }

    // L1: a peer's Rejected is held back on a timer, then handed to the actor.
    #[test]
    fn guard_delays_preemption_notices() {
        let (peers, guard) = test_guard();
        let mut o = Out::new();
        let start = guard.on_start(peers[0], &None, &mut o);
        let mut state = Cow::Borrowed(&start);
        let rejected = Msg::Rejected {
            ballot: Ballot::default(),
            promised: Ballot {
                round: 2,
                proposer: peers[1],
            },
        };
        let wire = Wire::Plain(rejected);
        guard.on_msg(peers[0], &mut state, peers[1], wire, &mut o);
        assert!(matches!(state, Cow::Borrowed(_)));
        let timer = GuardTimer::Deliver(peers[1], rejected);
        assert!(matches!(
            &o[..],
            [Command::SetTimer(t, range)] if *t == timer && *range == BACKOFF
        ));
    }

    fn key(byte: u8) -> ClusterKey {
        ClusterKey::from_bytes(&[byte; 32]).expect("long enough")
    }

    /// [`test_guard`] with cluster key 1 and storage in a file of its own, removed on drop.
    struct Keyed {
        peers: Vec<Id>,
        guard: Guard<PaxosActor>,
    }

    impl Keyed {
        fn new(tag: &str, key: Option<ClusterKey>) -> Keyed {
            let (peers, mut guard) = test_guard();
            guard.store = unsaved(tag);
            guard.key = key;
            Keyed { peers, guard }
        }

        /// `msg` sealed by `sender` for `receiver` with `key`.
        fn sealed(key: &ClusterKey, sender: Id, receiver: Id, msg: &Msg) -> Wire<Msg> {
            let body = serde_json::to_vec(msg).expect("encodes");
            let tag = key.tag(sender, receiver, &body);
            Wire::Sealed { tag, body }
        }
    }

    impl Drop for Keyed {
        fn drop(&mut self) {
            let path = self.guard.store.path();
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(crate::runtime::wal::log_path(path));
        }
    }

    fn sends(o: Out<Guard<PaxosActor>>) -> Vec<(Id, Wire<Msg>)> {
        o.into_iter()
            .filter_map(|c| match c {
                Command::Send(dst, wire) => Some((dst, wire)),
                _ => None,
            })
            .collect()
    }

    // A1: with a key, what a node sends its peers is sealed for each of them; its replies to
    // clients are plain JSON.
    #[test]
    fn with_a_key_peer_messages_are_sealed() {
        let keyed = Keyed::new("seal", Some(key(1)));
        let (me, guard) = (keyed.peers[0], &keyed.guard);
        let client = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let mut o = Out::new();
        let start = guard.on_start(me, &None, &mut o);
        let mut state = Cow::Borrowed(&start);
        let put = Msg::Put {
            request: 1,
            value: 'A',
        };
        let mut o = Out::new();
        guard.on_msg(me, &mut state, client, Wire::Plain(put), &mut o);
        let sent = sends(o);
        assert!(!sent.is_empty(), "a put starts a ballot");
        for (dst, wire) in sent {
            assert!(keyed.peers.contains(&dst));
            let Wire::Sealed { tag, body } = wire else {
                panic!("sent to a peer unsealed: {wire:?}");
            };
            assert!(key(1).verify(me, dst, &body, &tag));
            assert!(serde_json::from_slice::<Msg>(&body).is_ok());
        }
        // A read the node can answer by itself goes back to the client in plain JSON.
        let get = Msg::Get { request: 2 };
        let mut o = Out::new();
        let mut fresh = Cow::Borrowed(&start);
        guard.on_msg(me, &mut fresh, client, Wire::Plain(get), &mut o);
        for (dst, wire) in sends(o) {
            if dst == client {
                assert!(matches!(wire, Wire::Plain(_)), "{wire:?}");
            }
        }
    }

    // A1: with a key, only a message sealed by its source, for this node, with the cluster's
    // key reaches the actor: no seal, a forged tag, another key, a seal made for another
    // sender or receiver (a captured message replayed from elsewhere) are all dropped.
    #[test]
    fn with_a_key_only_valid_seals_from_peers_reach_the_actor() {
        let keyed = Keyed::new("open", Some(key(1)));
        let (peers, guard) = (&keyed.peers, &keyed.guard);
        let (me, peer, other) = (peers[0], peers[1], peers[2]);
        let stranger = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let prepare = Msg::Prepare {
            ballot: Ballot {
                round: u32::MAX,
                proposer: peer,
            },
        };
        let body = serde_json::to_vec(&prepare).expect("encodes");
        let mut start_out = Out::new();
        let start = guard.on_start(me, &None, &mut start_out);
        let forged = [
            (peer, Wire::Plain(prepare)),
            (
                peer,
                Wire::Sealed {
                    tag: [0; TAG_BYTES],
                    body: body.clone(),
                },
            ),
            (peer, Keyed::sealed(&key(2), peer, me, &prepare)),
            (peer, Keyed::sealed(&key(1), other, me, &prepare)),
            (peer, Keyed::sealed(&key(1), peer, other, &prepare)),
            (peer, Keyed::sealed(&key(1), me, peer, &prepare)),
            (stranger, Keyed::sealed(&key(1), stranger, me, &prepare)),
        ];
        for (src, wire) in forged {
            let mut state = Cow::Borrowed(&start);
            let mut o = Out::new();
            guard.on_msg(me, &mut state, src, wire.clone(), &mut o);
            assert!(matches!(state, Cow::Borrowed(_)), "{src}: {wire:?}");
            assert!(o.is_empty(), "{src}: {wire:?}");
        }
        // The genuine article is promised, and the promise is sealed for the candidate.
        let mut state = Cow::Borrowed(&start);
        let mut o = Out::new();
        let genuine = Keyed::sealed(&key(1), peer, me, &prepare);
        guard.on_msg(me, &mut state, peer, genuine.clone(), &mut o);
        assert!(matches!(state, Cow::Owned(_)), "a valid seal is opened");
        let sent = sends(o);
        assert!(matches!(&sent[..], [(dst, Wire::Sealed { .. })] if *dst == peer));
        // A3: a replay of it is a duplicate: promised again, nothing new.
        let promised = state.into_owned();
        let mut again = Cow::Borrowed(&promised);
        guard.on_msg(me, &mut again, peer, genuine, &mut Out::new());
        assert!(matches!(again, Cow::Borrowed(_)));
    }

    // H2's limit, which A1 lifts: without a key a datagram from a peer's address is the
    // peer's; a sealed one is dropped (this node cannot check it).
    #[test]
    fn without_a_key_a_peer_address_is_enough() {
        let keyed = Keyed::new("nokey", None);
        let (peers, guard) = (&keyed.peers, &keyed.guard);
        let (me, peer) = (peers[0], peers[1]);
        let prepare = Msg::Prepare {
            ballot: Ballot {
                round: 5,
                proposer: peer,
            },
        };
        let start = guard.on_start(me, &None, &mut Out::new());
        let mut state = Cow::Borrowed(&start);
        let sealed = Keyed::sealed(&key(1), peer, me, &prepare);
        guard.on_msg(me, &mut state, peer, sealed, &mut Out::new());
        assert!(matches!(state, Cow::Borrowed(_)));
        let mut o = Out::new();
        guard.on_msg(me, &mut state, peer, Wire::Plain(prepare), &mut o);
        assert!(matches!(state, Cow::Owned(_)));
        assert!(matches!(
            &sends(o)[..],
            [(_, Wire::Plain(Msg::Promise { .. }))]
        ));
    }

    /// A guarded Multi-Paxos server among three loopback peers, as on UDP; its storage (in a
    /// file of its own, named after `tag`) is never written.
    fn multi_paxos_guard(
        tag: &str,
    ) -> (
        Guard<crate::protocol::multi_paxos::MultiPaxosActor<String>>,
        Vec<Id>,
    ) {
        loopback_guard(crate::runtime::node::multi_paxos_server, tag)
    }

    // R1: a Multi-Paxos request straight from a client speaks for its source address,
    // whatever client it names; one forwarded by a peer keeps the client it names.
    #[test]
    fn a_client_request_speaks_for_its_source() {
        use crate::protocol::multi_paxos::{ClientCommand, KvOp, Msg as M};
        let (guard, peers) = multi_paxos_guard("never-written-multi");
        let (me, peer) = (peers[0], peers[1]);
        let (forger, victim) = (
            Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9)),
            Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 10)),
        );
        let command = ClientCommand {
            client: victim,
            request: u64::MAX,
            op: KvOp::Put {
                key: "x".to_owned(),
                value: "Z".to_owned(),
            },
        };
        let start = guard.on_start(me, &None, &mut Out::new());
        // A follower that knows no leader queues the request: in whose name?
        let mut state = Cow::Borrowed(&start);
        let request = M::Request {
            command: command.clone(),
        };
        guard.on_msg(
            me,
            &mut state,
            forger,
            Wire::Plain(request.clone()),
            &mut Out::new(),
        );
        let queued: Vec<Id> = state.proposer.queue.iter().map(|c| c.client).collect();
        assert_eq!(queued, vec![forger]);
        let mut state = Cow::Borrowed(&start);
        guard.on_msg(me, &mut state, peer, Wire::Plain(request), &mut Out::new());
        let queued: Vec<Id> = state.proposer.queue.iter().map(|c| c.client).collect();
        assert_eq!(queued, vec![victim], "forwarded by a peer");
    }

    // H4: a Multi-Paxos request over the size limits never reaches the actor, from a client or
    // a peer; one at the limits does.
    #[test]
    fn a_request_over_the_size_limits_is_dropped() {
        use crate::protocol::multi_paxos::{ClientCommand, KvOp, MAX_KEY_BYTES, MAX_VALUE_BYTES};
        let (guard, peers) = multi_paxos_guard("never-written-strings");
        let (me, peer) = (peers[0], peers[1]);
        let client = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let start = guard.on_start(me, &None, &mut Out::new());
        let queued = |src: Id, key: usize, value: usize| {
            let request = MpMsg::Request {
                command: ClientCommand {
                    client,
                    request: 1,
                    op: KvOp::Append {
                        key: "k".repeat(key),
                        value: "é".repeat(value / 2),
                    },
                },
            };
            let mut state = Cow::Borrowed(&start);
            guard.on_msg(me, &mut state, src, Wire::Plain(request), &mut Out::new());
            state.proposer.queue.len()
        };
        assert_eq!(queued(client, MAX_KEY_BYTES, MAX_VALUE_BYTES), 1);
        assert_eq!(queued(client, MAX_KEY_BYTES + 1, 2), 0, "key too long");
        assert_eq!(queued(client, 1, MAX_VALUE_BYTES + 2), 0, "value too long");
        assert_eq!(
            queued(peer, 1, MAX_VALUE_BYTES + 2),
            0,
            "forwarded, still too long"
        );
    }

    // H4 (spec/runtime.md S4): a peer's `Accept` whose batch is outside the leader's limits
    // (too many commands, too many bytes together, none at all) never reaches the actor, and
    // nothing panics; one at the limits does.
    #[test]
    fn a_batch_over_the_limits_from_a_peer_is_dropped() {
        use crate::protocol::multi_paxos::{Ballot, ClientCommand, Command, KvOp, Proposal};
        use crate::runtime::guard::multi_paxos::{BATCH, BATCH_BYTES};
        let (guard, peers) = multi_paxos_guard("never-written-batches");
        let (me, peer) = (peers[0], peers[1]);
        let start = guard.on_start(me, &None, &mut Out::new());
        let command = |i: usize, bytes: usize| ClientCommand {
            client: Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 100 + i as u16)),
            request: 1,
            op: KvOp::Put {
                key: "k".to_owned(),
                value: "v".repeat(bytes - 1),
            },
        };
        let accepted = |batch: Vec<ClientCommand<String>>| {
            let proposal = Proposal {
                ballot: Ballot {
                    round: 1,
                    proposer: peer,
                },
                command: Command::Batch(batch.into()),
            };
            let accept = MpMsg::Accept { slot: 0, proposal };
            let mut state = Cow::Borrowed(&start);
            let mut o = Out::new();
            guard.on_msg(me, &mut state, peer, Wire::Plain(accept), &mut o);
            !state.acceptor.accepted.is_empty()
        };
        let most = (0..BATCH)
            .map(|i| command(i, BATCH_BYTES / BATCH))
            .collect();
        assert!(accepted(most), "at the limits");
        let too_many = (0..=BATCH).map(|i| command(i, 1)).collect();
        assert!(!accepted(too_many), "one command too many");
        let too_wide = vec![command(0, BATCH_BYTES / 2), command(1, BATCH_BYTES / 2 + 1)];
        assert!(!accepted(too_wide), "one byte too many");
        assert!(!accepted(Vec::new()), "an empty batch");
    }

    // S5: a peer's snapshot piece with more entries than a piece holds, or an entry over the
    // key and value limits, is dropped; one within them is taken.
    #[test]
    fn a_snapshot_piece_over_the_limits_from_a_peer_is_dropped() {
        use crate::protocol::multi_paxos::{SnapshotEntry, MAX_KEY_BYTES, MAX_VALUE_BYTES};
        use crate::runtime::guard::multi_paxos::SNAPSHOT_PIECE;
        let (guard, peers) = multi_paxos_guard("never-written-snapshots");
        let (me, peer) = (peers[0], peers[1]);
        let start = guard.on_start(me, &None, &mut Out::new());
        let entry = |i: usize, key: usize, value: usize| SnapshotEntry::Kv {
            key: format!("{i}").repeat(key),
            value: "v".repeat(value),
        };
        // A piece of a snapshot with one entry more than this one: taken, the next is asked.
        let taken = |entries: Vec<SnapshotEntry<String>>| {
            let total = entries.len() + 1;
            let piece = MpMsg::Snapshot {
                upto: 5,
                at: 0,
                entries,
                total,
            };
            let mut state = Cow::Borrowed(&start);
            let mut o = Out::new();
            guard.on_msg(me, &mut state, peer, Wire::Plain(piece), &mut o);
            state.replica.incoming.is_some()
        };
        let most = (0..SNAPSHOT_PIECE)
            .map(|i| entry(i, MAX_KEY_BYTES, MAX_VALUE_BYTES))
            .collect();
        assert!(taken(most), "at the limits");
        let too_many = (0..=SNAPSHOT_PIECE).map(|i| entry(i, 1, 1)).collect();
        assert!(!taken(too_many), "one entry too many");
        assert!(
            !taken(vec![entry(0, MAX_KEY_BYTES + 1, 1)]),
            "a key too long"
        );
        assert!(
            !taken(vec![entry(0, 1, MAX_VALUE_BYTES + 1)]),
            "a value too long"
        );
    }

    // F1: a partitioned node hears nothing from its peers and sends them nothing; clients
    // still reach it.
    #[test]
    fn a_partitioned_node_is_cut_off_from_its_peers() {
        use crate::runtime::faults::FaultPlan;
        let file = std::env::temp_dir().join(format!("paxos-guard-cut-{}", std::process::id()));
        std::fs::write(&file, b"").expect("written");
        let mut keyed = Keyed::new("cut", None);
        keyed.guard.faults = Some(Arc::new(Faults::new(FaultPlan {
            partition_file: Some(file.clone()),
            ..FaultPlan::default()
        })));
        let (peers, guard) = (&keyed.peers, &keyed.guard);
        let (me, peer) = (peers[0], peers[1]);
        let start = guard.on_start(me, &None, &mut Out::new());
        let prepare = Msg::Prepare {
            ballot: Ballot {
                round: 5,
                proposer: peer,
            },
        };
        let mut state = Cow::Borrowed(&start);
        guard.on_msg(me, &mut state, peer, Wire::Plain(prepare), &mut Out::new());
        assert!(matches!(state, Cow::Borrowed(_)), "nothing from a peer");
        let client = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let put = Msg::Put {
            request: 1,
            value: 'A',
        };
        let mut o = Out::new();
        guard.on_msg(me, &mut state, client, Wire::Plain(put), &mut o);
        assert!(matches!(state, Cow::Owned(_)), "a client's request arrives");
        assert!(sends(o).is_empty(), "nothing to a peer");
        let _ = std::fs::remove_file(&file);
    }
}

#[cfg(test)]
mod deferred_save_tests {
    use super::*;
    use crate::protocol::multi_paxos::{
        Ballot, ClientCommand, Command as MpCommand, KvOp, KvRet, MultiPaxosActor, Proposal,
        Storage, Timer,
    };
    use std::net::SocketAddrV4;

    type MpGuard = Guard<MultiPaxosActor<String>>;
    type MpMsg = crate::protocol::multi_paxos::Msg<String>;

    /// A guarded Multi-Paxos server among three loopback peers, saving to a store of its own.
    fn guard(tag: &str) -> (MpGuard, Vec<Id>) {
        let tag = format!("deferred-{tag}");
        super::tests::loopback_guard(crate::runtime::node::multi_paxos_server, &tag)
    }

    fn sends(o: &Out<MpGuard>) -> Vec<(Id, MpMsg)> {
        o.iter()
            .filter_map(|c| match c {
                Command::Send(dst, Wire::Plain(msg)) => Some((*dst, msg.clone())),
                _ => None,
            })
            .collect()
    }

    fn flush_timer_set(o: &Out<MpGuard>) -> bool {
        o.iter()
            .any(|c| matches!(c, Command::SetTimer(GuardTimer::Flush, _)))
    }

    fn accepted_on_disk(guard: &MpGuard) -> Vec<u32> {
        let saved = guard.store.saved().expect("the node saved");
        saved.accepted.keys().copied().collect()
    }

    /// Delivers to candidate `me` a `Promise` of its ballot from `peer`, reporting nothing
    /// accepted: with its own promise, a majority of the three, so `me` leads.
    fn promised_by(guard: &MpGuard, me: Id, state: &mut Cow<<MpGuard as Actor>::State>, peer: Id) {
        let promise = MpMsg::Promise {
            ballot: state.proposer.ballot,
            accepted: Default::default(),
            more: None,
            snapshot: 0,
        };
        guard.on_msg(me, state, peer, Wire::Plain(promise), &mut Out::new());
    }

    // D1 (spec/runtime.md): a leader's own phase 2(a) `Accept`s, in a ballot whose round is on
    // disk, leave before the step's save; the save (its own acceptance) is on disk before the
    // next step starts, and before any message that answers for it.
    #[test]
    fn a_leaders_accepts_leave_before_its_own_acceptance_is_saved() {
        let (guard, peers) = guard("leader");
        let (me, peer, other) = (peers[0], peers[1], peers[2]);
        let client = Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9));
        let mut state = Cow::Owned(guard.on_start(me, &None, &mut Out::new()));
        // Phase 1: the round and the promise to itself are saved before any Prepare leaves.
        let mut o = Out::new();
        guard.on_timeout(me, &mut state, &GuardTimer::Inner(Timer::Election), &mut o);
        assert!(!flush_timer_set(&o), "a Prepare waits for the save");
        let ballot = state.proposer.ballot;
        assert_eq!(guard.store.saved().map(|s| s.round), Some(ballot.round));
        promised_by(&guard, me, &mut state, peer);
        assert!(state.is_leader());
        // A request: the Accepts to the peers leave now; the leader's own acceptance is not on
        // disk yet, and nothing else leaves.
        let put = KvOp::Put {
            key: "k".to_owned(),
            value: "v".to_owned(),
        };
        let command = ClientCommand {
            client,
            request: 1,
            op: put,
        };
        let request = MpMsg::Request {
            command: command.clone(),
        };
        let mut o = Out::new();
        guard.on_msg(me, &mut state, client, Wire::Plain(request), &mut o);
        let proposal = Proposal {
            ballot,
            command: MpCommand::Batch(vec![command].into()),
        };
        let accept = MpMsg::Accept {
            slot: 0,
            proposal: proposal.clone(),
        };
        assert_eq!(sends(&o), vec![(peer, accept.clone()), (other, accept)]);
        assert!(flush_timer_set(&o));
        assert!(accepted_on_disk(&guard).is_empty(), "the save waits");
        // The next step saves first: a peer's acceptance makes the slot chosen, counting the
        // leader's own, which is on disk before the reply leaves.
        let accepted = MpMsg::Accepted { slot: 0, proposal };
        let mut o = Out::new();
        guard.on_msg(me, &mut state, peer, Wire::Plain(accepted), &mut o);
        assert_eq!(accepted_on_disk(&guard), vec![0]);
        let reply = MpMsg::Reply {
            request: 1,
            ret: KvRet::PutOk,
        };
        assert!(sends(&o).contains(&(client, reply)), "{:?}", sends(&o));
        // The flush timer, once the step is over, finds nothing left to do.
        let mut o = Out::new();
        guard.on_timeout(me, &mut state, &GuardTimer::Flush, &mut o);
        assert!(o.is_empty());
    }

    // D1: in the step where a slot is chosen and the requests that waited go into the next
    // one, the reply and the `Chosen` leave with the next slot's `Accept`s, before the
    // leader's acceptance of that slot is saved: they answer for the slot on disk, which the
    // save does not change. (Without the hold of S6, which would wait for the client slot 0
    // answers; with it, the step is the same when the queue holds a full batch.)
    #[test]
    fn a_reply_for_a_slot_on_disk_leaves_before_the_next_slot_is_saved() {
        let (mut guard, peers) = guard("reply");
        guard.inner.tuning.batch_wait = None;
        let (me, peer, other) = (peers[0], peers[1], peers[2]);
        let (first, second) = (
            Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 9)),
            Id::from(SocketAddrV4::new([127, 0, 0, 1].into(), 10)),
        );
        let mut state = Cow::Owned(guard.on_start(me, &None, &mut Out::new()));
        guard.on_timeout(
            me,
            &mut state,
            &GuardTimer::Inner(Timer::Election),
            &mut Out::new(),
        );
        promised_by(&guard, me, &mut state, peer);
        let ballot = state.proposer.ballot;
        let command = |client, value: &str| ClientCommand {
            client,
            request: 1,
            op: KvOp::Put {
                key: "k".to_owned(),
                value: value.to_owned(),
            },
        };
        for (client, value) in [(first, "a"), (second, "b")] {
            let request = MpMsg::Request {
                command: command(client, value),
            };
            guard.on_msg(
                me,
                &mut state,
                client,
                Wire::Plain(request),
                &mut Out::new(),
            );
        }
        assert_eq!(state.proposer.queue.len(), 1, "the window is full");
        let proposal = |value| Proposal {
            ballot,
            command: MpCommand::Batch(
                vec![command(if value == "a" { first } else { second }, value)].into(),
            ),
        };
        let accepted = MpMsg::Accepted {
            slot: 0,
            proposal: proposal("a"),
        };
        let mut o = Out::new();
        guard.on_msg(me, &mut state, peer, Wire::Plain(accepted), &mut o);
        assert!(flush_timer_set(&o));
        assert_eq!(accepted_on_disk(&guard), vec![0], "slot 1 waits");
        let sent = sends(&o);
        let next = MpMsg::Accept {
            slot: 1,
            proposal: proposal("b"),
        };
        let reply = MpMsg::Reply {
            request: 1,
            ret: KvRet::PutOk,
        };
        for expected in [(peer, next.clone()), (other, next), (first, reply)] {
            assert!(sent.contains(&expected), "{expected:?} not in {sent:?}");
        }
        assert!(sent
            .iter()
            .any(|(dst, msg)| *dst == other && matches!(msg, MpMsg::Chosen { slot: 0, .. })));
        let mut o = Out::new();
        guard.on_timeout(me, &mut state, &GuardTimer::Flush, &mut o);
        assert_eq!(accepted_on_disk(&guard), vec![0, 1]);
    }

    // D1: an acceptor's answer never leaves before its save: a follower's acceptance is on disk
    // when the step that sends its `Accepted` ends.
    #[test]
    fn an_acceptance_is_saved_before_it_is_answered() {
        let (guard, peers) = guard("follower");
        let (me, leader) = (peers[1], peers[0]);
        let mut state = Cow::Owned(guard.on_start(me, &None, &mut Out::new()));
        let ballot = Ballot {
            round: 1,
            proposer: leader,
        };
        let proposal = Proposal {
            ballot,
            command: MpCommand::Noop,
        };
        let accept = MpMsg::Accept {
            slot: 0,
            proposal: proposal.clone(),
        };
        let mut o = Out::new();
        guard.on_msg(me, &mut state, leader, Wire::Plain(accept), &mut o);
        assert!(!flush_timer_set(&o));
        assert_eq!(accepted_on_disk(&guard), vec![0]);
        let accepted = MpMsg::Accepted { slot: 0, proposal };
        assert_eq!(sends(&o), vec![(leader, accepted)]);
    }

    // D1: the guard carries out the actor's commands in their order: the messages before the
    // save leave at once, and the save is on disk before any message after it is handed to
    // `spawn`. A guard that sent the step's every message before its save fails this.
    #[test]
    fn a_message_after_the_save_waits_for_it() {
        let (guard, peers) = guard("order");
        let (me, peer) = (peers[0], peers[1]);
        let proposal = Proposal {
            ballot: Ballot {
                round: 1,
                proposer: me,
            },
            command: MpCommand::Noop,
        };
        let accept = MpMsg::Accept {
            slot: 0,
            proposal: proposal.clone(),
        };
        let accepted = MpMsg::Accepted {
            slot: 0,
            proposal: proposal.clone(),
        };
        let mut storage = Storage {
            round: 1,
            ..Storage::default()
        };
        storage.accepted.insert(0, proposal);
        let mut out = Out::new();
        out.send(peer, accept.clone());
        out.save(storage.clone());
        out.send(peer, accepted.clone());
        let mut o = Out::new();
        guard.forward(me, out, &mut o);
        assert_eq!(sends(&o), vec![(peer, accept)]);
        assert!(
            guard.store.saved().is_none(),
            "the save waits for the message before it"
        );
        assert!(flush_timer_set(&o));
        let mut o = Out::new();
        guard.flush(me, &mut o);
        assert_eq!(guard.store.saved(), Some(storage.clone()));
        assert_eq!(sends(&o), vec![(peer, accepted.clone())]);
        // With no message before it, the save is made within the step.
        storage.promised = storage.accepted[&0].ballot;
        let mut out = Out::new();
        out.save(storage.clone());
        out.send(peer, accepted.clone());
        let mut o = Out::new();
        guard.forward(me, out, &mut o);
        assert_eq!(guard.store.saved(), Some(storage));
        assert_eq!(sends(&o), vec![(peer, accepted)]);
        assert!(!flush_timer_set(&o));
    }
}
