//! Client and server configuration. Everything policy-like lives here; a config is shared by
//! many connections behind an `Arc`.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::codec::enums::NamedGroup;
use crate::codec::limits::{DEFAULT_MAX_BUFFERED_RECEIVE, DEFAULT_MAX_HANDSHAKE_MESSAGE};
use crate::crypto::sign::{Signer, SigningKey};
use crate::crypto::suites::{self, SupportedSuite};
use crate::crypto::{Provider, DEFAULT_KEY_SHARE_GROUPS};
use crate::error::LocalError;
use crate::names::Version;
use crate::pause::Pauses;
#[cfg(any(test, feature = "testing"))]
use crate::replay::Replay;
#[cfg(doc)]
use crate::resolve::SniResolver;
use crate::resolve::{ResolvesClientCert, ResolvesServerCert, SingleCert};
use crate::session::{AntiReplay, ClientSessionCache, SessionStore, Ticketer};
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
    pub(crate) key: Arc<dyn Signer>,
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
        let scheme = key.kind().schemes()[0];
        let signature = key.sign(scheme, probe)?;
        crate::crypto::sigverify::verify_signature(leaf, scheme, probe, &signature).map_err(
            |_| LocalError::Config("private key does not match the leaf certificate".into()),
        )?;
        crate::verify::check_chain_order(
            &chain,
            crate::crypto::TimeSource::now(&crate::crypto::SystemClock),
        )
        .map_err(LocalError::Config)?;
        Ok(Self {
            chain,
            key: Arc::new(key),
        })
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The key that signs for the leaf.
    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.key
    }

    /// Pairs a chain (leaf first) with a key held elsewhere (a hardware module, a signing
    /// service), used through `signer`. The key is not probed: the caller vouches that it
    /// is the leaf's.
    pub fn with_signer(
        chain: Vec<CertificateDer<'static>>,
        signer: Arc<dyn Signer>,
    ) -> Result<Self, LocalError> {
        if chain.is_empty() {
            return Err(LocalError::Config(
                "certificate chain is empty: no leaf".into(),
            ));
        }
        Ok(Self { chain, key: signer })
    }

    /// Loads a PEM chain (leaf first) and a PEM private key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, LocalError> {
        let chain = crate::pem::certs_from_pem(chain_pem)?;
        let key = crate::pem::private_key_from_pem(key_pem)?;
        Self::new(chain, &key)
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

/// The versions enabled by default: both, TLS 1.3 preferred.
pub const DEFAULT_VERSIONS: &[Version] = &[Version::Tls13, Version::Tls12];

/// Settings for client connections.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub provider: Provider,
    /// Versions we offer; TLS 1.3 and 1.2 by default.
    pub versions: Vec<Version>,
    /// Suites we offer, in our order of preference; each version uses its own.
    pub cipher_suites: Vec<SupportedSuite>,
    /// Key-exchange groups we offer, in our order of preference.
    pub groups: Vec<NamedGroup>,
    /// TLS 1.3: the groups (among `groups`) whose key shares the first ClientHello carries.
    /// A server that wants another asks with a HelloRetryRequest.
    pub key_share_groups: Vec<NamedGroup>,
    /// TLS 1.3 middlebox compatibility (RFC 8446 §D.4): a legacy session ID and a dummy
    /// ChangeCipherSpec, which some middleboxes need to let TLS 1.3 through.
    pub middlebox_compat: bool,
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
    /// TLS 1.3: send 0-RTT data (`Connection::write_early_data`) when a ticket allows it.
    /// Off by default: early data can be replayed by an attacker (RFC 8446 §8), so only
    /// requests safe to repeat belong in it.
    pub enable_early_data: bool,
    pub max_handshake_message: usize,
    pub max_buffered_receive: usize,
    /// Where the handshake stops for the application: a client only ever signs (its
    /// CertificateVerify). None by default.
    pub pauses: Pauses,
    /// Collect [`crate::TraceEvent`]s, returned by `poll_event`.
    pub trace: bool,
    /// Where to log secrets for Wireshark; `None` in production.
    pub key_log: Option<Arc<dyn KeyLog>>,
    /// Test-only: reshapes what we send to reproduce a recorded trace (see
    /// [`crate::replay`]); `None` outside replay tests.
    #[cfg(any(test, feature = "testing"))]
    pub replay: Option<Arc<dyn Replay>>,
}

impl ClientConfig {
    /// Secure defaults, verifying servers against `roots`.
    pub fn new(roots: TrustStore) -> Self {
        Self::with_verification(ServerVerification::WebPki(roots))
    }

    pub fn with_verification(verification: ServerVerification) -> Self {
        let provider = Provider::default();
        Self {
            versions: DEFAULT_VERSIONS.to_vec(),
            cipher_suites: provider.suites.to_vec(),
            groups: provider.groups.to_vec(),
            key_share_groups: DEFAULT_KEY_SHARE_GROUPS.to_vec(),
            middlebox_compat: true,
            provider,
            verification,
            verify_hook: None,
            alpn_protocols: Vec::new(),
            client_certificate: None,
            client_cert_resolver: None,
            require_extended_master_secret: true,
            session_cache: Some(Arc::new(ClientSessionCache::new(256))),
            enable_tickets: true,
            enable_early_data: false,
            max_handshake_message: DEFAULT_MAX_HANDSHAKE_MESSAGE,
            max_buffered_receive: DEFAULT_MAX_BUFFERED_RECEIVE,
            pauses: Pauses::default(),
            trace: false,
            key_log: None,
            #[cfg(any(test, feature = "testing"))]
            replay: None,
        }
    }
}

/// Settings for server connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub provider: Provider,
    /// Versions we accept; TLS 1.3 and 1.2 by default, 1.3 preferred.
    pub versions: Vec<Version>,
    /// Suites we accept, in our order of preference; each version uses its own.
    pub cipher_suites: Vec<SupportedSuite>,
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
    /// Seals RFC 5077 and TLS 1.3 tickets; `None` disables stateless tickets.
    pub ticketer: Option<Arc<Ticketer>>,
    /// TLS 1.3: tickets sent after each handshake (RFC 8446 §4.6.1); 0 sends none.
    pub tls13_tickets: usize,
    /// TLS 1.3: keep ticket state in `session_store` (each ticket usable once, which also
    /// makes 0-RTT safe from replay) instead of sealing it into the ticket.
    pub stateful_tickets: bool,
    /// TLS 1.3: the 0-RTT bytes a ticket allows; 0 (the default) refuses 0-RTT. Refused
    /// early data is skipped up to this size or 16 KiB, whichever is more.
    pub max_early_data_size: u32,
    /// TLS 1.3: resume with psk_ke (no fresh key exchange, so no forward secrecy for the
    /// session's traffic) when the client offers only that. Off by default.
    pub allow_psk_ke: bool,
    /// The record of recent 0-RTT ClientHellos (RFC 8446 §8.2), shared by every
    /// connection made from this config.
    pub anti_replay: Arc<AntiReplay>,
    /// Largest handshake message body accepted, except a ClientHello, which may always be
    /// as large as the format allows ([`crate::codec::limits::MAX_CLIENT_HELLO`]).
    pub max_handshake_message: usize,
    pub max_buffered_receive: usize,
    /// Where the handshake stops for the application (session lookup, certificate choice,
    /// signing) instead of asking the store, resolver and key above. None by default.
    pub pauses: Pauses,
    pub trace: bool,
    /// Where to log secrets for Wireshark; `None` in production.
    pub key_log: Option<Arc<dyn KeyLog>>,
    /// Test-only: reshapes what we send to reproduce a recorded trace (see
    /// [`crate::replay`]); `None` outside replay tests.
    #[cfg(any(test, feature = "testing"))]
    pub replay: Option<Arc<dyn Replay>>,
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
            versions: DEFAULT_VERSIONS.to_vec(),
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
            tls13_tickets: 2,
            stateful_tickets: false,
            max_early_data_size: 0,
            allow_psk_ke: false,
            anti_replay: Arc::new(AntiReplay::default()),
            max_handshake_message: DEFAULT_MAX_HANDSHAKE_MESSAGE,
            max_buffered_receive: DEFAULT_MAX_BUFFERED_RECEIVE,
            pauses: Pauses::default(),
            trace: false,
            key_log: None,
            #[cfg(any(test, feature = "testing"))]
            replay: None,
        }
    }
}

/// The versions in effect, most preferred first: those listed that also have a suite
/// enabled (restricting the suites to TLS 1.2 ones restricts a connection to TLS 1.2, as
/// with OpenSSL).
fn effective_versions(versions: &[Version], suites: &[SupportedSuite]) -> Vec<Version> {
    [Version::Tls13, Version::Tls12]
        .into_iter()
        .filter(|v| versions.contains(v) && suites.iter().any(|s| s.version() == *v))
        .collect()
}

impl ClientConfig {
    /// The versions this client offers, most preferred first.
    pub fn enabled_versions(&self) -> Vec<Version> {
        effective_versions(&self.versions, &self.cipher_suites)
    }
}

impl ServerConfig {
    /// The versions this server accepts, most preferred first.
    pub fn enabled_versions(&self) -> Vec<Version> {
        effective_versions(&self.versions, &self.cipher_suites)
    }
}

/// Parses a comma-separated list of IANA suite names into suites we implement.
pub fn suites_from_names(list: &str) -> Result<Vec<SupportedSuite>, LocalError> {
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
