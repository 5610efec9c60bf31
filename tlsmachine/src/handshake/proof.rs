//! Proof tokens: zero-sized values that only the verifying code can make. A connection
//! enters APP_DATA only by handing them over (see [`Established`]), so "forgot to check the
//! Finished" or "skipped the certificate" cannot compile into a working path.

use crate::error::PeerMisbehaved;
use crate::verify::CertVerified;

/// The peer's Finished matched our transcript.
#[derive(Debug)]
pub(crate) struct FinishedVerified(());

/// The peer's handshake signature (ServerKeyExchange or CertificateVerify) verified.
#[derive(Debug)]
pub(crate) struct SigVerified(());

/// How the peer proved who it is.
#[derive(Debug)]
pub(crate) enum PeerAuth {
    Certificate(CertVerified),
    /// The abbreviated handshake: the peer knew the master secret of a session that was
    /// authenticated when it was made.
    ResumedSession,
    /// A server that did not ask for (or did not get) a client certificate.
    Unauthenticated,
}

/// What a handler must present to finish the handshake.
#[derive(Debug)]
pub(crate) struct Established {
    pub(crate) peer: PeerAuth,
    pub(crate) finished: FinishedVerified,
}

impl Established {
    /// Spends the proofs; what remains is how the peer authenticated.
    pub(crate) fn into_peer(self) -> PeerAuth {
        let FinishedVerified(()) = self.finished;
        self.peer
    }
}

/// Compares the received verify_data with the expected one in constant time.
pub(crate) fn check_finished(
    expected: &[u8],
    received: &[u8],
) -> Result<FinishedVerified, PeerMisbehaved> {
    aws_lc_rs::constant_time::verify_slices_are_equal(expected, received)
        .map(|()| FinishedVerified(()))
        .map_err(|_| PeerMisbehaved::IncorrectFinished)
}

/// Wraps a successful signature check.
pub(crate) fn signature_checked(
    result: Result<(), crate::crypto::sigverify::SignatureError>,
    bad: PeerMisbehaved,
) -> Result<SigVerified, PeerMisbehaved> {
    use crate::crypto::sigverify::SignatureError;
    match result {
        Ok(()) => Ok(SigVerified(())),
        Err(SignatureError::UnsupportedScheme(_)) => Err(PeerMisbehaved::SignatureSchemeNotOffered),
        Err(SignatureError::BadCertificate | SignatureError::BadSignature) => Err(bad),
    }
}
