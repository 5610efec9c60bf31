//! Async answers to the handshake's pause points ([`tlsmachine::pause`]): a session store,
//! a certificate resolver or a signer that has to wait on the network. Given to a
//! [`TlsAcceptor`](crate::TlsAcceptor) or [`TlsConnector`](crate::TlsConnector), each one
//! switches its pause point on; the handshake future then awaits it where the blocking path
//! would have called the config's trait, and other connections go on meanwhile.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tlsmachine::pause::{CertificateQuery, Pause, Pauses, SessionLookup, SignRequest};
use tlsmachine::{CertifiedKey, Connection, Error, LocalError};
use zeroize::Zeroizing;

/// What the async hooks return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Sessions kept where a lookup takes time (Redis, say).
pub trait AsyncSessionStore: Send + Sync + fmt::Debug {
    /// The session stored under `lookup.id` as a
    /// [`SessionStore`](tlsmachine::session::SessionStore) holds it, or `None`: a full
    /// handshake follows. When `lookup.take`, the entry must be removed as it is read.
    fn lookup(&self, lookup: SessionLookup) -> BoxFuture<Option<Zeroizing<Vec<u8>>>>;
}

/// Chooses the server's certificate from the ClientHello, taking its time.
pub trait AsyncCertResolver: Send + Sync + fmt::Debug {
    /// The certificate for this client; `None` refuses it with unrecognized_name.
    fn resolve(&self, query: CertificateQuery) -> BoxFuture<Option<Arc<CertifiedKey>>>;
}

/// Signs with a key held elsewhere (a hardware module, a signing service).
pub trait AsyncSigner: Send + Sync + fmt::Debug {
    /// `request.message` signed with `request.scheme` by the key of
    /// `request.certificate`; an error ends the handshake with internal_error.
    fn sign(&self, request: SignRequest) -> BoxFuture<Result<Vec<u8>, LocalError>>;
}

/// How long a pause may last unless configured otherwise: a stuck store or signer must
/// not hold a connection forever.
pub const DEFAULT_PAUSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The hooks of an acceptor or connector.
#[derive(Clone)]
pub(crate) struct Hooks {
    pub(crate) sessions: Option<Arc<dyn AsyncSessionStore>>,
    pub(crate) certificates: Option<Arc<dyn AsyncCertResolver>>,
    pub(crate) signer: Option<Arc<dyn AsyncSigner>>,
    pub(crate) timeout: Duration,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            sessions: None,
            certificates: None,
            signer: None,
            timeout: DEFAULT_PAUSE_TIMEOUT,
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("sessions", &self.sessions)
            .field("certificates", &self.certificates)
            .field("signer", &self.signer)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An answer on its way.
pub(crate) enum Reply {
    Session(Option<Zeroizing<Vec<u8>>>),
    Certificate(Option<Arc<CertifiedKey>>),
    Signature(Result<Vec<u8>, LocalError>),
}

impl Hooks {
    /// The pause points these hooks answer.
    pub(crate) fn pauses(&self) -> Pauses {
        Pauses {
            session_lookup: self.sessions.is_some(),
            certificate: self.certificates.is_some(),
            signing: self.signer.is_some(),
        }
    }

    /// The future answering `pause`; `None` when no hook answers it (the config asked for
    /// a pause the adapter was not given a hook for).
    pub(crate) fn ask(&self, pause: &Pause) -> Option<BoxFuture<Reply>> {
        Some(match pause {
            Pause::SessionLookup(lookup) => {
                let found = self.sessions.as_ref()?.lookup(lookup.clone());
                Box::pin(async move { Reply::Session(found.await) })
            }
            Pause::Certificate(query) => {
                let chosen = self.certificates.as_ref()?.resolve(query.clone());
                Box::pin(async move { Reply::Certificate(chosen.await) })
            }
            Pause::Sign(request) => {
                let signed = self.signer.as_ref()?.sign(request.clone());
                Box::pin(async move { Reply::Signature(signed.await) })
            }
            _ => return None,
        })
    }
}

impl Reply {
    /// Hands the answer to the paused connection, which goes on with it.
    pub(crate) fn provide(self, conn: &mut Connection) -> Result<(), Error> {
        match self {
            Reply::Session(session) => conn.provide_session(session),
            Reply::Certificate(certificate) => conn.provide_certificate(certificate),
            Reply::Signature(signature) => conn.provide_signature(signature),
        }
    }
}
