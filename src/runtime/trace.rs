//! Trace recording (`paxos spawn --trace DIR`): one JSON line per event the protocol actor
//! handles, per node, in `DIR/<address>.trace.jsonl`, for `paxos validate` to replay through
//! the model ([`crate::validate`]). The format and the rules are in `spec/runtime.md`,
//! "Trace recording and validation":
//!
//! - **T1** Every line carries the node's sequence number `seq`: its line number in the file,
//!   from 0, continued across restarts (the file is appended to).
//! - **T2** A step's line (what it handled, what it saved, what it sent) reaches the file
//!   (`write(2)`, no `fsync`) *before* the step's storage is saved and before its messages
//!   leave: a message some node received was always recorded as sent, and a `kill -9` loses
//!   at most the last step, which then neither saved nor sent anything. A line torn by the
//!   kill (no final newline) is cut off when the node starts again.
//!
//! What is recorded is what reaches the protocol actor, after the guard (H1-H3, R1, A1, L1):
//! a datagram the guard drops is no event, a preemption notice is received when the guard
//! hands it over, and the messages sent are the actor's, before sealing and the fault layer.
use crate::runtime::wal::{Journal, Store};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Command, Id, Out};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The trace file of the node at `address` in `dir`.
pub fn trace_path(dir: &Path, address: SocketAddrV4) -> PathBuf {
    dir.join(format!("{address}.trace.jsonl"))
}

/// One line of a trace (T1, T2), one type for the writer ([`Tracer`]) and the reader
/// (`paxos validate`, [`crate::validate`]). Addresses are `IPv4:port` strings; the messages
/// (`M`), timers (`T`), storage (`S`) and storage changes (`C`) are the protocol's own JSON,
/// in which an actor is its `Id` (a number). The writer gives the actor's values by reference;
/// the reader, which learns the protocol from the lines themselves, reads them as JSON values
/// and decodes them as the protocol's types once it knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TraceLine<M, T, S, C> {
    /// The node (re)started, from `storage` (`null` for a node that never saved).
    Start {
        /// T1: the line's number in the file, from 0.
        seq: u64,
        /// The node whose trace this is.
        node: SocketAddrV4,
        /// The protocol it runs (`paxos` or `multi-paxos`).
        protocol: String,
        /// Every member of its cluster, itself included.
        cluster: Vec<SocketAddrV4>,
        /// The storage it started from.
        storage: Option<S>,
    },
    /// The actor handled `msg` from `src`.
    Receive {
        /// T1: the line's number in the file, from 0.
        seq: u64,
        /// Where the message came from.
        src: SocketAddrV4,
        /// The message.
        msg: M,
        /// What the step saved, if it saved.
        saved: Option<Saved<S, C>>,
        /// What the step sent, in the actor's order, to whom.
        sent: Vec<(SocketAddrV4, M)>,
    },
    /// The actor handled the expiry of `timer`.
    Timeout {
        /// T1: the line's number in the file, from 0.
        seq: u64,
        /// The timer.
        timer: T,
        /// What the step saved, if it saved.
        saved: Option<Saved<S, C>>,
        /// What the step sent, in the actor's order, to whom.
        sent: Vec<(SocketAddrV4, M)>,
    },
}

impl<M, T, S, C> TraceLine<M, T, S, C> {
    /// T1: the line's number in its file.
    pub fn seq(&self) -> u64 {
        match self {
            TraceLine::Start { seq, .. }
            | TraceLine::Receive { seq, .. }
            | TraceLine::Timeout { seq, .. } => *seq,
        }
    }
}

/// T2: what a step saved, as its trace line records it: what changed since the node's previous
/// save (the record the write-ahead log appends, W1), or the whole storage at the node's first
/// save. A line never holds the whole log, so a trace grows with a run's length, not with its
/// square.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Saved<S, C> {
    /// The node's first save: the whole storage.
    Whole(S),
    /// The changes since its previous save, in order.
    Changes(Vec<C>),
}

/// What the actor handled in a step.
pub(crate) enum Handled<'a, A: Actor> {
    /// A message from `src`.
    Msg(Id, &'a A::Msg),
    /// A timer's expiry.
    Timeout(&'a A::Timer),
}

/// A node's trace file, open for appending.
#[derive(Debug)]
pub struct Tracer {
    node: SocketAddrV4,
    protocol: String,
    cluster: Vec<SocketAddrV4>,
    file: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    out: BufWriter<File>,
    seq: u64,
    /// Set after a write fails: the trace is then incomplete, and says so once.
    broken: bool,
}

impl Tracer {
    /// Opens (or creates) the trace of the node at `node` in `dir`, cutting off a line torn by
    /// a kill (T2) and counting the lines already there (T1).
    pub fn open(
        dir: &Path,
        node: SocketAddrV4,
        protocol: &str,
        cluster: &[SocketAddrV4],
    ) -> io::Result<Tracer> {
        std::fs::create_dir_all(dir)?;
        let path = trace_path(dir, node);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut existing = Vec::new();
        file.read_to_end(&mut existing)?;
        let whole = existing
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        if whole < existing.len() {
            file.set_len(whole as u64)?;
        }
        file.seek(SeekFrom::End(0))?;
        let seq = existing[..whole].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(Tracer {
            node,
            protocol: protocol.to_owned(),
            cluster: cluster.to_vec(),
            file: Mutex::new(Writer {
                out: BufWriter::with_capacity(64 * 1024, file),
                seq,
                broken: false,
            }),
        })
    }

    /// Records a (re)start from `storage`.
    pub(crate) fn start<A: Actor>(&self, storage: &Option<A::Storage>)
    where
        A::Msg: Serialize,
        A::Timer: Serialize,
        A::Storage: Serialize,
    {
        self.write(|seq| -> TraceLine<&A::Msg, &A::Timer, &A::Storage, ()> {
            TraceLine::Start {
                seq,
                node: self.node,
                protocol: self.protocol.clone(),
                cluster: self.cluster.clone(),
                storage: storage.as_ref(),
            }
        });
    }

    /// Records a step: what it handled and the commands the actor gave, its save as what
    /// changed from what `store` holds (T2: call this before carrying them out).
    pub(crate) fn step<A: Actor>(
        &self,
        handled: Handled<'_, A>,
        out: &Out<A>,
        store: &Store<A::Storage>,
    ) where
        A::Msg: Serialize,
        A::Timer: Serialize,
        A::Storage: Journal,
    {
        let mut saved = None;
        let mut sent = Vec::new();
        for command in out.iter() {
            match command {
                Command::Save(storage) => saved = Some(storage),
                Command::Send(dst, msg) => sent.push((SocketAddrV4::from(*dst), msg)),
                _ => {}
            }
        }
        let saved = saved.map(|storage| match store.changes(storage) {
            Some(changes) => Saved::Changes(changes),
            None => Saved::Whole(storage),
        });
        type Change<A> = <<A as Actor>::Storage as Journal>::Change;
        self.write(
            |seq| -> TraceLine<&A::Msg, &A::Timer, &A::Storage, Change<A>> {
                match handled {
                    Handled::Msg(src, msg) => TraceLine::Receive {
                        seq,
                        src: SocketAddrV4::from(src),
                        msg,
                        saved,
                        sent,
                    },
                    Handled::Timeout(timer) => TraceLine::Timeout {
                        seq,
                        timer,
                        saved,
                        sent,
                    },
                }
            },
        );
    }

    fn write<L: Serialize>(&self, line: impl FnOnce(u64) -> L) {
        // A poisoned lock means another step panicked mid-line: keep the writer as it is.
        let mut w = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if w.broken {
            return;
        }
        let seq = w.seq;
        let result = serde_json::to_writer(&mut w.out, &line(seq))
            .map_err(io::Error::from)
            .and_then(|()| w.out.write_all(b"\n"))
            .and_then(|()| w.out.flush());
        match result {
            Ok(()) => w.seq += 1,
            Err(e) => {
                w.broken = true;
                log::error!(
                    "Unable to write the trace: it stops here and will not validate. node={}, \
                     seq={seq}, err={e}",
                    self.node
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // T1, T2: a torn last line is cut off on reopening and numbering goes on from the whole
    // lines.
    #[test]
    fn reopening_cuts_a_torn_line_and_continues_the_numbering() {
        let dir = std::env::temp_dir().join(format!("paxos-trace-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let node = SocketAddrV4::new([127, 0, 0, 1].into(), 3000);
        let path = trace_path(&dir, node);
        std::fs::create_dir_all(&dir).expect("created");
        std::fs::write(&path, b"{\"seq\":0}\n{\"seq\":1}\n{\"se").expect("written");
        let tracer = Tracer::open(&dir, node, "paxos", &[node]).expect("opens");
        tracer.start::<crate::protocol::paxos::PaxosActor>(&None);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[2].starts_with(r#"{"event":"start","seq":2,"#),
            "{}",
            lines[2]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    // T1, T2: a trace reads back as the lines written, and the lines read write back byte for
    // byte: the writer and the reader share one type.
    #[test]
    fn a_trace_reads_back_as_written() {
        use crate::protocol::paxos::{Ballot, Msg, PaxosActor, Storage, Timer};
        use crate::runtime::wal::COMPACT_AFTER;
        type Line = TraceLine<Msg, Timer, Storage, Storage>;
        let dir = std::env::temp_dir().join(format!("paxos-trace-round-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (node, peer) = (
            SocketAddrV4::new([127, 0, 0, 1].into(), 3000),
            SocketAddrV4::new([127, 0, 0, 1].into(), 3001),
        );
        let tracer = Tracer::open(&dir, node, "paxos", &[node, peer]).expect("opens");
        let store =
            Store::<Storage>::open(&dir.join("node.storage"), COMPACT_AFTER).expect("opens");
        tracer.start::<PaxosActor>(&None);
        let ballot = Ballot {
            round: 1,
            proposer: Id::from(peer),
        };
        let prepare = Msg::Prepare { ballot };
        let saved = Storage {
            round: 0,
            promised: ballot,
            ..Storage::default()
        };
        let promise = Msg::Promise {
            ballot,
            accepted: None,
        };
        let mut out = Out::<PaxosActor>::new();
        out.save(saved.clone());
        out.send(Id::from(peer), promise);
        tracer.step(Handled::Msg(Id::from(peer), &prepare), &out, &store);
        tracer.step(
            Handled::<PaxosActor>::Timeout(&Timer::Retry),
            &Out::new(),
            &store,
        );
        let expected: Vec<Line> = vec![
            TraceLine::Start {
                seq: 0,
                node,
                protocol: "paxos".to_owned(),
                cluster: vec![node, peer],
                storage: None,
            },
            TraceLine::Receive {
                seq: 1,
                src: peer,
                msg: prepare,
                saved: Some(Saved::Whole(saved)),
                sent: vec![(peer, promise)],
            },
            TraceLine::Timeout {
                seq: 2,
                timer: Timer::Retry,
                saved: None,
                sent: Vec::new(),
            },
        ];
        let text = std::fs::read_to_string(trace_path(&dir, node)).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        let read: Vec<Line> = lines
            .iter()
            .map(|line| serde_json::from_str(line).expect("a trace line"))
            .collect();
        assert_eq!(read, expected);
        for (line, written) in read.iter().zip(&lines) {
            assert_eq!(&serde_json::to_string(line).expect("encodes"), written);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
