//! `paxos spawn`: the command line of a node, turned into a [`NodeConfig`].
use crate::cli::args::{parse_address, ProtocolArg};
use crate::cli::error::Error;
use crate::runtime::faults::FaultPlan;
use crate::runtime::node::{self, NodeConfig};
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::time::Duration;

/// `paxos spawn`: one node, or a whole local cluster.
#[derive(Debug, clap::Args)]
pub struct SpawnArgs {
    /// The protocol the nodes run.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Paxos)]
    protocol: ProtocolArg,
    /// This node's address (IPv4:port). With --local, the first node's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    address: String,
    /// The other members' addresses, comma-separated (every node must list the same cluster).
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Run a whole cluster of N nodes in this process, on --address and the next N-1 ports.
    #[arg(long, value_name = "N")]
    local: Option<u16>,
    /// Where durable state lives: a snapshot `<address>.storage` and a log `<address>.wal` per
    /// node.
    #[arg(long, default_value = ".")]
    data_dir: PathBuf,
    /// Exit (status 0) after this many seconds, so that test clusters stop by themselves.
    #[arg(long, value_name = "SECS")]
    exit_after: Option<f64>,
    /// A file of at least 32 random bytes, the same on every node (e.g. made with
    /// `head -c 32 /dev/urandom`): peer messages then carry an HMAC-SHA-256 made with it, and
    /// messages from a peer's address without a valid one are dropped. Clients need no key.
    #[arg(long, value_name = "PATH")]
    cluster_key_file: Option<PathBuf>,
    /// Tests only: drop, duplicate, delay and partition the traffic between peers
    /// (spec/runtime.md, F1).
    #[arg(long, value_name = "PLAN", hide = true)]
    test_faults: Option<FaultPlan>,
    /// Record every event each node's actor handles (start, message received, timeout, storage
    /// saved, messages sent) in `DIR/<address>.trace.jsonl`, for `paxos validate DIR`.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
}

impl SpawnArgs {
    /// The node configuration the arguments describe.
    fn config(&self) -> Result<NodeConfig, Error> {
        let first = parse_address(&self.address)?;
        let addresses = match self.local {
            None => vec![first],
            Some(0) => return Err(Error::Usage("--local needs at least 1 node".to_owned())),
            Some(n) => (0..n)
                .map(|i| {
                    first
                        .port()
                        .checked_add(i)
                        .map(|port| SocketAddrV4::new(*first.ip(), port))
                        .ok_or_else(|| Error::Usage(format!("--local {n} runs past port 65535")))
                })
                .collect::<Result<_, _>>()?,
        };
        let peers = self
            .peers
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| parse_address(p))
            .collect::<Result<Vec<_>, _>>()?;
        let exit_after = match self.exit_after {
            None => None,
            Some(secs) => Some(
                Duration::try_from_secs_f64(secs)
                    .map_err(|e| Error::Usage(format!("--exit-after {secs}: {e}")))?,
            ),
        };
        Ok(NodeConfig {
            protocol: self.protocol.into(),
            cluster: peers.iter().chain(&addresses).copied().collect(),
            addresses,
            data_dir: self.data_dir.clone(),
            exit_after,
            cluster_key_file: self.cluster_key_file.clone(),
            test_faults: self.test_faults.clone(),
            trace_dir: self.trace.clone(),
        })
    }
}

/// Runs `paxos spawn`; returns only on an error.
pub(super) fn command(args: &SpawnArgs) -> Result<bool, Error> {
    node::run(&args.config()?)?;
    Ok(true)
}
