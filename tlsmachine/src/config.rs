//! Client and server configuration. Everything policy-like lives here; a config is shared by
//! many connections behind an `Arc`.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::codec::enums::NamedGroup;
use crate::codec::limits::{DEFAULT_MAX_BUFFERED_RECEIVE, DEFAULT_MAX_HANDSHAKE_MESSAGE};
use crate::crypto::sign::SigningKey;
use crate::crypto::suites::{self, Tls12Suite};
use crate::crypto::Provider;
use crate::error::LocalError;
#[cfg(doc)]
use crate::resolve::SniResolver;
use crate::resolve::{ResolvesClientCert, ResolvesServerCert, SingleCert};
use crate::session::{ClientSessionCache, SessionStore, Ticketer};
use crate::verify::{TrustStore, VerifyHook};

/// Receives TLS secrets in the NSS key log format (`SSLKEYLOGFILE`), for debugging with
/// Wireshark. Anyone holding these lines can decrypt the connection.
pub trait KeyLog: Send + Sync + core::fmt::Debug {
    /// `label` is for example `CLIENT_RANDOM`; `client_random` identifies the connection.
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]);
}

/// A certificate chain and the private key of its leaf, checked to belong together.
#[derive(Debug)]
pub struct CertifiedKey {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: SigningKey,
}

impl CertifiedKey {
    /// Pairs a chain (leaf first) with the leaf's private key. Fails when the chain is empty
    /// or the key does not match the leaf certificate.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: &PrivateKeyDer<'_>,
    ) -> Result<Self, LocalError> {
        let leaf = chain
            .first()
            .ok_or_else(|| LocalError::Config("certificate chain is empty: no leaf".into()))?;
        // The Certificate message has three-byte lengths; refuse what could not be sent.
        let total: usize = chain.iter().map(|c| 3 + c.len()).sum();
        if total >= 1 << 24 {
            return Err(LocalError::Config(format!(
                "certificate chain of {total} bytes is too large to send"
            )));
        }
        let key = SigningKey::from_der(key)?;
        // Proving possession the way a peer would: sign, then verify with the leaf's key.
        let probe = b"tlsmachine key/certificate match check";
        let scheme = key.schemes()[0];
        let signature = key.sign(scheme, probe)?;
        crate::crypto::sigverify::verify_signature(leaf, scheme, probe, &signature).map_err(
            |_| LocalError::Config("private key does not match the leaf certificate".into()),
        )?;
        crate::verify::check_chain_order(
            &chain,
            crate::crypto::TimeSource::now(&crate::crypto::SystemClock),
        )
        .map_err(LocalError::Config)?;
        Ok(Self { chain, key })
    }

    /// Loads a PEM chain (leaf first) and a PEM private key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, LocalError> {
        let chain = crate::pem::certs_from_pem(chain_pem)?;
        let key = crate::pem::private_key_from_pem(key_pem)?;
        Self::new(chain, &key)
    }

    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

/// How the client checks the server's certificate.
#[derive(Clone, Debug)]
pub enum ServerVerification {
    /// Path validation to these roots, with name and validity checks (rustls-webpki).
    WebPki(TrustStore),
    /// No check at all. Only for debugging (`tlsm client --insecure`).
    DangerousAcceptAnyCertificate,
}

/// Whether the server asks for a client certificate.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    None,
    /// Ask; proceed unauthenticated when the client sends none.
    Optional(TrustStore),
    /// Ask, and refuse a client without a valid certificate.
    Required(TrustStore),
}

/// Settings for client connections.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub provider: Provider,
    /// Suites we offer, in our order of preference.
    pub cipher_suites: Vec<&'static Tls12Suite>,
    /// Key-exchange groups we offer, in our order of preference.
    pub groups: Vec<NamedGroup>,
    pub verification: ServerVerification,
    /// Runs after the built-in checks pass; may still refuse the server.
    pub verify_hook: Option<Arc<dyn VerifyHook>>,
    /// Protocols offered with ALPN, most preferred first.
    pub alpn_protocols: Vec<Vec<u8>>,
    /// The certificate to present when the server asks for one (the simple case).
    pub client_certificate: Option<Arc<CertifiedKey>>,
    /// Chooses among several client certificates; consulted before `client_certificate`.
    pub client_cert_resolver: Option<Arc<dyn ResolvesClientCert>>,
    /// Refuse servers without RFC 7627 extended master secret (the default). Either way a
    /// session without it is never offered for resumption (RFC 7627 §5.3).
    pub require_extended_master_secret: bool,
    /// Sessions remembered for resumption, shared by connections using this config.
    pub session_cache: Option<Arc<ClientSessionCache>>,
    /// Ask servers for RFC 5077 session tickets.
    pub enable_tickets: bool,
    pub max_handshake_message: usize,
    pub max_buffered_receive: usize,
    /// Collect [`crate::TraceEvent`]s, returned by `poll_event`.
    pub trace: bool,
    /// Where to log secrets for Wireshark; `None` in production.
    pub key_log: Option<Arc<dyn KeyLog>>,
}

impl ClientConfig {
    /// Secure defaults, verifying servers against `roots`.
    pub fn new(roots: TrustStore) -> Self {
        Self::with_verification(ServerVerification::WebPki(roots))
    }

    pub fn with_verification(verification: ServerVerification) -> Self {
        let provider = Provider::default();
        Self {
            cipher_suites: provider.suites.to_vec(),
            groups: provider.groups.to_vec(),
            provider,
            verification,
            verify_hook: None,
            alpn_protocols: Vec::new(),
            client_certificate: None,
            client_cert_resolver: None,
            require_extended_master_secret: true,
            session_cache: Some(Arc::new(ClientSessionCache::new(256))),
            enable_tickets: true,
            max_handshake_message: DEFAULT_MAX_HANDSHAKE_MESSAGE,
            max_buffered_receive: DEFAULT_MAX_BUFFERED_RECEIVE,
            trace: false,
            key_log: None,
        }
    }
}

/// Settings for server connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub provider: Provider,
    /// Suites we accept, in our order of preference.
    pub cipher_suites: Vec<&'static Tls12Suite>,
    /// Pick the first suite in the client's order that we accept, instead of ours.
    pub honour_client_order: bool,
    pub groups: Vec<NamedGroup>,
    /// Picks the certificate for each ClientHello (by SNI name and key type).
    pub cert_resolver: Arc<dyn ResolvesServerCert>,
    pub client_auth: ClientAuth,
    pub verify_hook: Option<Arc<dyn VerifyHook>>,
    /// Protocols we accept with ALPN, most preferred first. Empty: ALPN is ignored.
    pub alpn_protocols: Vec<Vec<u8>>,
    /// Refuse clients without RFC 7627 extended master secret (the default). When false
    /// they get a full handshake, but no session ID or ticket: RFC 7627 §5.3 has us refuse
    /// to resume such a session.
    pub require_extended_master_secret: bool,
    /// The session cache consulted in CHECK_SESSION_CACHE; `None` disables session-ID
    /// resumption.
    pub session_store: Option<Arc<dyn SessionStore>>,
    /// How long a session stays resumable, by ID or by ticket.
    pub session_lifetime: core::time::Duration,
    /// Seals RFC 5077 tickets; `None` disables tickets.
    pub ticketer: Option<Arc<Ticketer>>,
    /// Largest handshake message body accepted, except a ClientHello, which may always be
    /// as large as the format allows ([`crate::codec::limits::MAX_CLIENT_HELLO`]).
    pub max_handshake_message: usize,
    pub max_buffered_receive: usize,
    pub trace: bool,
    /// Where to log secrets for Wireshark; `None` in production.
    pub key_log: Option<Arc<dyn KeyLog>>,
}

impl ServerConfig {
    /// Secure defaults serving `certificate` to every client.
    pub fn new(certificate: Arc<CertifiedKey>) -> Self {
        Self::with_resolver(Arc::new(SingleCert(certificate)))
    }

    /// Secure defaults choosing certificates with `cert_resolver` (e.g. an [`SniResolver`]).
    pub fn with_resolver(cert_resolver: Arc<dyn ResolvesServerCert>) -> Self {
        let provider = Provider::default();
        Self {
            cipher_suites: provider.suites.to_vec(),
            honour_client_order: false,
            groups: provider.groups.to_vec(),
            provider,
            cert_resolver,
            client_auth: ClientAuth::None,
            verify_hook: None,
            alpn_protocols: Vec::new(),
            require_extended_master_secret: true,
            session_store: Some(Arc::new(crate::session::MemoryStore::new(
                crate::session::DEFAULT_CAPACITY,
                crate::session::DEFAULT_LIFETIME,
            ))),
            session_lifetime: crate::session::DEFAULT_LIFETIME,
            ticketer: Ticketer::new(crate::session::ticket::DEFAULT_ROTATION)
                .ok()
                .map(Arc::new),
            max_handshake_message: DEFAULT_MAX_HANDSHAKE_MESSAGE,
            max_buffered_receive: DEFAULT_MAX_BUFFERED_RECEIVE,
            trace: false,
            key_log: None,
        }
    }
}

/// Parses a comma-separated list of IANA suite names into suites we implement.
pub fn suites_from_names(list: &str) -> Result<Vec<&'static Tls12Suite>, LocalError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            crate::codec::enums::CipherSuite::from_name(name)
                .and_then(suites::lookup)
                .ok_or_else(|| LocalError::Config(format!("unsupported cipher suite '{name}'")))
        })
        .collect()
}
