//! From master secret to record keys (RFC 5246 §6.3), and the NSS key log.

use std::sync::Arc;

use crate::config::KeyLog;
use crate::crypto::aead::{RecordOpener, RecordSealer};
use crate::crypto::prf::{self, MasterSecret};
use crate::crypto::suites::Tls12Suite;
use crate::error::ProtocolError;
use crate::handshake::driver::Ctx;

/// Derives the key block and installs the pending keys of both directions; each switches on
/// with the ChangeCipherSpec that direction sends.
pub(crate) fn install(
    ctx: &mut Ctx<'_>,
    suite: &Tls12Suite,
    ms: &MasterSecret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    we_are_client: bool,
) -> Result<(), ProtocolError> {
    let key_len = suite.aead.key_len();
    let iv_len = suite.aead.fixed_iv_len();
    let block = prf::key_block(
        suite.hash,
        ms,
        client_random,
        server_random,
        suite.key_block_len(),
    );
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
    ctx.writer
        .set_pending(RecordSealer::new(suite.aead, write_key, write_iv).map_err(bad)?);
    ctx.reader
        .set_pending(RecordOpener::new(suite.aead, read_key, read_iv).map_err(bad)?);
    Ok(())
}

/// Writes the CLIENT_RANDOM line of the NSS key log format, so Wireshark can decrypt.
pub(crate) fn log(key_log: &Option<Arc<dyn KeyLog>>, client_random: &[u8; 32], ms: &MasterSecret) {
    if let Some(key_log) = key_log {
        key_log.log("CLIENT_RANDOM", client_random, ms.as_bytes());
    }
}
