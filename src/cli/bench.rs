//! `paxos bench`: the benchmark's command line, turned into a [`BenchConfig`].
use crate::cli::args::ProtocolArg;
use crate::cli::error::{printed, Error};
use crate::runtime::bench::{self, BenchConfig};
use std::io;
use std::time::Duration;

/// `paxos bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The protocol to measure.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Paxos)]
    protocol: ProtocolArg,
    /// Concurrent client counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 16])]
    clients: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// paxos only: committed puts to time, each on a fresh 3-node cluster (at most 200).
    #[arg(long, default_value_t = 30)]
    puts: usize,
    /// Also measure each client count on a cluster recording traces (`spawn --trace`), and
    /// print the throughput ratio traced / untraced.
    #[arg(long)]
    trace: bool,
    /// multi-paxos only: also measure 1 client on a cluster whose storage already holds a log
    /// of this many commands, and print its p50 over the empty log's (0: skip).
    #[arg(long, default_value_t = 100_000)]
    log: u32,
}

impl BenchArgs {
    /// The measurements the arguments describe.
    fn config(&self) -> Result<BenchConfig, Error> {
        let duration = Duration::try_from_secs_f64(self.seconds)
            .map_err(|e| Error::Usage(format!("--seconds {}: {e}", self.seconds)))?;
        if self.clients.iter().any(|&c| c == 0 || c > 1024) {
            return Err(Error::Usage(
                "--clients takes counts between 1 and 1024".to_owned(),
            ));
        }
        Ok(BenchConfig {
            protocol: self.protocol.into(),
            clients: self.clients.clone(),
            duration,
            decisions: self.puts.min(200),
            trace: self.trace,
            log: self.log,
        })
    }
}

/// Runs `paxos bench`: the table on standard output.
pub(super) fn command(args: &BenchArgs) -> Result<bool, Error> {
    match bench::run(&args.config()?, &mut io::stdout().lock()) {
        Ok(_) => Ok(true),
        Err(bench::Error::Output(e)) => printed(Err(e)).map(|()| true),
        Err(e) => Err(Error::Bench(e)),
    }
}
