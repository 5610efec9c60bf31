//! Pauses: the named points where a handshake can stop and wait for the application
//! instead of calling a synchronous trait — a session from a store, a certificate chosen
//! from the ClientHello, a signature from a key held elsewhere (ARCHITECTURE.md §7).
//!
//! Each point is a phase of the tables (CHECK_SESSION_CACHE, CHOOSE_CERTIFICATE, SIGN). A
//! config's [`Pauses`] says which of them stop; at the others the connection answers at
//! once from the config (the session store, the certificate resolver, the certificate's
//! key): the synchronous path is the same point, answered without leaving.
//!
//! While a connection is paused ([`Connection::pause`](crate::Connection::pause) is
//! `Some`), received bytes are buffered but not processed and nothing new is queued to
//! send; the matching `provide_*` call answers and the handshake goes on.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::codec::enums::{CipherSuite, NamedGroup, SignatureScheme};
use crate::config::CertifiedKey;
use crate::error::LocalError;
use crate::names::Version;
use crate::resolve::ClientHelloInfo;

/// Which pause points stop the handshake. Each one left `false` (the default) is answered
/// at once from the config.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pauses {
    /// Server: look sessions up through [`Pause::SessionLookup`] instead of the config's
    /// `session_store` (TLS 1.2 session IDs, TLS 1.3 single-use tickets). Storing new
    /// sessions still goes through the store.
    pub session_lookup: bool,
    /// Server: choose the certificate through [`Pause::Certificate`] instead of the
    /// config's `cert_resolver`.
    pub certificate: bool,
    /// Both roles: sign through [`Pause::Sign`] instead of calling the certificate's key.
    pub signing: bool,
}

/// The kind of a pause point, for traces and events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PauseKind {
    SessionLookup,
    Certificate,
    Sign,
}

impl PauseKind {
    pub fn name(self) -> &'static str {
        match self {
            PauseKind::SessionLookup => "session lookup",
            PauseKind::Certificate => "certificate choice",
            PauseKind::Sign => "signature",
        }
    }
}

impl core::fmt::Display for PauseKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a paused handshake waits for.
#[derive(Debug)]
#[non_exhaustive]
pub enum Pause {
    /// CHECK_SESSION_CACHE: answer with
    /// [`Connection::provide_session`](crate::Connection::provide_session).
    SessionLookup(SessionLookup),
    /// CHOOSE_CERTIFICATE: answer with
    /// [`Connection::provide_certificate`](crate::Connection::provide_certificate).
    Certificate(CertificateQuery),
    /// SIGN: answer with
    /// [`Connection::provide_signature`](crate::Connection::provide_signature).
    Sign(SignRequest),
}

impl Pause {
    pub fn kind(&self) -> PauseKind {
        match self {
            Pause::SessionLookup(_) => PauseKind::SessionLookup,
            Pause::Certificate(_) => PauseKind::Certificate,
            Pause::Sign(_) => PauseKind::Sign,
        }
    }
}

/// The session stored under `id`, as [`SessionStore::get`](crate::session::SessionStore::get)
/// would return it.
#[derive(Clone, Debug)]
pub struct SessionLookup {
    /// A TLS 1.2 session ID or a TLS 1.3 ticket issued by a server with stateful tickets.
    pub id: Vec<u8>,
    /// The entry is single-use (a TLS 1.3 ticket): it must be removed as it is read,
    /// atomically if several servers share the store, as in
    /// [`SessionStore::take`](crate::session::SessionStore::take).
    pub take: bool,
}

/// What the client's hello says about the certificate it can use: an owned
/// [`ClientHelloInfo`], so the answer can come later.
#[derive(Clone, Debug)]
pub struct CertificateQuery {
    pub version: Version,
    /// The SNI name, lower-cased.
    pub server_name: Option<String>,
    pub signature_schemes: Vec<SignatureScheme>,
    pub cipher_suites: Vec<CipherSuite>,
    pub groups: Option<Vec<NamedGroup>>,
}

impl CertificateQuery {
    /// The query as a [`ClientHelloInfo`], for a resolver or
    /// [`ClientHelloInfo::can_use`].
    pub fn info(&self) -> ClientHelloInfo<'_> {
        ClientHelloInfo {
            version: self.version,
            server_name: self.server_name.as_deref(),
            signature_schemes: &self.signature_schemes,
            cipher_suites: &self.cipher_suites,
            groups: self.groups.as_deref(),
        }
    }
}

/// `message` to be signed with `scheme` by the key of `certificate`.
#[derive(Clone, Debug)]
pub struct SignRequest {
    pub certificate: Arc<CertifiedKey>,
    pub scheme: SignatureScheme,
    pub message: Vec<u8>,
}

/// The application's answer to a [`Pause`], held until the handshake takes it.
pub(crate) enum Answer {
    Session(Option<Zeroizing<Vec<u8>>>),
    Certificate(Option<Arc<CertifiedKey>>),
    Signature(Result<Vec<u8>, LocalError>),
}

impl Answer {
    pub(crate) fn kind(&self) -> PauseKind {
        match self {
            Answer::Session(_) => PauseKind::SessionLookup,
            Answer::Certificate(_) => PauseKind::Certificate,
            Answer::Signature(_) => PauseKind::Sign,
        }
    }
}
