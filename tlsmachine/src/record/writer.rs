//! Outgoing records: fragmentation to 2^14 bytes and sealing in one pass.

use crate::codec::enums::{ContentType, ProtocolVersion};
use crate::codec::limits::{MAX_PLAINTEXT, RECORD_HEADER_LEN};
use crate::error::LocalError;
use crate::names::Version;
use crate::record::outgoing::Outgoing;
use crate::record::protect::Sealer;

/// The sending half of the record layer.
pub(crate) struct RecordWriter {
    /// Current protection; `None` until the handshake installs keys.
    sealer: Option<Sealer>,
    seq: u64,
    /// The version written in the headers of records sent in the clear: TLS 1.0 for the
    /// first ClientHello, as middleboxes expect (RFC 8446 §5.1, RFC 5246 Appendix E.1),
    /// then TLS 1.2. Protected records always say TLS 1.2.
    plaintext_version: ProtocolVersion,
    max_fragment: usize,
    /// A lower confidentiality limit than the AEAD's, for tests.
    limit: Option<u64>,
}

impl RecordWriter {
    pub(crate) fn new() -> Self {
        Self {
            sealer: None,
            seq: 0,
            plaintext_version: ProtocolVersion::TLS1_2,
            max_fragment: MAX_PLAINTEXT,
            limit: None,
        }
    }

    pub(crate) fn set_plaintext_version(&mut self, version: ProtocolVersion) {
        self.plaintext_version = version;
    }

    /// Everything written from now on is sealed with `sealer`, numbered from zero. The
    /// handshake calls this at each key change: TLS 1.2 at its ChangeCipherSpec, TLS 1.3 at
    /// each step of the key schedule and at each KeyUpdate.
    pub(crate) fn set_sealer(&mut self, sealer: Sealer) {
        self.sealer = Some(sealer);
        self.seq = 0;
    }

    /// Records go out in the clear again: a TLS 1.3 client that sent 0-RTT data under early
    /// keys and got a HelloRetryRequest sends its second ClientHello unprotected.
    pub(crate) fn clear_sealer(&mut self) {
        self.sealer = None;
        self.seq = 0;
    }

    /// Whether TLS 1.3 must update the write key before sealing `records` more: they would
    /// take the key past its AEAD's confidentiality limit (RFC 8446 §5.5).
    pub(crate) fn key_worn_out(&self, records: u64) -> bool {
        self.sealer.as_ref().is_some_and(|s| {
            s.version() == Version::Tls13
                && self.seq.saturating_add(records)
                    > self.limit.unwrap_or(s.alg().confidentiality_limit())
        })
    }

    /// Tests reach the confidentiality limit without sealing millions of records.
    #[cfg(test)]
    pub(crate) fn set_confidentiality_limit(&mut self, records: u64) {
        self.limit = Some(records);
    }

    /// Appends `payload` to `out` as records of type `typ`, fragmenting at 2^14 bytes and
    /// sealing each record when keys are installed.
    pub(crate) fn write(
        &mut self,
        typ: ContentType,
        payload: &[u8],
        out: &mut Outgoing,
    ) -> Result<(), LocalError> {
        if payload.is_empty() {
            return self.write_fragment(typ, &[], out);
        }
        for chunk in payload.chunks(self.max_fragment) {
            self.write_fragment(typ, chunk, out)?;
        }
        Ok(())
    }

    /// Appends one record in the clear whatever keys are installed: TLS 1.3's compatibility
    /// ChangeCipherSpec (RFC 8446 §D.4) is never protected.
    pub(crate) fn write_plaintext(&self, typ: ContentType, payload: &[u8], out: &mut Outgoing) {
        let len = RECORD_HEADER_LEN + payload.len();
        let record = out.room(len);
        record[0] = typ.0;
        record[1..3].copy_from_slice(&self.plaintext_version.0.to_be_bytes());
        // Fragments are at most 2^14 bytes, far inside u16.
        record[3..5].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        record[RECORD_HEADER_LEN..].copy_from_slice(payload);
        out.commit(len);
    }

    /// Bytes [`RecordWriter::write_into`] produces for `len` bytes of payload.
    pub(crate) fn sealed_len(&self, len: usize) -> usize {
        let per_record = self
            .sealer
            .as_ref()
            .map_or(RECORD_HEADER_LEN, |s| s.record_len(0));
        len + len.div_ceil(self.max_fragment) * per_record
    }

    /// Seals `payload` as protected records straight into `out`, with no buffer of ours in
    /// between; returns the bytes written. Needs [`RecordWriter::sealed_len`] bytes of room
    /// and installed keys (this path is for application data, never sent in the clear).
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
            at += sealer.seal_into(self.seq, typ, chunk, &mut out[at..])?;
            self.seq = self.next_seq()?;
        }
        Ok(at)
    }

    fn write_fragment(
        &mut self,
        typ: ContentType,
        chunk: &[u8],
        out: &mut Outgoing,
    ) -> Result<(), LocalError> {
        match &self.sealer {
            None => self.write_plaintext(typ, chunk, out),
            Some(sealer) => {
                let len = sealer.seal_into(
                    self.seq,
                    typ,
                    chunk,
                    out.room(sealer.record_len(chunk.len())),
                )?;
                out.commit(len);
                self.seq = self.next_seq()?;
            }
        }
        Ok(())
    }

    fn next_seq(&self) -> Result<u64, LocalError> {
        // RFC 5246 §6.1 and RFC 8446 §5.3: sequence numbers must not wrap; TLS 1.3 updates
        // its keys long before, and TLS 1.2 has to end the connection instead.
        self.seq
            .checked_add(1)
            .ok_or(LocalError::Crypto("write sequence number exhausted"))
    }
}
