//! Loading certificates and private keys from PEM.
//!
//! rustls-pki-types does the PEM and base64 parsing. This module decides which sections a
//! caller wants, refuses files that hold the wrong kind of object, and turns every failure
//! into a [`LocalError::Config`] that says what was wrong and, for the `*_file` functions,
//! in which file.

use std::path::Path;

use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use zeroize::{Zeroize, Zeroizing};

use crate::error::LocalError;

/// Reads every `CERTIFICATE` section of `pem`, in file order.
///
/// The order is kept because a TLS Certificate message sends the leaf first and then its
/// issuers; a chain file written that way can be sent as loaded. Sections that are neither
/// certificates nor keys (CRLs, CSRs, public keys) are skipped.
///
/// # Errors
///
/// [`LocalError::Config`] when the PEM is malformed, when it holds no certificate, or when
/// it holds a private key ("found a private key where certificates were expected").
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, LocalError> {
    let mut certs = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(pem_syntax_error)?;
        if is_private_key(kind) {
            // Usually swapped --cert/--key arguments. Refusing keeps the secret from being
            // treated, logged or sent as if it were public data; its bytes are wiped.
            drop(Zeroizing::new(der));
            return Err(config(
                "found a private key where certificates were expected",
            ));
        }
        if kind == SectionKind::Certificate {
            certs.push(CertificateDer::from(der));
        }
    }
    if certs.is_empty() {
        return Err(config(
            "no certificate found (expected a -----BEGIN CERTIFICATE----- section)",
        ));
    }
    Ok(certs)
}

/// Reads the one private key in `pem`: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or
/// PKCS#1 (`RSA PRIVATE KEY`).
///
/// Certificates and other sections are skipped, so a combined key-and-chain file works.
/// The key bytes are not checked here; the signer that uses the key does that.
///
/// # Errors
///
/// [`LocalError::Config`] when the PEM is malformed, when it holds no key (with a hint if
/// the key is encrypted, which is not supported), or when it holds more than one key:
/// choosing one silently could pair the wrong key with the certificate.
pub fn private_key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, LocalError> {
    let mut keys: Vec<PrivateKeyDer<'static>> = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(pem_syntax_error)?;
        keys.push(match kind {
            SectionKind::PrivateKey => PrivatePkcs8KeyDer::from(der).into(),
            SectionKind::EcPrivateKey => PrivateSec1KeyDer::from(der).into(),
            SectionKind::RsaPrivateKey => PrivatePkcs1KeyDer::from(der).into(),
            _ => continue,
        });
    }
    if keys.len() > 1 {
        let n = keys.len();
        // The keys are refused, so nothing else will wipe them.
        keys.iter_mut().for_each(Zeroize::zeroize);
        return Err(config(format!(
            "found {n} private keys; expected exactly one"
        )));
    }
    match keys.pop() {
        Some(key) => Ok(key),
        None if contains(pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") => Err(config(
            "no usable private key found: encrypted private keys are not supported; \
             decrypt it first (for example with `openssl pkey`)",
        )),
        None => Err(config(
            "no private key found (expected a PRIVATE KEY, EC PRIVATE KEY or \
             RSA PRIVATE KEY section)",
        )),
    }
}

/// [`certs_from_pem`] on the contents of the file at `path`.
///
/// # Errors
///
/// As [`certs_from_pem`], and when the file cannot be read; every message starts with the
/// path.
pub fn certs_from_pem_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, LocalError> {
    let pem = std::fs::read(path).map_err(|e| in_file(path, config(e.to_string())))?;
    certs_from_pem(&pem).map_err(|e| in_file(path, e))
}

/// [`private_key_from_pem`] on the contents of the file at `path`.
///
/// The file's bytes are wiped from memory after parsing.
///
/// # Errors
///
/// As [`private_key_from_pem`], and when the file cannot be read; every message starts
/// with the path.
pub fn private_key_from_pem_file(path: &Path) -> Result<PrivateKeyDer<'static>, LocalError> {
    let pem =
        Zeroizing::new(std::fs::read(path).map_err(|e| in_file(path, config(e.to_string())))?);
    private_key_from_pem(&pem).map_err(|e| in_file(path, e))
}

fn is_private_key(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::PrivateKey | SectionKind::EcPrivateKey | SectionKind::RsaPrivateKey
    )
}

/// pki-types prints markers as byte arrays (`[45, 45, ...]`); users need to see the text.
fn pem_syntax_error(e: pem::Error) -> LocalError {
    let text = match e {
        // `end_marker` is the section label alone, e.g. `CERTIFICATE`.
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "malformed PEM: missing -----END {}----- line",
            String::from_utf8_lossy(&end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed PEM: bad BEGIN line {}",
            String::from_utf8_lossy(&line)
        ),
        pem::Error::Base64Decode(detail) => format!("malformed PEM: bad base64 ({detail})"),
        other => format!("malformed PEM: {other}"),
    };
    config(text)
}

fn in_file(path: &Path, e: LocalError) -> LocalError {
    match e {
        LocalError::Config(msg) => config(format!("{}: {msg}", path.display())),
        other => other,
    }
}

fn config(msg: impl Into<String>) -> LocalError {
    LocalError::Config(msg.into())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated once with `openssl ecparam -name prime256v1 -genkey -noout`; test-only.
    const SEC1_P256_KEY: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIKOawp++l6cCAxDP9jniB7wv4YIVCjHtE4UghfFW7QqnoAoGCCqGSM49
AwEHoUQDQgAEU7yy8ahsIuOFLWKE3N6zuZuHVJAoOhjlCGbEEWLUPHbRsaiWy6pS
WQc3+ZmnMyajPijdY2asN02W6KBC2j33PQ==
-----END EC PRIVATE KEY-----
";

    // Generated once with `openssl genrsa -traditional 2048`; test-only.
    const PKCS1_RSA_KEY: &str = include_str!("../testdata/rsa2048-pkcs1-key.pem");

    fn cert_and_key(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert, key)
    }

    fn config_text(e: LocalError) -> String {
        match e {
            LocalError::Config(msg) => msg,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    /// A file in the temp directory, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(tag: &str, contents: &[u8]) -> Self {
            let path = std::env::temp_dir()
                .join(format!("tlsmachine-pem-{}-{tag}.pem", std::process::id()));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn certs_are_read_in_file_order() {
        let (a, _) = cert_and_key("a.example");
        let (b, _) = cert_and_key("b.example");
        let pem = format!("{}{}", a.pem(), b.pem());
        let certs = certs_from_pem(pem.as_bytes()).unwrap();
        assert_eq!(certs, vec![a.der().clone(), b.der().clone()]);
    }

    #[test]
    fn certs_tolerate_crlf_and_surrounding_text() {
        let (a, _) = cert_and_key("a.example");
        let pem = format!("subject=CN=a\r\n{}", a.pem().replace('\n', "\r\n"));
        assert_eq!(
            certs_from_pem(pem.as_bytes()).unwrap(),
            vec![a.der().clone()]
        );
    }

    #[test]
    fn no_certificate_is_a_clear_error() {
        let msg = config_text(certs_from_pem(b"just some text\n").unwrap_err());
        assert!(msg.contains("no certificate found"), "{msg}");
    }

    #[test]
    fn private_key_in_certificate_file_is_refused() {
        let (cert, key) = cert_and_key("a.example");
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        let msg = config_text(certs_from_pem(pem.as_bytes()).unwrap_err());
        assert_eq!(msg, "found a private key where certificates were expected");
        let msg = config_text(certs_from_pem(SEC1_P256_KEY.as_bytes()).unwrap_err());
        assert_eq!(msg, "found a private key where certificates were expected");
    }

    #[test]
    fn truncated_pem_names_the_missing_end_line() {
        let (cert, _) = cert_and_key("a.example");
        let pem = cert.pem();
        let cut = &pem[..pem.find("-----END").unwrap()];
        let msg = config_text(certs_from_pem(cut.as_bytes()).unwrap_err());
        assert!(msg.contains("-----END CERTIFICATE-----"), "{msg}");
    }

    #[test]
    fn pkcs8_key_loads() {
        let (cert, key) = cert_and_key("a.example");
        // A combined chain-and-key file: the certificate is skipped.
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        match private_key_from_pem(pem.as_bytes()).unwrap() {
            PrivateKeyDer::Pkcs8(k) => assert_eq!(k.secret_pkcs8_der(), key.serialized_der()),
            other => panic!("expected PKCS#8, got {other:?}"),
        }
    }

    #[test]
    fn sec1_key_loads() {
        let key = private_key_from_pem(SEC1_P256_KEY.as_bytes()).unwrap();
        assert!(matches!(key, PrivateKeyDer::Sec1(_)), "{key:?}");
        // SEC1 ECPrivateKey is a SEQUENCE.
        assert_eq!(key.secret_der()[0], 0x30);
    }

    #[test]
    fn pkcs1_key_loads() {
        let key = private_key_from_pem(PKCS1_RSA_KEY.as_bytes()).unwrap();
        assert!(matches!(key, PrivateKeyDer::Pkcs1(_)), "{key:?}");
        assert_eq!(key.secret_der()[0], 0x30);
    }

    #[test]
    fn no_key_is_a_clear_error() {
        let (cert, _) = cert_and_key("a.example");
        let msg = config_text(private_key_from_pem(cert.pem().as_bytes()).unwrap_err());
        assert!(msg.contains("no private key found"), "{msg}");
    }

    #[test]
    fn encrypted_key_gets_a_hint() {
        let pem =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let msg = config_text(private_key_from_pem(pem.as_bytes()).unwrap_err());
        assert!(
            msg.contains("encrypted private keys are not supported"),
            "{msg}"
        );
    }

    #[test]
    fn several_keys_are_refused() {
        let pem = format!("{SEC1_P256_KEY}{PKCS1_RSA_KEY}");
        let msg = config_text(private_key_from_pem(pem.as_bytes()).unwrap_err());
        assert_eq!(msg, "found 2 private keys; expected exactly one");
    }

    #[test]
    fn file_loaders_read_and_name_the_file() {
        let (cert, key) = cert_and_key("a.example");
        let certs = TempFile::new("certs", cert.pem().as_bytes());
        let keyf = TempFile::new("key", key.serialize_pem().as_bytes());
        assert_eq!(
            certs_from_pem_file(&certs.0).unwrap(),
            vec![cert.der().clone()]
        );
        assert!(matches!(
            private_key_from_pem_file(&keyf.0).unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));

        // Swapped arguments: both errors say which file was wrong.
        let msg = config_text(certs_from_pem_file(&keyf.0).unwrap_err());
        assert!(msg.starts_with(&keyf.0.display().to_string()), "{msg}");
        assert!(
            msg.contains("found a private key where certificates"),
            "{msg}"
        );
        let msg = config_text(private_key_from_pem_file(&certs.0).unwrap_err());
        assert!(msg.starts_with(&certs.0.display().to_string()), "{msg}");
        assert!(msg.contains("no private key found"), "{msg}");
    }

    #[test]
    fn missing_file_is_named() {
        let path = std::env::temp_dir().join("tlsmachine-pem-does-not-exist.pem");
        let msg = config_text(certs_from_pem_file(&path).unwrap_err());
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
        let msg = config_text(private_key_from_pem_file(&path).unwrap_err());
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    }
}
