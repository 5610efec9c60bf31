//! Verifying the peer's handshake signatures against its end-entity certificate, with
//! rustls-webpki's aws-lc-rs algorithms.

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm};
use webpki::aws_lc_rs as algs;
use webpki::EndEntityCert;

use crate::codec::enums::SignatureScheme;

/// Why a handshake signature was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// We do not verify this scheme, or it does not fit the certificate's key type (an RSA
    /// scheme for an EC key, say). The handshake maps this to illegal_parameter.
    UnsupportedScheme(SignatureScheme),
    /// The certificate does not parse, so it has no usable key.
    BadCertificate,
    /// The signature does not verify: decrypt_error.
    BadSignature,
}

/// What we put in signature_algorithms: the schemes we can verify, in preference order.
pub const DEFAULT_VERIFY_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_SECP256R1_SHA256,
    SignatureScheme::ECDSA_SECP384R1_SHA384,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_RSAE_SHA256,
    SignatureScheme::RSA_PSS_RSAE_SHA384,
    SignatureScheme::RSA_PSS_RSAE_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

/// The webpki algorithms a scheme may mean. In TLS 1.2 an ECDSA code names only the hash
/// (RFC 5246 §7.4.1.4.1 pairs a hash with "ecdsa"; the curve comes from the certificate), so
/// each ECDSA scheme tries both curves we support.
fn algorithms(
    scheme: SignatureScheme,
) -> Option<&'static [&'static dyn SignatureVerificationAlgorithm]> {
    static P_SHA256: &[&dyn SignatureVerificationAlgorithm] =
        &[algs::ECDSA_P256_SHA256, algs::ECDSA_P384_SHA256];
    static P_SHA384: &[&dyn SignatureVerificationAlgorithm] =
        &[algs::ECDSA_P384_SHA384, algs::ECDSA_P256_SHA384];
    static ED25519: &[&dyn SignatureVerificationAlgorithm] = &[algs::ED25519];
    static PSS256: &[&dyn SignatureVerificationAlgorithm] =
        &[algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY];
    static PSS384: &[&dyn SignatureVerificationAlgorithm] =
        &[algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY];
    static PSS512: &[&dyn SignatureVerificationAlgorithm] =
        &[algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY];
    static PKCS1_256: &[&dyn SignatureVerificationAlgorithm] = &[algs::RSA_PKCS1_2048_8192_SHA256];
    static PKCS1_384: &[&dyn SignatureVerificationAlgorithm] = &[algs::RSA_PKCS1_2048_8192_SHA384];
    static PKCS1_512: &[&dyn SignatureVerificationAlgorithm] = &[algs::RSA_PKCS1_2048_8192_SHA512];
    Some(match scheme {
        SignatureScheme::ECDSA_SECP256R1_SHA256 => P_SHA256,
        SignatureScheme::ECDSA_SECP384R1_SHA384 => P_SHA384,
        SignatureScheme::ED25519 => ED25519,
        SignatureScheme::RSA_PSS_RSAE_SHA256 => PSS256,
        SignatureScheme::RSA_PSS_RSAE_SHA384 => PSS384,
        SignatureScheme::RSA_PSS_RSAE_SHA512 => PSS512,
        SignatureScheme::RSA_PKCS1_SHA256 => PKCS1_256,
        SignatureScheme::RSA_PKCS1_SHA384 => PKCS1_384,
        SignatureScheme::RSA_PKCS1_SHA512 => PKCS1_512,
        _ => return None,
    })
}

/// Checks that `signature` over `msg` was made with `scheme` by the key in `end_entity`.
///
/// This checks only the signature: the caller must already have validated the certificate
/// chain and name.
pub fn verify_signature(
    end_entity: &CertificateDer<'_>,
    scheme: SignatureScheme,
    msg: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let candidates = algorithms(scheme).ok_or(SignatureError::UnsupportedScheme(scheme))?;
    let cert = EndEntityCert::try_from(end_entity).map_err(|_| SignatureError::BadCertificate)?;
    let mut fits_key = false;
    for alg in candidates {
        match cert.verify_signature(*alg, msg, signature) {
            Ok(()) => return Ok(()),
            // This algorithm is for another key type or curve: try the next candidate.
            #[allow(deprecated)]
            Err(
                webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
                | webpki::Error::UnsupportedSignatureAlgorithmForPublicKey,
            ) => {}
            Err(_) => fits_key = true,
        }
    }
    if fits_key {
        Err(SignatureError::BadSignature)
    } else {
        Err(SignatureError::UnsupportedScheme(scheme))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;
    use crate::crypto::sign::{KeyKind, SigningKey};
    use crate::crypto::tests_util::unhex;

    /// A self-signed certificate and the matching key, made with rcgen.
    pub(crate) struct Identity {
        pub(crate) cert: CertificateDer<'static>,
        pub(crate) key: SigningKey,
    }

    fn make(alg: &'static rcgen::SignatureAlgorithm) -> Identity {
        let kp = rcgen::KeyPair::generate_for(alg).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(kp.serialize_der()));
        Identity {
            cert: cert.der().clone(),
            key: SigningKey::from_der(&der).unwrap(),
        }
    }

    /// One identity per key kind; RSA generation is slow, so each is made once.
    pub(crate) fn identities() -> &'static [Identity] {
        static IDS: OnceLock<Vec<Identity>> = OnceLock::new();
        IDS.get_or_init(|| {
            vec![
                make(&rcgen::PKCS_ECDSA_P256_SHA256),
                make(&rcgen::PKCS_ECDSA_P384_SHA384),
                make(&rcgen::PKCS_RSA_SHA256),
                make(&rcgen::PKCS_ED25519),
            ]
        })
    }

    #[test]
    fn every_scheme_of_every_key_signs_and_verifies() {
        let kinds: Vec<KeyKind> = identities().iter().map(|i| i.key.kind()).collect();
        assert_eq!(
            kinds,
            [
                KeyKind::EcdsaP256,
                KeyKind::EcdsaP384,
                KeyKind::Rsa,
                KeyKind::Ed25519
            ]
        );
        for id in identities() {
            for &scheme in id.key.schemes() {
                assert!(DEFAULT_VERIFY_SCHEMES.contains(&scheme));
                let sig = id.key.sign(scheme, b"server key exchange params").unwrap();
                assert_eq!(
                    verify_signature(&id.cert, scheme, b"server key exchange params", &sig),
                    Ok(()),
                    "{scheme:?}"
                );
                assert_eq!(
                    verify_signature(&id.cert, scheme, b"other message", &sig),
                    Err(SignatureError::BadSignature),
                    "{scheme:?} wrong message"
                );
            }
        }
    }

    #[test]
    fn flipped_bit_is_bad_signature() {
        for id in identities() {
            let scheme = id.key.schemes()[0];
            let sig = id.key.sign(scheme, b"msg").unwrap();
            for i in [0, sig.len() / 2, sig.len() - 1] {
                let mut bad = sig.clone();
                bad[i] ^= 0x80;
                assert_eq!(
                    verify_signature(&id.cert, scheme, b"msg", &bad),
                    Err(SignatureError::BadSignature),
                    "{:?} byte {i}",
                    id.key.kind()
                );
            }
        }
    }

    #[test]
    fn scheme_that_does_not_fit_the_key_is_refused() {
        let ids = identities();
        let (p256, rsa, ed) = (&ids[0], &ids[2], &ids[3]);
        let ec_sig = p256
            .key
            .sign(SignatureScheme::ECDSA_SECP256R1_SHA256, b"m")
            .unwrap();
        for scheme in [
            SignatureScheme::RSA_PSS_RSAE_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::ED25519,
        ] {
            assert_eq!(
                verify_signature(&p256.cert, scheme, b"m", &ec_sig),
                Err(SignatureError::UnsupportedScheme(scheme))
            );
        }
        let rsa_sig = rsa
            .key
            .sign(SignatureScheme::RSA_PSS_RSAE_SHA256, b"m")
            .unwrap();
        assert_eq!(
            verify_signature(
                &rsa.cert,
                SignatureScheme::ECDSA_SECP256R1_SHA256,
                b"m",
                &rsa_sig
            ),
            Err(SignatureError::UnsupportedScheme(
                SignatureScheme::ECDSA_SECP256R1_SHA256
            ))
        );
        // PSS signature presented as PKCS#1 v1.5 (same key type, wrong padding).
        assert_eq!(
            verify_signature(&rsa.cert, SignatureScheme::RSA_PKCS1_SHA256, b"m", &rsa_sig),
            Err(SignatureError::BadSignature)
        );
        let ed_sig = ed.key.sign(SignatureScheme::ED25519, b"m").unwrap();
        assert_eq!(
            verify_signature(
                &ed.cert,
                SignatureScheme::ECDSA_SECP384R1_SHA384,
                b"m",
                &ed_sig
            ),
            Err(SignatureError::UnsupportedScheme(
                SignatureScheme::ECDSA_SECP384R1_SHA384
            ))
        );
        // The signer refuses too.
        assert!(p256
            .key
            .sign(SignatureScheme::RSA_PSS_RSAE_SHA256, b"m")
            .is_err());
        assert!(p256.key.sign(SignatureScheme::ED25519, b"m").is_err());
        // In TLS 1.2 a P-256 key may sign with SHA-384 (RFC 5246 §7.4.1.4.1).
        let cross = p256
            .key
            .sign(SignatureScheme::ECDSA_SECP384R1_SHA384, b"m")
            .unwrap();
        assert_eq!(
            verify_signature(
                &p256.cert,
                SignatureScheme::ECDSA_SECP384R1_SHA384,
                b"m",
                &cross
            ),
            Ok(())
        );
    }

    /// TLS 1.2 ECDSA codes name the hash, not the curve: a P-384 key signing a SHA-256
    /// digest is a valid ecdsa_secp256r1_sha256 signature, and the converse for SHA-384.
    /// These were made once with the OpenSSL CLI (`openssl req -x509 -newkey ec ...`,
    /// `openssl dgst -sha256 -sign ...`), so the check does not rest on our own signer.
    #[test]
    fn ecdsa_scheme_accepts_either_curve() {
        let msg = b"TLS 1.2 ECDSA names the hash, not the curve";
        for (cert, sig, scheme) in [
            (
                include_str!("testdata/openssl-p384.der.hex"),
                include_str!("testdata/openssl-p384-sha256.sig.hex"),
                SignatureScheme::ECDSA_SECP256R1_SHA256,
            ),
            (
                include_str!("testdata/openssl-p256.der.hex"),
                include_str!("testdata/openssl-p256-sha384.sig.hex"),
                SignatureScheme::ECDSA_SECP384R1_SHA384,
            ),
        ] {
            let cert = CertificateDer::from(unhex(cert));
            let sig = unhex(sig);
            assert_eq!(verify_signature(&cert, scheme, msg, &sig), Ok(()));
            let other = if scheme == SignatureScheme::ECDSA_SECP256R1_SHA256 {
                SignatureScheme::ECDSA_SECP384R1_SHA384
            } else {
                SignatureScheme::ECDSA_SECP256R1_SHA256
            };
            assert_eq!(
                verify_signature(&cert, other, msg, &sig),
                Err(SignatureError::BadSignature)
            );
        }
    }

    #[test]
    fn unsupported_schemes_and_bad_certificates() {
        let id = &identities()[0];
        for scheme in [
            SignatureScheme::RSA_PKCS1_SHA1,
            SignatureScheme::ECDSA_SHA1,
            SignatureScheme::ED448,
            SignatureScheme::ECDSA_SECP521R1_SHA512,
            SignatureScheme(0xfefe),
        ] {
            assert_eq!(
                verify_signature(&id.cert, scheme, b"m", b"sig"),
                Err(SignatureError::UnsupportedScheme(scheme))
            );
        }
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(
            verify_signature(
                &garbage,
                SignatureScheme::ECDSA_SECP256R1_SHA256,
                b"m",
                b"s"
            ),
            Err(SignatureError::BadCertificate)
        );
    }

    /// A published handshake: the rsa_pkcs1_sha256 ServerKeyExchange signature and server
    /// certificate of "The Illustrated TLS 1.2 Connection" (https://tls12.xargs.org).
    #[test]
    fn recorded_server_key_exchange_signature_verifies() {
        let cert = CertificateDer::from(unhex(include_str!("testdata/xargs-server-cert.hex")));
        let sig = unhex(include_str!("testdata/xargs-ske-signature.hex"));
        // client_random + server_random + ECParameters (named_curve x25519) + ECPoint.
        let mut msg = (0x00..0x20).chain(0x70..0x90).collect::<Vec<u8>>();
        msg.extend(unhex(
            "03001d 20 9fd7ad6dcff4298dd3f96d5b1b2af910a0535b1488d7f8fabb349a982880b615",
        ));
        assert_eq!(
            verify_signature(&cert, SignatureScheme::RSA_PKCS1_SHA256, &msg, &sig),
            Ok(())
        );
        msg[0] ^= 1;
        assert_eq!(
            verify_signature(&cert, SignatureScheme::RSA_PKCS1_SHA256, &msg, &sig),
            Err(SignatureError::BadSignature)
        );
    }
}
