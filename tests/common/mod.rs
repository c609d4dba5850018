//! Shared helpers of the loopback UDP cluster tests: nodes as separate processes of the built
//! binary, on ports chosen free at run time, killed when the test ends (and told to exit by
//! themselves after a while, should the test process die first); a recorder of every client
//! operation for stateright's `LinearizabilityTester`.
#![allow(dead_code)] // Each test file uses a different part.

use paxos::protocol::multi_paxos::KvOp;
use paxos::runtime::client::{MultiPaxosCodec, Op, Reply, UdpClient};
use paxos::runtime::node::{free_loopback_addresses, Protocol};
use stateright::semantics::write_once_register::{WORegister, WORegisterOp, WORegisterRet};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::fs::File;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_paxos");

/// Node processes exit by themselves after this long, whatever happens to the test.
pub const NODE_LIFETIME_SECS: &str = "90";

/// A fresh, empty directory under the system's temporary directory, removed with everything
/// in it when dropped (when the test that made it ends, passed or failed). Reads as its path.
pub struct TempDir(tempfile::TempDir);

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

/// A fresh [`TempDir`], named after `tag`.
pub fn temp_dir(tag: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("paxos-{tag}-"))
        .tempdir()
        .expect("the temporary directory is writable");
    TempDir(dir)
}

/// Writes `bytes` to a new file only its owner may read, as a key file should be.
pub fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("a new file");
    file.write_all(bytes).expect("written");
}

/// Waits for `child` to exit, killing it at the deadline (then `None`).
pub fn wait_for_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs the binary with `args` to completion (at most 10 s): exit code and standard error.
pub fn run_binary(args: &[&str], dir: &Path) -> (Option<i32>, String) {
    let log = dir.join(format!(
        "run-{}.log",
        args.join("_").replace(['/', ':'], "-")
    ));
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("log file"))
        .spawn()
        .expect("the built binary runs");
    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    (status.and_then(|s| s.code()), stderr)
}

/// What a test cluster has beyond its protocol and size.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// Configured members that run no node: the test may hold their addresses.
    pub absent: Vec<SocketAddrV4>,
    /// The cluster key, written to a file every node is given (`--cluster-key-file`).
    pub key: Option<Vec<u8>>,
    /// Every node's `--test-faults` plan; each node also gets its own partition file
    /// ([`Cluster::partition`]) and seed.
    pub faults: Option<String>,
    /// Nodes record no trace (no `--trace`): a Multi-Paxos leader then sends what D1 lets it
    /// send before its save, which a traced node never does.
    pub untraced: bool,
}

/// A cluster of single-node processes on loopback.
pub struct Cluster {
    pub protocol: Protocol,
    pub addresses: Vec<SocketAddrV4>,
    pub data_dir: TempDir,
    setup: Setup,
    children: Vec<Option<Child>>,
    starts: usize,
}

impl Cluster {
    /// Starts `n` nodes of `protocol`, each its own process, and waits until each answers a
    /// Get.
    pub fn start(protocol: Protocol, n: usize, tag: &str) -> Cluster {
        Cluster::start_with(protocol, n, tag, Setup::default())
    }

    /// [`Cluster::start`] with a key, absent members or faults.
    pub fn start_with(protocol: Protocol, n: usize, tag: &str, setup: Setup) -> Cluster {
        let addresses = free_loopback_addresses(n).expect("free loopback ports");
        let data_dir = temp_dir(tag);
        if let Some(key) = &setup.key {
            write_private(&data_dir.join("cluster.key"), key);
        }
        let mut cluster = Cluster {
            protocol,
            addresses,
            data_dir,
            setup,
            children: (0..n).map(|_| None).collect(),
            starts: 0,
        };
        for i in 0..n {
            cluster.launch(i);
        }
        for i in 0..n {
            assert!(cluster.answers(i), "node {i} does not answer after start");
        }
        cluster
    }

    pub fn launch(&mut self, i: usize) {
        let peers: Vec<String> = self
            .addresses
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, a)| a.to_string())
            .chain(self.setup.absent.iter().map(|a| a.to_string()))
            .collect();
        self.starts += 1;
        let log = self.log_path(i, self.starts);
        let mut command = Command::new(BIN);
        command
            .args(["spawn", "--protocol", &self.protocol.to_string()])
            .args(["--address", &self.addresses[i].to_string()])
            .args(["--peers", &peers.join(",")])
            .arg("--data-dir")
            .arg(&*self.data_dir)
            .args(["--exit-after", NODE_LIFETIME_SECS]);
        if !self.setup.untraced {
            command.arg("--trace").arg(self.trace_dir());
        }
        if self.setup.key.is_some() {
            command
                .arg("--cluster-key-file")
                .arg(self.data_dir.join("cluster.key"));
        }
        if let Some(faults) = &self.setup.faults {
            let partition = self.partition_file(i);
            let plan = format!(
                "{faults},partition-file={},seed={}",
                partition.display(),
                100 * self.starts + i
            );
            command.args(["--test-faults", &plan]);
        }
        let child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(File::create(log).expect("log file"))
            .spawn()
            .expect("the built binary runs");
        self.children[i] = Some(child);
    }

    fn partition_file(&self, i: usize) -> PathBuf {
        self.data_dir.join(format!("partition-{i}"))
    }

    /// F1: cuts node `i` off from its peers (its process must run with `Setup::faults`).
    pub fn partition(&self, i: usize) {
        assert!(
            self.setup.faults.is_some(),
            "no fault layer to partition with"
        );
        std::fs::write(self.partition_file(i), b"").expect("the partition file is written");
    }

    /// F1: ends node `i`'s partition.
    pub fn heal(&self, i: usize) {
        std::fs::remove_file(self.partition_file(i)).expect("the partition file is removed");
    }

    fn log_path(&self, i: usize, start: usize) -> PathBuf {
        self.data_dir.join(format!("node-{i}-start-{start}.log"))
    }

    /// Everything every node process logged so far.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&self.data_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "log") {
                all += &std::fs::read_to_string(entry.path()).unwrap_or_default();
            }
        }
        all
    }

    /// F1: what the fault layers of all node processes did so far, from their last report
    /// each: datagrams to peers, lost, duplicated, delayed copies.
    pub fn fault_totals(&self) -> [u64; 4] {
        let mut totals = [0; 4];
        for entry in std::fs::read_dir(&self.data_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let Some(last) = log.lines().rfind(|l| l.contains("Test faults so far")) else {
                continue;
            };
            for (total, key) in
                totals
                    .iter_mut()
                    .zip(["datagrams=", "lost=", "duplicated=", "delayed="])
            {
                let number = last
                    .split(key)
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse::<u64>().ok());
                *total += number.unwrap_or(0);
            }
        }
        totals
    }

    /// `kill -9` of node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            child.kill().expect("SIGKILL delivered");
            let _ = child.wait();
        }
    }

    /// Restarts node `i` from its data directory and waits until it answers.
    pub fn restart(&mut self, i: usize) {
        self.launch(i);
        assert!(self.answers(i), "node {i} does not answer after restart");
    }

    /// Whether node `i`'s process is still running.
    pub fn running(&mut self, i: usize) -> bool {
        self.children[i]
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// A client of node `i` alone.
    pub fn client_of(&self, i: usize) -> UdpClient {
        UdpClient::new(vec![self.addresses[i]], Duration::from_millis(200), 15).expect("client")
    }

    /// Whether node `i` answers a Get within 15 s. A node process that has not bound its port
    /// yet (slow to start on a loaded machine) makes each attempt fail at once ("connection
    /// refused"), so the Get is asked again until the deadline, not a fixed number of times.
    pub fn answers(&self, i: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let answered = match self.protocol {
                Protocol::Paxos => self.client_of(i).call(Op::Get).is_ok(),
                // A follower restarts its leader timer on each request it cannot serve: the
                // retries must come less often than the election timeout.
                Protocol::MultiPaxos => {
                    UdpClient::new(vec![self.addresses[i]], Duration::from_millis(700), 6)
                        .expect("client")
                        .call_with::<MultiPaxosCodec>(KvOp::Get { key: 'x' })
                        .is_ok()
                }
            };
            if answered || Instant::now() > deadline {
                return answered;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// T1: where the nodes record their traces.
    pub fn trace_dir(&self) -> PathBuf {
        self.data_dir.join("trace")
    }

    /// `kill -9` of every node, then `paxos validate` of their traces (V1-V5): the verdict,
    /// which the test asserts is OK.
    pub fn kill_all_and_validate(&mut self) -> paxos::validate::ValidationReport {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        let started = Instant::now();
        let verdict = paxos::validate::validate(&self.trace_dir())
            .unwrap_or_else(|e| panic!("the traces do not read: {e}"));
        eprintln!(
            "validate {}: {} ({:?})",
            self.trace_dir().display(),
            verdict.report,
            started.elapsed()
        );
        verdict
    }

    pub fn storage_path(&self, i: usize) -> PathBuf {
        paxos::runtime::storage::storage_path(&self.data_dir, self.addresses[i])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// Every operation's invocation and response, as the model records them.
pub struct History {
    tester: Mutex<LinearizabilityTester<usize, WORegister<char>>>,
    /// Values whose put was acknowledged (PutOk).
    pub acknowledged: Mutex<Vec<char>>,
    pub completed: AtomicUsize,
    pub unknown: AtomicUsize,
}

impl Default for History {
    fn default() -> Self {
        History {
            tester: Mutex::new(LinearizabilityTester::new(WORegister(None))),
            acknowledged: Mutex::new(Vec::new()),
            completed: AtomicUsize::new(0),
            unknown: AtomicUsize::new(0),
        }
    }
}

/// A logical client thread of the history. An operation without an answer stays in flight
/// for ever (it may still take effect), so the worker goes on as a new logical thread.
pub struct Recorder<'a> {
    history: &'a History,
    thread: usize,
    stride: usize,
}

impl History {
    /// Logical thread `thread`; after an unanswered operation it becomes `thread + stride`.
    pub fn recorder(&self, thread: usize, stride: usize) -> Recorder<'_> {
        Recorder {
            history: self,
            thread,
            stride,
        }
    }

    /// The history's verdict and its size. The tester searches recursively, one frame per
    /// operation: it gets a stack to match.
    pub fn linearizable(&self) -> (bool, usize) {
        let tester = self.tester.lock().expect("no recorder panicked").clone();
        let len = tester.len();
        let verdict = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || tester.is_consistent())
            .expect("a checker thread")
            .join()
            .expect("the checker does not panic");
        (verdict, len)
    }
}

impl Recorder<'_> {
    /// Runs `op` with `client`, recording invocation and response.
    pub fn call(&mut self, client: &mut UdpClient, op: Op) -> Option<Reply> {
        let spec_op = match op {
            Op::Put(v) => WORegisterOp::Write(v),
            Op::Get => WORegisterOp::Read,
        };
        self.history
            .tester
            .lock()
            .expect("no recorder panicked")
            .on_invoke(self.thread, spec_op)
            .expect("one operation at a time per logical thread");
        match client.call(op) {
            Ok(reply) => {
                let ret = match reply {
                    Reply::PutOk => WORegisterRet::WriteOk,
                    Reply::PutFail => WORegisterRet::WriteFail,
                    Reply::GetOk(v) => WORegisterRet::ReadOk(v),
                };
                self.history
                    .tester
                    .lock()
                    .expect("no recorder panicked")
                    .on_return(self.thread, ret)
                    .expect("an invocation is in flight");
                if let (Op::Put(v), Reply::PutOk) = (op, reply) {
                    self.history
                        .acknowledged
                        .lock()
                        .expect("no recorder panicked")
                        .push(v);
                }
                self.history.completed.fetch_add(1, Ordering::SeqCst);
                Some(reply)
            }
            Err(_) => {
                self.history.unknown.fetch_add(1, Ordering::SeqCst);
                self.thread += self.stride;
                None
            }
        }
    }
}

/// A small deterministic generator (xorshift64*), so that runs can be compared by seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
