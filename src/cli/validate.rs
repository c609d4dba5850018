//! `paxos validate`: a directory of traces (`paxos spawn --trace DIR`) replayed through the
//! model ([`crate::validate`]).
use crate::cli::error::{printed, Error};
use crate::validate;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// `paxos validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The directory `paxos spawn --trace DIR` wrote: one `<address>.trace.jsonl` per node.
    dir: PathBuf,
}

/// Runs `paxos validate`: the verdict on standard output; `Ok(false)` for a divergence or a
/// broken property.
pub(super) fn command(args: &ValidateArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let verdict = validate::validate(&args.dir).map_err(Error::Trace)?;
    let mut out = std::io::stdout().lock();
    printed(writeln!(
        out,
        "{} ({:.2}s)",
        verdict.report.trim_end(),
        started.elapsed().as_secs_f64()
    ))?;
    Ok(verdict.ok)
}
