//! What both TLS 1.3 roles share: record keys from traffic secrets, KeyUpdate, the content a
//! CertificateVerify signs, and the key log lines.

use std::sync::Arc;

use zeroize::ZeroizeOnDrop;

use crate::codec::enums::KeyUpdateRequest;
use crate::codec::handshake::HandshakePayload;
use crate::config::KeyLog;
use crate::crypto::key_schedule::TrafficSecret;
use crate::crypto::suites::Tls13Suite;
use crate::error::ProtocolError;
use crate::handshake::driver::Ctx;
use crate::record::{Opener, Sealer};

/// Record protection for our direction under `secret`.
pub(crate) fn sealer(suite: &Tls13Suite, secret: &TrafficSecret) -> Result<Sealer, ProtocolError> {
    let (key, iv) = secret.record_key(suite.aead);
    Sealer::tls13(suite.aead, &key, &iv[..])
        .map_err(|_| ProtocolError::Internal("record key setup failed"))
}

/// Record protection for the peer's direction under `secret`.
pub(crate) fn opener(suite: &Tls13Suite, secret: &TrafficSecret) -> Result<Opener, ProtocolError> {
    let (key, iv) = secret.record_key(suite.aead);
    Opener::tls13(suite.aead, &key, &iv[..])
        .map_err(|_| ProtocolError::Internal("record key setup failed"))
}

/// The application traffic secrets once the handshake has them, and KeyUpdate (RFC 8446
/// §4.6.3), which both roles handle alike. Kept for the connection's life, so wiped on
/// drop like the secrets it holds.
#[derive(ZeroizeOnDrop)]
pub(crate) struct Traffic {
    #[zeroize(skip)]
    suite: &'static Tls13Suite,
    ours: TrafficSecret,
    theirs: TrafficSecret,
    /// The last KeyUpdate received asked us to update our keys too.
    pub(crate) update_requested: bool,
    /// Our next KeyUpdate asks the peer to update its keys too.
    pub(crate) ask_peer: bool,
}

impl Traffic {
    pub(crate) fn new(
        suite: &'static Tls13Suite,
        ours: TrafficSecret,
        theirs: TrafficSecret,
    ) -> Self {
        Self {
            suite,
            ours,
            theirs,
            update_requested: false,
            ask_peer: false,
        }
    }

    /// Protection for our side under our current secret: where the handshake switches to
    /// application keys.
    pub(crate) fn sealer(&self) -> Result<Sealer, ProtocolError> {
        sealer(self.suite, &self.ours)
    }

    /// Protection for the peer's side under its current secret.
    pub(crate) fn opener(&self) -> Result<Opener, ProtocolError> {
        opener(self.suite, &self.theirs)
    }

    /// The peer's next records come under its next secret. `can_answer` is false once our
    /// close_notify went out: then nothing more may be sent.
    pub(crate) fn on_key_update(
        &mut self,
        ctx: &mut Ctx<'_>,
        request: KeyUpdateRequest,
        can_answer: bool,
    ) -> Result<(), ProtocolError> {
        let next = self.theirs.next();
        ctx.install_read(opener(self.suite, &next)?)?;
        self.theirs = next;
        self.update_requested = can_answer && request == KeyUpdateRequest::UPDATE_REQUESTED;
        Ok(())
    }

    /// The KeyUpdate that answers one which asked for it.
    pub(crate) fn send_answer(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        if !self.update_requested {
            return Ok(());
        }
        self.send_key_update(ctx, KeyUpdateRequest::UPDATE_NOT_REQUESTED)
    }

    /// Our own KeyUpdate, asking the peer to follow when `ask_peer` is set.
    pub(crate) fn send_ours(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProtocolError> {
        let request = if self.ask_peer {
            KeyUpdateRequest::UPDATE_REQUESTED
        } else {
            KeyUpdateRequest::UPDATE_NOT_REQUESTED
        };
        self.send_key_update(ctx, request)
    }

    /// KeyUpdate under the current keys; then our side moves to the next secret.
    fn send_key_update(
        &mut self,
        ctx: &mut Ctx<'_>,
        request: KeyUpdateRequest,
    ) -> Result<(), ProtocolError> {
        let payload = HandshakePayload::KeyUpdate(request);
        ctx.send_post_handshake(&payload, || format!("{request:?}"));
        let next = self.ours.next();
        ctx.install_write(sealer(self.suite, &next)?)?;
        self.ours = next;
        Ok(())
    }
}

/// Who signs a CertificateVerify: the context string differs (RFC 8446 §4.4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signer {
    Client,
    Server,
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.3
//# The digital signature is then computed over the concatenation of:
//#
//# -  A string that consists of octet 32 (0x20) repeated 64 times
//#
//# -  The context string
//#
//# -  A single 0 byte which serves as the separator
//#
//# -  The content to be signed
pub(crate) fn signed_content(by: Signer, transcript_hash: &[u8]) -> Vec<u8> {
    let context: &[u8] = match by {
        Signer::Client => b"TLS 1.3, client CertificateVerify",
        Signer::Server => b"TLS 1.3, server CertificateVerify",
    };
    let mut out = Vec::with_capacity(64 + context.len() + 1 + transcript_hash.len());
    out.resize(64, 0x20);
    out.extend_from_slice(context);
    out.push(0);
    out.extend_from_slice(transcript_hash);
    out
}

/// Writes one NSS key log line, when a key log is configured.
pub(crate) fn log(
    key_log: &Option<Arc<dyn KeyLog>>,
    label: &str,
    client_random: &[u8; 32],
    secret: &[u8],
) {
    if let Some(key_log) = key_log {
        key_log.log(label, client_random, secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8446 §4.4.3 gives the layout; this is it for a SHA-256 transcript of 0x01s.
    #[test]
    fn signed_content_layout() {
        let hash = [0x01; 32];
        let content = signed_content(Signer::Server, &hash);
        assert_eq!(&content[..64], &[0x20; 64][..]);
        assert_eq!(&content[64..97], b"TLS 1.3, server CertificateVerify");
        assert_eq!(content[97], 0);
        assert_eq!(&content[98..], &hash[..]);
        let client = signed_content(Signer::Client, &hash);
        assert_eq!(&client[64..97], b"TLS 1.3, client CertificateVerify");
    }
}
