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
//! turns arguments into those configurations (`args.rs` holds what several commands share)
//! and those errors into [`Error`] (`error.rs`). The binary's allocator is here too
//! ([`Mimalloc`], `alloc.rs`), for the benchmarks to run on.
mod alloc;
mod args;
mod bench;
mod check;
mod client;
mod error;
mod spawn;
mod validate;

pub use alloc::Mimalloc;
pub use bench::BenchArgs;
pub use check::{check, CheckArgs, CheckOptions, ExploreArgs};
pub use client::ClientArgs;
pub use error::Error;
pub use spawn::SpawnArgs;
pub use validate::ValidateArgs;

use clap::{Parser, Subcommand};

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

#[cfg(test)]
mod tests {
    use super::*;

    // The command line parses as clap expects (no conflicting names, valid defaults).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
