//! One set of certificates, and client and server configurations for both stacks built from
//! it: TLS 1.2 only, one suite, X25519 only, no session resumption of any kind.

use std::error::Error;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::server::NoServerSessionStorage;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tlsmachine::codec::enums::{CipherSuite, NamedGroup};
use tlsmachine::crypto::suites::{self, Tls12Suite};
use tlsmachine::pki::{GeneratedPki, KeyType};

/// The name in the server certificate and the one both clients connect to.
pub const SERVER_NAME: &str = "localhost";

/// The certificate key type, which also fixes the suite (ECDHE_ECDSA or ECDHE_RSA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    EcdsaP256,
    Rsa2048,
}

impl CertKind {
    fn key_type(self) -> KeyType {
        match self {
            CertKind::EcdsaP256 => KeyType::EcdsaP256,
            CertKind::Rsa2048 => KeyType::Rsa2048,
        }
    }

    fn tlsmachine_suite(self) -> &'static Tls12Suite {
        match self {
            CertKind::EcdsaP256 => &suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            CertKind::Rsa2048 => &suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        }
    }

    fn rustls_suite(self) -> rustls::SupportedCipherSuite {
        match self {
            CertKind::EcdsaP256 => aws_lc_rs::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            CertKind::Rsa2048 => aws_lc_rs::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        }
    }

    /// The suite both stacks must negotiate with this certificate.
    pub fn suite(self) -> CipherSuite {
        self.tlsmachine_suite().suite
    }
}

/// tlsmachine's client and server configurations.
pub struct TlsmachineConfigs {
    pub client: Arc<tlsmachine::ClientConfig>,
    pub server: Arc<tlsmachine::ServerConfig>,
}

/// rustls' client and server configurations.
pub struct RustlsConfigs {
    pub client: Arc<rustls::ClientConfig>,
    pub server: Arc<rustls::ServerConfig>,
}

/// A CA and a server certificate for `localhost`, shared by both stacks.
pub struct Certs {
    kind: CertKind,
    pki: GeneratedPki,
}

impl Certs {
    pub fn generate(kind: CertKind) -> Result<Self, Box<dyn Error>> {
        let pki = GeneratedPki::generate(kind.key_type(), &[SERVER_NAME.to_string()])
            .map_err(tlsmachine::Error::from)?;
        Ok(Self { kind, pki })
    }

    pub fn tlsmachine(&self) -> Result<TlsmachineConfigs, Box<dyn Error>> {
        let local = tlsmachine::Error::from;
        let suite = self.kind.tlsmachine_suite();

        let mut client = tlsmachine::ClientConfig::new(self.pki.trust_store().map_err(local)?);
        client.cipher_suites = vec![suite];
        client.groups = vec![NamedGroup::X25519];
        client.session_cache = None;
        client.enable_tickets = false;

        let mut server = tlsmachine::ServerConfig::new(self.pki.server_key().map_err(local)?);
        server.cipher_suites = vec![suite];
        server.groups = vec![NamedGroup::X25519];
        server.session_store = None;
        server.ticketer = None;

        Ok(TlsmachineConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    pub fn rustls(&self) -> Result<RustlsConfigs, Box<dyn Error>> {
        let provider = Arc::new(CryptoProvider {
            cipher_suites: vec![self.kind.rustls_suite()],
            kx_groups: vec![aws_lc_rs::kx_group::X25519],
            ..aws_lc_rs::default_provider()
        });
        let versions = [&rustls::version::TLS12];

        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.pki.ca_pem.as_bytes())?)?;
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.resumption = Resumption::disabled();

        let chain = CertificateDer::pem_slice_iter(self.pki.server_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(self.pki.server_key_pem.as_bytes())?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        // The default ticketer never issues tickets; session IDs need storage, so none.
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;

        Ok(RustlsConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}
