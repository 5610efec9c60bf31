//! One set of certificates per key type, and client and server configurations for both
//! stacks built from it, each fixed to one version, one suite, one key-exchange group and one
//! signature scheme. The plain configurations allow no session resumption of any kind; the
//! resuming ones allow exactly one way to resume.

use std::error::Error;
use std::sync::{Arc, OnceLock};

use rustls::client::{ClientSessionMemoryCache, Tls12Resumption};
use rustls::crypto::{aws_lc_rs, CryptoProvider, SupportedKxGroup};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::sign::{CertifiedKey as RustlsCertifiedKey, SigningKey, SingleCertAndKey};
use rustls::{RootCertStore, SignatureAlgorithm};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tlsmachine::codec::enums::{CipherSuite, NamedGroup, SignatureScheme};
use tlsmachine::crypto::suites::{self, SupportedSuite};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::session::{self, ClientSessionCache, MemoryStore, Ticketer};

/// The name in the server certificate and the one both clients connect to.
pub const SERVER_NAME: &str = "localhost";

/// The server's key type, which also fixes the TLS 1.2 suite (ECDHE_ECDSA or ECDHE_RSA)
/// and the signature scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    EcdsaP256,
    Rsa2048,
}

impl CertKind {
    pub fn name(self) -> &'static str {
        match self {
            CertKind::EcdsaP256 => "ecdsa-p256",
            CertKind::Rsa2048 => "rsa2048",
        }
    }

    fn key_type(self) -> KeyType {
        match self {
            CertKind::EcdsaP256 => KeyType::EcdsaP256,
            CertKind::Rsa2048 => KeyType::Rsa2048,
        }
    }

    /// The scheme both servers sign with: tlsmachine's first choice for the key, which
    /// TLS 1.2 and TLS 1.3 both allow. rustls' server alone would pick RSA-PSS-SHA512.
    pub fn signature_scheme(self) -> SignatureScheme {
        match self {
            CertKind::EcdsaP256 => SignatureScheme::ECDSA_SECP256R1_SHA256,
            CertKind::Rsa2048 => SignatureScheme::RSA_PSS_RSAE_SHA256,
        }
    }
}

/// The protocol version a workload is fixed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::Tls12 => "tls12",
            Version::Tls13 => "tls13",
        }
    }

    pub fn tlsmachine(self) -> tlsmachine::Version {
        match self {
            Version::Tls12 => tlsmachine::Version::Tls12,
            Version::Tls13 => tlsmachine::Version::Tls13,
        }
    }

    fn rustls(self) -> &'static rustls::SupportedProtocolVersion {
        match self {
            Version::Tls12 => &rustls::version::TLS12,
            Version::Tls13 => &rustls::version::TLS13,
        }
    }
}

/// The key-exchange group a workload is fixed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    X25519,
    /// The hybrid of draft-ietf-tls-ecdhe-mlkem; TLS 1.3 only.
    X25519MlKem768,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::X25519 => "x25519",
            Group::X25519MlKem768 => "x25519mlkem768",
        }
    }

    pub fn named_group(self) -> NamedGroup {
        match self {
            Group::X25519 => NamedGroup::X25519,
            Group::X25519MlKem768 => NamedGroup::X25519MLKEM768,
        }
    }

    fn rustls(self) -> &'static dyn SupportedKxGroup {
        match self {
            Group::X25519 => aws_lc_rs::kx_group::X25519,
            Group::X25519MlKem768 => aws_lc_rs::kx_group::X25519MLKEM768,
        }
    }
}

/// The record protection a workload is fixed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aead {
    Aes128Gcm,
    Chacha20Poly1305,
}

impl Aead {
    pub fn name(self) -> &'static str {
        match self {
            Aead::Aes128Gcm => "aes128gcm",
            Aead::Chacha20Poly1305 => "chacha20poly1305",
        }
    }
}

/// Everything a handshake negotiates, fixed the same for both stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub version: Version,
    pub group: Group,
    pub aead: Aead,
    pub cert: CertKind,
}

impl Params {
    /// The suite both stacks must negotiate.
    pub fn suite(self) -> CipherSuite {
        self.tlsmachine_suite().suite()
    }

    fn tlsmachine_suite(self) -> SupportedSuite {
        use CertKind::*;
        match (self.version, self.aead, self.cert) {
            (Version::Tls12, Aead::Aes128Gcm, EcdsaP256) => {
                (&suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).into()
            }
            (Version::Tls12, Aead::Chacha20Poly1305, EcdsaP256) => {
                (&suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256).into()
            }
            (Version::Tls12, Aead::Aes128Gcm, Rsa2048) => {
                (&suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256).into()
            }
            (Version::Tls12, Aead::Chacha20Poly1305, Rsa2048) => {
                (&suites::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256).into()
            }
            (Version::Tls13, Aead::Aes128Gcm, _) => (&suites::TLS13_AES_128_GCM_SHA256).into(),
            (Version::Tls13, Aead::Chacha20Poly1305, _) => {
                (&suites::TLS13_CHACHA20_POLY1305_SHA256).into()
            }
        }
    }

    fn rustls_suite(self) -> rustls::SupportedCipherSuite {
        use aws_lc_rs::cipher_suite::*;
        use CertKind::*;
        match (self.version, self.aead, self.cert) {
            (Version::Tls12, Aead::Aes128Gcm, EcdsaP256) => TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            (Version::Tls12, Aead::Chacha20Poly1305, EcdsaP256) => {
                TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            }
            (Version::Tls12, Aead::Aes128Gcm, Rsa2048) => TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            (Version::Tls12, Aead::Chacha20Poly1305, Rsa2048) => {
                TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            }
            (Version::Tls13, Aead::Aes128Gcm, _) => TLS13_AES_128_GCM_SHA256,
            (Version::Tls13, Aead::Chacha20Poly1305, _) => TLS13_CHACHA20_POLY1305_SHA256,
        }
    }
}

/// Sessions a client cache holds, on both stacks (the default of both).
pub const CLIENT_CACHE_SESSIONS: usize = 256;

/// Sessions a server session-ID cache holds, on both stacks (tlsmachine's default).
pub const SERVER_CACHE_SESSIONS: usize = session::DEFAULT_CAPACITY;

/// TLS 1.3 tickets a resuming server sends after every handshake, on both stacks (the
/// default of both).
pub const TLS13_TICKETS: usize = 2;

/// How a client gets its session back, for the resumed-handshake workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resumption {
    /// TLS 1.2, RFC 5246 session IDs: servers cache sessions; no tickets anywhere.
    SessionId,
    /// TLS 1.2, RFC 5077 tickets: servers seal sessions into tickets and cache nothing.
    Ticket,
    /// TLS 1.3 PSK from a stateless ticket, psk_dhe_ke: servers seal sessions into tickets
    /// and cache nothing.
    Psk,
}

impl Resumption {
    pub fn name(self) -> &'static str {
        match self {
            Resumption::SessionId => "id",
            Resumption::Ticket => "ticket",
            Resumption::Psk => "psk",
        }
    }

    pub fn version(self) -> Version {
        match self {
            Resumption::SessionId | Resumption::Ticket => Version::Tls12,
            Resumption::Psk => Version::Tls13,
        }
    }

    /// A new, empty tlsmachine client cache.
    pub fn tlsmachine_client_cache() -> Arc<ClientSessionCache> {
        Arc::new(ClientSessionCache::new(CLIENT_CACHE_SESSIONS))
    }

    /// rustls' client resumption setting with a new, empty cache.
    pub fn rustls_client(self) -> rustls::client::Resumption {
        let store = Arc::new(ClientSessionMemoryCache::new(CLIENT_CACHE_SESSIONS));
        rustls::client::Resumption::store(store).tls12_resumption(match self {
            Resumption::SessionId => Tls12Resumption::SessionIdOnly,
            Resumption::Ticket | Resumption::Psk => Tls12Resumption::SessionIdOrTickets,
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

/// A CA and a server certificate for `localhost`, shared by both stacks. Generated once per
/// key type and process: an RSA key takes a while, more so under valgrind.
#[derive(Clone)]
pub struct Certs {
    pki: Arc<GeneratedPki>,
}

impl Certs {
    pub fn of(kind: CertKind) -> Result<Self, Box<dyn Error>> {
        static ECDSA: OnceLock<Arc<GeneratedPki>> = OnceLock::new();
        static RSA: OnceLock<Arc<GeneratedPki>> = OnceLock::new();
        let cell = match kind {
            CertKind::EcdsaP256 => &ECDSA,
            CertKind::Rsa2048 => &RSA,
        };
        if let Some(pki) = cell.get() {
            return Ok(Self { pki: pki.clone() });
        }
        let pki = GeneratedPki::generate(kind.key_type(), &[SERVER_NAME.to_string()])
            .map_err(tlsmachine::Error::from)?;
        Ok(Self {
            pki: cell.get_or_init(|| Arc::new(pki)).clone(),
        })
    }

    pub fn tlsmachine(&self, params: Params) -> Result<TlsmachineConfigs, Box<dyn Error>> {
        let local = tlsmachine::Error::from;
        let suite = params.tlsmachine_suite();
        let group = params.group.named_group();
        let version = params.version.tlsmachine();

        let mut client = tlsmachine::ClientConfig::new(self.pki.trust_store().map_err(local)?);
        client.versions = vec![version];
        client.cipher_suites = vec![suite];
        client.groups = vec![group];
        client.key_share_groups = vec![group];
        // rustls always sends TLS 1.3's compatibility session ID and ChangeCipherSpec.
        client.middlebox_compat = true;
        client.session_cache = None;
        client.enable_tickets = false;

        let mut server = tlsmachine::ServerConfig::new(self.pki.server_key().map_err(local)?);
        server.versions = vec![version];
        server.cipher_suites = vec![suite];
        server.groups = vec![group];
        server.session_store = None;
        server.ticketer = None;
        server.tls13_tickets = 0;

        Ok(TlsmachineConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    pub fn rustls(&self, params: Params) -> Result<RustlsConfigs, Box<dyn Error>> {
        let provider = Arc::new(CryptoProvider {
            cipher_suites: vec![params.rustls_suite()],
            kx_groups: vec![params.group.rustls()],
            ..aws_lc_rs::default_provider()
        });
        let versions = [params.version.rustls()];

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
            scheme: rustls::SignatureScheme::from(params.cert.signature_scheme().0),
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
        params: Params,
        how: Resumption,
    ) -> Result<TlsmachineConfigs, Box<dyn Error>> {
        let plain = self.tlsmachine(params)?;
        let mut client = tlsmachine::ClientConfig::clone(&plain.client);
        let mut server = tlsmachine::ServerConfig::clone(&plain.server);
        client.session_cache = Some(Resumption::tlsmachine_client_cache());
        let ticketer = || -> Result<_, Box<dyn Error>> {
            Ok(Some(Arc::new(
                Ticketer::new(session::ticket::DEFAULT_ROTATION)
                    .map_err(tlsmachine::Error::from)?,
            )))
        };
        match how {
            Resumption::SessionId => {
                server.session_store = Some(Arc::new(MemoryStore::new(
                    SERVER_CACHE_SESSIONS,
                    session::DEFAULT_LIFETIME,
                )));
            }
            Resumption::Ticket => {
                client.enable_tickets = true;
                server.ticketer = ticketer()?;
            }
            Resumption::Psk => {
                client.enable_tickets = true;
                server.ticketer = ticketer()?;
                server.stateful_tickets = false;
                server.allow_psk_ke = false;
                server.tls13_tickets = TLS13_TICKETS;
            }
        }
        Ok(TlsmachineConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// rustls' configurations allowing resumption `how` and nothing else; the client's cache
    /// is empty.
    pub fn rustls_resuming(
        &self,
        params: Params,
        how: Resumption,
    ) -> Result<RustlsConfigs, Box<dyn Error>> {
        let plain = self.rustls(params)?;
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
                server.ticketer = aws_lc_rs::Ticketer::new()?;
            }
            Resumption::Psk => {
                // With a ticketer, rustls seals TLS 1.3 sessions into the tickets (stateless)
                // and, as a client, offers psk_dhe_ke only.
                server.ticketer = aws_lc_rs::Ticketer::new()?;
                server.send_tls13_tickets = TLS13_TICKETS;
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
