//! Why a node stops: set once, by whichever part of it stops it first (a guard whose save
//! failed, D1; `--exit-after`; `spawn` returning), and waited for by the thread that serves it.
use std::sync::Mutex;

/// Why a node stops ([`Stop`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopping {
    /// `--exit-after` ran out.
    Asked,
    /// D1: a save failed, so nothing that depends on it may be sent: the message says which
    /// file and why.
    CannotSave(String),
    /// stateright's `spawn` returned: every node thread ended, or one panicked.
    Ended(String),
}

/// Why the node stops, set once by whichever part of it stops it first, and waited for by
/// the thread that serves it, which returns it: no library code ends the process.
#[derive(Debug, Default)]
pub struct Stop {
    why: Mutex<Option<Stopping>>,
    set: std::sync::Condvar,
}

impl Stop {
    /// Stops the node for `why`, unless it is stopping already.
    pub fn stop(&self, why: Stopping) {
        let mut now = self.why.lock().unwrap_or_else(|e| e.into_inner());
        now.get_or_insert(why);
        self.set.notify_all();
    }

    /// Whether the node is stopping.
    pub fn stopping(&self) -> bool {
        self.why.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Waits until the node stops; returns why.
    pub fn wait(&self) -> Stopping {
        let mut now = self.why.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(why) = now.as_ref() {
                return why.clone();
            }
            now = self.set.wait(now).unwrap_or_else(|e| e.into_inner());
        }
    }
}
