//! The `paxos` command line: the clap argument structs (their `///` docs are the help), the
//! dispatch of each command to the model checker or the runtime, and the one error type the
//! binary turns into an exit status.
//!
//! - `check`, `explore` and `models`, on the catalogue of models ([`CheckArgs`],
//!   [`ExploreArgs`], and [`check()`] for tests);
//! - `spawn`, a node or a local cluster on UDP ([`SpawnArgs`]);
//! - `client`, one operation against a cluster ([`ClientArgs`]);
//! - `bench`, the loopback benchmark ([`BenchArgs`]);
//! - `validate`, a real run's traces replayed through the model ([`ValidateArgs`]).
//!
//! The runtime takes plain configuration structs and returns its own errors; this module
//! turns arguments into those configurations and those errors into [`Error`].
mod bench;
mod check;
mod client;
mod spawn;
mod validate;

pub use bench::BenchArgs;
pub use check::{check, CheckArgs, CheckOptions, ExploreArgs};
pub use client::ClientArgs;
pub use spawn::SpawnArgs;
pub use validate::ValidateArgs;

use crate::model::catalogue::CatalogueError;
use crate::runtime;
use clap::{Parser, Subcommand};
use std::fmt;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};

/// Paxos and Multi-Paxos as stateright actors, checked against Paxos Made Simple.
#[derive(Debug, Parser)]
#[command(name = "paxos", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of `paxos`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Model-check a configuration and compare each property with its recorded verdict.
    ///
    /// Exit status: 0 when every property holds (or is reached) as the model file records,
    /// 1 when an `always` property is violated (even when the file records that bug) or
    /// anything is not as recorded or could not be decided, 2 for a bad command line or
    /// model file, 3 when an exhaustive check stopped at --timeout before it could decide
    /// (no counterexample found by then; the report shows how far it got).
    Check(CheckArgs),
    /// Serve stateright's Explorer for a model, to click through its states.
    Explore(ExploreArgs),
    /// List the models of the catalogue with their descriptions.
    Models,
    /// Run a node (or, with --local N, a whole cluster) of the model-checked actors on UDP.
    ///
    /// Durable state lives in `<data-dir>/<address>.storage` (a snapshot) and `<address>.wal`
    /// (a write-ahead log); a node refuses to start when either is damaged or one is missing
    /// beside the other, and says which file, what is wrong and what to do (never delete them
    /// to start afresh). Runs until stopped (or --exit-after). Log level:
    /// RUST_LOG (e.g. RUST_LOG=info). Exit status: 1 when the node cannot start or stops,
    /// 2 for a bad command line or a cluster key file that cannot be used.
    Spawn(SpawnArgs),
    /// Put a value into, or get the value of, the cluster's register (or, with --protocol
    /// multi-paxos, a key of its key-value store) over UDP.
    ///
    /// Exit status: 0 for PutOk, GetOk or AppendOk, 1 for PutFail, for TooLong (a put or
    /// append that would make a value longer than 1,024 bytes) or when no server answered (the
    /// outcome of the put is then unknown), 2 for a bad command line (a key over 256 bytes or
    /// a value over 1,024 included).
    Client(ClientArgs),
    /// Measure a 3-node loopback cluster with 1, 4 and 16 clients next to a raw UDP echo.
    Bench(BenchArgs),
    /// Replay the traces of a real run (`spawn --trace DIR`) through the model and check every
    /// `always` property on every state.
    ///
    /// Exit status: 0 when the run replays and every property holds, 1 for the first event the
    /// model's actors cannot reproduce or that breaks a property (printed with the events
    /// before it), 2 when DIR holds no readable traces.
    Validate(ValidateArgs),
}

/// Runs a command; `Ok(false)` means it ran but did not succeed (a check not as expected, a
/// put refused), exit status 1.
pub fn run(cli: Cli) -> Result<bool, Error> {
    match cli.command {
        Command::Check(args) => check::check_command(&args),
        Command::Explore(args) => check::explore_command(&args),
        Command::Models => check::models_command(),
        Command::Spawn(args) => spawn::command(&args),
        Command::Client(args) => client::command(&args),
        Command::Bench(args) => bench::command(&args),
        Command::Validate(args) => validate::command(&args),
    }
}

/// What went wrong, in terms a user can act on; each kind has its exit status.
#[derive(Debug)]
pub enum Error {
    /// A model that cannot be found, read or understood (exit status 2).
    Catalogue(CatalogueError),
    /// Arguments that do not describe what to do (exit status 2).
    Usage(String),
    /// An address that does not parse as `IPv4:port` (exit status 2).
    MalformedAddress {
        /// The address as given.
        input: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The Explorer cannot serve on the address given (exit status 2).
    Explorer {
        /// The address as given.
        address: String,
        /// Why it cannot serve there.
        source: io::Error,
    },
    /// A node cannot start, or had to stop (exit status 1).
    Node(runtime::node::Error),
    /// An operation of `paxos client` got no answer (exit status 1).
    Client(runtime::client::Error),
    /// The benchmark could not measure (exit status 1).
    Bench(runtime::bench::Error),
    /// Traces that cannot be read as one cluster's (exit status 2).
    Trace(crate::model::replay::BadTrace),
    /// An exhaustive `paxos check` stopped at its timeout without a counterexample, so it
    /// decided nothing (exit status 3).
    TimedOut {
        /// How long it ran.
        seconds: f64,
        /// The states it generated.
        states: usize,
        /// The distinct states among them.
        unique_states: usize,
    },
    /// Standard output cannot be written (exit status 1). A reader that closes it early
    /// (`paxos models | head -3`) is not an error: the command stops quietly.
    Output(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Catalogue(e) => e.fmt(f),
            Error::Usage(message) => f.write_str(message),
            Error::MalformedAddress { input, reason } => write!(
                f,
                "malformed address {input:?}: {reason}; give an IPv4 address and port such as 127.0.0.1:3000"
            ),
            Error::Explorer { address, source } => {
                write!(f, "cannot serve the Explorer on {address}: {source}")
            }
            Error::Node(e @ runtime::node::Error::DataDir { .. }) => {
                write!(f, "{e}; give a writable --data-dir")
            }
            Error::Node(e) => e.fmt(f),
            Error::Client(e) => e.fmt(f),
            Error::Bench(e) => e.fmt(f),
            Error::Trace(e) => e.fmt(f),
            Error::Output(e) => write!(f, "cannot write to standard output: {e}"),
            Error::TimedOut {
                seconds,
                states,
                unique_states,
            } => write!(
                f,
                "timed out after {seconds:.0} s, {} states ({} unique): the check is not \
                 exhaustive; give a longer --timeout, or a smaller model",
                crate::model::check::thousands(*states),
                crate::model::check::thousands(*unique_states)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Catalogue(e) => Some(e),
            Error::Explorer { source, .. } | Error::Output(source) => Some(source),
            Error::Node(e) => Some(e),
            Error::Client(e) => Some(e),
            Error::Bench(e) => Some(e),
            Error::Trace(e) => Some(e),
            Error::Usage(_) | Error::MalformedAddress { .. } | Error::TimedOut { .. } => None,
        }
    }
}

impl Error {
    /// The process exit status for this error: 2 when the command line or the model file
    /// must change, 1 when something failed while running.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Catalogue(_)
            | Error::Usage(_)
            | Error::MalformedAddress { .. }
            | Error::Explorer { .. }
            | Error::Node(runtime::node::Error::NoAddresses)
            | Error::Node(runtime::node::Error::ClusterKey(_))
            | Error::Trace(_) => 2,
            Error::Node(_) | Error::Client(_) | Error::Bench(_) | Error::Output(_) => 1,
            Error::TimedOut { .. } => 3,
        }
    }
}

impl From<CatalogueError> for Error {
    fn from(e: CatalogueError) -> Self {
        Error::Catalogue(e)
    }
}

impl From<runtime::node::Error> for Error {
    fn from(e: runtime::node::Error) -> Self {
        Error::Node(e)
    }
}

impl From<runtime::client::Error> for Error {
    fn from(e: runtime::client::Error) -> Self {
        Error::Client(e)
    }
}

/// The result of printing a command's output: a reader that closed standard output early
/// (`paxos models | head -3`) has read what it wanted, so the command stops quietly with the
/// status it would have had. Any other write error is an [`Error::Output`].
fn printed(result: io::Result<()>) -> Result<(), Error> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(Error::Output),
    }
}

/// The protocols on the command line (`--protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ProtocolArg {
    /// Single-decree Paxos: a write-once register.
    Paxos,
    /// Multi-Paxos: a replicated key-value log with a stable leader.
    MultiPaxos,
}

impl From<ProtocolArg> for runtime::node::Protocol {
    fn from(protocol: ProtocolArg) -> Self {
        match protocol {
            ProtocolArg::Paxos => runtime::node::Protocol::Paxos,
            ProtocolArg::MultiPaxos => runtime::node::Protocol::MultiPaxos,
        }
    }
}

/// Parses `IPv4:port`. stateright's [`Id`](stateright::actor::Id) holds an IPv4 address and
/// port, so IPv6 and host names are refused, and so is port 0 (peers must know the address in
/// advance).
fn parse_address(input: &str) -> Result<SocketAddrV4, Error> {
    let malformed = |reason: &str| Error::MalformedAddress {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    match input.trim().parse::<SocketAddr>() {
        Ok(SocketAddr::V4(address)) if address.port() == 0 => {
            Err(malformed("port 0 is not allowed"))
        }
        Ok(SocketAddr::V4(address)) => Ok(address),
        Ok(SocketAddr::V6(_)) => Err(malformed("IPv6 is not supported")),
        Err(e) => Err(malformed(&e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_explain() {
        assert_eq!(
            parse_address("127.0.0.1:3000").ok(),
            Some("127.0.0.1:3000".parse().expect("a valid literal"))
        );
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            "[::1]:3000",
            "localhost:3000",
            "1.2.3.4:70000",
        ] {
            let parsed = parse_address(bad);
            assert!(
                matches!(parsed, Err(Error::MalformedAddress { .. })),
                "{bad}"
            );
            assert_eq!(parsed.err().map(|e| e.exit_code()), Some(2), "{bad}");
        }
    }

    // The command line parses as clap expects (no conflicting names, valid defaults).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
