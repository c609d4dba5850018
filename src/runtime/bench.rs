//! `paxos bench`: throughput and latency of a 3-node loopback cluster with 1, 4 and 16
//! concurrent clients, measured in the same run as a raw UDP request/response echo, the
//! physical limit of the machine's loopback.
//!
//! Single-decree Paxos decides once, so the throughput rows are `Get`s of the chosen value
//! (answered at once by a server that learned it, by a quorum read otherwise), and committed
//! puts are timed one per fresh cluster (`--puts`). Multi-Paxos measures committed puts (each
//! one log slot, fsync'd by a majority) under concurrent clients, on a fresh cluster per
//! client count so that every row starts from an empty log.
use crate::protocol::multi_paxos::{KvOp, KvRet};
use crate::runtime::client::{self, MultiPaxosCodec, Op, Reply, UdpClient};
use crate::runtime::node::{self, NodeConfig, Protocol};
use std::io::{self, Write};
use std::net::{SocketAddrV4, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The protocol the cluster runs.
    pub protocol: Protocol,
    /// Concurrent client counts, one measurement each.
    pub clients: Vec<usize>,
    /// Length of each measurement.
    pub duration: Duration,
    /// Committed puts to time, each on a fresh cluster (single-decree decides once).
    pub decisions: usize,
    /// Also measure each client count on a cluster recording traces (T1, T2), and print the
    /// throughput ratio traced / untraced.
    pub trace: bool,
    /// Multi-Paxos: also measure 1 client on a cluster whose storage holds a log of this many
    /// commands ([`fabricate_multi_paxos_log`]); 0: not.
    pub log: u32,
}

/// One measurement.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// What was measured (`udp echo`, `paxos get`, `paxos put`, `mp put`).
    pub target: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Operations answered.
    pub ops: usize,
    /// Operations that failed or got no answer.
    pub failures: usize,
    /// Length of the measurement.
    pub seconds: f64,
    /// Median latency of the answered operations.
    pub p50: Duration,
    /// 99th-percentile latency of the answered operations.
    pub p99: Duration,
    /// Multi-Paxos puts only: the slots the cluster chose while they were measured, so that
    /// `ops / slots` is the mean batch (commands per slot).
    pub slots: Option<u32>,
}

impl Measurement {
    /// Answered operations per second.
    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds
    }
}

/// Why the benchmark could not measure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A node of the benchmark's cluster cannot start, or stopped.
    #[error(transparent)]
    Node(node::Error),
    /// A socket or file of the benchmark itself failed.
    #[error("node stopped: benchmark I/O: {0}")]
    Io(#[source] io::Error),
    /// A benchmark client cannot be made.
    #[error("node stopped: benchmark client: {0}")]
    Client(#[source] client::Error),
    /// A node of a fresh cluster does not answer.
    #[error("node stopped: {0} does not answer")]
    NoAnswer(SocketAddrV4),
    /// The cluster's threads ended before every node answered.
    #[error("node stopped: the cluster stopped")]
    ClusterStopped,
    /// The cluster did not choose the value the `Get`s are to read (what the put got).
    #[error("node stopped: the cluster did not choose a value: {0}")]
    NotChosen(String),
    /// The table cannot be written.
    #[error("cannot write the benchmark's table: {0}")]
    Output(#[source] io::Error),
}

fn row(
    target: &str,
    clients: usize,
    seconds: f64,
    results: Vec<(Vec<Duration>, usize)>,
) -> Measurement {
    let failures = results.iter().map(|(_, f)| f).sum();
    let mut latencies: Vec<Duration> = results.into_iter().flat_map(|(l, _)| l).collect();
    latencies.sort();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Measurement {
        target: target.to_owned(),
        clients,
        ops: latencies.len(),
        failures,
        seconds,
        p50: percentile(50),
        p99: percentile(99),
        slots: None,
    }
}

/// Runs `clients` threads of `work` for `duration`; each returns its latencies and failures.
fn measure<F>(clients: usize, duration: Duration, work: F) -> (f64, Vec<(Vec<Duration>, usize)>)
where
    F: Fn(usize, Instant) -> (Vec<Duration>, usize) + Send + Sync,
{
    let start = Instant::now();
    let deadline = start + duration;
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let work = &work;
                s.spawn(move || work(i, deadline))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    (start.elapsed().as_secs_f64(), results)
}

/// The raw UDP limit: a thread echoing datagrams, clients sending a Get-sized request and
/// waiting for the echo.
fn echo(clients: usize, duration: Duration) -> std::io::Result<Measurement> {
    let server = UdpSocket::bind("127.0.0.1:0")?;
    server.set_read_timeout(Some(Duration::from_millis(50)))?;
    let address = server.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let echoing = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = server.recv_from(&mut buf) {
                    let _ = server.send_to(&buf[..n], from);
                }
            }
        })
    };
    let request = br#"{"Get":{"request":1763853000000000}}"#;
    let (seconds, results) = measure(clients, duration, |_, deadline| {
        let mut latencies = Vec::new();
        let mut failures = 0;
        let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
            return (latencies, 1);
        };
        let _ = socket.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            let sent = Instant::now();
            let ok = socket.send_to(request, address).is_ok() && socket.recv_from(&mut buf).is_ok();
            if ok {
                latencies.push(sent.elapsed());
            } else {
                failures += 1;
            }
        }
        (latencies, failures)
    });
    stop.store(true, Ordering::Relaxed);
    let _ = echoing.join();
    Ok(row("udp echo", clients, seconds, results))
}

/// Runs `clients` clients of `servers` for `duration`, client `i` starting with server `i`,
/// each calling `call(client, i, n)` for its `n`-th operation, which says whether it succeeded.
fn measure_calls<F>(
    servers: &[SocketAddrV4],
    clients: usize,
    duration: Duration,
    call: F,
) -> (f64, Vec<(Vec<Duration>, usize)>)
where
    F: Fn(&mut UdpClient, usize, usize) -> bool + Send + Sync,
{
    measure(clients, duration, |i, deadline| {
        let mut latencies = Vec::new();
        let mut failures = 0;
        let Ok(mut client) = UdpClient::new(servers.to_vec(), Duration::from_millis(500), 3) else {
            return (latencies, 1);
        };
        client.prefer(i);
        let mut n = 0;
        while Instant::now() < deadline {
            let sent = Instant::now();
            if call(&mut client, i, n) {
                latencies.push(sent.elapsed());
            } else {
                failures += 1;
            }
            n += 1;
        }
        (latencies, failures)
    })
}

/// Gets against a cluster that has chosen a value.
fn cluster_gets(servers: &[SocketAddrV4], clients: usize, duration: Duration) -> Measurement {
    let (seconds, results) = measure_calls(servers, clients, duration, |client, _, _| {
        matches!(client.call(Op::Get), Ok(Reply::GetOk(Some(_))))
    });
    row("paxos get", clients, seconds, results)
}

/// Starts a 3-node cluster in this process's threads (it ends when the process does) and waits
/// until every node answers.
fn start_cluster(
    protocol: Protocol,
    data_dir: &Path,
    lifetime: Duration,
) -> Result<Vec<SocketAddrV4>, Error> {
    start_traced_cluster(protocol, data_dir, lifetime, None, 0)
}

/// [`start_cluster`], recording traces in `trace_dir` when one is given, and starting from a
/// log of `log` commands ([`fabricate_multi_paxos_log`]) when it is not 0.
fn start_traced_cluster(
    protocol: Protocol,
    data_dir: &Path,
    lifetime: Duration,
    trace_dir: Option<&Path>,
    log: u32,
) -> Result<Vec<SocketAddrV4>, Error> {
    let servers = node::free_loopback_addresses(3).map_err(Error::Io)?;
    if log > 0 {
        std::fs::create_dir_all(data_dir).map_err(Error::Io)?;
        fabricate_multi_paxos_log(data_dir, &servers, log).map_err(Error::Io)?;
    }
    let node = NodeConfig {
        protocol,
        addresses: servers.clone(),
        cluster: servers.clone(),
        data_dir: data_dir.to_owned(),
        exit_after: Some(lifetime),
        cluster_key_file: None,
        test_faults: None,
        trace_dir: trace_dir.map(Path::to_owned),
    };
    let cluster = std::thread::spawn(move || node::run(&node));
    for &server in &servers {
        // A Multi-Paxos follower restarts its leader timer on every request it cannot serve:
        // retries must come less often than `ELECTION_AFTER` for an election to happen.
        let (timeout, attempts) = match protocol {
            Protocol::Paxos => (Duration::from_millis(100), 30),
            Protocol::MultiPaxos => (node::ELECTION_AFTER.end * 2, 10),
        };
        let mut client = UdpClient::new(vec![server], timeout, attempts).map_err(Error::Client)?;
        let answer = match protocol {
            Protocol::Paxos => client.call(Op::Get).map(|_| ()),
            Protocol::MultiPaxos => client
                .call_with::<MultiPaxosCodec>(KvOp::Get {
                    key: "k".to_owned(),
                })
                .map(|_| ()),
        };
        if cluster.is_finished() {
            return match cluster.join() {
                Ok(Err(e)) => Err(Error::Node(e)),
                _ => Err(Error::ClusterStopped),
            };
        }
        if answer.is_err() {
            return Err(Error::NoAnswer(server));
        }
    }
    Ok(servers)
}

/// Single-decree Paxos decides once per cluster: each committed put is timed on a fresh one.
fn decisions(config: &BenchConfig, data_dir: &Path) -> Result<Measurement, Error> {
    let mut latencies = Vec::new();
    let mut failures = 0;
    for i in 0..config.decisions {
        let servers = start_cluster(
            config.protocol,
            &data_dir.join(format!("put-{i}")),
            LIFETIME,
        )?;
        let mut client =
            UdpClient::new(servers, Duration::from_millis(500), 3).map_err(Error::Client)?;
        let sent = Instant::now();
        match client.call(Op::Put('P')) {
            Ok(Reply::PutOk) => latencies.push(sent.elapsed()),
            _ => failures += 1,
        }
    }
    let seconds = latencies
        .iter()
        .sum::<Duration>()
        .as_secs_f64()
        .max(f64::EPSILON);
    Ok(row("paxos put", 1, seconds, vec![(latencies, failures)]))
}

/// Benchmark clusters stop by themselves after this long, should the process outlive them.
const LIFETIME: Duration = Duration::from_secs(600);

/// Committed Multi-Paxos puts: each client writes its own key (`client-<i>`, a value of a
/// few bytes) on a fresh 3-node cluster, whose storage holds a log of `log` commands.
fn multi_paxos_puts(
    clients: usize,
    duration: Duration,
    data_dir: &Path,
    trace: bool,
    log: u32,
) -> Result<Measurement, Error> {
    let trace_dir = trace.then(|| data_dir.join("trace"));
    let servers = start_traced_cluster(
        Protocol::MultiPaxos,
        data_dir,
        LIFETIME,
        trace_dir.as_deref(),
        log,
    )?;
    let before = chosen_slots(data_dir, &servers)?;
    let (seconds, results) = measure_calls(&servers, clients, duration, |client, i, n| {
        let op = KvOp::Put {
            key: format!("client-{i}"),
            value: format!("value {n}"),
        };
        matches!(client.call_with::<MultiPaxosCodec>(op), Ok(KvRet::PutOk))
    });
    let after = chosen_slots(data_dir, &servers)?;
    let target = match (trace, log) {
        (true, _) => "mp put +trace".to_owned(),
        (false, 0) => "mp put".to_owned(),
        (false, log) => format!("mp put log {}k", log / 1000),
    };
    Ok(Measurement {
        slots: Some(after.saturating_sub(before)),
        ..row(&target, clients, seconds, results)
    })
}

/// How many slots a running Multi-Paxos cluster has filled: the most any node's storage
/// holds (its snapshot's, or past its last accepted proposal), read without disturbing it.
fn chosen_slots(data_dir: &Path, servers: &[SocketAddrV4]) -> Result<u32, Error> {
    use crate::protocol::multi_paxos::Storage;
    use crate::runtime::storage::storage_path;
    use crate::runtime::wal::load_storage;
    let mut most = 0;
    for &server in servers {
        let saved = load_storage::<Storage<String>>(&storage_path(data_dir, server))
            .map_err(|e| Error::Io(io::Error::other(e.to_string())))?;
        if let Some(storage) = saved {
            let next = storage.accepted.keys().next_back().map_or(0, |s| s + 1);
            most = most.max(next).max(storage.snapshot.upto);
        }
    }
    Ok(most)
}

/// This disk's durable-write latency, measured as a Multi-Paxos node writes: for `duration`,
/// one acceptance more per save, through the node's own store (a record appended to the
/// storage log, then `fsync`, W1), in `data_dir`, on a log truncated as a node's is.
fn durable_writes(duration: Duration, data_dir: &Path) -> Result<Measurement, Error> {
    use crate::protocol::multi_paxos::{Ballot, ClientCommand, Command, Proposal, Storage};
    use crate::runtime::wal::{Store, COMPACT_AFTER};
    std::fs::create_dir_all(data_dir).map_err(Error::Io)?;
    let path = data_dir.join("durable-writes.storage");
    let store = Store::<Storage<String>>::open(&path, COMPACT_AFTER)
        .map_err(|e| Error::Io(io::Error::other(e.to_string())))?;
    store.save(&Storage::default()).map_err(Error::Io)?;
    let client = stateright::actor::Id::from(0);
    let (seconds, results) = measure(1, duration, |_, end| {
        let mut storage = Storage::default();
        let mut latencies = Vec::new();
        let mut failures = 0;
        for slot in 0.. {
            if Instant::now() >= end {
                break;
            }
            let command = Command::Batch(
                vec![ClientCommand {
                    client,
                    request: u64::from(slot) + 1,
                    op: KvOp::Put {
                        key: "client-0".to_owned(),
                        value: format!("value {slot}"),
                    },
                }]
                .into(),
            );
            let ballot = Ballot::default();
            storage.accepted.insert(slot, Proposal { ballot, command });
            if slot % node::SNAPSHOT_AFTER == 0 {
                // As a node truncates its log at each snapshot: a save's work stays that of a
                // node, not of a log that grows through the measurement.
                storage.accepted = storage.accepted.split_off(&slot);
            }
            let start = Instant::now();
            match store.save(&storage) {
                Ok(()) => latencies.push(start.elapsed()),
                Err(_) => failures += 1,
            }
        }
        (latencies, failures)
    });
    Ok(row("durable write", 1, seconds, results))
}

/// The machine's CPU time so far, and the part of it that other virtual machines took from
/// this one (steal), in clock ticks, from the first line of Linux's `/proc/stat`; `None` where
/// it cannot be read (another system).
fn cpu_steal() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = (stat.lines().next()?.split_whitespace().skip(1))
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    // user, nice, system, idle, iowait, irq, softirq, steal (guest time is within user).
    let steal = *ticks.get(7)?;
    Some((steal, ticks.iter().take(8).sum()))
}

/// The ratios the write path's goals name (docs/benchmarks.md), from the rows of a Multi-Paxos
/// run: the most clients' throughput over one client's, its p99 over one client's p50, and one client's p50 over two durable
/// writes (the leader's and a follower's `fsync`, one after the other).
fn batching_ratios(rows: &[Measurement]) -> Option<String> {
    let durable = rows.iter().find(|r| r.target == "durable write")?;
    let puts: Vec<&Measurement> = rows.iter().filter(|r| r.target == "mp put").collect();
    let one = puts.iter().find(|r| r.clients == 1)?;
    let most = puts.iter().max_by_key(|r| r.clients)?;
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let long = rows.iter().find(|r| r.target.starts_with("mp put log"));
    let long = long.map_or(String::new(), |long| {
        format!(
            " 1 client's p50 with a {} = {:.2} x with an empty log.",
            &long.target["mp put ".len()..],
            micros(long.p50) / micros(one.p50)
        )
    });
    Some(format!(
        "ratios: {} clients' puts/s = {:.1} x 1 client's; {} clients' p99 = {:.1} x 1 client's \
         p50; 1 client's p50 = {:.2} x two durable writes (p50 {} us each).{long}",
        most.clients,
        most.ops_per_second() / one.ops_per_second(),
        most.clients,
        micros(most.p99) / micros(one.p50),
        micros(one.p50) / (2.0 * micros(durable.p50)),
        durable.p50.as_micros(),
    ))
}

/// A cluster that has chosen a value, for the single-decree `Get`s.
fn chosen_cluster(
    protocol: Protocol,
    data_dir: &Path,
    trace: bool,
) -> Result<Vec<SocketAddrV4>, Error> {
    let (dir, trace_dir) = match trace {
        false => (data_dir.join("gets"), None),
        true => (data_dir.join("gets-traced"), Some(data_dir.join("trace"))),
    };
    let servers = start_traced_cluster(protocol, &dir, LIFETIME, trace_dir.as_deref(), 0)?;
    let mut setup =
        UdpClient::new(servers.clone(), Duration::from_millis(200), 25).map_err(Error::Client)?;
    match setup.call(Op::Put('B')) {
        Ok(Reply::PutOk | Reply::PutFail) => Ok(servers),
        other => Err(Error::NotChosen(format!("{other:?}"))),
    }
}

/// Measures, writes a table to `out` row by row, and returns the rows. Single-decree Paxos:
/// `Get`s of a chosen value, then committed puts; Multi-Paxos: committed puts; each next to
/// the raw UDP echo, per client count.
pub fn run(config: &BenchConfig, out: &mut dyn Write) -> Result<Vec<Measurement>, Error> {
    let cpu_at_start = cpu_steal();
    let data_dir = std::env::temp_dir().join(format!("paxos-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let gets = match config.protocol {
        Protocol::Paxos => Some(chosen_cluster(config.protocol, &data_dir, false)?),
        Protocol::MultiPaxos => None,
    };
    let traced_gets = match config.protocol {
        Protocol::Paxos if config.trace => Some(chosen_cluster(config.protocol, &data_dir, true)?),
        _ => None,
    };
    let mut ratios = Vec::new();
    let mut table = Table {
        out,
        rows: Vec::new(),
    };
    table.header()?;
    if config.protocol == Protocol::MultiPaxos {
        table.add(durable_writes(config.duration, &data_dir)?)?;
    }
    for &clients in &config.clients {
        table.add(echo(clients, config.duration).map_err(Error::Io)?)?;
        let untraced = match &gets {
            Some(servers) => cluster_gets(servers, clients, config.duration),
            None => multi_paxos_puts(
                clients,
                config.duration,
                &data_dir.join(format!("clients-{clients}")),
                false,
                0,
            )?,
        };
        let untraced_rate = untraced.ops_per_second();
        table.add(untraced)?;
        if config.trace {
            let mut traced = match &traced_gets {
                Some(servers) => cluster_gets(servers, clients, config.duration),
                None => multi_paxos_puts(
                    clients,
                    config.duration,
                    &data_dir.join(format!("traced-clients-{clients}")),
                    true,
                    0,
                )?,
            };
            if traced_gets.is_some() {
                traced.target = "paxos get +trace".to_owned();
            }
            ratios.push((clients, traced.ops_per_second() / untraced_rate));
            table.add(traced)?;
        }
    }
    if config.protocol == Protocol::MultiPaxos && config.log > 0 {
        let dir = data_dir.join("long-log");
        table.add(multi_paxos_puts(
            1,
            config.duration,
            &dir,
            false,
            config.log,
        )?)?;
    }
    if gets.is_some() && config.decisions > 0 {
        table.add(decisions(config, &data_dir)?)?;
    }
    let legend = match config.protocol {
        Protocol::Paxos => {
            "paxos get: reads of the chosen value (answered at once by a server that learned it, \
             by a quorum read otherwise); paxos put: one committed put (both phases) per fresh \
             cluster, ops/s = puts / time spent in puts."
        }
        Protocol::MultiPaxos => {
            "durable write: this disk's write + fsync, as a node saves an acceptance. mp put: \
             committed Multi-Paxos puts (leader's accept, a majority's fsync'd Accepted, apply, \
             reply; the leader batches requests that wait for its window of slots in flight, \
             node::UDP_TUNING's window and batch, held up to its batch_wait for the clients \
             a chosen slot answered), each client on its own key, a fresh 3-node cluster \
             per client count. mp put log: the same, 1 client, on a cluster whose storage \
             holds a log of that many commands when it starts (--log). cmds/slot: puts \
             answered over the slots the cluster chose meanwhile (the mean batch)."
        }
    };
    writeln!(table.out, "{legend}").map_err(Error::Output)?;
    if let Some(ratios) = batching_ratios(&table.rows) {
        writeln!(table.out, "{ratios}").map_err(Error::Output)?;
    }
    for (clients, ratio) in ratios {
        writeln!(
            table.out,
            "+trace: the same on a cluster recording traces (--trace); with {clients} clients it \
             keeps {:.0}% of the untraced throughput.",
            ratio * 100.0
        )
        .map_err(Error::Output)?;
    }
    if let (Some((steal_0, total_0)), Some((steal_1, total_1))) = (cpu_at_start, cpu_steal()) {
        let share = (steal_1 - steal_0) as f64 / (total_1 - total_0).max(1) as f64;
        writeln!(
            table.out,
            "cpu steal: {:.1}% of this machine's CPU time went to other virtual machines during \
             the run (Linux /proc/stat): figures from runs with more steal are slower and \
             vary more.",
            share * 100.0
        )
        .map_err(Error::Output)?;
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(table.rows)
}

/// The table of measurements, written as they come.
struct Table<'a> {
    out: &'a mut dyn Write,
    rows: Vec<Measurement>,
}

impl Table<'_> {
    fn header(&mut self) -> Result<(), Error> {
        writeln!(
            self.out,
            "{:<13} {:>7} {:>10} {:>9} {:>10} {:>10} {:>8} {:>10}",
            "target", "clients", "ops", "ops/s", "p50 (us)", "p99 (us)", "failed", "cmds/slot"
        )
        .map_err(Error::Output)
    }

    fn add(&mut self, measured: Measurement) -> Result<(), Error> {
        let per_slot = match measured.slots {
            Some(slots) if slots > 0 => format!("{:.1}", measured.ops as f64 / f64::from(slots)),
            _ => "-".to_owned(),
        };
        writeln!(
            self.out,
            "{:<13} {:>7} {:>10} {:>9.0} {:>10} {:>10} {:>8} {:>10}",
            measured.target,
            measured.clients,
            measured.ops,
            measured.ops_per_second(),
            measured.p50.as_micros(),
            measured.p99.as_micros(),
            measured.failures,
            per_slot
        )
        .map_err(Error::Output)?;
        self.rows.push(measured);
        Ok(())
    }
}

/// How many keys [`fabricate_multi_paxos_log`] spreads its appends over (so that no value, and
/// no reply, outgrows a datagram): slot `s` appends to key `U+4E00 + s % FABRICATED_KEYS`.
pub const FABRICATED_KEYS: u32 = 1000;

/// Writes the storage files of a Multi-Paxos cluster whose log holds `commands` appends of
/// `'a'` (slot `s` to key `U+4E00 + s % FABRICATED_KEYS`), all chosen under one ballot of the
/// first node and known decided: what the nodes would have saved after `commands` appends
/// (a snapshot of the store after the slots below the last multiple of
/// [`node::SNAPSHOT_AFTER`], and the accepted proposals since), written in a moment (the
/// restart figures of `tests/availability.rs`, and `paxos bench --log`).
pub fn fabricate_multi_paxos_log(
    data_dir: &Path,
    addresses: &[SocketAddrV4],
    commands: u32,
) -> io::Result<()> {
    use crate::protocol::multi_paxos::{
        Ballot, ClientCommand, Command, Proposal, Snapshot, StateMachine, Storage,
    };
    use crate::runtime::storage::storage_path;
    use crate::runtime::wal::replace_storage;
    use stateright::actor::Id;
    let key = |slot: u32| char::from_u32(0x4E00 + slot % FABRICATED_KEYS).unwrap_or('x');
    let leader = addresses.first().ok_or(io::ErrorKind::InvalidInput)?;
    let ballot = Ballot {
        round: 1,
        proposer: Id::from(*leader),
    };
    // A client that no longer runs: its requests are 1, 2, ... in log order.
    let client = Id::from(SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9));
    let command = |slot: u32| ClientCommand {
        client,
        request: u64::from(slot) + 1,
        op: KvOp::Append {
            key: key(slot).to_string(),
            value: "a".to_owned(),
        },
    };
    let upto = commands - commands % node::SNAPSHOT_AFTER;
    let mut machine = StateMachine::default();
    for slot in 0..upto {
        machine.apply(&command(slot), true);
    }
    let snapshot = std::sync::Arc::new(Snapshot { upto, machine });
    let accepted: std::collections::BTreeMap<_, _> = (upto..commands)
        .map(|slot| {
            let command = Command::Batch(vec![command(slot)].into());
            (slot, Proposal { ballot, command })
        })
        .collect();
    for (i, address) in addresses.iter().enumerate() {
        let storage: Storage<String> = Storage {
            round: if i == 0 { 1 } else { 0 },
            promised: ballot,
            accepted: accepted.clone(),
            decided: commands,
            snapshot: snapshot.clone(),
        };
        replace_storage(&storage_path(data_dir, *address), &storage)?;
    }
    Ok(())
}
