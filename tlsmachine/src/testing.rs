//! The record layer's entry points for the fuzzers in `fuzz/`: the `record` module is
//! private, and a fuzzer that could only reach it through a [`Connection`](crate::Connection)
//! would spend its time getting past the handshake instead of on framing and protection.
//!
//! Compiled only with the `testing` feature. Thin wrappers, no logic of their own, so what
//! the fuzzers find is in the code the connection runs.

use core::ops::Range;

use crate::codec::enums::{ContentType, HandshakeType, ProtocolVersion};
use crate::crypto::aead::AeadAlg;
use crate::error::{LocalError, ProtocolError};
use crate::record;

/// One record as the deframer returns it: its content type (the inner one under TLS 1.3
/// keys), where its plaintext lies (see [`Deframer::bytes`]), and whether keys opened it.
#[derive(Debug)]
pub struct Record {
    pub typ: ContentType,
    pub range: Range<usize>,
    pub protected: bool,
}

/// The receiving half of the record layer: one bounded buffer, records opened in place,
/// handshake messages reassembled across records.
pub struct Deframer(record::Deframer);

impl Deframer {
    pub fn new(max_buffered: usize, max_handshake_message: usize) -> Self {
        Deframer(record::Deframer::new(max_buffered, max_handshake_message))
    }

    pub fn push(&mut self, data: &[u8]) -> Result<(), LocalError> {
        self.0.push(data)
    }

    pub fn free_space(&mut self) -> usize {
        self.0.free_space()
    }

    pub fn set_opener(&mut self, opener: Opener) -> Result<(), ProtocolError> {
        self.0.set_opener(opener.0)
    }

    pub fn next_record(&mut self) -> Result<Option<Record>, ProtocolError> {
        Ok(self.0.next_record()?.map(|r| Record {
            typ: r.typ,
            range: r.range,
            protected: r.protected,
        }))
    }

    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        self.0.bytes(range)
    }

    pub fn push_handshake(&mut self, range: Range<usize>) -> Result<(), ProtocolError> {
        self.0.push_handshake(range)
    }

    pub fn next_handshake(&mut self) -> Result<Option<(HandshakeType, Vec<u8>)>, ProtocolError> {
        self.0.next_handshake()
    }

    pub fn queue_plaintext(&mut self, range: Range<usize>) {
        self.0.queue_plaintext(range)
    }

    pub fn plaintext_len(&self) -> usize {
        self.0.plaintext_len()
    }

    pub fn read_plaintext(&mut self, out: &mut [u8]) -> usize {
        self.0.read_plaintext(out)
    }
}

/// Opens records of one direction, TLS 1.2 or TLS 1.3 layout.
pub struct Opener(record::Opener);

impl Opener {
    pub fn tls12(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        record::Opener::tls12(alg, key, iv).map(Opener)
    }

    pub fn tls13(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        record::Opener::tls13(alg, key, iv).map(Opener)
    }

    /// Opens `body` (the record after its 5-byte header) in place: the content type and
    /// where the content lies in `body`.
    pub fn open(
        &self,
        seq: u64,
        typ: ContentType,
        version: ProtocolVersion,
        body: &mut [u8],
    ) -> Result<(ContentType, Range<usize>), ProtocolError> {
        let opened = self.0.open(seq, typ, version, body)?;
        Ok((opened.typ, opened.range))
    }
}

/// Seals records of one direction, TLS 1.2 or TLS 1.3 layout.
pub struct Sealer(record::Sealer);

impl Sealer {
    pub fn tls12(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        record::Sealer::tls12(alg, key, iv).map(Sealer)
    }

    pub fn tls13(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        record::Sealer::tls13(alg, key, iv).map(Sealer)
    }

    /// The whole record, header included, carrying `plaintext` as `typ`.
    pub fn seal(
        &self,
        seq: u64,
        typ: ContentType,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, LocalError> {
        let mut out = vec![0u8; self.0.record_len(plaintext.len())];
        let len = self.0.seal_into(seq, typ, plaintext, &mut out)?;
        out.truncate(len);
        Ok(out)
    }
}
