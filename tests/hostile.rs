//! Hostile input on a real cluster with a cluster key: more than 10,000 datagrams of garbage,
//! truncated and oversized JSON, JSON of the wrong shape, client replies and peer-to-peer
//! messages spoofed from a port that is not a peer, and, from a configured peer's own address,
//! peer messages without a MAC, with a forged one, with one made with another key, and
//! genuine sealed messages captured there and reflected to other nodes; all sent while clients
//! work. Every node must still answer, nothing spoofed may be chosen, and the history must
//! stay linearizable. Also: requests forged in another client's name leave that client alone
//! and reflect nothing to a third address.
//! Reference: spec/runtime.md (H1-H3, R1-R3, A1).
mod common;

use common::{Cluster, History, Rng, Setup};
use paxos::protocol::multi_paxos::{self, ClientCommand, KvOp, KvRet};
use paxos::protocol::paxos::{Ballot, Msg, Proposal};
use paxos::runtime::auth::ClusterKey;
use paxos::runtime::client::{MultiPaxosCodec, Op, Reply, UdpClient};
use paxos::runtime::guard::SEALED_MAGIC;
use paxos::runtime::node::Protocol;
use stateright::actor::Id;
use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const DATAGRAMS: usize = 12_000;

/// The hostile test cluster's key.
const KEY: &[u8; 32] = b"hostile-test: the cluster's key.";

/// Where a hostile datagram comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum From {
    /// A port that is no member of the cluster.
    Stranger,
    /// The address of a configured member that runs no node: the attacker holds it.
    Peer,
}

/// A peer-to-peer message with a huge ballot, spoofed by `proposer`, proposing `'Z'`.
fn spoofed_peer_message(i: usize, rng: &mut Rng, proposer: Id, victim: SocketAddrV4) -> Msg {
    let huge = Ballot {
        round: u32::MAX - (i as u32 % 7),
        proposer,
    };
    let proposal = Proposal {
        ballot: huge,
        value: 'Z',
    };
    match rng.below(6) {
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
    }
}

/// A sealed datagram: magic, tag, body.
fn sealed(tag: [u8; 32], body: &[u8]) -> Vec<u8> {
    let mut bytes = SEALED_MAGIC.to_vec();
    bytes.extend(tag);
    bytes.extend(body);
    bytes
}

/// The `i`-th hostile datagram: eight kinds in turn, the last two from the peer's address.
/// `captured` holds genuine sealed datagrams the nodes sent to that address.
fn hostile(
    i: usize,
    rng: &mut Rng,
    (me, peer): (Id, Id),
    victim: SocketAddrV4,
    captured: &VecDeque<Vec<u8>>,
) -> (From, Vec<u8>) {
    let spoofed_value = 'Z';
    let from_stranger = |bytes| (From::Stranger, bytes);
    match i % 8 {
        // A1: from the peer's own address, no MAC: peer messages and client requests alike.
        6 => {
            let msg = if rng.below(4) == 0 {
                Msg::Put {
                    request: i as u64,
                    value: spoofed_value,
                }
            } else {
                spoofed_peer_message(i, rng, peer, victim)
            };
            (From::Peer, serde_json::to_vec(&msg).expect("encodes"))
        }
        // A1: from the peer's own address, sealed: a forged tag, a tag made with another
        // key, a genuine sealed message reflected to another receiver, a truncated seal.
        7 => {
            let body =
                serde_json::to_vec(&spoofed_peer_message(i, rng, peer, victim)).expect("encodes");
            let bytes = match rng.below(4) {
                0 => sealed(std::array::from_fn(|_| rng.next() as u8), &body),
                1 => {
                    let other = ClusterKey::from_bytes(b"not the cluster's key, but long.")
                        .expect("long enough");
                    sealed(other.tag(peer, Id::from(victim), &body), &body)
                }
                2 if !captured.is_empty() => {
                    captured[rng.below(captured.len() as u64) as usize].clone()
                }
                _ => sealed([0; 32], b"")[..4 + rng.below(32) as usize].to_vec(),
            };
            (From::Peer, bytes)
        }
        _ => from_stranger(hostile_from_a_stranger(i, rng, me, victim)),
    }
}

/// The hostile datagrams from a port that is no member: six kinds in turn.
fn hostile_from_a_stranger(i: usize, rng: &mut Rng, me: Id, victim: SocketAddrV4) -> Vec<u8> {
    let spoofed_value = 'Z';
    match i % 8 {
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
        _ => serde_json::to_vec(&spoofed_peer_message(i, rng, me, victim)).expect("encodes"),
    }
}

fn id_of(socket: &UdpSocket) -> Id {
    match socket.local_addr().expect("bound") {
        SocketAddr::V4(a) => Id::from(a),
        SocketAddr::V6(_) => unreachable!("bound to an IPv4 address"),
    }
}

// H1-H3, A1: no input makes a node panic, stop answering, or choose a value no client put;
// with the cluster key, nothing from a peer's own address gets in without the key.
#[test]
fn hostile_datagrams_change_nothing() {
    // A 4-member cluster whose 4th member runs no node: the attacker holds its address,
    // as one who can send from a peer's address would. (A node's own address cannot be
    // shared: stateright's `spawn` binds it without SO_REUSEADDR or SO_REUSEPORT.) The
    // three nodes are a majority of four: every decision needs all of them.
    let peer_socket = UdpSocket::bind("127.0.0.1:0").expect("a free port");
    let peer_address = match peer_socket.local_addr().expect("bound") {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => unreachable!("bound to an IPv4 address"),
    };
    let setup = Setup {
        absent: vec![peer_address],
        key: Some(KEY.to_vec()),
        ..Setup::default()
    };
    let cluster = Cluster::start_with(Protocol::Paxos, 3, "hostile", setup);
    let history = History::default();
    let servers = cluster.addresses.clone();
    let attacking = AtomicBool::new(true);
    let (sent, from_peer, reflected) = std::thread::scope(|s| {
        let attacker = s.spawn(|| {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("a free port");
            peer_socket
                .set_nonblocking(true)
                .expect("a non-blocking socket");
            let ids = (id_of(&socket), id_of(&peer_socket));
            let mut rng = Rng::new(7);
            let (mut sent, mut from_peer, mut reflected) = (0, 0, 0);
            let mut captured: VecDeque<Vec<u8>> = VecDeque::new();
            let mut buf = [0u8; 65_536];
            for i in 0..DATAGRAMS {
                // What the nodes sent to the peer's address: genuine, sealed for it.
                while let Ok((n, _)) = peer_socket.recv_from(&mut buf) {
                    if captured.len() == 64 {
                        captured.pop_front();
                    }
                    captured.push_back(buf[..n].to_vec());
                }
                let target = servers[i % servers.len()];
                let (from, bytes) = hostile(i, &mut rng, ids, target, &captured);
                reflected += usize::from(captured.contains(&bytes));
                let socket = match from {
                    From::Stranger => &socket,
                    From::Peer => &peer_socket,
                };
                if socket.send_to(&bytes, target).is_ok() {
                    sent += 1;
                    from_peer += usize::from(from == From::Peer);
                }
                if i % 200 == 0 {
                    // Let the clients in between bursts.
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            attacking.store(false, Ordering::SeqCst);
            (sent, from_peer, reflected)
        });
        for worker in 0..3 {
            let history = &history;
            let servers = servers.clone();
            let attacking = &attacking;
            s.spawn(move || {
                let mut rng = Rng::new(worker as u64);
                let mut client =
                    UdpClient::new(servers, Duration::from_millis(250), 8).expect("client");
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
    assert!(
        from_peer >= 2_500,
        "only {from_peer} datagrams from the peer's address"
    );
    assert!(reflected > 0, "no genuine sealed message was reflected");

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
        "{sent} hostile datagrams ({from_peer} from the peer's address, {reflected} of them \
         genuine sealed messages reflected); {} operations answered, {} unanswered, {len} in \
         the history",
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
        "Dropped unauthenticated message from a peer address",
        "Dropped peer message with a bad MAC",
    ] {
        assert!(logs.contains(logged), "nothing logged as {logged:?}");
    }
    assert!(!logs.contains("panicked"), "a node panicked:\n{logs}");
}

/// A raw socket's Multi-Paxos datagrams: what it receives within `within`, decoded.
fn receive_all(socket: &UdpSocket, within: Duration) -> Vec<multi_paxos::Msg> {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 65_536];
    let mut received = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left)).expect("a timeout");
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => received.extend(serde_json::from_slice(&buf[..n]).ok()),
            Err(_) => break,
        }
    }
    received
}

fn request(client: Id, request: u64, op: KvOp) -> Vec<u8> {
    let command = ClientCommand {
        client,
        request,
        op,
    };
    serde_json::to_vec(&multi_paxos::Msg::Request { command }).expect("encodes")
}

// R1: requests forged in another client's name, request number u64::MAX included, are taken
// in the forger's name: the client they name is not poisoned (its next requests are served)
// and nothing is reflected to a third address. R3: the forger, whose own last request is now
// u64::MAX, gets an explicit `Stale` refusal for a lower number and for that number reused
// with another operation.
#[test]
fn forged_requests_leave_their_victim_alone() {
    let setup = Setup {
        key: Some(KEY.to_vec()),
        ..Setup::default()
    };
    let cluster = Cluster::start_with(Protocol::MultiPaxos, 3, "forged", setup);
    let servers = cluster.addresses.clone();
    let mut victim =
        UdpClient::new(servers.clone(), Duration::from_millis(700), 6).expect("client");
    let victim_id = match victim.local_address().expect("bound") {
        SocketAddr::V4(a) => Id::from(a),
        SocketAddr::V6(_) => unreachable!("bound to an IPv4 address"),
    };
    let append = |value| KvOp::Append { key: 'x', value };
    let first = victim.call_with::<MultiPaxosCodec>(append('a'));
    assert!(
        matches!(&first, Ok(KvRet::AppendOk { value }) if value == "a"),
        "{first:?}"
    );

    let forger = UdpSocket::bind("127.0.0.1:0").expect("a free port");
    let bystander = UdpSocket::bind("127.0.0.1:0").expect("a free port");
    let bystander_id = id_of(&bystander);
    let forger_id = id_of(&forger);
    // Forged until the forged put is applied (at most 10 s), whoever's name it took.
    let put_f = KvOp::Put {
        key: 'f',
        value: 'Z',
    };
    let forged = [
        request(victim_id, u64::MAX, put_f),
        request(
            victim_id,
            u64::MAX - 1,
            KvOp::Append {
                key: 'f',
                value: 'Z',
            },
        ),
        request(bystander_id, u64::MAX, KvOp::Get { key: 'x' }),
        request(bystander_id, 1, KvOp::Get { key: 'x' }),
    ];
    let mut checker =
        UdpClient::new(servers.clone(), Duration::from_millis(700), 6).expect("client");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut forger_got = Vec::new();
    let mut applied = false;
    while !applied && Instant::now() < deadline {
        for server in &servers {
            for bytes in &forged {
                forger.send_to(bytes, server).expect("sent on loopback");
            }
        }
        forger_got.extend(receive_all(&forger, Duration::from_millis(300)));
        let f = checker.call_with::<MultiPaxosCodec>(KvOp::Get { key: 'f' });
        applied = matches!(&f, Ok(KvRet::GetOk { value: Some(_) }));
    }
    assert!(applied, "the forged put was never applied");
    forger_got.extend(receive_all(&forger, Duration::from_millis(300)));

    // The victim is unaffected: its next requests are served, in order.
    for value in ['b', 'c'] {
        let next = victim.call_with::<MultiPaxosCodec>(append(value));
        assert!(
            matches!(&next, Ok(KvRet::AppendOk { .. })),
            "the victim's append of {value} after the forgery: {next:?}"
        );
    }
    let read = victim.call_with::<MultiPaxosCodec>(KvOp::Get { key: 'x' });
    assert!(
        matches!(&read, Ok(KvRet::GetOk { value: Some(v) }) if v == "abc"),
        "{read:?}"
    );

    // The forged requests were answered to their sender, in its name.
    assert!(
        forger_got.iter().any(|m| matches!(
            m,
            multi_paxos::Msg::Reply {
                request: u64::MAX,
                ..
            }
        )),
        "the forged requests were not answered to their sender: {forger_got:?}"
    );

    // R3 on the wire: the forger's own table now ends at u64::MAX.
    let refusals = [
        (request(forger_id, 5, KvOp::Get { key: 'x' }), 5),
        (request(forger_id, u64::MAX, append('Y')), u64::MAX),
    ];
    for (bytes, number) in refusals {
        let mut answers = Vec::new();
        for attempt in 0..20 {
            forger
                .send_to(&bytes, servers[attempt % servers.len()])
                .expect("sent on loopback");
            answers = receive_all(&forger, Duration::from_millis(400));
            if answers
                .iter()
                .any(|m| matches!(m, multi_paxos::Msg::Stale { request, .. } if *request == number))
            {
                break;
            }
        }
        assert!(
            answers.contains(&multi_paxos::Msg::Stale {
                request: number,
                last: u64::MAX
            }),
            "request {number}: {answers:?}"
        );
    }

    // Nothing went to the third address the forged requests named.
    let reflected = receive_all(&bystander, Duration::from_millis(300));
    assert!(
        reflected.is_empty(),
        "reflected to a bystander: {reflected:?}"
    );
    let logs = cluster.logs();
    assert!(logs.contains("Request names a client other than its source"));
    assert!(!logs.contains("panicked"), "a node panicked:\n{logs}");
}
