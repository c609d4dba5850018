//! What a validation returns: a [`ValidationReport`] on a run, or why its traces could not be
//! read as one ([`BadTrace`]).
use std::fmt;
use std::path::{Path, PathBuf};

/// Why the traces cannot be validated at all (exit status 2): the input is not a trace.
#[derive(Debug)]
pub struct BadTrace {
    /// The file, if the problem is in one.
    pub file: Option<PathBuf>,
    /// The 1-based line, if the problem is on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for BadTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        write!(
            f,
            "{}; give the directory `paxos spawn --trace DIR` wrote",
            self.reason
        )
    }
}

impl std::error::Error for BadTrace {}

pub(crate) fn bad(file: &Path, line: Option<usize>, reason: impl Into<String>) -> BadTrace {
    BadTrace {
        file: Some(file.to_owned()),
        line,
        reason: reason.into(),
    }
}

/// The verdict on a directory of traces.
#[derive(Debug)]
pub struct ValidationReport {
    /// Whether the run replayed without divergence and every `always` property held.
    pub ok: bool,
    /// Events replayed (skipped torn steps excluded).
    pub events: usize,
    /// Model states checked.
    pub states: usize,
    /// The report to print: `OK ...`, or the first bad event with the events before it.
    pub report: String,
}
