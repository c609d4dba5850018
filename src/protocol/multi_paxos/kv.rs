//! The replicated service: a small key-value store, which is both the sequential
//! specification the clients' history is checked against and the state each replica applies
//! the log to.
use serde::{Deserialize, Serialize};
use stateright::semantics::SequentialSpec;
use std::collections::BTreeMap;

/// A key of the store.
pub type Key = char;
/// One character of a stored value: `Put` replaces a value, `Append` extends it.
pub type Value = char;

/// An operation on the key-value store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// Replace the value of `key` with `value`.
    Put {
        /// The key written.
        key: Key,
        /// Its new value.
        value: Value,
    },
    /// Read `key`.
    Get {
        /// The key read.
        key: Key,
    },
    /// Append `value` to the value of `key` and return the result: order matters.
    Append {
        /// The key extended.
        key: Key,
        /// The character appended.
        value: Value,
    },
}

/// The result of a [`KvOp`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KvRet {
    /// The `Put` is done.
    PutOk,
    /// The value read, `None` for a key never written.
    GetOk {
        /// The key's value, if it was ever written.
        value: Option<String>,
    },
    /// The value after appending.
    AppendOk {
        /// The key's value, the appended character included.
        value: String,
    },
}

/// The key-value store: the sequential specification the clients' history is checked against,
/// and the state each replica applies the log to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Kv {
    /// Every key written, with its value.
    pub data: BTreeMap<Key, String>,
}

impl SequentialSpec for Kv {
    type Op = KvOp;
    type Ret = KvRet;

    fn invoke(&mut self, op: &KvOp) -> KvRet {
        match *op {
            KvOp::Put { key, value } => {
                self.data.insert(key, value.to_string());
                KvRet::PutOk
            }
            KvOp::Get { key } => KvRet::GetOk {
                value: self.data.get(&key).cloned(),
            },
            KvOp::Append { key, value } => {
                let stored = self.data.entry(key).or_default();
                stored.push(value);
                KvRet::AppendOk {
                    value: stored.clone(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_order_matters() {
        let mut a = Kv::default();
        let mut b = Kv::default();
        let (x, y) = (
            KvOp::Append {
                key: 'x',
                value: 'A',
            },
            KvOp::Append {
                key: 'x',
                value: 'B',
            },
        );
        a.invoke(&x);
        b.invoke(&y);
        assert_ne!(a.invoke(&y), b.invoke(&x));
    }
}
