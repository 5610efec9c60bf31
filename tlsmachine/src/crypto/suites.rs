//! The TLS 1.2 cipher suites we implement: ECDHE key exchange with AEAD records only.

use super::aead::AeadAlg;
use super::hash::HashAlg;
use super::sign::KeyKind;
use crate::codec::enums::CipherSuite;

/// Everything a TLS 1.2 suite fixes: PRF hash, record AEAD and certificate key type.
#[derive(Debug, PartialEq, Eq)]
pub struct Tls12Suite {
    /// The IANA code point.
    pub suite: CipherSuite,
    /// Hash for the PRF and the handshake transcript.
    pub hash: HashAlg,
    /// Record protection.
    pub aead: AeadAlg,
    /// Which certificate keys can authenticate the ServerKeyExchange.
    pub auth: SuiteAuth,
}

impl Tls12Suite {
    /// Bytes of key block to derive: client and server write keys and IVs. AEAD suites
    /// have no MAC keys (RFC 5246 §6.3 with mac_key_length = 0).
    pub fn key_block_len(&self) -> usize {
        2 * (self.aead.key_len() + self.aead.fixed_iv_len())
    }
}

/// The "ECDSA" or "RSA" in a suite name: which kind of certificate key signs the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteAuth {
    Ecdsa,
    Rsa,
}

impl SuiteAuth {
    /// Whether a certificate key of `kind` can serve this suite. RFC 8422 §5.1 puts EdDSA
    /// certificates under the ECDHE_ECDSA suites.
    pub fn accepts(self, kind: KeyKind) -> bool {
        match self {
            SuiteAuth::Ecdsa => matches!(
                kind,
                KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::Ed25519
            ),
            SuiteAuth::Rsa => kind == KeyKind::Rsa,
        }
    }
}

/// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xc02b, RFC 5289).
pub static TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: Tls12Suite = Tls12Suite {
    suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    hash: HashAlg::Sha256,
    aead: AeadAlg::Aes128Gcm,
    auth: SuiteAuth::Ecdsa,
};

/// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xc02c, RFC 5289).
pub static TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: Tls12Suite = Tls12Suite {
    suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    hash: HashAlg::Sha384,
    aead: AeadAlg::Aes256Gcm,
    auth: SuiteAuth::Ecdsa,
};

/// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xcca9, RFC 7905).
pub static TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: Tls12Suite = Tls12Suite {
    suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    hash: HashAlg::Sha256,
    aead: AeadAlg::Chacha20Poly1305,
    auth: SuiteAuth::Ecdsa,
};

/// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xc02f, RFC 5289).
pub static TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: Tls12Suite = Tls12Suite {
    suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    hash: HashAlg::Sha256,
    aead: AeadAlg::Aes128Gcm,
    auth: SuiteAuth::Rsa,
};

/// TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xc030, RFC 5289).
pub static TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: Tls12Suite = Tls12Suite {
    suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    hash: HashAlg::Sha384,
    aead: AeadAlg::Aes256Gcm,
    auth: SuiteAuth::Rsa,
};

/// TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (0xcca8, RFC 7905).
pub static TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: Tls12Suite = Tls12Suite {
    suite: CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    hash: HashAlg::Sha256,
    aead: AeadAlg::Chacha20Poly1305,
    auth: SuiteAuth::Rsa,
};

/// Every suite we implement, in our preference order: ECDSA before RSA (smaller, faster
/// handshakes), and within each AES-128-GCM, AES-256-GCM, then ChaCha20-Poly1305 (AES is
/// hardware-accelerated on the platforms we target).
pub static DEFAULT_TLS12_SUITES: &[&Tls12Suite] = &[
    &TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    &TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    &TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    &TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    &TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    &TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// The suite for a code point, if we implement it.
pub fn lookup(suite: CipherSuite) -> Option<&'static Tls12Suite> {
    DEFAULT_TLS12_SUITES
        .iter()
        .copied()
        .find(|s| s.suite == suite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_default_suite_and_nothing_else() {
        for s in DEFAULT_TLS12_SUITES {
            assert_eq!(lookup(s.suite), Some(*s));
        }
        assert_eq!(lookup(CipherSuite::TLS_RSA_WITH_AES_128_GCM_SHA256), None);
        assert_eq!(lookup(CipherSuite::TLS_AES_128_GCM_SHA256), None);
        assert_eq!(lookup(CipherSuite(0xc013)), None);
    }

    #[test]
    fn hash_and_aead_follow_the_suite_name() {
        for s in DEFAULT_TLS12_SUITES {
            let name = s.suite.name().unwrap();
            assert_eq!(
                name.ends_with("SHA384"),
                s.hash == HashAlg::Sha384,
                "{name}"
            );
            assert_eq!(
                name.contains("AES_128"),
                s.aead == AeadAlg::Aes128Gcm,
                "{name}"
            );
            assert_eq!(
                name.contains("AES_256"),
                s.aead == AeadAlg::Aes256Gcm,
                "{name}"
            );
            assert_eq!(
                name.contains("_ECDSA_"),
                s.auth == SuiteAuth::Ecdsa,
                "{name}"
            );
        }
    }

    #[test]
    fn key_block_lengths() {
        assert_eq!(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.key_block_len(), 40);
        assert_eq!(TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384.key_block_len(), 72);
        assert_eq!(
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256.key_block_len(),
            88
        );
    }

    #[test]
    fn auth_accepts_matching_keys() {
        for k in [KeyKind::EcdsaP256, KeyKind::EcdsaP384, KeyKind::Ed25519] {
            assert!(SuiteAuth::Ecdsa.accepts(k));
            assert!(!SuiteAuth::Rsa.accepts(k));
        }
        assert!(SuiteAuth::Rsa.accepts(KeyKind::Rsa));
        assert!(!SuiteAuth::Ecdsa.accepts(KeyKind::Rsa));
    }
}
