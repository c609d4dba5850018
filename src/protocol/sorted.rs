//! A map and a set kept as one sorted list: what the actors' states, trails and histories hold
//! is a handful of entries (one per acceptor, client or proposal), and the model checker copies,
//! hashes, compares and frees these states millions of times. A list is one allocation to copy
//! or free and one slice to hash, where a `BTreeMap` allocates a node per map (and, nested, per
//! entry) and walks it.
//!
//! Each compares, orders and hashes as its entries in order, as a `BTreeMap` or `BTreeSet` does,
//! so a state sorts where it sorted before (the symmetry reduction sorts actor states); each is
//! shown and serialized as a map or a set, as they are, so traces and the Explorer read the same.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::{self, Debug};

/// A map as a list of entries sorted by key, each key once.
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

/// A copy with room for one more entry: a state is copied to be changed, and the change is
/// often one insertion, which would otherwise move the exact-size copy at once.
impl<K: Clone, V: Clone> Clone for SortedMap<K, V> {
    fn clone(&self) -> Self {
        SortedMap(with_room_for_one(&self.0))
    }
}

/// `entries`, copied into a list with room for one more (none if `entries` is empty: an empty
/// list allocates nothing).
fn with_room_for_one<T: Clone>(entries: &[T]) -> Vec<T> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut copy = Vec::with_capacity(entries.len() + 1);
    copy.extend_from_slice(entries);
    copy
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// The empty map.
    pub fn new() -> Self {
        SortedMap(Vec::new())
    }

    fn find(&self, key: &K) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &K) -> Option<&V> {
        let i = self.find(key).ok()?;
        Some(&self.0[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    /// Sets the value of `key`; returns the value it had, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes the value of `key` and returns it, if any.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.find(key).ok()?;
        Some(self.0.remove(i).1)
    }

    /// The value of `key`, set to `V::default()` first if it has none.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.0[i].1
    }
}

impl<K, V> SortedMap<K, V> {
    /// How many keys have a value.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + Clone {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + Clone {
        self.0.iter().map(|(k, _)| k)
    }

    /// Every value, in the order of the keys.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + Clone {
        self.0.iter().map(|(_, v)| v)
    }

    /// Every value, to change, in the order of the keys.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

/// The map of the entries, a later entry's value replacing an earlier one's for the same key
/// (as a `BTreeMap` is collected).
impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = SortedMap::new();
        for (k, v) in entries {
            map.insert(k, v);
        }
        map
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SortedMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Debug, V: Debug> Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for SortedMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// Read as a map is: a later entry's value replaces an earlier one's for the same key.
impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for SortedMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries: Vec<(K, V)> = serde::de::Deserializer::deserialize_map(
            deserializer,
            MapEntries(std::marker::PhantomData),
        )?;
        Ok(entries.into_iter().collect())
    }
}

/// Reads a map's entries in the order they come.
struct MapEntries<K, V>(std::marker::PhantomData<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for MapEntries<K, V> {
    type Value = Vec<(K, V)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// A set as a sorted list, each element once.
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortedSet<T>(Vec<T>);

/// A copy with room for one more element, as for [`SortedMap`].
impl<T: Clone> Clone for SortedSet<T> {
    fn clone(&self) -> Self {
        SortedSet(with_room_for_one(&self.0))
    }
}

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet(Vec::new())
    }
}

impl<T: Ord> SortedSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        SortedSet(Vec::new())
    }

    /// Whether `value` is in the set.
    pub fn contains(&self, value: &T) -> bool {
        self.0.binary_search(value).is_ok()
    }

    /// Adds `value`; returns whether it was not in the set yet.
    pub fn insert(&mut self, value: T) -> bool {
        match self.0.binary_search(&value) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, value);
                true
            }
        }
    }

    /// Removes `value`; returns whether it was in the set.
    pub fn remove(&mut self, value: &T) -> bool {
        match self.0.binary_search(value) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The elements of this set that are not in `other`, in order.
    pub fn difference<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = &'a T> + 'a {
        self.0.iter().filter(|x| !other.contains(x))
    }

    /// Whether every element of this set is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.0.iter().all(|x| other.contains(x))
    }
}

impl<T> SortedSet<T> {
    /// How many elements the set has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every element, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The least element, if any.
    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Self {
        let mut all: Vec<T> = values.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        SortedSet(all)
    }
}

impl<T: Ord> Extend<T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, values: I) {
        for v in values {
            self.insert(v);
        }
    }
}

impl<T: Ord, const N: usize> From<[T; N]> for SortedSet<T> {
    fn from(values: [T; N]) -> Self {
        values.into_iter().collect()
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Debug> Debug for SortedSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for SortedSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// Read as a sequence, sorted, each element kept once.
impl<'de, T: Ord + Deserialize<'de>> Deserialize<'de> for SortedSet<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(deserializer)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn json<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("serializable")
    }

    /// A small deterministic generator (xorshift), so that a failure reproduces.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: u64) -> u8 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n) as u8
        }
    }

    // The same operations on a SortedMap and a BTreeMap, a SortedSet and a BTreeSet: the same
    // contents, order, answers, `Debug` and JSON; and two maps compare as their BTreeMaps do.
    #[test]
    fn behave_as_the_btree_collections() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let mut last: Option<(SortedMap<u8, u8>, BTreeMap<u8, u8>)> = None;
        for _ in 0..200 {
            let (mut map, mut btree) = (SortedMap::new(), BTreeMap::new());
            let (mut set, mut bset) = (SortedSet::new(), BTreeSet::new());
            for _ in 0..random.below(12) {
                let (k, v) = (random.below(6), random.below(4));
                match random.below(3) {
                    0 => assert_eq!(map.remove(&k), btree.remove(&k)),
                    _ => assert_eq!(map.insert(k, v), btree.insert(k, v)),
                }
                *map.get_or_default(v) += 1;
                *btree.entry(v).or_default() += 1;
                match random.below(3) {
                    0 => assert_eq!(set.remove(&k), bset.remove(&k)),
                    _ => assert_eq!(set.insert(k), bset.insert(k)),
                }
                assert_eq!(map.get(&k), btree.get(&k));
                assert_eq!(set.contains(&v), bset.contains(&v));
            }
            assert!(map.iter().eq(btree.iter()));
            assert!(set.iter().eq(bset.iter()));
            assert_eq!(format!("{map:?} {set:?}"), format!("{btree:?} {bset:?}"));
            assert_eq!(json(&map), json(&btree));
            assert_eq!(json(&set), json(&bset));
            let read: SortedMap<u8, u8> = serde_json::from_str(&json(&btree)).expect("a map");
            assert!(read == map);
            let read: SortedSet<u8> = serde_json::from_str(&json(&bset)).expect("a set");
            assert!(read == set);
            if let Some((m, b)) = &last {
                assert_eq!(map.cmp(m), btree.cmp(b));
            }
            last = Some((map, btree));
        }
    }
}
