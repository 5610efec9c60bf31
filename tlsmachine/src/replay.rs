//! A hook for replaying a recorded handshake byte for byte, such as the traces of RFC 8448.
//!
//! # NOT FOR PRODUCTION
//!
//! **A hook can make a connection send anything and accept a peer's signature unchecked.**
//! It is compiled only under `cfg(test)` or the `testing` feature, like
//! [`crate::crypto::fixed`]; never enable that feature in a build that talks to real peers.
//!
//! Randomness, time, keys and signatures already come from values a test can fix (the
//! deterministic provider, [`crate::CertifiedKey::with_signer`]). What they cannot fix is
//! where the implementation that made a trace chose differently from us: extensions in
//! another order, extensions or values we never send, a longer HelloRetryRequest cookie, a
//! ticket nonce of another length. And RFC 8448's server key is 1024-bit RSA, smaller than
//! anything we (or webpki) verify. [`Replay`] covers exactly those.

use core::fmt;

use crate::codec::enums::SignatureScheme;
use crate::codec::handshake::{ClientHello, HandshakePayload, NewSessionTicket13};
use crate::crypto::sigverify::SignatureError;

/// Test-only: reshapes the handshake messages we build and may decide the server's
/// CertificateVerify, so that a connection reproduces a recorded trace. With a hook set, a
/// client also takes, in EncryptedExtensions, an answer to an extension the hook added to
/// its ClientHello that we do not implement (RFC 8448's record_size_limit).
pub trait Replay: Send + Sync + fmt::Debug {
    /// Rewrites a message we built, before anything is derived from it: a ClientHello
    /// before its PSK binder is computed, a ServerHello and EncryptedExtensions before
    /// CertificateVerify signs the transcript through them, a HelloRetryRequest before its
    /// cookie is remembered, a NewSessionTicket before its PSK is derived from the nonce and
    /// its session stored under the ticket (stateful tickets; a sealed ticket is sealed
    /// after this, whatever the hook put there).
    fn shape(&self, message: &mut HandshakePayload);

    /// Client role: decides the server's CertificateVerify over `content` instead of
    /// verifying it with the server's certificate; `None` verifies as usual.
    fn verify_signature(
        &self,
        scheme: SignatureScheme,
        content: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>>;
}

/// `message` as the hook shapes it, if there is one.
pub(crate) fn shaped(hook: Option<&dyn Replay>, mut message: HandshakePayload) -> HandshakePayload {
    if let Some(hook) = hook {
        hook.shape(&mut message);
    }
    message
}

/// Passes `hello` through the hook, if there is one.
pub(crate) fn shape_client_hello(hook: Option<&dyn Replay>, hello: &mut ClientHello) {
    if let HandshakePayload::ClientHello(shaped) =
        shaped(hook, HandshakePayload::ClientHello(hello.clone()))
    {
        *hello = shaped;
    }
}

/// Passes `ticket` through the hook, if there is one.
pub(crate) fn shape_ticket(hook: Option<&dyn Replay>, ticket: &mut NewSessionTicket13) {
    if let HandshakePayload::NewSessionTicket13(shaped) =
        shaped(hook, HandshakePayload::NewSessionTicket13(ticket.clone()))
    {
        *ticket = shaped;
    }
}
