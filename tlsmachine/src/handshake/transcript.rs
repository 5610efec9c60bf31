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
