//! The application's verify hook, and one ready-made hook: SHA-256 leaf pinning.

use core::fmt;
use core::fmt::Write as _;

use aws_lc_rs::digest;
use rustls_pki_types::CertificateDer;

use crate::codec::enums::AlertDescription;
use crate::error::{CertificateError, LocalError};

/// An extra check on a peer's chain, run after the built-in verification has passed.
///
/// A hook can only refuse: it sees chains that already lead to a trusted root and match the
/// expected name (see [`super::CertVerified::run_hook`]), and its refusal becomes a fatal
/// alert of its choosing.
pub trait VerifyHook: Send + Sync + fmt::Debug {
    /// Accepts or refuses `chain` (leaf first, as the peer sent it). `peer_name` is the
    /// server name a client verified, or `None` when a server checks a client.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] naming the alert to send and the reason to report.
    fn check(&self, chain: &[CertificateDer<'_>], peer_name: Option<&str>)
        -> Result<(), Rejection>;
}

/// A verify hook's refusal: the alert to send and a reason for the local error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The fatal alert sent to the peer; usually `bad_certificate` or `access_denied`.
    pub alert: AlertDescription,
    /// Why, for the application's logs; never sent to the peer.
    pub reason: String,
}

impl From<Rejection> for CertificateError {
    fn from(r: Rejection) -> Self {
        CertificateError::Rejected {
            alert: r.alert,
            reason: r.reason,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.alert)
    }
}

impl std::error::Error for Rejection {}

/// The SHA-256 digest of a certificate's DER encoding, as `openssl x509 -fingerprint
/// -sha256` prints it (without the colons).
pub fn sha256_fingerprint(cert: &CertificateDer<'_>) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, cert.as_ref());
    let mut out = [0u8; 32];
    // Invariant: a SHA-256 digest is exactly 32 bytes, so the lengths match.
    out.copy_from_slice(digest.as_ref());
    out
}

/// A [`VerifyHook`] that accepts only leaf certificates whose SHA-256 fingerprint is
/// pinned, and refuses any other with `bad_certificate`.
///
/// Pinning narrows trust further than the CA: a reissued certificate, even from the same CA,
/// is refused until its fingerprint is pinned. With no pins, every chain is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinnedSha256 {
    fingerprints: Vec<[u8; 32]>,
}

impl PinnedSha256 {
    /// Pins the given leaf fingerprints (see [`sha256_fingerprint`]).
    pub fn new(fingerprints: impl IntoIterator<Item = [u8; 32]>) -> Self {
        Self {
            fingerprints: fingerprints.into_iter().collect(),
        }
    }

    /// Pins fingerprints written in hex, 64 digits each, upper or lower case, optionally
    /// with `:` between bytes as `openssl x509 -fingerprint` prints them.
    ///
    /// # Errors
    ///
    /// [`LocalError::Config`] naming the pin that is not 32 bytes of hex.
    pub fn from_hex<'a>(pins: impl IntoIterator<Item = &'a str>) -> Result<Self, LocalError> {
        let mut fingerprints = Vec::new();
        for pin in pins {
            fingerprints.push(parse_hex_fingerprint(pin).ok_or_else(|| {
                LocalError::Config(format!(
                    "pin '{pin}' is not a SHA-256 fingerprint (64 hex digits)"
                ))
            })?);
        }
        Ok(Self { fingerprints })
    }

    /// The pinned fingerprints.
    pub fn fingerprints(&self) -> &[[u8; 32]] {
        &self.fingerprints
    }
}

impl VerifyHook for PinnedSha256 {
    fn check(
        &self,
        chain: &[CertificateDer<'_>],
        _peer_name: Option<&str>,
    ) -> Result<(), Rejection> {
        let Some(leaf) = chain.first() else {
            return Err(Rejection {
                alert: AlertDescription::BAD_CERTIFICATE,
                reason: "no certificate to compare with the pinned fingerprints".into(),
            });
        };
        let fingerprint = sha256_fingerprint(leaf);
        // Fingerprints of public certificates are not secret: no constant-time compare.
        if self.fingerprints.contains(&fingerprint) {
            return Ok(());
        }
        Err(Rejection {
            alert: AlertDescription::BAD_CERTIFICATE,
            reason: format!(
                "leaf certificate SHA-256 fingerprint {} is not pinned",
                to_hex(&fingerprint)
            ),
        })
    }
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn parse_hex_fingerprint(pin: &str) -> Option<[u8; 32]> {
    let digits: Vec<u8> = pin.bytes().filter(|&c| c != b':').collect();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        // Invariant: two hex digits are at most 0xff.
        *byte = (hi * 16 + lo) as u8;
    }
    Some(out)
}
