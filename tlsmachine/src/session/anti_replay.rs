//! Anti-replay for TLS 1.3 0-RTT data (RFC 8446 §8.2): a bounded, time-sliced record of the
//! ClientHellos seen within the window in which a ticket's age is believed.
//!
//! A ClientHello whose obfuscated ticket age puts it outside the window is already refused
//! 0-RTT by the handshake; inside the window, a ClientHello is known by its PSK binder,
//! which no attacker can change without the PSK. Two slices, each a window long, hold the
//! binders: everything seen within the last window is in one of them. Full means 0-RTT is
//! refused (the handshake goes on without it): the record fails closed, never open.

use core::fmt;
use core::time::Duration;
use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustls_pki_types::UnixTime;

/// The window by default: how far a client's idea of a ticket's age may be from ours.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// ClientHellos remembered by default, across both slices.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A shared record of recent 0-RTT ClientHellos, for every connection of a server config.
pub struct AntiReplay {
    window: u64,
    capacity: usize,
    slices: Mutex<Slices>,
}

#[derive(Default)]
struct Slices {
    /// When the current slice began, in Unix seconds.
    current_start: u64,
    current: HashSet<[u8; 32]>,
    previous: HashSet<[u8; 32]>,
}

impl AntiReplay {
    /// A record for `window` (at least one second) holding at most `capacity` entries.
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window: window.as_secs().max(1),
            capacity,
            slices: Mutex::new(Slices::default()),
        }
    }

    /// The window within which a ticket's age must match ours for 0-RTT.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window)
    }

    /// Whether the ClientHello with this PSK binder is new within the window, recording it
    /// if so. `false` means 0-RTT must be refused: a replay, or no room left to remember.
    pub fn first_seen(&self, binder: &[u8], now: UnixTime) -> bool {
        let mut key = [0u8; 32];
        let n = binder.len().min(32);
        key[..n].copy_from_slice(&binder[..n]);
        let now = now.as_secs();
        let mut slices = self.lock();
        if now >= slices.current_start.saturating_add(self.window) {
            // A whole window or more went by: the current slice becomes the previous one,
            // or, after two windows, nothing is kept.
            let current = core::mem::take(&mut slices.current);
            slices.previous = if now < slices.current_start.saturating_add(2 * self.window) {
                current
            } else {
                HashSet::new()
            };
            slices.current_start = now;
        }
        if slices.current.contains(&key) || slices.previous.contains(&key) {
            return false;
        }
        if slices.current.len() + slices.previous.len() >= self.capacity {
            return false;
        }
        slices.current.insert(key);
        true
    }

    // Set operations do not panic, so a poisoned lock still guards consistent sets.
    fn lock(&self) -> MutexGuard<'_, Slices> {
        self.slices.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for AntiReplay {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW, DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for AntiReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slices = self.lock();
        f.debug_struct("AntiReplay")
            .field("window", &self.window)
            .field("capacity", &self.capacity)
            .field(
                "remembered",
                &(slices.current.len() + slices.previous.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    #[test]
    fn a_binder_is_refused_again_within_the_window_and_forgotten_after() {
        let r = AntiReplay::new(Duration::from_secs(10), 100);
        assert!(r.first_seen(b"binder-a", at(1000)));
        assert!(!r.first_seen(b"binder-a", at(1000)));
        assert!(!r.first_seen(b"binder-a", at(1009)), "same slice");
        assert!(r.first_seen(b"binder-b", at(1010)));
        assert!(
            !r.first_seen(b"binder-a", at(1015)),
            "kept in the previous slice"
        );
        assert!(r.first_seen(b"binder-a", at(1031)), "two windows later");
    }

    #[test]
    fn full_record_fails_closed() {
        let r = AntiReplay::new(Duration::from_secs(10), 2);
        assert!(r.first_seen(b"one", at(5)));
        assert!(r.first_seen(b"two", at(5)));
        assert!(
            !r.first_seen(b"three", at(5)),
            "no room: refuse, never accept"
        );
        assert!(
            r.first_seen(b"three", at(40)),
            "room again once the window passed"
        );
    }
}
