//! The cipher suites we implement: for TLS 1.2, ECDHE key exchange with AEAD records only;
//! for TLS 1.3, the three AEAD suites of RFC 8446 §B.4 that everyone deploys.

use super::aead::AeadAlg;
use super::hash::HashAlg;
use super::sign::KeyKind;
use crate::codec::enums::CipherSuite;
use crate::names::Version;

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

/// A TLS 1.3 suite: only the record AEAD and the hash of HKDF and the transcript; the key
/// exchange and authentication are negotiated apart (RFC 8446 §4.1.1).
#[derive(Debug, PartialEq, Eq)]
pub struct Tls13Suite {
    pub suite: CipherSuite,
    pub hash: HashAlg,
    pub aead: AeadAlg,
}

/// TLS_AES_128_GCM_SHA256 (0x1301).
pub static TLS13_AES_128_GCM_SHA256: Tls13Suite = Tls13Suite {
    suite: CipherSuite::TLS_AES_128_GCM_SHA256,
    hash: HashAlg::Sha256,
    aead: AeadAlg::Aes128Gcm,
};

/// TLS_AES_256_GCM_SHA384 (0x1302).
pub static TLS13_AES_256_GCM_SHA384: Tls13Suite = Tls13Suite {
    suite: CipherSuite::TLS_AES_256_GCM_SHA384,
    hash: HashAlg::Sha384,
    aead: AeadAlg::Aes256Gcm,
};

/// TLS_CHACHA20_POLY1305_SHA256 (0x1303).
pub static TLS13_CHACHA20_POLY1305_SHA256: Tls13Suite = Tls13Suite {
    suite: CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
    hash: HashAlg::Sha256,
    aead: AeadAlg::Chacha20Poly1305,
};

/// A suite of either version, as configurations list them: one list, like OpenSSL's, from
/// which each version takes its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupportedSuite {
    Tls12(&'static Tls12Suite),
    Tls13(&'static Tls13Suite),
}

impl SupportedSuite {
    /// The IANA code point.
    pub fn suite(self) -> CipherSuite {
        match self {
            SupportedSuite::Tls12(s) => s.suite,
            SupportedSuite::Tls13(s) => s.suite,
        }
    }

    /// The version this suite belongs to.
    pub fn version(self) -> Version {
        match self {
            SupportedSuite::Tls12(_) => Version::Tls12,
            SupportedSuite::Tls13(_) => Version::Tls13,
        }
    }

    pub fn tls12(self) -> Option<&'static Tls12Suite> {
        match self {
            SupportedSuite::Tls12(s) => Some(s),
            SupportedSuite::Tls13(_) => None,
        }
    }

    pub fn tls13(self) -> Option<&'static Tls13Suite> {
        match self {
            SupportedSuite::Tls13(s) => Some(s),
            SupportedSuite::Tls12(_) => None,
        }
    }
}

impl From<&'static Tls12Suite> for SupportedSuite {
    fn from(s: &'static Tls12Suite) -> Self {
        SupportedSuite::Tls12(s)
    }
}

impl From<&'static Tls13Suite> for SupportedSuite {
    fn from(s: &'static Tls13Suite) -> Self {
        SupportedSuite::Tls13(s)
    }
}

/// Every suite we implement, in our preference order: TLS 1.3 first, then TLS 1.2. Within
/// each, AES-128-GCM before AES-256-GCM before ChaCha20-Poly1305, as AES is
/// hardware-accelerated on the platforms we target.
pub static DEFAULT_SUITES: &[SupportedSuite] = &[
    SupportedSuite::Tls13(&TLS13_AES_128_GCM_SHA256),
    SupportedSuite::Tls13(&TLS13_AES_256_GCM_SHA384),
    SupportedSuite::Tls13(&TLS13_CHACHA20_POLY1305_SHA256),
    SupportedSuite::Tls12(&TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    SupportedSuite::Tls12(&TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    SupportedSuite::Tls12(&TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    SupportedSuite::Tls12(&TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    SupportedSuite::Tls12(&TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    SupportedSuite::Tls12(&TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
];

/// The suite for a code point, if we implement it.
pub fn lookup(suite: CipherSuite) -> Option<SupportedSuite> {
    DEFAULT_SUITES.iter().copied().find(|s| s.suite() == suite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_default_suite_and_nothing_else() {
        for s in DEFAULT_SUITES {
            assert_eq!(lookup(s.suite()), Some(*s));
        }
        assert_eq!(
            lookup(CipherSuite::TLS_AES_128_GCM_SHA256),
            Some(SupportedSuite::Tls13(&TLS13_AES_128_GCM_SHA256))
        );
        assert_eq!(lookup(CipherSuite::TLS_RSA_WITH_AES_128_GCM_SHA256), None);
        assert_eq!(lookup(CipherSuite(0xc013)), None);
        assert_eq!(DEFAULT_SUITES.len(), 9);
        // TLS 1.3 is preferred: its suites come first.
        assert!(DEFAULT_SUITES[..3]
            .iter()
            .all(|s| s.version() == Version::Tls13));
    }

    #[test]
    fn tls13_suites_follow_their_names() {
        for s in DEFAULT_SUITES.iter().filter_map(|s| s.tls13()) {
            let name = s.suite.name().unwrap();
            assert_eq!(
                name.ends_with("SHA384"),
                s.hash == HashAlg::Sha384,
                "{name}"
            );
            assert_eq!(
                name.contains("CHACHA20"),
                s.aead == AeadAlg::Chacha20Poly1305
            );
        }
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
