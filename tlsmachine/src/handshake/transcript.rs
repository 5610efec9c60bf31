//! The handshake transcript: exactly the bytes sent and received, hashed once the suite fixes
//! the hash function, and kept whole while a TLS 1.2 CertificateVerify may still need to sign
//! or check them (RFC 5246 §7.4.8 signs the messages, not their hash).

use crate::crypto::hash::{Hash, HashAlg, HashOutput};

pub(crate) struct Transcript {
    /// Every message so far, until we know it is no longer needed.
    buffer: Option<Vec<u8>>,
    hash: Option<Hash>,
}

impl Transcript {
    pub(crate) fn new() -> Self {
        Self {
            buffer: Some(Vec::new()),
            hash: None,
        }
    }

    pub(crate) fn add(&mut self, raw: &[u8]) {
        if let Some(buffer) = &mut self.buffer {
            buffer.extend_from_slice(raw);
        }
        if let Some(hash) = &mut self.hash {
            hash.update(raw);
        }
    }

    /// The suite is known: hash what came so far and everything after.
    pub(crate) fn start_hash(&mut self, alg: HashAlg) {
        let mut hash = Hash::new(alg);
        if let Some(buffer) = &self.buffer {
            hash.update(buffer);
        }
        self.hash = Some(hash);
    }

    /// TLS 1.3 after a HelloRetryRequest: the first ClientHello, hashed so far, is replaced by
    /// a synthetic `message_hash` message holding its hash (RFC 8446 §4.4.1). The hash must
    /// have started.
    pub(crate) fn replace_with_message_hash(&mut self) -> Option<()> {
        let old = self.hash.as_ref()?;
        let alg = old.alg();
        let first = old.current();
        let mut hash = Hash::new(alg);
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.1
        //# Transcript-Hash(ClientHello1, HelloRetryRequest, ... Mn) =
        //#     Hash(message_hash ||        /* Handshake type */
        //#          00 00 Hash.length  ||  /* Handshake message length (bytes) */
        //#          Hash(ClientHello1) ||  /* Hash of ClientHello1 */
        //#          HelloRetryRequest  || ... || Mn)
        hash.update(&[0xfe, 0x00, 0x00, alg.output_len() as u8]);
        hash.update(first.as_ref());
        self.hash = Some(hash);
        self.buffer = None;
        Some(())
    }

    /// The hash of the messages so far followed by `partial`, which is not added: what a
    /// PSK binder covers (RFC 8446 §4.2.11.2). `None` before `start_hash`.
    pub(crate) fn hash_with(&self, partial: &[u8]) -> Option<HashOutput> {
        let mut hash = self.hash.clone()?;
        hash.update(partial);
        Some(hash.current())
    }

    /// No CertificateVerify can come any more: drop the copy of the messages.
    pub(crate) fn discard_buffer(&mut self) {
        self.buffer = None;
    }

    /// The messages so far, while they are kept.
    pub(crate) fn messages(&self) -> Option<&[u8]> {
        self.buffer.as_deref()
    }

    /// The hash of the messages so far; `None` before `start_hash`.
    pub(crate) fn current_hash(&self) -> Option<HashOutput> {
        self.hash.as_ref().map(Hash::current)
    }
}
