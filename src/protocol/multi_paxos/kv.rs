//! The replicated service: a small key-value store, which is both the sequential
//! specification the clients' history is checked against and the state each replica applies
//! the log to.
//!
//! Keys and the values a command carries are a [`Text`]: one `char` in the model, which keeps
//! its state space small, and a UTF-8 `String` on UDP, within [`MAX_KEY_BYTES`] and
//! [`MAX_VALUE_BYTES`]. The actor code is the same for both.
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stateright::semantics::SequentialSpec;
use std::collections::BTreeMap;
use std::fmt::{self, Debug, Display, Write};
use std::hash::Hash;

/// The keys of the store and the values a command carries: `char` in the model, `String` on
/// UDP. A stored value is always a `String`: `Append` extends it. A `char` makes a `Text`
/// (the deliberate bugs' invented commands are made so).
pub trait Text:
    Clone
    + Debug
    + Default
    + Display
    + From<char>
    + Ord
    + Hash
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The longest value the store keeps, in UTF-8 bytes: a `Put` or `Append` that would make
    /// a value longer is refused ([`KvRet::TooLong`]) and changes nothing. `None`: no limit
    /// (the model's values are a few characters long).
    const MAX_STORED: Option<usize>;

    /// Its length in UTF-8 bytes.
    fn bytes(&self) -> usize;
}

impl Text for char {
    const MAX_STORED: Option<usize> = None;

    fn bytes(&self) -> usize {
        self.len_utf8()
    }
}

/// The longest key on UDP, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// The longest value on UDP, in UTF-8 bytes: the longest value a command carries and the
/// longest the store keeps ([`Text::MAX_STORED`]), so that every reply fits in a datagram.
pub const MAX_VALUE_BYTES: usize = 1024;

impl Text for String {
    const MAX_STORED: Option<usize> = Some(MAX_VALUE_BYTES);

    fn bytes(&self) -> usize {
        self.len()
    }
}

/// An operation on the key-value store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub enum KvOp<V = char> {
    /// Replace the value of `key` with `value`.
    Put {
        /// The key written.
        key: V,
        /// Its new value.
        value: V,
    },
    /// Read `key`.
    Get {
        /// The key read.
        key: V,
    },
    /// Append `value` to the value of `key` and return the result: order matters.
    Append {
        /// The key extended.
        key: V,
        /// The text appended.
        value: V,
    },
}

impl<V: Text> KvOp<V> {
    /// The UTF-8 bytes of its key and value together: what a batch's byte limit counts
    /// ([`Tuning::batch_bytes`](super::Tuning::batch_bytes)).
    pub fn bytes(&self) -> usize {
        match self {
            KvOp::Put { key, value } | KvOp::Append { key, value } => key.bytes() + value.bytes(),
            KvOp::Get { key } => key.bytes(),
        }
    }
}

/// A key or value over its size limit on UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// What is too large: `"key"` or `"value"`.
    pub what: &'static str,
    /// Its length in UTF-8 bytes.
    pub bytes: usize,
    /// The limit, in UTF-8 bytes.
    pub limit: usize,
}

impl Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} is {} bytes long; the limit is {} bytes (UTF-8)",
            self.what, self.bytes, self.limit
        )
    }
}

impl std::error::Error for TooLarge {}

impl KvOp<String> {
    /// Whether the key and value are within [`MAX_KEY_BYTES`] and [`MAX_VALUE_BYTES`]: the
    /// client checks before sending, a server drops a request that is not.
    pub fn check_size(&self) -> Result<(), TooLarge> {
        let (key, value) = match self {
            KvOp::Put { key, value } | KvOp::Append { key, value } => (key, Some(value)),
            KvOp::Get { key } => (key, None),
        };
        let over = |what, text: &String, limit| {
            (text.len() > limit).then_some(TooLarge {
                what,
                bytes: text.len(),
                limit,
            })
        };
        match over("key", key, MAX_KEY_BYTES)
            .or_else(|| value.and_then(|v| over("value", v, MAX_VALUE_BYTES)))
        {
            Some(too_large) => Err(too_large),
            None => Ok(()),
        }
    }
}

impl From<KvOp<char>> for KvOp<String> {
    /// A model operation as the runtime sends it: the same JSON, one character per string.
    fn from(op: KvOp<char>) -> Self {
        match op {
            KvOp::Put { key, value } => KvOp::Put {
                key: key.into(),
                value: value.into(),
            },
            KvOp::Get { key } => KvOp::Get { key: key.into() },
            KvOp::Append { key, value } => KvOp::Append {
                key: key.into(),
                value: value.into(),
            },
        }
    }
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
        /// The key's value, the appended text included.
        value: String,
    },
    /// The `Put` or `Append` was refused and changed nothing: the value would have been
    /// `bytes` long, over the store's `limit` ([`Text::MAX_STORED`]; never in the model).
    TooLong {
        /// The length the value would have had, in UTF-8 bytes.
        bytes: usize,
        /// The longest value the store keeps, in UTF-8 bytes.
        limit: usize,
    },
}

/// The key-value store: the sequential specification the clients' history is checked against,
/// and the state each replica applies the log to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(bound = "V: Text")]
pub struct Kv<V = char> {
    /// Every key written, with its value.
    pub data: BTreeMap<V, String>,
}

impl<V: Text> Kv<V> {
    /// `Err` with the refusal if a value of `bytes` is over [`Text::MAX_STORED`].
    fn within_limit(bytes: usize) -> Result<(), KvRet> {
        match V::MAX_STORED {
            Some(limit) if bytes > limit => Err(KvRet::TooLong { bytes, limit }),
            _ => Ok(()),
        }
    }
}

impl<V: Text> SequentialSpec for Kv<V> {
    type Op = KvOp<V>;
    type Ret = KvRet;

    fn invoke(&mut self, op: &KvOp<V>) -> KvRet {
        match op {
            KvOp::Put { key, value } => {
                if let Err(refused) = Self::within_limit(value.bytes()) {
                    return refused;
                }
                self.data.insert(key.clone(), value.to_string());
                KvRet::PutOk
            }
            KvOp::Get { key } => KvRet::GetOk {
                value: self.data.get(key).cloned(),
            },
            KvOp::Append { key, value } => {
                let stored = self.data.get(key).map_or(0, String::len);
                if let Err(refused) = Self::within_limit(stored + value.bytes()) {
                    return refused;
                }
                let stored = self.data.entry(key.clone()).or_default();
                write!(stored, "{value}").expect("writing to a String cannot fail");
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
        let mut a: Kv = Kv::default();
        let mut b: Kv = Kv::default();
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

    fn append(key: &str, value: &str) -> KvOp<String> {
        KvOp::Append {
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }

    // The same store with strings: multi-character, non-ASCII keys and values.
    #[test]
    fn string_keys_and_values_append_and_read_back() {
        let mut kv = Kv::<String>::default();
        assert_eq!(
            kv.invoke(&append("clé", "naïve ")),
            KvRet::AppendOk {
                value: "naïve ".to_owned()
            }
        );
        assert_eq!(
            kv.invoke(&append("clé", "日本語")),
            KvRet::AppendOk {
                value: "naïve 日本語".to_owned()
            }
        );
        let get = KvOp::Get {
            key: "clé".to_owned(),
        };
        assert_eq!(
            kv.invoke(&get),
            KvRet::GetOk {
                value: Some("naïve 日本語".to_owned())
            }
        );
    }

    // The limits count UTF-8 bytes, not characters: 'é' is 2 bytes.
    #[test]
    fn size_limits_count_utf8_bytes() {
        let key_at_limit = "k".repeat(MAX_KEY_BYTES);
        let value_at_limit = "v".repeat(MAX_VALUE_BYTES);
        assert_eq!(append(&key_at_limit, &value_at_limit).check_size(), Ok(()));
        let long_key = "é".repeat(MAX_KEY_BYTES / 2 + 1);
        assert_eq!(
            append(&long_key, "v").check_size(),
            Err(TooLarge {
                what: "key",
                bytes: MAX_KEY_BYTES + 2,
                limit: MAX_KEY_BYTES
            })
        );
        let get = KvOp::Get {
            key: long_key.clone(),
        };
        assert!(get.check_size().is_err(), "a Get's key is checked too");
        let long_value = "v".repeat(MAX_VALUE_BYTES + 1);
        let put = KvOp::Put {
            key: "k".to_owned(),
            value: long_value,
        };
        let err = put.check_size().expect_err("over the value limit");
        assert_eq!((err.what, err.bytes), ("value", MAX_VALUE_BYTES + 1));
        assert!(err.to_string().contains("limit is 1024 bytes"), "{err}");
    }

    // A stored value never outgrows MAX_VALUE_BYTES: the append that would is refused and
    // changes nothing; a new key refused stays unwritten.
    #[test]
    fn an_append_past_the_stored_limit_is_refused() {
        let mut kv = Kv::<String>::default();
        let half = "h".repeat(MAX_VALUE_BYTES / 2);
        kv.invoke(&append("k", &half));
        kv.invoke(&append("k", &half));
        assert_eq!(
            kv.invoke(&append("k", "!")),
            KvRet::TooLong {
                bytes: MAX_VALUE_BYTES + 1,
                limit: MAX_VALUE_BYTES
            }
        );
        assert_eq!(kv.data["k"].len(), MAX_VALUE_BYTES);
        let too_long = KvOp::Put {
            key: "new".to_owned(),
            value: "v".repeat(MAX_VALUE_BYTES + 1),
        };
        assert!(matches!(kv.invoke(&too_long), KvRet::TooLong { .. }));
        assert!(!kv.data.contains_key("new"));
    }

    // The model's `char` has no stored limit: its values are a few characters long.
    #[test]
    fn chars_have_no_stored_limit() {
        let mut kv: Kv = Kv::default();
        for _ in 0..2 * MAX_VALUE_BYTES {
            kv.invoke(&KvOp::Append {
                key: 'x',
                value: 'A',
            });
        }
        assert_eq!(kv.data[&'x'].len(), 2 * MAX_VALUE_BYTES);
    }
}
