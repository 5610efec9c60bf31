//! Choosing certificates: the server's by SNI name and by what the client can verify, the
//! client's by what the server's CertificateRequest asks for.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::codec::enums::{CipherSuite, NamedGroup, SignatureScheme};
use crate::config::CertifiedKey;
use crate::crypto::sign::KeyKind;
use crate::crypto::suites;
use crate::names::Version;

/// What the server knows about the client when it picks a certificate.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ClientHelloInfo<'a> {
    /// The version the handshake speaks: it decides which keys can sign.
    pub version: Version,
    /// The SNI name, lower-cased; `None` when the client sent none.
    pub server_name: Option<&'a str>,
    /// The client's signature_algorithms.
    pub signature_schemes: &'a [SignatureScheme],
    pub cipher_suites: &'a [CipherSuite],
    /// The client's supported_groups; `None` when it sent none.
    pub groups: Option<&'a [NamedGroup]>,
}

impl ClientHelloInfo<'_> {
    /// Whether `key` can serve this client: it can sign with a scheme the client accepts;
    /// in TLS 1.2 (where an ECDSA key signs with any hash) also for a suite the client
    /// offers, with an ECDSA key on a curve the client lists. (In TLS 1.3 a scheme names its
    /// curve and suites do not name keys.)
    pub fn can_use(&self, key: &CertifiedKey) -> bool {
        if self.version == Version::Tls13 {
            return key
                .key
                .kind()
                .choose_scheme_tls13(self.signature_schemes)
                .is_some();
        }
        let kind = key.key.kind();
        // RFC 8422 §5.1: the curve of an ECDSA certificate must be one the client listed in
        // supported_groups (OpenSSL clients enforce it).
        let curve = match kind {
            KeyKind::EcdsaP256 => Some(NamedGroup::SECP256R1),
            KeyKind::EcdsaP384 => Some(NamedGroup::SECP384R1),
            KeyKind::Rsa | KeyKind::Ed25519 => None,
        };
        let curve_ok = match (curve, self.groups) {
            (Some(curve), Some(groups)) => groups.contains(&curve),
            _ => true,
        };
        curve_ok
            && key
                .key
                .kind()
                .choose_scheme_tls12(self.signature_schemes)
                .is_some()
            && self
                .cipher_suites
                .iter()
                .filter_map(|s| suites::lookup(*s)?.tls12())
                .any(|s| s.auth.accepts(kind))
    }
}

/// Picks the server's certificate for a ClientHello. `None` ends the handshake with
/// `unrecognized_name`.
pub trait ResolvesServerCert: Send + Sync + core::fmt::Debug {
    fn resolve(&self, hello: &ClientHelloInfo<'_>) -> Option<Arc<CertifiedKey>>;
}

/// One certificate for every client, whatever name it asks for.
#[derive(Debug)]
pub struct SingleCert(pub Arc<CertifiedKey>);

impl ResolvesServerCert for SingleCert {
    fn resolve(&self, _hello: &ClientHelloInfo<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Certificates by SNI name: exact names, `*.example.com` wildcards (one label, as in
/// RFC 6125 §6.4.3), and an optional default. Several certificates may share a name (an
/// ECDSA and an RSA one, say); the first the client can use wins.
#[derive(Debug, Default)]
pub struct SniResolver {
    exact: HashMap<String, Vec<Arc<CertifiedKey>>>,
    wildcard: HashMap<String, Vec<Arc<CertifiedKey>>>,
    default: Vec<Arc<CertifiedKey>>,
}

impl SniResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `key` for `name` (`example.com` or `*.example.com`).
    pub fn add(&mut self, name: &str, key: Arc<CertifiedKey>) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(parent) => self
                .wildcard
                .entry(parent.to_string())
                .or_default()
                .push(key),
            None => self.exact.entry(name).or_default().push(key),
        }
    }

    /// Serves `key` to clients whose name matches nothing (or who send none).
    pub fn add_default(&mut self, key: Arc<CertifiedKey>) {
        self.default.push(key);
    }

    fn candidates(&self, name: Option<&str>) -> &[Arc<CertifiedKey>] {
        let Some(name) = name.map(|n| n.trim_end_matches('.')) else {
            return &self.default;
        };
        if let Some(keys) = self.exact.get(name) {
            return keys;
        }
        let parent = name.split_once('.').map(|(_, parent)| parent);
        match parent.and_then(|p| self.wildcard.get(p)) {
            Some(keys) => keys,
            None => &self.default,
        }
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: &ClientHelloInfo<'_>) -> Option<Arc<CertifiedKey>> {
        let candidates = self.candidates(hello.server_name);
        candidates
            .iter()
            .find(|k| hello.can_use(k))
            .or(candidates.first())
            .cloned()
    }
}

/// Picks the client's certificate when the server asks for one. `None` sends an empty
/// Certificate message.
pub trait ResolvesClientCert: Send + Sync + core::fmt::Debug {
    /// `ca_names` are the DER distinguished names the server accepts (empty: any);
    /// `schemes` the signature schemes it can verify.
    fn resolve(
        &self,
        ca_names: &[Vec<u8>],
        schemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>>;
}

/// The first of several client certificates whose key can sign with a (TLS 1.2) scheme the
/// server accepts. CA names are not consulted: matching issuers needs the chain's DNs, which the
/// server checks anyway.
#[derive(Debug, Default)]
pub struct ClientCertList(pub Vec<Arc<CertifiedKey>>);

impl ResolvesClientCert for ClientCertList {
    fn resolve(
        &self,
        _ca_names: &[Vec<u8>],
        schemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0
            .iter()
            .find(|k| k.key.kind().choose_scheme_tls12(schemes).is_some())
            .cloned()
    }
}

/// A resolver that can be replaced while the server runs (a renewed certificate, without a
/// restart): each handshake asks the one installed when it chooses its certificate; open
/// connections keep the certificate they were given.
#[derive(Debug)]
pub struct SwappableResolver(RwLock<Arc<dyn ResolvesServerCert>>);

impl SwappableResolver {
    pub fn new(inner: Arc<dyn ResolvesServerCert>) -> Self {
        Self(RwLock::new(inner))
    }

    /// From now on, handshakes choose with `inner`.
    pub fn replace(&self, inner: Arc<dyn ResolvesServerCert>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = inner;
    }

    /// The resolver handshakes use now.
    pub fn current(&self) -> Arc<dyn ResolvesServerCert> {
        // Replacing is one assignment: a poisoned lock still holds a whole resolver.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesServerCert for SwappableResolver {
    fn resolve(&self, hello: &ClientHelloInfo<'_>) -> Option<Arc<CertifiedKey>> {
        self.current().resolve(hello)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{GeneratedPki, KeyType};

    fn key(kind: KeyType, name: &str) -> Arc<CertifiedKey> {
        GeneratedPki::generate(kind, &[name.to_string()])
            .unwrap()
            .server_key()
            .unwrap()
    }

    fn hello<'a>(
        name: Option<&'a str>,
        schemes: &'a [SignatureScheme],
        suites: &'a [CipherSuite],
    ) -> ClientHelloInfo<'a> {
        ClientHelloInfo {
            version: Version::Tls12,
            server_name: name,
            signature_schemes: schemes,
            cipher_suites: suites,
            groups: None,
        }
    }

    const ALL_SCHEMES: &[SignatureScheme] = crate::crypto::sigverify::DEFAULT_VERIFY_SCHEMES;
    const ALL_SUITES: &[CipherSuite] = &[
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ];

    #[test]
    fn a_swapped_resolver_answers_from_the_next_handshake_on() {
        let old = key(KeyType::EcdsaP256, "old.example");
        let new = key(KeyType::EcdsaP256, "new.example");
        let swappable = SwappableResolver::new(Arc::new(SingleCert(old.clone())));
        let info = hello(None, ALL_SCHEMES, ALL_SUITES);
        assert!(Arc::ptr_eq(&swappable.resolve(&info).unwrap(), &old));
        swappable.replace(Arc::new(SingleCert(new.clone())));
        assert!(Arc::ptr_eq(&swappable.resolve(&info).unwrap(), &new));
    }

    #[test]
    fn exact_then_wildcard_then_default() {
        let a = key(KeyType::EcdsaP256, "a.example");
        let w = key(KeyType::EcdsaP256, "x.wild.example");
        let d = key(KeyType::EcdsaP256, "default.example");
        let mut r = SniResolver::new();
        r.add("A.Example", a.clone());
        r.add("*.wild.example", w.clone());
        let pick = |r: &SniResolver, n| r.resolve(&hello(n, ALL_SCHEMES, ALL_SUITES));
        assert!(Arc::ptr_eq(&pick(&r, Some("a.example")).unwrap(), &a));
        assert!(Arc::ptr_eq(&pick(&r, Some("x.wild.example")).unwrap(), &w));
        // A wildcard covers exactly one label.
        assert!(pick(&r, Some("y.x.wild.example")).is_none());
        assert!(pick(&r, Some("wild.example")).is_none());
        assert!(pick(&r, None).is_none());
        r.add_default(d.clone());
        assert!(Arc::ptr_eq(&pick(&r, Some("unknown.example")).unwrap(), &d));
        assert!(Arc::ptr_eq(&pick(&r, None).unwrap(), &d));
    }

    #[test]
    fn key_type_follows_what_the_client_can_verify() {
        let ecdsa = key(KeyType::EcdsaP256, "both.example");
        let rsa = key(KeyType::Rsa2048, "both.example");
        let mut r = SniResolver::new();
        r.add("both.example", ecdsa.clone());
        r.add("both.example", rsa.clone());
        let rsa_only = [SignatureScheme::RSA_PSS_RSAE_SHA256];
        let got = r
            .resolve(&hello(Some("both.example"), &rsa_only, ALL_SUITES))
            .unwrap();
        assert!(Arc::ptr_eq(&got, &rsa));
        let rsa_suites = [CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256];
        let got = r
            .resolve(&hello(Some("both.example"), ALL_SCHEMES, &rsa_suites))
            .unwrap();
        assert!(Arc::ptr_eq(&got, &rsa));
        let got = r
            .resolve(&hello(Some("both.example"), ALL_SCHEMES, ALL_SUITES))
            .unwrap();
        assert!(Arc::ptr_eq(&got, &ecdsa));
    }

    #[test]
    fn an_ecdsa_certificate_must_be_on_a_curve_the_client_lists() {
        let p256 = key(KeyType::EcdsaP256, "both.example");
        let rsa = key(KeyType::Rsa2048, "both.example");
        let mut r = SniResolver::new();
        r.add("both.example", p256.clone());
        r.add("both.example", rsa.clone());
        let mut info = hello(Some("both.example"), ALL_SCHEMES, ALL_SUITES);
        info.groups = Some(&[NamedGroup::X25519, NamedGroup::SECP384R1]);
        assert!(Arc::ptr_eq(&r.resolve(&info).unwrap(), &rsa));
        info.groups = Some(&[NamedGroup::X25519, NamedGroup::SECP256R1]);
        assert!(Arc::ptr_eq(&r.resolve(&info).unwrap(), &p256));
    }

    #[test]
    fn client_list_picks_a_key_the_server_can_verify() {
        let ecdsa = key(KeyType::EcdsaP256, "c");
        let ed = key(KeyType::Ed25519, "c");
        let list = ClientCertList(vec![ecdsa.clone(), ed.clone()]);
        assert!(Arc::ptr_eq(
            &list.resolve(&[], &[SignatureScheme::ED25519]).unwrap(),
            &ed
        ));
        assert!(Arc::ptr_eq(
            &list.resolve(&[], ALL_SCHEMES).unwrap(),
            &ecdsa
        ));
        assert!(list
            .resolve(&[], &[SignatureScheme::RSA_PKCS1_SHA256])
            .is_none());
    }

    #[test]
    fn an_ecdsa_key_serves_a_peer_offering_another_hash_in_tls12() {
        let p256 = key(KeyType::EcdsaP256, "p256.example");
        let sha384_only = [SignatureScheme::ECDSA_SECP384R1_SHA384];
        // The RSA key comes first and cannot serve this client either.
        let mut r = SniResolver::new();
        r.add("p256.example", key(KeyType::Rsa2048, "p256.example"));
        r.add("p256.example", p256.clone());
        let got = r
            .resolve(&hello(Some("p256.example"), &sha384_only, ALL_SUITES))
            .unwrap();
        assert!(Arc::ptr_eq(&got, &p256));
        let list = ClientCertList(vec![p256.clone()]);
        assert!(Arc::ptr_eq(
            &list.resolve(&[], &sha384_only).unwrap(),
            &p256
        ));
    }
}
