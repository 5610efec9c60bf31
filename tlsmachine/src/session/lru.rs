//! A bounded least-recently-used map with O(1) get, insert and remove.
//!
//! Both session caches need the same thing: a hard cap on entries whatever peers send, and
//! eviction of the entry nobody has used for longest. The recency list is doubly linked
//! through indices into a dense `Vec`, so there is no `unsafe` and no per-node allocation;
//! removal swaps the last node into the hole, which keeps the slab dense without a free list.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// Marks "no node" in the `prev`/`next` links and at `head`/`tail` of an empty list.
const NIL: usize = usize::MAX;

/// Never reserve more than this up front: a caller may configure a huge capacity that is
/// never reached, and memory should follow use rather than configuration.
const MAX_PREALLOCATE: usize = 1024;

/// A map holding at most `capacity` entries; inserting into a full map evicts the least
/// recently used entry.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    index: HashMap<K, usize>,
    nodes: Vec<Node<K, V>>,
    /// Most recently used node, or `NIL`.
    head: usize,
    /// Least recently used node, or `NIL`.
    tail: usize,
    capacity: usize,
}

#[derive(Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    /// Towards `head` (more recently used).
    prev: usize,
    /// Towards `tail` (less recently used).
    next: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// An empty map that will hold at most `capacity` entries (zero means it holds none).
    pub(crate) fn new(capacity: usize) -> Self {
        let reserve = capacity.min(MAX_PREALLOCATE);
        Self {
            index: HashMap::with_capacity(reserve),
            nodes: Vec::with_capacity(reserve),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The value under `key`, which becomes the most recently used entry.
    pub(crate) fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let at = *self.index.get(key)?;
        self.unlink(at);
        self.push_front(at);
        self.nodes.get(at).map(|n| &n.value)
    }

    /// Like [`Lru::get`], for changing the value in place.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let at = *self.index.get(key)?;
        self.unlink(at);
        self.push_front(at);
        self.nodes.get_mut(at).map(|n| &mut n.value)
    }

    /// Stores `value` under `key` as the most recently used entry. Returns the entry that
    /// made room for it: the old value under the same key, or the evicted least recently
    /// used entry.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if self.capacity == 0 {
            return Some((key, value));
        }
        let displaced = match self.index.get(&key) {
            Some(&at) => self.remove_at(at),
            None if self.nodes.len() >= self.capacity => self.pop_lru(),
            None => None,
        };
        let at = self.nodes.len();
        self.nodes.push(Node {
            key: key.clone(),
            value,
            prev: NIL,
            next: NIL,
        });
        self.index.insert(key, at);
        self.push_front(at);
        displaced
    }

    /// Takes the entry under `key` out of the map.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let at = *self.index.get(key)?;
        self.remove_at(at).map(|(_, v)| v)
    }

    /// The least recently used entry, without touching its recency.
    pub(crate) fn peek_lru(&self) -> Option<(&K, &V)> {
        self.nodes.get(self.tail).map(|n| (&n.key, &n.value))
    }

    /// Takes the least recently used entry out of the map.
    pub(crate) fn pop_lru(&mut self) -> Option<(K, V)> {
        if self.tail == NIL {
            return None;
        }
        self.remove_at(self.tail)
    }

    /// Keys from most to least recently used, for tests that check the order.
    #[cfg(test)]
    pub(crate) fn keys_mru_first(&self) -> Vec<K> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut at = self.head;
        while let Some(n) = self.nodes.get(at) {
            out.push(n.key.clone());
            at = n.next;
        }
        out
    }

    fn remove_at(&mut self, at: usize) -> Option<(K, V)> {
        if at >= self.nodes.len() {
            return None;
        }
        self.unlink(at);
        // Indexing below cannot fail: `at < len` was checked, so `len >= 1` and `last >= at`.
        let last = self.nodes.len() - 1;
        if at != last {
            // The last node moves into the hole: whoever pointed at `last` must now point
            // at `at`, including the index entry for its key.
            self.nodes.swap(at, last);
            let (prev, next) = (self.nodes[at].prev, self.nodes[at].next);
            match self.nodes.get_mut(prev) {
                Some(p) => p.next = at,
                None => self.head = at,
            }
            match self.nodes.get_mut(next) {
                Some(n) => n.prev = at,
                None => self.tail = at,
            }
            if let Some(slot) = self.index.get_mut(&self.nodes[at].key) {
                *slot = at;
            }
        }
        let node = self.nodes.pop()?;
        self.index.remove(&node.key);
        Some((node.key, node.value))
    }

    /// Detaches node `at` from the recency list, leaving its own links cleared.
    fn unlink(&mut self, at: usize) {
        let Some(node) = self.nodes.get_mut(at) else {
            return;
        };
        let (prev, next) = (node.prev, node.next);
        node.prev = NIL;
        node.next = NIL;
        match self.nodes.get_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.nodes.get_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    /// Makes the detached node `at` the most recently used.
    fn push_front(&mut self, at: usize) {
        let old_head = self.head;
        let Some(node) = self.nodes.get_mut(at) else {
            return;
        };
        node.prev = NIL;
        node.next = old_head;
        match self.nodes.get_mut(old_head) {
            Some(h) => h.prev = at,
            None => self.tail = at,
        }
        self.head = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_links<K: Hash + Eq + Clone + core::fmt::Debug, V>(lru: &Lru<K, V>) {
        let forward = lru.keys_mru_first();
        assert_eq!(forward.len(), lru.len());
        assert_eq!(lru.index.len(), lru.len());
        let mut backward = Vec::new();
        let mut at = lru.tail;
        while let Some(n) = lru.nodes.get(at) {
            backward.push(n.key.clone());
            at = n.prev;
        }
        backward.reverse();
        assert_eq!(forward, backward);
        for (k, &i) in &lru.index {
            assert_eq!(&lru.nodes[i].key, k);
        }
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut lru = Lru::new(3);
        assert!(lru.insert("a", 1).is_none());
        assert!(lru.insert("b", 2).is_none());
        assert!(lru.insert("c", 3).is_none());
        assert_eq!(lru.keys_mru_first(), ["c", "b", "a"]);
        // Touching "a" makes "b" the coldest.
        assert_eq!(lru.get("a"), Some(&1));
        assert_eq!(lru.keys_mru_first(), ["a", "c", "b"]);
        assert_eq!(lru.insert("d", 4), Some(("b", 2)));
        assert_eq!(lru.keys_mru_first(), ["d", "a", "c"]);
        assert_eq!(lru.get("b"), None);
        check_links(&lru);
    }

    #[test]
    fn replacing_a_key_returns_old_value_and_refreshes_it() {
        let mut lru = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.insert("a", 10), Some(("a", 1)));
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.keys_mru_first(), ["a", "b"]);
        assert_eq!(lru.insert("c", 3), Some(("b", 2)));
        check_links(&lru);
    }

    #[test]
    fn remove_from_head_middle_and_tail() {
        let mut lru = Lru::new(8);
        for k in 0..5 {
            lru.insert(k, k * 10);
        }
        assert_eq!(lru.keys_mru_first(), [4, 3, 2, 1, 0]);
        assert_eq!(lru.remove(&2), Some(20));
        check_links(&lru);
        assert_eq!(lru.remove(&4), Some(40));
        check_links(&lru);
        assert_eq!(lru.remove(&0), Some(0));
        check_links(&lru);
        assert_eq!(lru.remove(&0), None);
        assert_eq!(lru.keys_mru_first(), [3, 1]);
        assert_eq!(lru.pop_lru(), Some((1, 10)));
        assert_eq!(lru.pop_lru(), Some((3, 30)));
        assert_eq!(lru.pop_lru(), None);
        assert_eq!(lru.len(), 0);
        assert!(lru.peek_lru().is_none());
        check_links(&lru);
    }

    #[test]
    fn zero_capacity_holds_nothing() {
        let mut lru = Lru::new(0);
        assert_eq!(lru.insert(1, 1), Some((1, 1)));
        assert_eq!(lru.len(), 0);
        assert_eq!(lru.get(&1), None);
    }

    #[test]
    fn capacity_one() {
        let mut lru = Lru::new(1);
        lru.insert(1, 1);
        assert_eq!(lru.insert(2, 2), Some((1, 1)));
        assert_eq!(lru.get(&2), Some(&2));
        assert_eq!(lru.remove(&2), Some(2));
        assert_eq!(lru.len(), 0);
        check_links(&lru);
    }

    #[test]
    fn random_operations_keep_links_consistent() {
        // A model check against a plain Vec in recency order, with a tiny xorshift so the
        // run is repeatable.
        let mut lru = Lru::new(16);
        let mut model: Vec<(u8, u32)> = Vec::new();
        let mut x: u32 = 0x9e37_79b9;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let key = (x % 24) as u8;
            match x >> 30 {
                0 | 1 => {
                    lru.insert(key, step);
                    model.retain(|(k, _)| *k != key);
                    model.insert(0, (key, step));
                    model.truncate(16);
                }
                2 => {
                    let got = lru.get(&key).copied();
                    let pos = model.iter().position(|(k, _)| *k == key);
                    assert_eq!(got, pos.map(|p| model[p].1));
                    if let Some(p) = pos {
                        let e = model.remove(p);
                        model.insert(0, e);
                    }
                }
                _ => {
                    let got = lru.remove(&key);
                    let pos = model.iter().position(|(k, _)| *k == key);
                    assert_eq!(got, pos.map(|p| model.remove(p).1));
                }
            }
            let keys: Vec<u8> = model.iter().map(|(k, _)| *k).collect();
            assert_eq!(lru.keys_mru_first(), keys);
        }
        check_links(&lru);
    }
}
