//! Chains are made at test time with rcgen; time is fixed, so nothing expires under CI.

use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::webpki::{der_sequence, map_error};
use super::*;
use crate::codec::enums::AlertDescription;
use crate::error::ProtocolError;

/// 2025-06-01T00:00:00Z: inside every "valid" period below.
fn now() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(1_748_736_000))
}

fn name(s: &str) -> ServerName<'static> {
    ServerName::try_from(s.to_string()).unwrap()
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "tlsmachine tests");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2035, 1, 1);
    params
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

/// A self-signed root: its certificate and an issuer that signs with its key.
fn root(cn: &str) -> (Certificate, Issuer<'static, KeyPair>) {
    let key = new_key();
    let params = ca_params(cn);
    let cert = params.self_signed(&key).unwrap();
    (cert, Issuer::new(params, key))
}

fn intermediate(
    cn: &str,
    parent: &Issuer<'_, KeyPair>,
) -> (CertificateDer<'static>, Issuer<'static, KeyPair>) {
    let key = new_key();
    let params = ca_params(cn);
    let cert = params.signed_by(&key, parent).unwrap();
    (cert.der().clone(), Issuer::new(params, key))
}

struct Leaf<'a> {
    names: &'a [&'a str],
    eku: Vec<ExtendedKeyUsagePurpose>,
    valid: (i32, i32),
}

impl Default for Leaf<'_> {
    fn default() -> Self {
        Leaf {
            names: &["localhost", "127.0.0.1"],
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            valid: (2024, 2026),
        }
    }
}

impl Leaf<'_> {
    fn signed_by(self, issuer: &Issuer<'_, KeyPair>) -> CertificateDer<'static> {
        let mut params =
            CertificateParams::new(self.names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = self.eku;
        params.not_before = date_time_ymd(self.valid.0, 1, 1);
        params.not_after = date_time_ymd(self.valid.1, 1, 1);
        params.signed_by(&new_key(), issuer).unwrap().der().clone()
    }
}

/// root → intermediate → leaf, and a store trusting the root.
struct Pki {
    store: TrustStore,
    root_der: CertificateDer<'static>,
    inter_der: CertificateDer<'static>,
    inter: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        Self::named("tlsmachine test")
    }

    /// CA names matter: webpki finds issuers by name, so a second PKI with the same names
    /// is an impostor (bad signature), not an unknown issuer.
    fn named(prefix: &str) -> Self {
        let (root_cert, root) = root(&format!("{prefix} root"));
        let root_der = root_cert.der().clone();
        let (inter_der, inter) = intermediate(&format!("{prefix} intermediate"), &root);
        let mut store = TrustStore::empty();
        store.add_der(&root_der).unwrap();
        Pki {
            store,
            root_der,
            inter_der,
            inter,
        }
    }

    fn chain(&self, leaf: Leaf<'_>) -> Vec<CertificateDer<'static>> {
        vec![leaf.signed_by(&self.inter), self.inter_der.clone()]
    }
}

fn server_err(pki: &Pki, chain: &[CertificateDer<'_>], host: &str) -> CertificateError {
    verify_server_chain(&pki.store, chain, &name(host), now()).unwrap_err()
}

#[test]
fn good_chain_verifies_for_dns_name_and_ip() {
    let pki = Pki::new();
    let chain = pki.chain(Leaf::default());
    verify_server_chain(&pki.store, &chain, &name("localhost"), now()).unwrap();
    verify_server_chain(&pki.store, &chain, &name("127.0.0.1"), now()).unwrap();
}

#[test]
fn leaf_signed_by_root_verifies_without_intermediates() {
    let (root_cert, root) = root("direct root");
    let mut store = TrustStore::empty();
    store.add_der(root_cert.der()).unwrap();
    let leaf = Leaf::default().signed_by(&root);
    verify_server_chain(&store, &[leaf], &name("localhost"), now()).unwrap();
}

#[test]
fn unknown_ca_is_unknown_issuer() {
    let pki = Pki::new();
    let other = Pki::named("someone else");
    let chain = other.chain(Leaf::default());
    assert_eq!(
        server_err(&pki, &chain, "localhost"),
        CertificateError::UnknownIssuer
    );
    assert_eq!(
        verify_server_chain(&TrustStore::empty(), &chain, &name("localhost"), now()).unwrap_err(),
        CertificateError::UnknownIssuer
    );
}

#[test]
fn impostor_ca_with_a_trusted_name_is_bad_signature() {
    let pki = Pki::new();
    let impostor = Pki::new();
    let chain = impostor.chain(Leaf::default());
    assert_eq!(
        server_err(&pki, &chain, "localhost"),
        CertificateError::BadSignature
    );
}

#[test]
fn missing_intermediate_is_unknown_issuer() {
    let pki = Pki::new();
    let chain = pki.chain(Leaf::default());
    assert_eq!(
        server_err(&pki, &chain[..1], "localhost"),
        CertificateError::UnknownIssuer
    );
}

#[test]
fn expired_leaf_is_expired() {
    let pki = Pki::new();
    let chain = pki.chain(Leaf {
        valid: (2023, 2024),
        ..Leaf::default()
    });
    assert_eq!(
        server_err(&pki, &chain, "localhost"),
        CertificateError::Expired
    );
}

#[test]
fn future_leaf_is_not_valid_yet() {
    let pki = Pki::new();
    let chain = pki.chain(Leaf {
        valid: (2026, 2027),
        ..Leaf::default()
    });
    assert_eq!(
        server_err(&pki, &chain, "localhost"),
        CertificateError::NotValidYet
    );
}

#[test]
fn wrong_name_is_not_valid_for_name() {
    let pki = Pki::new();
    let chain = pki.chain(Leaf::default());
    assert_eq!(
        server_err(&pki, &chain, "example.com"),
        CertificateError::NotValidForName {
            expected: "example.com".into()
        }
    );
    // An IP is matched against IP SANs only, never against DNS names.
    assert_eq!(
        server_err(&pki, &chain, "127.0.0.2"),
        CertificateError::NotValidForName {
            expected: "127.0.0.2".into()
        }
    );
}

#[test]
fn tampered_leaf_signature_is_bad_signature() {
    let pki = Pki::new();
    let mut chain = pki.chain(Leaf::default());
    let mut leaf = chain[0].to_vec();
    // The last byte belongs to the ECDSA signature's `s` integer.
    let last = leaf.len() - 1;
    leaf[last] ^= 0x01;
    chain[0] = CertificateDer::from(leaf);
    assert_eq!(
        server_err(&pki, &chain, "localhost"),
        CertificateError::BadSignature
    );
}

#[test]
fn garbage_leaf_is_bad_encoding() {
    let pki = Pki::new();
    let chain = [CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])];
    assert_eq!(
        server_err(&pki, &chain, "localhost"),
        CertificateError::BadEncoding
    );
}

#[test]
fn client_chain_needs_client_auth_purpose() {
    let pki = Pki::new();
    let client = pki.chain(Leaf {
        names: &["client.example"],
        eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
        ..Leaf::default()
    });
    verify_client_chain(&pki.store, &client, now()).unwrap();

    // A server-only leaf cannot authenticate a client, and vice versa.
    let server = pki.chain(Leaf::default());
    assert_eq!(
        verify_client_chain(&pki.store, &server, now()).unwrap_err(),
        CertificateError::InvalidPurpose
    );
    assert_eq!(
        verify_server_chain(&pki.store, &client, &name("client.example"), now()).unwrap_err(),
        CertificateError::InvalidPurpose
    );

    // No EKU extension at all: any purpose (RFC 5280 §4.2.1.12).
    let any = pki.chain(Leaf {
        eku: Vec::new(),
        ..Leaf::default()
    });
    verify_client_chain(&pki.store, &any, now()).unwrap();
    verify_server_chain(&pki.store, &any, &name("localhost"), now()).unwrap();
}

#[test]
fn client_chain_from_unknown_ca_is_unknown_issuer() {
    let pki = Pki::new();
    let other = Pki::named("someone else");
    let chain = other.chain(Leaf {
        eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
        ..Leaf::default()
    });
    assert_eq!(
        verify_client_chain(&pki.store, &chain, now()).unwrap_err(),
        CertificateError::UnknownIssuer
    );
}

#[test]
fn empty_chain_is_no_certificates() {
    let pki = Pki::new();
    assert_eq!(
        server_err(&pki, &[], "localhost"),
        CertificateError::NoCertificates
    );
    assert_eq!(
        verify_client_chain(&pki.store, &[], now()).unwrap_err(),
        CertificateError::NoCertificates
    );
    assert_eq!(
        dangerous_accept_any_server_certificate(&[]).unwrap_err(),
        CertificateError::NoCertificates
    );
}

#[test]
fn dangerous_accepts_untrusted_but_parseable_chains_only() {
    let other = Pki::new();
    let chain = other.chain(Leaf {
        valid: (2000, 2001),
        ..Leaf::default()
    });
    dangerous_accept_any_server_certificate(&chain).unwrap();
    assert_eq!(
        dangerous_accept_any_server_certificate(&[CertificateDer::from(vec![1, 2, 3])])
            .unwrap_err(),
        CertificateError::BadEncoding
    );
}

#[test]
fn subjects_are_full_der_names() {
    let pki = Pki::new();
    let subjects = pki.store.subjects();
    assert_eq!(subjects.len(), 1);
    let subject = &subjects[0];
    assert_eq!(subject[0], 0x30, "a Name is a SEQUENCE");
    assert_eq!(
        usize::from(subject[1]),
        subject.len() - 2,
        "short-form length"
    );
    // The exact bytes appear in the root certificate (as issuer and as subject).
    let root = pki.root_der.as_ref();
    assert!(root.windows(subject.len()).any(|w| w == &subject[..]));
}

#[test]
fn der_sequence_uses_long_form_lengths_when_needed() {
    assert_eq!(der_sequence(&[]), [0x30, 0x00]);
    assert_eq!(der_sequence(&[0xaa; 0x7f])[..2], [0x30, 0x7f]);
    assert_eq!(der_sequence(&[0xaa; 0x80])[..3], [0x30, 0x81, 0x80]);
    assert_eq!(der_sequence(&[0xaa; 0x012c])[..4], [0x30, 0x82, 0x01, 0x2c]);
    assert_eq!(der_sequence(&[0xaa; 0x012c]).len(), 4 + 0x012c);
}

#[test]
fn trust_store_pem_loading_and_counts() {
    let (a, _) = root("root a");
    let (b, _) = root("root b");
    let pem = format!("{}{}", a.pem(), b.pem());

    let mut store = TrustStore::empty();
    assert!(store.is_empty());
    assert_eq!(store.add_pem(pem.as_bytes()).unwrap(), 2);
    assert_eq!(store.len(), 2);
    assert_eq!(store.subjects().len(), 2);
    assert!(!store.is_empty());

    // All or nothing: a bad certificate in the bundle adds none.
    // "AQID" is base64 for the three bytes 01 02 03: PEM-valid, not a certificate.
    let bad = format!(
        "{}-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
        a.pem()
    );
    let err = store.add_pem(bad.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, LocalError::Config(m) if m.starts_with("certificate #2 in PEM")),
        "{err:?}"
    );
    assert_eq!(store.len(), 2);

    assert!(matches!(
        store.add_der(&CertificateDer::from(vec![1, 2, 3])),
        Err(LocalError::Config(_))
    ));
    assert!(store.add_pem(b"no pem here").is_err());
}

#[test]
fn webpki_roots_are_loaded_without_subjects() {
    let store = TrustStore::webpki_roots();
    assert!(store.len() > 50, "{}", store.len());
    assert!(store.subjects().is_empty());
}

#[test]
fn pinning_hook_accepts_pinned_leaf_only() {
    let pki = Pki::new();
    let pinned = pki.chain(Leaf::default());
    let other = pki.chain(Leaf::default());
    let hook = PinnedSha256::new([sha256_fingerprint(&pinned[0])]);

    let verified = verify_server_chain(&pki.store, &pinned, &name("localhost"), now()).unwrap();
    verified
        .run_hook(Some(&hook), &pinned, Some("localhost"))
        .unwrap();

    let verified = verify_server_chain(&pki.store, &other, &name("localhost"), now()).unwrap();
    let err = verified
        .run_hook(Some(&hook), &other, Some("localhost"))
        .unwrap_err();
    let CertificateError::Rejected { alert, reason } = &err else {
        panic!("expected Rejected, got {err:?}");
    };
    assert_eq!(*alert, AlertDescription::BAD_CERTIFICATE);
    let hex: String = sha256_fingerprint(&other[0])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(reason.contains(&hex), "{reason}");
    assert_eq!(
        ProtocolError::Certificate(err).alert(),
        AlertDescription::BAD_CERTIFICATE
    );

    assert!(hook.check(&[], None).is_err());
}

#[test]
fn no_hook_keeps_the_proof() {
    let pki = Pki::new();
    let chain = pki.chain(Leaf::default());
    let verified = verify_server_chain(&pki.store, &chain, &name("localhost"), now()).unwrap();
    verified.run_hook(None, &chain, Some("localhost")).unwrap();
}

#[test]
fn rejection_becomes_rejected_with_its_alert() {
    let r = Rejection {
        alert: AlertDescription::ACCESS_DENIED,
        reason: "not on the list".into(),
    };
    let e = CertificateError::from(r);
    assert_eq!(
        e,
        CertificateError::Rejected {
            alert: AlertDescription::ACCESS_DENIED,
            reason: "not on the list".into()
        }
    );
    assert_eq!(
        ProtocolError::Certificate(e).alert(),
        AlertDescription::ACCESS_DENIED
    );
}

#[test]
fn pins_parse_from_hex_with_or_without_colons() {
    let fp = [0xabu8; 32];
    let plain = "AB".repeat(32);
    let colons = vec!["ab"; 32].join(":");
    let hook = PinnedSha256::from_hex([plain.as_str(), colons.as_str()]).unwrap();
    assert_eq!(hook.fingerprints(), &[fp, fp]);
    assert!(PinnedSha256::from_hex(["abcd"]).is_err());
    assert!(PinnedSha256::from_hex(["zz".repeat(32).as_str()]).is_err());
}

#[test]
fn webpki_errors_map_to_specific_certificate_errors() {
    use ::webpki::{Error as W, UnsupportedSignatureAlgorithmContext};
    assert_eq!(map_error(W::BadDerTime), CertificateError::BadEncoding);
    assert_eq!(
        map_error(W::InvalidSignatureForPublicKey),
        CertificateError::BadSignature
    );
    assert_eq!(
        map_error(W::UnsupportedSignatureAlgorithmContext(
            UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id: vec![],
                supported_algorithms: vec![],
            }
        )),
        CertificateError::UnsupportedKeyType
    );
    assert_eq!(
        map_error(W::EmptyEkuExtension),
        CertificateError::InvalidPurpose
    );
    assert!(matches!(
        map_error(W::CaUsedAsEndEntity),
        CertificateError::Other(d) if d.contains("CaUsedAsEndEntity")
    ));
}
