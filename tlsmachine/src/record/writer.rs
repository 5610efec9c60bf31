//! Outgoing records: fragmentation to 2^14 bytes and in-place sealing.

use crate::codec::enums::{ContentType, ProtocolVersion};
use crate::codec::limits::{MAX_PLAINTEXT, RECORD_HEADER_LEN};
use crate::crypto::aead::RecordSealer;
use crate::error::LocalError;

/// The sending half of the record layer.
pub(crate) struct RecordWriter {
    /// Current protection; `None` until our ChangeCipherSpec.
    sealer: Option<RecordSealer>,
    /// Keys derived but not yet switched on by our ChangeCipherSpec.
    pending: Option<RecordSealer>,
    seq: u64,
    /// The version written in record headers: TLS 1.0 for the first ClientHello, as
    /// middleboxes expect (RFC 5246 Appendix E.1), then TLS 1.2.
    version: ProtocolVersion,
    max_fragment: usize,
}

impl RecordWriter {
    pub(crate) fn new() -> Self {
        Self {
            sealer: None,
            pending: None,
            seq: 0,
            version: ProtocolVersion::TLS1_2,
            max_fragment: MAX_PLAINTEXT,
        }
    }

    pub(crate) fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    pub(crate) fn set_pending(&mut self, sealer: RecordSealer) {
        self.pending = Some(sealer);
    }

    /// Our ChangeCipherSpec was just written: everything after it is protected.
    pub(crate) fn activate_pending(&mut self) -> Result<(), LocalError> {
        self.sealer = Some(
            self.pending
                .take()
                .ok_or(LocalError::Crypto("no pending write keys"))?,
        );
        self.seq = 0;
        Ok(())
    }

    /// Appends `payload` to `out` as records of type `typ`, fragmenting at 2^14 bytes and
    /// sealing each record in place when keys are active.
    pub(crate) fn write(
        &mut self,
        typ: ContentType,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), LocalError> {
        if payload.is_empty() {
            return self.write_fragment(typ, &[], out);
        }
        for chunk in payload.chunks(self.max_fragment) {
            self.write_fragment(typ, chunk, out)?;
        }
        Ok(())
    }

    /// Bytes [`RecordWriter::write_into`] produces for `len` bytes of payload.
    pub(crate) fn sealed_len(&self, len: usize) -> usize {
        let overhead = RECORD_HEADER_LEN + self.sealer.as_ref().map_or(0, RecordSealer::overhead);
        len + len.div_ceil(self.max_fragment) * overhead
    }

    /// Seals `payload` as protected records straight into `out`, with no buffer of ours in
    /// between; returns the bytes written. Needs [`RecordWriter::sealed_len`] bytes of room
    /// and active keys (this path is for application data, never sent in the clear).
    pub(crate) fn write_into(
        &mut self,
        typ: ContentType,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, LocalError> {
        if out.len() < self.sealed_len(payload.len()) {
            return Err(LocalError::BufferFull {
                what: "record output",
                cap: out.len(),
            });
        }
        let mut at = 0;
        for chunk in payload.chunks(self.max_fragment) {
            let sealer = self
                .sealer
                .as_ref()
                .ok_or(LocalError::Crypto("no write keys"))?;
            at += sealer.seal_into(self.seq, typ, self.version, chunk, &mut out[at..])?;
            self.seq = self.next_seq()?;
        }
        Ok(at)
    }

    fn write_fragment(
        &mut self,
        typ: ContentType,
        chunk: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), LocalError> {
        let start = out.len();
        let overhead = self.sealer.as_ref().map_or(0, RecordSealer::overhead);
        out.reserve(RECORD_HEADER_LEN + chunk.len() + overhead);
        out.push(typ.0);
        out.extend_from_slice(&self.version.0.to_be_bytes());
        match &self.sealer {
            None => {
                out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
                out.extend_from_slice(chunk);
            }
            Some(sealer) => {
                // The sealer patches the length once it knows the ciphertext size.
                out.extend_from_slice(&[0, 0]);
                out.resize(out.len() + sealer.explicit_nonce_len(), 0);
                sealer.seal_record(self.seq, out, start, chunk)?;
                self.seq = self.next_seq()?;
            }
        }
        Ok(())
    }

    fn next_seq(&self) -> Result<u64, LocalError> {
        // RFC 5246 §6.1: sequence numbers must not wrap; renegotiation is refused, so the
        // connection has to end instead.
        self.seq
            .checked_add(1)
            .ok_or(LocalError::Crypto("write sequence number exhausted"))
    }
}
