//! One set of certificates, and client and server configurations for both stacks built from
//! it: TLS 1.2 only, one suite, X25519 only. The plain configurations allow no session
//! resumption of any kind; the resuming ones allow exactly one way to resume.

use std::error::Error;
use std::sync::Arc;

use rustls::client::{ClientSessionMemoryCache, Tls12Resumption};
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::sign::{CertifiedKey as RustlsCertifiedKey, SigningKey, SingleCertAndKey};
use rustls::{RootCertStore, SignatureAlgorithm};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tlsmachine::codec::enums::{CipherSuite, NamedGroup, SignatureScheme};
use tlsmachine::crypto::suites::{self, Tls12Suite};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::session::{self, ClientSessionCache, MemoryStore, Ticketer};

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

    /// The scheme both servers sign with: tlsmachine's first choice for the key. rustls'
    /// server alone would pick RSA-PSS-SHA512.
    pub fn signature_scheme(self) -> SignatureScheme {
        match self {
            CertKind::EcdsaP256 => SignatureScheme::ECDSA_SECP256R1_SHA256,
            CertKind::Rsa2048 => SignatureScheme::RSA_PSS_RSAE_SHA256,
        }
    }
}

/// Sessions a client cache holds, on both stacks (the default of both).
pub const CLIENT_CACHE_SESSIONS: usize = 256;

/// Sessions a server session-ID cache holds, on both stacks (tlsmachine's default).
pub const SERVER_CACHE_SESSIONS: usize = session::DEFAULT_CAPACITY;

/// How a client gets its session back, for the resumed-handshake workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resumption {
    /// RFC 5246 session IDs: servers cache sessions; no tickets anywhere.
    SessionId,
    /// RFC 5077 tickets: servers seal sessions into tickets and cache nothing.
    Ticket,
}

impl Resumption {
    /// A new, empty tlsmachine client cache.
    pub fn tlsmachine_client_cache() -> Arc<ClientSessionCache> {
        Arc::new(ClientSessionCache::new(CLIENT_CACHE_SESSIONS))
    }

    /// rustls' client resumption setting with a new, empty cache.
    pub fn rustls_client(self) -> rustls::client::Resumption {
        let store = Arc::new(ClientSessionMemoryCache::new(CLIENT_CACHE_SESSIONS));
        rustls::client::Resumption::store(store).tls12_resumption(match self {
            Resumption::SessionId => Tls12Resumption::SessionIdOnly,
            Resumption::Ticket => Tls12Resumption::SessionIdOrTickets,
        })
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
        client.cipher_suites = vec![suite.into()];
        client.groups = vec![NamedGroup::X25519];
        client.session_cache = None;
        client.enable_tickets = false;

        let mut server = tlsmachine::ServerConfig::new(self.pki.server_key().map_err(local)?);
        server.cipher_suites = vec![suite.into()];
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
        client.resumption = rustls::client::Resumption::disabled();

        let chain = CertificateDer::pem_slice_iter(self.pki.server_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(self.pki.server_key_pem.as_bytes())?;
        let key = Arc::new(OneScheme {
            key: provider.key_provider.load_private_key(key)?,
            scheme: rustls::SignatureScheme::from(self.kind.signature_scheme().0),
        });
        let resolver = SingleCertAndKey::from(RustlsCertifiedKey::new(chain, key));
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        // The default ticketer never issues tickets; session IDs need storage, so none.
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;

        Ok(RustlsConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// tlsmachine's configurations allowing resumption `how` and nothing else; the client's
    /// cache is empty.
    pub fn tlsmachine_resuming(
        &self,
        how: Resumption,
    ) -> Result<TlsmachineConfigs, Box<dyn Error>> {
        let plain = self.tlsmachine()?;
        let mut client = tlsmachine::ClientConfig::clone(&plain.client);
        let mut server = tlsmachine::ServerConfig::clone(&plain.server);
        client.session_cache = Some(Resumption::tlsmachine_client_cache());
        match how {
            Resumption::SessionId => {
                client.enable_tickets = false;
                server.session_store = Some(Arc::new(MemoryStore::new(
                    SERVER_CACHE_SESSIONS,
                    session::DEFAULT_LIFETIME,
                )));
                server.ticketer = None;
            }
            Resumption::Ticket => {
                client.enable_tickets = true;
                server.session_store = None;
                server.ticketer = Some(Arc::new(
                    Ticketer::new(session::ticket::DEFAULT_ROTATION)
                        .map_err(tlsmachine::Error::from)?,
                ));
            }
        }
        Ok(TlsmachineConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// rustls' configurations allowing resumption `how` and nothing else; the client's cache
    /// is empty.
    pub fn rustls_resuming(&self, how: Resumption) -> Result<RustlsConfigs, Box<dyn Error>> {
        let plain = self.rustls()?;
        let mut client = rustls::ClientConfig::clone(&plain.client);
        let mut server = rustls::ServerConfig::clone(&plain.server);
        client.resumption = how.rustls_client();
        match how {
            Resumption::SessionId => {
                server.session_storage = ServerSessionMemoryCache::new(SERVER_CACHE_SESSIONS);
                // `plain` keeps the default ticketer, which never issues tickets.
                if server.ticketer.enabled() {
                    return Err("rustls' default ticketer issues tickets".into());
                }
            }
            Resumption::Ticket => {
                server.session_storage = Arc::new(NoServerSessionStorage {});
                server.ticketer = aws_lc_rs::Ticketer::new()?;
            }
        }
        Ok(RustlsConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}

/// rustls' server key, signing only with `scheme`, so that both servers sign the same way
/// whatever rustls would prefer.
#[derive(Debug)]
struct OneScheme {
    key: Arc<dyn SigningKey>,
    scheme: rustls::SignatureScheme,
}

impl SigningKey for OneScheme {
    fn choose_scheme(
        &self,
        offered: &[rustls::SignatureScheme],
    ) -> Option<Box<dyn rustls::sign::Signer>> {
        if !offered.contains(&self.scheme) {
            return None;
        }
        self.key.choose_scheme(&[self.scheme])
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }
}
