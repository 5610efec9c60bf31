//! Cryptography for TLS 1.2 and 1.3, all of it delegated to aws-lc-rs and rustls-webpki.
//!
//! Nothing here implements a primitive. This module only arranges the calls the RFCs describe:
//! the TLS 1.2 PRF ([`prf`]), the TLS 1.3 key schedule ([`key_schedule`]), the AEADs
//! ([`aead`]; records are sealed in `record/`), ephemeral ECDH and ML-KEM ([`kx`]),
//! handshake signatures ([`sign`], [`sigverify`]) and the suite table ([`suites`]).
//!
//! Randomness and time are values inside a [`Provider`], never read from the OS by the core,
//! so tests and fuzzers can swap in `fixed::provider` (under `cfg(test)` or the `testing`
//! feature) and get the same bytes every run.

use std::sync::Arc;

use rustls_pki_types::UnixTime;

use crate::codec::enums::NamedGroup;
use crate::error::LocalError;

pub mod aead;
#[cfg(any(test, feature = "testing"))]
pub mod fixed;
pub mod hash;
pub mod key_schedule;
pub mod kx;
pub mod prf;
pub mod sign;
pub mod sigverify;
pub mod suites;

#[cfg(test)]
pub(crate) mod tests_util {
    /// Hex to bytes; whitespace is ignored so vectors can be laid out as published.
    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert!(digits.len() % 2 == 0, "odd hex length");
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }
}

/// A source of cryptographically secure random bytes.
pub trait SecureRandom: Send + Sync + core::fmt::Debug {
    /// Fills `out` entirely with random bytes, or fails without a partial result being used.
    fn fill(&self, out: &mut [u8]) -> Result<(), LocalError>;
}

/// The wall clock used for certificate validity and ticket lifetimes.
pub trait TimeSource: Send + Sync + core::fmt::Debug {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// Everything cryptographic a connection needs that is not fixed by the protocol: where
/// randomness and time come from, and which suites and groups we offer, in preference order.
#[derive(Clone, Debug)]
pub struct Provider {
    /// Randoms, ECDH private keys and anything else that must be unpredictable.
    pub random: Arc<dyn SecureRandom>,
    /// The clock for certificate validation and session lifetimes.
    pub time: Arc<dyn TimeSource>,
    /// Cipher suites we offer or accept, most preferred first.
    pub suites: &'static [suites::SupportedSuite],
    /// Key-exchange groups we offer or accept, most preferred first.
    pub groups: &'static [NamedGroup],
}

/// Groups offered by default. The hybrid post-quantum X25519MLKEM768 first, so a recorded
/// session stays secret even against a future quantum computer (TLS 1.3 only); then X25519,
/// fast and with public values that need no validation beyond length; then the NIST curves.
pub static DEFAULT_GROUPS: &[NamedGroup] = &[
    NamedGroup::X25519MLKEM768,
    NamedGroup::X25519,
    NamedGroup::SECP256R1,
    NamedGroup::SECP384R1,
];

/// Groups a client sends key shares for in its first ClientHello: the hybrid group and
/// X25519, so a server that cannot do the first still needs no HelloRetryRequest.
pub static DEFAULT_KEY_SHARE_GROUPS: &[NamedGroup] =
    &[NamedGroup::X25519MLKEM768, NamedGroup::X25519];

impl Provider {
    /// The production provider: aws-lc-rs's system random generator, the system clock, and
    /// the default suites and groups.
    pub fn aws_lc() -> Provider {
        Provider {
            random: Arc::new(AwsLcRandom::default()),
            time: Arc::new(SystemClock),
            suites: suites::DEFAULT_SUITES,
            groups: DEFAULT_GROUPS,
        }
    }
}

impl Default for Provider {
    fn default() -> Self {
        Provider::aws_lc()
    }
}

/// aws-lc-rs's `SystemRandom` (the OS generator behind AWS-LC's DRBG).
#[derive(Debug, Default)]
pub struct AwsLcRandom(aws_lc_rs::rand::SystemRandom);

impl SecureRandom for AwsLcRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), LocalError> {
        aws_lc_rs::rand::SecureRandom::fill(&self.0, out)
            .map_err(|_| LocalError::Crypto("system random generator failed"))
    }
}

/// The operating system's wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl TimeSource for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_provider_offers_the_documented_groups_and_suites() {
        let p = Provider::default();
        assert_eq!(
            p.groups,
            &[
                NamedGroup::X25519MLKEM768,
                NamedGroup::X25519,
                NamedGroup::SECP256R1,
                NamedGroup::SECP384R1
            ]
        );
        assert_eq!(p.suites.len(), 9);
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        p.random.fill(&mut a).unwrap();
        p.random.fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert!(p.time.now().as_secs() > 1_700_000_000);
    }
}
