//! Our handshake signatures (ServerKeyExchange, CertificateVerify), on aws-lc-rs.

use core::fmt;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;

use crate::codec::enums::SignatureScheme;
use crate::error::LocalError;

/// The type of a signing key, which decides the suites and schemes it can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    Rsa,
    Ed25519,
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key that signs handshake messages. `Debug` shows only the key kind.
pub struct SigningKey {
    kind: KeyKind,
    inner: Inner,
}

static P256_SCHEMES: &[SignatureScheme] = &[SignatureScheme::ECDSA_SECP256R1_SHA256];
static P384_SCHEMES: &[SignatureScheme] = &[SignatureScheme::ECDSA_SECP384R1_SHA384];
/// In TLS 1.2 these codes mean "ecdsa with SHA-256/384/512" on any curve (RFC 5246
/// §7.4.1.4.1); the curve's own hash first.
static P256_SCHEMES_TLS12: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_SECP256R1_SHA256,
    SignatureScheme::ECDSA_SECP384R1_SHA384,
    SignatureScheme::ECDSA_SECP521R1_SHA512,
];
static P384_SCHEMES_TLS12: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_SECP384R1_SHA384,
    SignatureScheme::ECDSA_SECP256R1_SHA256,
    SignatureScheme::ECDSA_SECP521R1_SHA512,
];
/// PSS first: RFC 8446 §4.2.3 prefers it and TLS 1.2 peers that offer it handle it.
static RSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::RSA_PSS_RSAE_SHA256,
    SignatureScheme::RSA_PSS_RSAE_SHA384,
    SignatureScheme::RSA_PSS_RSAE_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];
static ED25519_SCHEMES: &[SignatureScheme] = &[SignatureScheme::ED25519];

impl SigningKey {
    /// Parses a private key: PKCS#8 (ECDSA P-256/P-384, RSA, Ed25519), SEC1 (ECDSA) or
    /// PKCS#1 (RSA). The error says which formats and key types were tried and why each
    /// refused, since a wrong key file is a common configuration mistake.
    pub fn from_der(key: &PrivateKeyDer<'_>) -> Result<Self, LocalError> {
        match key {
            PrivateKeyDer::Pkcs8(der) => {
                let der = der.secret_pkcs8_der();
                let p256 = match ecdsa(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    KeyKind::EcdsaP256,
                    der,
                    true,
                ) {
                    Ok(k) => return Ok(k),
                    Err(e) => e,
                };
                let p384 = match ecdsa(
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    KeyKind::EcdsaP384,
                    der,
                    true,
                ) {
                    Ok(k) => return Ok(k),
                    Err(e) => e,
                };
                let rsa = match RsaKeyPair::from_pkcs8(der) {
                    Ok(k) => return Ok(SigningKey::rsa(k)),
                    Err(e) => e,
                };
                let ed = match Ed25519KeyPair::from_pkcs8(der) {
                    Ok(k) => {
                        return Ok(SigningKey {
                            kind: KeyKind::Ed25519,
                            inner: Inner::Ed25519(k),
                        })
                    }
                    Err(e) => e,
                };
                Err(LocalError::Config(format!(
                    "PKCS#8 private key not usable: as ECDSA P-256: {p256}; as ECDSA P-384: \
                     {p384}; as RSA (2048-8192 bits): {rsa}; as Ed25519: {ed}"
                )))
            }
            PrivateKeyDer::Sec1(der) => {
                let der = der.secret_sec1_der();
                let p256 = match ecdsa(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    KeyKind::EcdsaP256,
                    der,
                    false,
                ) {
                    Ok(k) => return Ok(k),
                    Err(e) => e,
                };
                let p384 = match ecdsa(
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    KeyKind::EcdsaP384,
                    der,
                    false,
                ) {
                    Ok(k) => return Ok(k),
                    Err(e) => e,
                };
                Err(LocalError::Config(format!(
                    "SEC1 EC private key not usable (only P-256 and P-384 are supported): \
                     as P-256: {p256}; as P-384: {p384}"
                )))
            }
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der())
                .map(SigningKey::rsa)
                .map_err(|e| {
                    LocalError::Config(format!(
                        "PKCS#1 RSA private key not usable (2048-8192 bits supported): {e}"
                    ))
                }),
            _ => Err(LocalError::Config(
                "unsupported private key format (expected PKCS#8, SEC1 or PKCS#1 DER)".into(),
            )),
        }
    }

    fn rsa(k: RsaKeyPair) -> Self {
        SigningKey {
            kind: KeyKind::Rsa,
            inner: Inner::Rsa(k),
        }
    }

    /// The key type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The public key as it appears inside the certificate's SubjectPublicKeyInfo BIT STRING:
    /// an uncompressed point for ECDSA, the DER RSAPublicKey for RSA, 32 bytes for Ed25519.
    /// Lets configuration check that a certificate and key belong together.
    pub fn public_key(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Ecdsa(k) => k.public_key().as_ref().to_vec(),
            Inner::Rsa(k) => k.public_key().as_ref().to_vec(),
            Inner::Ed25519(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// Schemes this key can sign with, in our preference order.
    pub fn schemes(&self) -> &'static [SignatureScheme] {
        match self.kind {
            KeyKind::EcdsaP256 => P256_SCHEMES,
            KeyKind::EcdsaP384 => P384_SCHEMES,
            KeyKind::Rsa => RSA_SCHEMES,
            KeyKind::Ed25519 => ED25519_SCHEMES,
        }
    }

    /// Our most preferred scheme that the peer offered, if any, with an ECDSA curve bound to
    /// its hash as TLS 1.3 binds them.
    pub fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<SignatureScheme> {
        self.schemes().iter().copied().find(|s| offered.contains(s))
    }

    /// Schemes this key can sign with in TLS 1.2, in our preference order: an ECDSA key
    /// signs with any of SHA-256, SHA-384 and SHA-512, whatever its curve.
    pub fn schemes_tls12(&self) -> &'static [SignatureScheme] {
        match self.kind {
            KeyKind::EcdsaP256 => P256_SCHEMES_TLS12,
            KeyKind::EcdsaP384 => P384_SCHEMES_TLS12,
            KeyKind::Rsa | KeyKind::Ed25519 => self.schemes(),
        }
    }

    /// Our most preferred TLS 1.2 scheme that the peer offered, if any.
    pub fn choose_scheme_tls12(&self, offered: &[SignatureScheme]) -> Option<SignatureScheme> {
        self.schemes_tls12()
            .iter()
            .copied()
            .find(|s| offered.contains(s))
    }

    /// Signs `msg` with `scheme`, which must be one of [`schemes_tls12`](Self::schemes_tls12)
    /// (which holds [`schemes`](Self::schemes)).
    pub fn sign(&self, scheme: SignatureScheme, msg: &[u8]) -> Result<Vec<u8>, LocalError> {
        if !self.schemes_tls12().contains(&scheme) {
            return Err(LocalError::Crypto("signature scheme does not fit the key"));
        }
        // aws-lc-rs draws its own randomness for ECDSA and PSS and ignores this argument.
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Ecdsa(k) if self.schemes().contains(&scheme) => k
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| LocalError::Crypto("ECDSA signing failed")),
            Inner::Ecdsa(k) => ecdsa_with_other_hash(k, self.kind, scheme, msg),
            Inner::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
            Inner::Rsa(k) => {
                let padding: &'static dyn signature::RsaEncoding = match scheme {
                    SignatureScheme::RSA_PSS_RSAE_SHA256 => &signature::RSA_PSS_SHA256,
                    SignatureScheme::RSA_PSS_RSAE_SHA384 => &signature::RSA_PSS_SHA384,
                    SignatureScheme::RSA_PSS_RSAE_SHA512 => &signature::RSA_PSS_SHA512,
                    SignatureScheme::RSA_PKCS1_SHA256 => &signature::RSA_PKCS1_SHA256,
                    SignatureScheme::RSA_PKCS1_SHA384 => &signature::RSA_PKCS1_SHA384,
                    SignatureScheme::RSA_PKCS1_SHA512 => &signature::RSA_PKCS1_SHA512,
                    _ => return Err(LocalError::Crypto("signature scheme does not fit the key")),
                };
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(padding, &rng, msg, &mut sig)
                    .map_err(|_| LocalError::Crypto("RSA signing failed"))?;
                Ok(sig)
            }
        }
    }
}

/// ECDSA over a hash other than the curve's own (TLS 1.2 only). aws-lc-rs offers signing
/// algorithms only for the pairs P-256/SHA-256 and P-384/SHA-384, but signs a given digest:
/// ECDSA uses the leftmost bits of the hash, as many as the curve order has, as the integer
/// to sign (SEC 1 v2 §4.1.3 step 5, FIPS 186-5 §6.4.1), so the digest is cut to the
/// order's length, or a shorter one zero-extended on the left (the same integer), and
/// aws-lc-rs signs that.
fn ecdsa_with_other_hash(
    k: &EcdsaKeyPair,
    kind: KeyKind,
    scheme: SignatureScheme,
    msg: &[u8],
) -> Result<Vec<u8>, LocalError> {
    let curve_hash = match kind {
        KeyKind::EcdsaP256 => &digest::SHA256,
        KeyKind::EcdsaP384 => &digest::SHA384,
        KeyKind::Rsa | KeyKind::Ed25519 => {
            return Err(LocalError::Crypto("not an ECDSA key"));
        }
    };
    let hash = match scheme {
        SignatureScheme::ECDSA_SECP256R1_SHA256 => &digest::SHA256,
        SignatureScheme::ECDSA_SECP384R1_SHA384 => &digest::SHA384,
        SignatureScheme::ECDSA_SECP521R1_SHA512 => &digest::SHA512,
        _ => return Err(LocalError::Crypto("signature scheme does not fit the key")),
    };
    let hashed = digest::digest(hash, msg);
    let hashed = hashed.as_ref();
    // The P-256 and P-384 orders are exactly 256 and 384 bits long.
    let order_len = curve_hash.output_len();
    let mut e = [0u8; digest::MAX_OUTPUT_LEN];
    let e = &mut e[..order_len];
    if hashed.len() >= order_len {
        e.copy_from_slice(&hashed[..order_len]);
    } else {
        e[order_len - hashed.len()..].copy_from_slice(hashed);
    }
    let digest = Digest::import_less_safe(e, curve_hash)
        .map_err(|_| LocalError::Crypto("ECDSA digest of the wrong length"))?;
    k.sign_digest(&digest)
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| LocalError::Crypto("ECDSA signing failed"))
}

/// An ECDSA key for `alg` (whose curve is `kind`), from PKCS#8 or SEC1/RFC 5915 DER.
fn ecdsa(
    alg: &'static signature::EcdsaSigningAlgorithm,
    kind: KeyKind,
    der: &[u8],
    pkcs8: bool,
) -> Result<SigningKey, aws_lc_rs::error::KeyRejected> {
    let k = if pkcs8 {
        EcdsaKeyPair::from_pkcs8(alg, der)?
    } else {
        EcdsaKeyPair::from_private_key_der(alg, der)?
    };
    Ok(SigningKey {
        kind,
        inner: Inner::Ecdsa(k),
    })
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use rustls_pki_types::{
        PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    };

    use super::*;

    fn pkcs8(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
        rcgen::KeyPair::generate_for(alg).unwrap().serialize_der()
    }

    fn load(der: PrivateKeyDer<'_>) -> Result<SigningKey, LocalError> {
        SigningKey::from_der(&der)
    }

    #[test]
    fn pkcs8_keys_of_every_kind_load_with_their_schemes() {
        for (alg, kind, first) in [
            (
                &rcgen::PKCS_ECDSA_P256_SHA256,
                KeyKind::EcdsaP256,
                SignatureScheme::ECDSA_SECP256R1_SHA256,
            ),
            (
                &rcgen::PKCS_ECDSA_P384_SHA384,
                KeyKind::EcdsaP384,
                SignatureScheme::ECDSA_SECP384R1_SHA384,
            ),
            (
                &rcgen::PKCS_ED25519,
                KeyKind::Ed25519,
                SignatureScheme::ED25519,
            ),
        ] {
            let kp = rcgen::KeyPair::generate_for(alg).unwrap();
            let key = load(PrivatePkcs8KeyDer::from(kp.serialize_der()).into()).unwrap();
            assert_eq!(key.kind(), kind);
            assert_eq!(key.schemes()[0], first);
            // rcgen's raw public key is what goes in the certificate's BIT STRING.
            assert_eq!(key.public_key(), kp.public_key_raw());
            assert!(!format!("{key:?}").contains("inner"));
        }
    }

    #[test]
    fn rsa_pkcs8_and_pkcs1_load_and_prefer_pss() {
        let der = pkcs8(&rcgen::PKCS_RSA_SHA256);
        let key = load(PrivatePkcs8KeyDer::from(der.clone()).into()).unwrap();
        assert_eq!(key.kind(), KeyKind::Rsa);
        assert_eq!(key.schemes(), RSA_SCHEMES);
        assert_eq!(
            key.public_key(),
            rcgen::KeyPair::try_from(&der[..]).unwrap().public_key_raw()
        );

        // PKCS#8 wraps the PKCS#1 RSAPrivateKey in its final OCTET STRING: SEQUENCE(len 2),
        // version (3), AlgorithmIdentifier (15), then OCTET STRING with a 2-byte length.
        assert_eq!(
            der[22..24],
            [0x04, 0x82],
            "unexpected PKCS#8 layout from rcgen"
        );
        let pkcs1 = der[26..].to_vec();
        let key1 = load(PrivatePkcs1KeyDer::from(pkcs1).into()).unwrap();
        assert_eq!(key1.public_key(), key.public_key());
    }

    #[test]
    fn sec1_ec_keys_load() {
        for (alg, kind) in [
            (
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                KeyKind::EcdsaP256,
            ),
            (
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                KeyKind::EcdsaP384,
            ),
        ] {
            let kp = EcdsaKeyPair::generate(alg).unwrap();
            let sec1 = kp.private_key().as_der().unwrap();
            let key = load(PrivateSec1KeyDer::from(sec1.as_ref().to_vec()).into()).unwrap();
            assert_eq!(key.kind(), kind);
            assert_eq!(key.public_key(), kp.public_key().as_ref());
        }
    }

    #[test]
    fn unusable_keys_name_what_failed() {
        let err = load(PrivatePkcs8KeyDer::from(vec![0x30, 0x00]).into()).unwrap_err();
        let LocalError::Config(text) = err else {
            panic!("expected a config error")
        };
        assert!(text.contains("PKCS#8") && text.contains("RSA") && text.contains("Ed25519"));

        let p521 = pkcs8(&rcgen::PKCS_ECDSA_P521_SHA512);
        assert!(load(PrivatePkcs8KeyDer::from(p521).into()).is_err());

        let err = load(PrivateSec1KeyDer::from(vec![0x30, 0x00]).into()).unwrap_err();
        assert!(matches!(err, LocalError::Config(t) if t.contains("SEC1")));
        let err = load(PrivatePkcs1KeyDer::from(vec![0x30, 0x00]).into()).unwrap_err();
        assert!(matches!(err, LocalError::Config(t) if t.contains("PKCS#1")));
    }

    /// Each ECDSA key signs with each TLS 1.2 hash, and aws-lc-rs verifies the signature
    /// as ECDSA with that curve and that hash.
    #[test]
    fn ecdsa_keys_sign_with_every_tls12_hash() {
        use signature::{UnparsedPublicKey, VerificationAlgorithm as V};
        let p256: [(SignatureScheme, &'static dyn V); 3] = [
            (
                SignatureScheme::ECDSA_SECP256R1_SHA256,
                &signature::ECDSA_P256_SHA256_ASN1,
            ),
            (
                SignatureScheme::ECDSA_SECP384R1_SHA384,
                &signature::ECDSA_P256_SHA384_ASN1,
            ),
            (
                SignatureScheme::ECDSA_SECP521R1_SHA512,
                &signature::ECDSA_P256_SHA512_ASN1,
            ),
        ];
        let p384: [(SignatureScheme, &'static dyn V); 3] = [
            (
                SignatureScheme::ECDSA_SECP256R1_SHA256,
                &signature::ECDSA_P384_SHA256_ASN1,
            ),
            (
                SignatureScheme::ECDSA_SECP384R1_SHA384,
                &signature::ECDSA_P384_SHA384_ASN1,
            ),
            (
                SignatureScheme::ECDSA_SECP521R1_SHA512,
                &signature::ECDSA_P384_SHA512_ASN1,
            ),
        ];
        let msg = b"client_random || server_random || ServerECDHParams";
        for (alg, algs) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, p256),
            (&rcgen::PKCS_ECDSA_P384_SHA384, p384),
        ] {
            let key = load(PrivatePkcs8KeyDer::from(pkcs8(alg)).into()).unwrap();
            for (i, (scheme, verify)) in algs.into_iter().enumerate() {
                let sig = key.sign(scheme, msg).unwrap();
                let public = UnparsedPublicKey::new(verify, key.public_key());
                assert!(
                    public.verify(msg, &sig).is_ok(),
                    "{:?} {scheme:?}",
                    key.kind()
                );
                assert!(public.verify(b"other", &sig).is_err());
                // The wrong hash does not verify: the scheme really chose the hash.
                let (_, other) = algs[(i + 1) % 3];
                let wrong = UnparsedPublicKey::new(other, key.public_key());
                assert!(
                    wrong.verify(msg, &sig).is_err(),
                    "{:?} {scheme:?}",
                    key.kind()
                );
            }
        }
    }

    #[test]
    fn tls12_choice_frees_the_hash_from_the_curve_and_tls13_choice_does_not() {
        let p256 =
            load(PrivatePkcs8KeyDer::from(pkcs8(&rcgen::PKCS_ECDSA_P256_SHA256)).into()).unwrap();
        let sha384_only = [SignatureScheme::ECDSA_SECP384R1_SHA384];
        assert_eq!(p256.choose_scheme(&sha384_only), None);
        assert_eq!(
            p256.choose_scheme_tls12(&sha384_only),
            Some(SignatureScheme::ECDSA_SECP384R1_SHA384)
        );
        assert_eq!(
            p256.choose_scheme_tls12(&[
                SignatureScheme::ECDSA_SECP521R1_SHA512,
                SignatureScheme::ECDSA_SECP384R1_SHA384,
                SignatureScheme::ECDSA_SECP256R1_SHA256,
            ]),
            Some(SignatureScheme::ECDSA_SECP256R1_SHA256),
            "the curve's own hash first"
        );
        assert!(p256.sign(SignatureScheme::ED25519, b"x").is_err());
        let rsa = load(PrivatePkcs8KeyDer::from(pkcs8(&rcgen::PKCS_RSA_SHA256)).into()).unwrap();
        assert_eq!(rsa.schemes_tls12(), rsa.schemes());
        assert_eq!(rsa.choose_scheme_tls12(&sha384_only), None);
    }

    #[test]
    fn choose_scheme_takes_our_first_that_the_peer_offered() {
        let key = load(PrivatePkcs8KeyDer::from(pkcs8(&rcgen::PKCS_RSA_SHA256)).into()).unwrap();
        let offered = [
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::ECDSA_SECP256R1_SHA256,
            SignatureScheme::RSA_PSS_RSAE_SHA384,
        ];
        assert_eq!(
            key.choose_scheme(&offered),
            Some(SignatureScheme::RSA_PSS_RSAE_SHA384)
        );
        assert_eq!(
            key.choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA512]),
            Some(SignatureScheme::RSA_PKCS1_SHA512)
        );
        assert_eq!(key.choose_scheme(&[SignatureScheme::ED25519]), None);
        assert_eq!(key.choose_scheme(&[]), None);
    }
}
