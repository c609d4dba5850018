//! A value that keeps its hash: what a model state holds for each actor and for its history,
//! so that the fingerprint of a state rehashes only what a step changed.
//!
//! stateright fingerprints every state it generates by hashing the whole of it, and one step
//! changes one actor, and the history now and then: the rest is shared with the state before
//! (stateright keeps the actors' states in `Arc`s, the harnesses the history) and was hashed
//! already. A [`Hashed`] value computes its hash the first time it is asked and keeps it; the
//! state's hash then takes that one number.
use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt::{self, Debug};
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

/// A value with its hash, computed when first asked and kept until the value is borrowed to
/// change ([`DerefMut`]), so the hash kept is always the value's. Compared, ordered, shown and
/// serialized as the value; hashed as the value's hash, so equal values hash equal.
#[derive(Clone)]
pub struct Hashed<T> {
    value: T,
    hash: OnceLock<u64>,
}

impl<T> Hashed<T> {
    /// `value`, its hash not yet computed.
    pub fn new(value: T) -> Self {
        Hashed {
            value,
            hash: OnceLock::new(),
        }
    }
}

impl<T> Deref for Hashed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// The value, to change: the hash kept is dropped first, to be computed again when next asked.
/// It cannot be asked while the value is borrowed to change, so it is always the value's.
impl<T> DerefMut for Hashed<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.hash.take();
        &mut self.value
    }
}

impl<T: Default> Default for Hashed<T> {
    fn default() -> Self {
        Hashed::new(T::default())
    }
}

/// `value`'s hash by ahash with fixed keys, the hasher stateright fingerprints with: the same
/// on every run, so that runs and their traces are reproducible.
pub fn hash_of<T: Hash>(value: &T) -> u64 {
    const KEYS: [u64; 4] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    ];
    let [k1, k2, k3, k4] = KEYS;
    ahash::RandomState::with_seeds(k1, k2, k3, k4).hash_one(value)
}

/// The value's hash ([`hash_of`]), computed once.
impl<T: Hash> Hash for Hashed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let hash = self.hash.get_or_init(|| hash_of(&self.value));
        state.write_u64(*hash);
    }
}

impl<T: PartialEq> PartialEq for Hashed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Hashed<T> {}

impl<T: PartialOrd> PartialOrd for Hashed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Hashed<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: Debug> Debug for Hashed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Serialize> Serialize for Hashed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash_of<T: Hash>(value: &T) -> u64 {
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(value)
    }

    #[test]
    fn equal_values_hash_equal_and_the_hash_is_kept_with_clones() {
        let a = Hashed::new(vec![1, 2, 3]);
        let b = Hashed::new(vec![1, 2, 3]);
        assert_eq!(hash_of(&a), hash_of(&b));
        assert_eq!(hash_of(&a.clone()), hash_of(&a));
        assert_ne!(hash_of(&a), hash_of(&Hashed::new(vec![1, 2, 4])));
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), "[1, 2, 3]");
        let mut changed = a.clone();
        changed.push(4);
        assert_eq!(hash_of(&changed), hash_of(&Hashed::new(vec![1, 2, 3, 4])));
        assert_ne!(hash_of(&changed), hash_of(&a));
    }
}
