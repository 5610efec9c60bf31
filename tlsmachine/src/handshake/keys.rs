//! TLS 1.2: from master secret to record keys (RFC 5246 §6.3), Finished, and the NSS key log.

use std::sync::Arc;

use crate::codec::handshake::{Finished, HandshakePayload};
use crate::config::KeyLog;
use crate::crypto::prf::{self, MasterSecret};
use crate::crypto::suites::Tls12Suite;
use crate::error::ProtocolError;
use crate::handshake::driver::Ctx;
use crate::handshake::proof::{self, FinishedVerified};
use crate::handshake::transcript::Transcript;
use crate::record::{Opener, Sealer};

/// TLS 1.2 keys derived but not switched on: each direction switches with the
/// ChangeCipherSpec it sends.
#[derive(Debug)]
pub(crate) struct PendingKeys {
    pub(crate) write: Option<Sealer>,
    pub(crate) read: Option<Opener>,
}

impl PendingKeys {
    /// Our ChangeCipherSpec, then our side is protected.
    pub(crate) fn send_change_cipher_spec(
        &mut self,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ProtocolError> {
        let sealer = self
            .write
            .take()
            .ok_or(ProtocolError::Internal("no pending write keys"))?;
        ctx.send_change_cipher_spec(sealer)
    }

    /// The peer's ChangeCipherSpec arrived: its side is protected from the next record.
    pub(crate) fn peer_changed_cipher_spec(
        &mut self,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ProtocolError> {
        let opener = self
            .read
            .take()
            .ok_or(ProtocolError::Internal("no pending read keys"))?;
        ctx.install_read(opener)
    }
}

/// Derives the key block and the pending keys of both directions. The master secret goes to
/// the key log, when one is configured, at the same moment.
pub(crate) fn derive(
    suite: &Tls12Suite,
    ms: &MasterSecret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    we_are_client: bool,
    key_log: &Option<Arc<dyn KeyLog>>,
) -> Result<PendingKeys, ProtocolError> {
    if let Some(key_log) = key_log {
        key_log.log("CLIENT_RANDOM", client_random, ms.as_bytes());
    }
    let key_len = suite.aead.key_len();
    let iv_len = suite.aead.fixed_iv_len();
    let block = prf::key_block(
        suite.hash,
        ms,
        client_random,
        server_random,
        suite.key_block_len(),
    )
    .map_err(prf_failed)?;
    //= https://www.rfc-editor.org/rfc/rfc5246#section-6.3
    //# client_write_MAC_key[SecurityParameters.mac_key_length]
    //# server_write_MAC_key[SecurityParameters.mac_key_length]
    //# client_write_key[SecurityParameters.enc_key_length]
    //# server_write_key[SecurityParameters.enc_key_length]
    //# client_write_IV[SecurityParameters.fixed_iv_length]
    //# server_write_IV[SecurityParameters.fixed_iv_length]
    let (client_key, rest) = block.split_at(key_len);
    let (server_key, rest) = rest.split_at(key_len);
    let (client_iv, rest) = rest.split_at(iv_len);
    let server_iv = &rest[..iv_len];
    let (write_key, write_iv, read_key, read_iv) = if we_are_client {
        (client_key, client_iv, server_key, server_iv)
    } else {
        (server_key, server_iv, client_key, client_iv)
    };
    let bad = |_| ProtocolError::Internal("record key setup failed");
    Ok(PendingKeys {
        write: Some(Sealer::tls12(suite.aead, write_key, write_iv).map_err(bad)?),
        read: Some(Opener::tls12(suite.aead, read_key, read_iv).map_err(bad)?),
    })
}

/// Whose Finished message: the label mixed into verify_data (RFC 5246 §7.4.9).
#[derive(Clone, Copy, Debug)]
pub(crate) enum FinishedBy {
    Client,
    Server,
}

fn verify_data(
    transcript: &Transcript,
    suite: &Tls12Suite,
    ms: &MasterSecret,
    by: FinishedBy,
) -> Result<[u8; 12], ProtocolError> {
    let label: &[u8] = match by {
        FinishedBy::Client => b"client finished",
        FinishedBy::Server => b"server finished",
    };
    let hash = transcript.current_hash().ok_or(ProtocolError::Internal(
        "Finished before the transcript hash started",
    ))?;
    prf::verify_data(suite.hash, ms, label, hash.as_ref()).map_err(prf_failed)
}

/// Sends our [ChangeCipherSpec] and our Finished over the transcript so far.
pub(crate) fn send_ccs_and_finished(
    ctx: &mut Ctx<'_>,
    keys: &mut PendingKeys,
    transcript: &mut Transcript,
    suite: &Tls12Suite,
    ms: &MasterSecret,
    by: FinishedBy,
) -> Result<(), ProtocolError> {
    keys.send_change_cipher_spec(ctx)?;
    let verify_data = verify_data(transcript, suite, ms, by)?.to_vec();
    ctx.send_handshake(
        &HandshakePayload::Finished(Finished { verify_data }),
        transcript,
        String::new,
    )
}

/// Checks the peer's Finished against the transcript so far, in constant time.
pub(crate) fn check_finished(
    transcript: &Transcript,
    suite: Option<&Tls12Suite>,
    ms: Option<&MasterSecret>,
    by: FinishedBy,
    received: &Finished,
) -> Result<FinishedVerified, ProtocolError> {
    let suite = suite.ok_or(ProtocolError::Internal("no suite before Finished"))?;
    let ms = ms.ok_or(ProtocolError::Internal("no master secret before Finished"))?;
    let expected = verify_data(transcript, suite, ms, by)?;
    Ok(proof::check_finished(&expected, &received.verify_data)?)
}

/// The master secret from the ECDHE pre-master secret: RFC 7627's extended form, bound to
/// the transcript up to the ClientKeyExchange, when both sides agreed to it.
pub(crate) fn master_secret(
    suite: &Tls12Suite,
    pre_master: &[u8],
    extended: bool,
    transcript: &Transcript,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<MasterSecret, ProtocolError> {
    if !extended {
        return prf::master_secret(suite.hash, pre_master, client_random, server_random)
            .map_err(prf_failed);
    }
    //= https://www.rfc-editor.org/rfc/rfc7627#section-3
    //# When a full TLS handshake takes place, we define
    //#
    //#       session_hash = Hash(handshake_messages)
    //#
    //# where "handshake_messages" refers to all handshake messages sent or
    //# received, starting at the ClientHello up to and including the
    //# ClientKeyExchange message, including the type and length fields of
    //# the handshake messages.
    let session_hash = transcript.current_hash().ok_or(ProtocolError::Internal(
        "ClientKeyExchange before the transcript hash started",
    ))?;
    prf::extended_master_secret(suite.hash, pre_master, session_hash.as_ref()).map_err(prf_failed)
}

fn prf_failed(_: crate::error::LocalError) -> ProtocolError {
    ProtocolError::Internal("TLS PRF failed")
}
