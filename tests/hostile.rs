//! Hostile input on a real 3-node cluster: more than 10,000 datagrams of garbage, truncated
//! and oversized JSON, JSON of the wrong shape, client replies and peer-to-peer messages
//! spoofed from a port that is not a peer, sent while clients work. Every node must still
//! answer, nothing spoofed may be chosen, and the history must stay linearizable.
//! Reference: spec/runtime.md (H1-H3).
mod common;

use common::{Cluster, History, Rng};
use paxos::protocol::paxos::{Ballot, Msg, Proposal};
use paxos::runtime::client::{Client, Op, Reply};
use paxos::runtime::node::Protocol;
use stateright::actor::Id;
use std::net::{SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const DATAGRAMS: usize = 12_000;

/// The `i`-th hostile datagram: six kinds in turn.
fn hostile(i: usize, rng: &mut Rng, me: Id, victim: SocketAddrV4) -> Vec<u8> {
    let huge = Ballot {
        round: u32::MAX - (i as u32 % 7),
        proposer: me,
    };
    let spoofed_value = 'Z';
    match i % 6 {
        // Random bytes.
        0 => (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect(),
        // Truncated JSON of a valid message.
        1 => {
            let full = serde_json::to_vec(&Msg::Put {
                request: i as u64,
                value: spoofed_value,
            })
            .expect("encodes");
            full[..rng.below(full.len() as u64) as usize].to_vec()
        }
        // 60 KB payloads, valid JSON inside.
        2 => {
            let mut big = br#"{"Put":{"request":1,"value":""#.to_vec();
            big.extend(std::iter::repeat_n(b'Z', 60_000));
            big.extend(br#""}}"#);
            big
        }
        // Valid JSON of the wrong shape.
        3 => [
            &br#"{"Put":{"request":"one","value":"Z"}}"#[..],
            br#"{"Put":{"request":1,"value":"ZZ"}}"#,
            br#"{"Prepare":{"ballot":{"round":-1,"proposer":0}}}"#,
            br#"{"Unknown":{}}"#,
            br#"[1,2,3]"#,
            br#""Get""#,
            br#"null"#,
            br#"{"Get":{"request":1},"Put":{"request":2,"value":"Z"}}"#,
        ][rng.below(8) as usize]
            .to_vec(),
        // Client replies sent to a server.
        4 => serde_json::to_vec(&Msg::PutOk { request: i as u64 }).expect("encodes"),
        // Peer-to-peer messages spoofed from a non-peer port.
        _ => {
            let proposal = Proposal {
                ballot: huge,
                value: spoofed_value,
            };
            let msg = match rng.below(6) {
                0 => Msg::Prepare { ballot: huge },
                1 => Msg::Accept { proposal },
                2 => Msg::Accepted { proposal },
                3 => Msg::Promise {
                    ballot: huge,
                    accepted: Some(proposal),
                },
                4 => Msg::Rejected {
                    ballot: huge,
                    promised: huge,
                },
                _ => Msg::ReadReply {
                    client: Id::from(victim),
                    request: 1,
                    accepted: Some(proposal),
                },
            };
            serde_json::to_vec(&msg).expect("encodes")
        }
    }
}

// H1-H3: no input makes a node panic, stop answering, or choose a value no client put.
#[test]
fn hostile_datagrams_change_nothing() {
    let cluster = Cluster::start(Protocol::Paxos, 3, "hostile");
    let history = History::default();
    let servers = cluster.addresses.clone();
    let attacking = AtomicBool::new(true);
    let sent = std::thread::scope(|s| {
        let attacker = s.spawn(|| {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("a free port");
            let me = match socket.local_addr().expect("bound") {
                std::net::SocketAddr::V4(a) => Id::from(a),
                std::net::SocketAddr::V6(_) => unreachable!("bound to an IPv4 address"),
            };
            let mut rng = Rng::new(7);
            let mut sent = 0;
            for i in 0..DATAGRAMS {
                let target = servers[i % servers.len()];
                let bytes = hostile(i, &mut rng, me, target);
                if socket.send_to(&bytes, target).is_ok() {
                    sent += 1;
                }
                if i % 200 == 0 {
                    // Let the clients in between bursts.
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            attacking.store(false, Ordering::SeqCst);
            sent
        });
        for worker in 0..3 {
            let history = &history;
            let servers = servers.clone();
            let attacking = &attacking;
            s.spawn(move || {
                let mut rng = Rng::new(worker as u64);
                let mut client =
                    Client::new(servers, Duration::from_millis(250), 8).expect("client");
                let mut recorder = history.recorder(worker, 3);
                let value = (b'A' + worker as u8) as char;
                let mut ops = 0;
                // At least 20 operations each, and on until the attack is over.
                while ops < 20 || (attacking.load(Ordering::SeqCst) && ops < 120) {
                    client.prefer(rng.below(3) as usize);
                    let op = if rng.below(4) == 0 {
                        Op::Put(value)
                    } else {
                        Op::Get
                    };
                    recorder.call(&mut client, op);
                    ops += 1;
                }
            });
        }
        attacker.join().expect("the attacker does not panic")
    });
    assert!(sent >= 10_000, "only {sent} datagrams sent");

    // Every node still runs and answers, with a value some client put.
    let mut cluster = cluster;
    let mut checks = history.recorder(1000, 1000);
    for i in 0..3 {
        assert!(cluster.running(i), "node {i} stopped");
        let mut client = cluster.client_of(i);
        // A put runs a ballot on this node, so that its reads are answered from what it learned.
        let put = checks.call(&mut client, Op::Put('A'));
        assert!(put.is_some(), "node {i} does not answer a put");
        let read = checks.call(&mut client, Op::Get);
        let Some(Reply::GetOk(Some(value))) = read else {
            panic!("node {i} read {read:?}");
        };
        assert!(
            ('A'..='C').contains(&value),
            "node {i} holds {value:?}, which no client put"
        );
    }
    let (linearizable, len) = history.linearizable();
    eprintln!(
        "{sent} hostile datagrams; {} operations answered, {} unanswered, {len} in the history",
        history.completed.load(Ordering::SeqCst),
        history.unknown.load(Ordering::SeqCst)
    );
    assert!(linearizable, "the history is not linearizable");
    let logs = cluster.logs();
    for logged in [
        "Dropped internal message from a non-peer",
        "Dropped unexpected client reply",
        "Dropped oversized datagram",
        "Dropped malformed datagram",
    ] {
        assert!(logs.contains(logged), "nothing logged as {logged:?}");
    }
    assert!(!logs.contains("panicked"), "a node panicked:\n{logs}");
}
