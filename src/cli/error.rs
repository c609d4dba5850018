//! The one error type of the command line: what went wrong, in terms a user can act on, and
//! the exit status of each kind.
use crate::model::catalogue::CatalogueError;
use crate::runtime;
use std::fmt;
use std::io;

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
    Trace(crate::validate::BadTrace),
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
                "malformed address {input:?}: {reason}; give an IPv4 address and port such as \
                 127.0.0.1:3000"
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
pub(crate) fn printed(result: io::Result<()>) -> Result<(), Error> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(Error::Output),
    }
}
