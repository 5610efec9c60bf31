//! A deterministic provider for tests and fuzzing.
//!
//! # NOT SECURE
//!
//! **Everything this module produces is predictable by anyone who knows the seed.** Its
//! "random" bytes are SHA-256(seed || counter) and its clock never moves. It exists so that
//! unit tests, RFC replays and fuzzers see the same bytes on every run. It is compiled only
//! under `cfg(test)` or the `testing` feature; never enable that feature in a build that talks
//! to real peers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::UnixTime;

use super::hash::{hash_parts, HashAlg};
use super::{Provider, SecureRandom, TimeSource, DEFAULT_GROUPS};
use crate::error::LocalError;

/// A provider whose randomness is derived from `seed` and whose clock always reads
/// `now_secs` seconds after the Unix epoch. **For tests and fuzzing only: not secure.**
pub fn provider(seed: u64, now_secs: u64) -> Provider {
    Provider {
        random: Arc::new(FixedRandom::new(seed)),
        time: Arc::new(FixedTime(UnixTime::since_unix_epoch(Duration::from_secs(
            now_secs,
        )))),
        suites: super::suites::DEFAULT_SUITES,
        groups: DEFAULT_GROUPS,
    }
}

/// Deterministic byte stream: block `i` is SHA-256(seed_be64 || i_be64). **Not secure.**
#[derive(Debug)]
pub struct FixedRandom {
    seed: u64,
    // Atomic only so the type is Sync; determinism still assumes one caller at a time.
    counter: AtomicU64,
}

impl FixedRandom {
    /// A stream starting at block 0 for `seed`.
    pub fn new(seed: u64) -> Self {
        FixedRandom {
            seed,
            counter: AtomicU64::new(0),
        }
    }
}

impl SecureRandom for FixedRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), LocalError> {
        for chunk in out.chunks_mut(32) {
            let i = self.counter.fetch_add(1, Ordering::Relaxed);
            let block = hash_parts(
                HashAlg::Sha256,
                &[&self.seed.to_be_bytes(), &i.to_be_bytes()],
            );
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
        Ok(())
    }
}

/// A clock stopped at one instant. **For tests only.**
#[derive(Debug, Clone, Copy)]
pub struct FixedTime(pub UnixTime);

impl TimeSource for FixedTime {
    fn now(&self) -> UnixTime {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_fixed_clock() {
        let a = provider(7, 1_000);
        let b = provider(7, 1_000);
        let c = provider(8, 1_000);
        let (mut x, mut y, mut z) = ([0u8; 40], [0u8; 40], [0u8; 40]);
        a.random.fill(&mut x).unwrap();
        b.random.fill(&mut y).unwrap();
        c.random.fill(&mut z).unwrap();
        assert_eq!(x, y);
        assert_ne!(x, z);
        // The stream moves on: a second fill differs from the first.
        let mut x2 = [0u8; 40];
        a.random.fill(&mut x2).unwrap();
        assert_ne!(x, x2);
        assert_eq!(a.time.now().as_secs(), 1_000);
    }
}
