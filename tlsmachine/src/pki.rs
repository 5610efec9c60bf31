//! A throwaway PKI made in memory: a CA, a server certificate and a client certificate, for
//! demos, local testing (`tlsm cert generate`) and the test suites. Never for production.

use core::fmt;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use zeroize::ZeroizeOnDrop;

use crate::config::CertifiedKey;
use crate::error::LocalError;
use crate::verify::TrustStore;

/// The key algorithm of every certificate in a generated PKI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    EcdsaP256,
    EcdsaP384,
    Rsa2048,
    Rsa3072,
    Ed25519,
}

impl KeyType {
    pub const ALL: [KeyType; 5] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Ed25519,
    ];

    /// The command-line spelling: `ecdsa-p256`, `rsa-2048`, ...
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Ed25519 => "ed25519",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    fn generate(self) -> Result<KeyPair, LocalError> {
        let result = match self {
            KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyType::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyType::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            }
            KeyType::Rsa3072 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)
            }
            // PKCS#8 v1, the form OpenSSL 3.0 reads (it refuses rcgen's v2 Ed25519 keys).
            KeyType::Ed25519 => aws_lc_rs::signature::Ed25519KeyPair::generate()
                .and_then(|key| key.to_pkcs8v1())
                .map_err(|_| rcgen::Error::KeyGenerationUnavailable)
                .and_then(|v1| KeyPair::try_from(v1.as_ref())),
        };
        result.map_err(|e| LocalError::Config(format!("generating a {} key: {e}", self.name())))
    }
}

/// A CA with one server and one client certificate, all as PEM. The private keys are
/// wiped on drop, and `Debug` shows only the certificates.
#[derive(Clone, ZeroizeOnDrop)]
pub struct GeneratedPki {
    #[zeroize(skip)]
    pub ca_pem: String,
    pub ca_key_pem: String,
    /// Server leaf followed by the CA certificate.
    #[zeroize(skip)]
    pub server_chain_pem: String,
    pub server_key_pem: String,
    /// Client leaf followed by the CA certificate.
    #[zeroize(skip)]
    pub client_chain_pem: String,
    pub client_key_pem: String,
}

impl fmt::Debug for GeneratedPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedPki")
            .field("ca_pem", &self.ca_pem)
            .field("server_chain_pem", &self.server_chain_pem)
            .field("client_chain_pem", &self.client_chain_pem)
            .finish_non_exhaustive()
    }
}

impl GeneratedPki {
    /// Makes a PKI whose server certificate is valid for `names` (DNS names or IP
    /// addresses). The client certificate's subject is `CN=tlsmachine client`.
    pub fn generate(key_type: KeyType, names: &[String]) -> Result<Self, LocalError> {
        let err =
            |what: &'static str| move |e: rcgen::Error| LocalError::Config(format!("{what}: {e}"));

        let ca_key = key_type.generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err("CA parameters"))?;
        // Each CA gets its own name: two generated PKIs must not look like one issuer.
        let fingerprint =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ca_key.public_key_raw());
        let tag: String = fingerprint.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ca.distinguished_name = name(&format!("tlsmachine test CA {tag}"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).map_err(err("signing the CA"))?;
        let issuer = Issuer::new(ca, &ca_key);

        let leaf = |cn: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = key_type.generate()?;
            let mut params = CertificateParams::new(sans).map_err(err("leaf parameters"))?;
            params.distinguished_name = name(cn);
            params.extended_key_usages = vec![usage];
            let cert = params
                .signed_by(&key, &issuer)
                .map_err(err("signing a leaf"))?;
            Ok::<_, LocalError>((cert.pem(), key.serialize_pem()))
        };
        let (server_pem, server_key_pem) = leaf(
            names.first().map_or("localhost", |n| n.as_str()),
            names.to_vec(),
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_pem, client_key_pem) = leaf(
            "tlsmachine client",
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        let ca_pem = ca_cert.pem();
        Ok(Self {
            server_chain_pem: format!("{server_pem}{ca_pem}"),
            client_chain_pem: format!("{client_pem}{ca_pem}"),
            ca_key_pem: ca_key.serialize_pem(),
            ca_pem,
            server_key_pem,
            client_key_pem,
        })
    }

    /// A trust store holding just this CA.
    pub fn trust_store(&self) -> Result<TrustStore, LocalError> {
        let mut roots = TrustStore::empty();
        roots.add_pem(self.ca_pem.as_bytes())?;
        Ok(roots)
    }

    pub fn server_key(&self) -> Result<Arc<CertifiedKey>, LocalError> {
        CertifiedKey::from_pem(
            self.server_chain_pem.as_bytes(),
            self.server_key_pem.as_bytes(),
        )
        .map(Arc::new)
    }

    pub fn client_key(&self) -> Result<Arc<CertifiedKey>, LocalError> {
        CertifiedKey::from_pem(
            self.client_chain_pem.as_bytes(),
            self.client_key_pem.as_bytes(),
        )
        .map(Arc::new)
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "tlsmachine");
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenSSL before 3.5 refuses PKCS#8 v2 Ed25519 keys; v1 is the 48-byte form with the
    /// seed alone. The key must still be the certificate's (CertifiedKey signs and checks).
    #[test]
    fn ed25519_keys_are_written_as_pkcs8_v1_and_match_their_certificates() {
        let pki = GeneratedPki::generate(KeyType::Ed25519, &["localhost".into()]).unwrap();
        let key = crate::pem::private_key_from_pem(pki.server_key_pem.as_bytes()).unwrap();
        assert_eq!(key.secret_der().len(), 48);
        assert!(pki.server_key().is_ok());
        assert!(pki.client_key().is_ok());
    }
}
