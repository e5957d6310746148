//! The one bounded in-process map: what a service remembers between requests
//! (verified tokens, decoded cache entries, rendered pages, pinned criteria
//! sets) must not grow with what callers send. Past its capacity the
//! oldest entry goes first, so a burst of new keys pushes out what was
//! least recently added instead of emptying the memory at once.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// A map of at most `capacity` entries, shared between threads.
pub struct Bounded<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    /// Each value with the number of its insertion.
    entries: HashMap<K, (V, u64)>,
    /// Keys in insertion order, with the number they were inserted with: a
    /// key inserted again has a newer number, and its older place is skipped.
    order: VecDeque<(K, u64)>,
    inserted: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Bounded<K, V> {
    /// An empty map that keeps at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Bounded {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
                inserted: 0,
            }),
        }
    }

    /// A copy of the value of `key`, if remembered.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().entries.get(key).map(|(value, _)| value.clone())
    }

    /// Remembers `value` for `key`, forgetting the oldest entries past the capacity.
    pub fn insert(&self, key: K, value: V) {
        let mut inner = self.lock();
        inner.inserted += 1;
        let number = inner.inserted;
        inner.order.push_back((key.clone(), number));
        inner.entries.insert(key, (value, number));
        while inner.entries.len() > self.capacity {
            let Some((oldest, number)) = inner.order.pop_front() else {
                break;
            };
            if inner.entries.get(&oldest).is_some_and(|(_, n)| *n == number) {
                inner.entries.remove(&oldest);
            }
        }
        // Re-inserted keys leave stale places behind; drop them before they
        // outnumber the entries.
        if inner.order.len() > 2 * self.capacity {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(key, number)| entries.get(key).is_some_and(|(_, n)| n == number));
        }
    }

    /// Forgets `key`.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().entries.remove(key);
    }

    /// Forgets everything (keys rotated, a reload).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.order.clear();
    }

    /// How many entries are remembered.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        // A panic elsewhere while holding the lock leaves a consistent map:
        // every change above completes before it returns.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_its_capacity_the_oldest_entry_goes_first() {
        let map = Bounded::new(3);
        for (k, v) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] {
            map.insert(k.to_owned(), v);
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("a"), None);
        assert_eq!((map.get("b"), map.get("d")), (Some(2), Some(4)));
    }

    #[test]
    fn a_key_inserted_again_is_as_new_as_its_last_insertion() {
        let map = Bounded::new(2);
        map.insert("a", 1);
        map.insert("b", 2);
        map.insert("a", 10);
        map.insert("c", 3);
        // "b" was the oldest; "a"'s first place was stale.
        assert_eq!((map.get("a"), map.get("b"), map.get("c")), (Some(10), None, Some(3)));
        for i in 0..100 {
            map.insert("a", i);
        }
        assert_eq!((map.len(), map.get("a")), (2, Some(99)));
        assert!(map.lock().order.len() <= 4, "stale places are dropped");
    }

    #[test]
    fn removed_and_cleared_entries_are_forgotten() {
        let map = Bounded::new(4);
        map.insert("a", 1);
        map.insert("b", 2);
        map.remove("a");
        assert_eq!((map.get("a"), map.len()), (None, 1));
        map.clear();
        assert!(map.is_empty());
    }
}
