//! The default server session cache: in process memory, bounded in entries and entry size,
//! with least-recently-used eviction and a fixed lifetime per entry.

use core::fmt;
use core::time::Duration;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustls_pki_types::UnixTime;
use zeroize::Zeroizing;

use super::lru::Lru;
use super::SessionStore;
use crate::codec::limits::MAX_SESSION_ID;

/// Largest value [`MemoryStore::put`] keeps. A serialized [`super::StoredSession`] is a few
/// hundred bytes plus the client's certificate chain, which the default handshake-message
/// cap already limits to 64 KiB; a session over this size is simply not cached, so the
/// next connection makes a full handshake. Worst-case memory is about
/// `capacity × MAX_VALUE_LEN`.
pub const MAX_VALUE_LEN: usize = 128 * 1024;

/// Cleanup of expired entries done by each `put`, so dead sessions are freed without
/// waiting for capacity pressure, while `put` stays O(1).
const EXPIRED_DROPPED_PER_PUT: usize = 2;

/// An in-memory [`SessionStore`]: at most `capacity` sessions, each alive for `lifetime`
/// after it was stored.
///
/// All operations are O(1). Entries are counted whether or not they have expired: an
/// expired entry is dropped when it is looked up, when it reaches the cold end of the
/// recency list during a `put`, or when it is evicted.
pub struct MemoryStore {
    inner: Mutex<Lru<Vec<u8>, Entry>>,
    capacity: usize,
    lifetime: Duration,
}

struct Entry {
    /// Dropping the entry zeroizes the session it holds.
    value: Zeroizing<Vec<u8>>,
    /// Unix seconds at `put`.
    stored: u64,
}

impl MemoryStore {
    /// A store holding at most `capacity` sessions (see [`super::DEFAULT_CAPACITY`]), each
    /// usable for `lifetime` after it was stored (see [`super::DEFAULT_LIFETIME`]).
    pub fn new(capacity: usize, lifetime: Duration) -> Self {
        Self {
            inner: Mutex::new(Lru::new(capacity)),
            capacity,
            lifetime,
        }
    }

    /// Entries held, including expired ones not dropped yet. Never exceeds the capacity.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while the lock was held cannot have left the map half-updated: the map's
    // operations do not panic (only allocation failure could interrupt them, and that
    // aborts). So the data behind a poisoned lock is sound, and refusing it would turn
    // one bug into every later handshake failing.
    fn lock(&self) -> MutexGuard<'_, Lru<Vec<u8>, Entry>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_expired(&self, entry: &Entry, now: UnixTime) -> bool {
        // A clock that went backwards gives age zero: the entry lives a little longer
        // rather than every session dying at once.
        let age = now.as_secs().saturating_sub(entry.stored);
        age >= self.lifetime.as_secs()
    }
}

impl SessionStore for MemoryStore {
    fn get(&self, id: &[u8], now: UnixTime) -> Option<Zeroizing<Vec<u8>>> {
        if id.is_empty() || id.len() > MAX_SESSION_ID {
            return None;
        }
        let mut lru = self.lock();
        let entry = lru.get(id)?;
        if self.is_expired(entry, now) {
            lru.remove(id);
            return None;
        }
        Some(entry.value.clone())
    }

    /// Stores `value` under `id`. An empty `id` (RFC 5246: "not resumable"), an `id` longer
    /// than 32 bytes or a value over [`MAX_VALUE_LEN`] is not stored, and any earlier entry
    /// under that `id` is removed, so a later `get` never returns stale state.
    fn put(&self, id: &[u8], value: Zeroizing<Vec<u8>>, now: UnixTime) {
        if id.is_empty() || id.len() > MAX_SESSION_ID {
            return;
        }
        let mut lru = self.lock();
        if value.len() > MAX_VALUE_LEN {
            lru.remove(id);
            return;
        }
        for _ in 0..EXPIRED_DROPPED_PER_PUT {
            match lru.peek_lru() {
                Some((_, e)) if self.is_expired(e, now) => lru.pop_lru(),
                _ => break,
            };
        }
        lru.insert(
            id.to_vec(),
            Entry {
                value,
                stored: now.as_secs(),
            },
        );
    }

    fn remove(&self, id: &[u8]) {
        self.lock().remove(id);
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Session IDs and contents stay out of logs.
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{DEFAULT_CAPACITY, DEFAULT_LIFETIME};

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    fn val(b: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(b.to_vec())
    }

    const T0: u64 = 1_700_000_000;

    #[test]
    fn get_put_remove() {
        let s = MemoryStore::new(4, DEFAULT_LIFETIME);
        assert!(s.is_empty());
        assert_eq!(s.get(b"id-1", at(T0)), None);
        s.put(b"id-1", val(b"one"), at(T0));
        s.put(b"id-2", val(b"two"), at(T0));
        assert_eq!(
            s.get(b"id-1", at(T0)).as_deref().map(|v| &v[..]),
            Some(&b"one"[..])
        );
        assert_eq!(
            s.get(b"id-2", at(T0)).as_deref().map(|v| &v[..]),
            Some(&b"two"[..])
        );
        s.put(b"id-1", val(b"uno"), at(T0));
        assert_eq!(
            s.get(b"id-1", at(T0)).as_deref().map(|v| &v[..]),
            Some(&b"uno"[..])
        );
        assert_eq!(s.len(), 2);
        s.remove(b"id-1");
        s.remove(b"absent");
        assert_eq!(s.get(b"id-1", at(T0)), None);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn evicts_least_recently_used_when_full() {
        let s = MemoryStore::new(2, DEFAULT_LIFETIME);
        s.put(b"a", val(b"1"), at(T0));
        s.put(b"b", val(b"2"), at(T0));
        assert!(s.get(b"a", at(T0)).is_some());
        s.put(b"c", val(b"3"), at(T0));
        assert_eq!(s.len(), 2);
        assert!(s.get(b"b", at(T0)).is_none(), "b was least recently used");
        assert!(s.get(b"a", at(T0)).is_some());
        assert!(s.get(b"c", at(T0)).is_some());
    }

    #[test]
    fn entries_die_after_lifetime() {
        let s = MemoryStore::new(8, Duration::from_secs(100));
        s.put(b"a", val(b"1"), at(T0));
        assert!(s.get(b"a", at(T0 + 99)).is_some());
        assert!(s.get(b"a", at(T0 + 100)).is_none());
        assert_eq!(s.len(), 0, "an expired entry is dropped when looked up");
        // Refreshing recency does not refresh the lifetime.
        s.put(b"b", val(b"2"), at(T0));
        assert!(s.get(b"b", at(T0 + 50)).is_some());
        assert!(s.get(b"b", at(T0 + 150)).is_none());
        // A clock that steps back does not kill entries.
        s.put(b"c", val(b"3"), at(T0));
        assert!(s.get(b"c", at(T0 - 1000)).is_some());
    }

    #[test]
    fn put_drops_expired_entries_at_the_cold_end() {
        let s = MemoryStore::new(8, Duration::from_secs(10));
        s.put(b"old-1", val(b"1"), at(T0));
        s.put(b"old-2", val(b"2"), at(T0));
        s.put(b"new", val(b"3"), at(T0 + 20));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn zero_lifetime_stores_nothing_usable() {
        let s = MemoryStore::new(8, Duration::ZERO);
        s.put(b"a", val(b"1"), at(T0));
        assert!(s.get(b"a", at(T0)).is_none());
    }

    #[test]
    fn oversized_keys_and_values_are_ignored() {
        let s = MemoryStore::new(8, DEFAULT_LIFETIME);
        s.put(&[7u8; 33], val(b"x"), at(T0));
        s.put(&[], val(b"x"), at(T0));
        assert_eq!(s.len(), 0);
        assert!(s.get(&[], at(T0)).is_none());
        s.put(&[7u8; 32], val(b"x"), at(T0));
        assert_eq!(s.len(), 1);

        s.put(b"big", Zeroizing::new(vec![0u8; MAX_VALUE_LEN + 1]), at(T0));
        assert!(s.get(b"big", at(T0)).is_none());
        s.put(b"big", Zeroizing::new(vec![0u8; MAX_VALUE_LEN]), at(T0));
        assert!(s.get(b"big", at(T0)).is_some());
        // Replacing with an oversized value must not leave the old one behind.
        s.put(b"big", Zeroizing::new(vec![0u8; MAX_VALUE_LEN + 1]), at(T0));
        assert!(s.get(b"big", at(T0)).is_none());
    }

    #[test]
    fn a_million_sessions_stay_within_capacity() {
        let s = MemoryStore::new(DEFAULT_CAPACITY, DEFAULT_LIFETIME);
        let mut high = 0;
        for i in 0u32..1_000_000 {
            s.put(&i.to_be_bytes(), val(&[1]), at(T0));
            if i % 4096 == 0 {
                high = high.max(s.len());
            }
        }
        high = high.max(s.len());
        assert_eq!(high, DEFAULT_CAPACITY);
        // Exactly the newest DEFAULT_CAPACITY survive.
        assert!(s.get(&999_999u32.to_be_bytes(), at(T0)).is_some());
        assert!(s.get(&990_000u32.to_be_bytes(), at(T0)).is_some());
        assert!(s.get(&989_999u32.to_be_bytes(), at(T0)).is_none());
    }

    #[test]
    fn shared_between_threads() {
        let s = std::sync::Arc::new(MemoryStore::new(64, DEFAULT_LIFETIME));
        let handles: Vec<_> = (0u8..4)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0u8..100 {
                        s.put(&[t, i], val(&[i]), at(T0));
                        let _ = s.get(&[t, i / 2], at(T0));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(s.len(), 64);
    }

    #[test]
    fn debug_shows_no_contents() {
        let s = MemoryStore::new(8, DEFAULT_LIFETIME);
        s.put(b"secret-id", val(b"secret-value"), at(T0));
        let text = format!("{s:?}");
        assert!(text.contains("len: 1"));
        assert!(!text.contains("secret"));
    }
}
