//! Incoming records: one bounded buffer, in-place decryption, handshake reassembly.

use std::collections::VecDeque;
use std::ops::Range;

use crate::codec::enums::{ContentType, HandshakeType, ProtocolVersion};
use crate::codec::limits::{
    HANDSHAKE_HEADER_LEN, MAX_CIPHERTEXT, MAX_CLIENT_HELLO, MAX_PLAINTEXT, RECORD_HEADER_LEN,
};
use crate::crypto::aead::AeadAlg;
use crate::error::{InvalidMessage, LocalError, PeerMisbehaved, ProtocolError};
use crate::names::{Msg, Version};
use crate::record::protect::Opener;

/// One record, decrypted; its plaintext is `range` within the deframer's buffer.
#[derive(Debug)]
pub(crate) struct Record {
    /// The content type: for TLS 1.3, the one inside the protection.
    pub(crate) typ: ContentType,
    pub(crate) range: Range<usize>,
    /// Whether the record came under the installed keys. Under TLS 1.3 keys a record of
    /// another outer type than application_data comes in the clear (a compatibility
    /// ChangeCipherSpec, say); the connection decides whether that is allowed.
    pub(crate) protected: bool,
}

/// How refused 0-RTT data is passed over (RFC 8446 §4.2.10), and how many more of its
/// bytes may come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SkipEarlyData {
    Nothing,
    /// After a HelloRetryRequest: every application_data record, until the next ClientHello.
    Encrypted {
        left: usize,
    },
    /// After a ServerHello that refused it: records the handshake keys cannot open, until
    /// one they can.
    Undecryptable {
        left: usize,
    },
}

/// What a TLS 1.3 record body holds besides its data: the AEAD tag (16 bytes in every TLS 1.3
/// suite) and the inner content type.
const EARLY_RECORD_OVERHEAD: usize = AeadAlg::TAG_LEN + 1;

/// The receiving half of the record layer.
pub(crate) struct Deframer {
    /// Received bytes live in `buf[..filled]`; the rest is zeroed room kept between reads,
    /// so reading from a transport does not clear memory every time.
    buf: Vec<u8>,
    filled: usize,
    /// Bytes of `buf` before this offset are whole records already taken.
    processed: usize,
    /// Decrypted application data not yet read, as ranges of `buf`, oldest first.
    plaintext: VecDeque<Range<usize>>,
    /// TLS 1.3 0-RTT data accepted and not yet read, kept apart from the rest.
    early: VecDeque<Range<usize>>,
    /// TLS 1.3 0-RTT data refused: records passed over unread.
    skip: SkipEarlyData,
    opener: Option<Opener>,
    seq: u64,
    /// Handshake bytes of a message not yet complete, or of messages not yet taken.
    handshake: Vec<u8>,
    max_buffered: usize,
    max_handshake_message: usize,
}

impl Deframer {
    pub(crate) fn new(max_buffered: usize, max_handshake_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            filled: 0,
            processed: 0,
            plaintext: VecDeque::new(),
            early: VecDeque::new(),
            skip: SkipEarlyData::Nothing,
            opener: None,
            seq: 0,
            handshake: Vec::new(),
            max_buffered,
            max_handshake_message,
        }
    }

    /// Buffers received bytes. Refuses to hold more than the configured cap, counting
    /// application data the application has not read yet.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), LocalError> {
        self.compact(data.len());
        if self.filled + data.len() > self.max_buffered {
            return Err(LocalError::BufferFull {
                what: "received data",
                cap: self.max_buffered,
            });
        }
        self.room(data.len()).copy_from_slice(data);
        self.filled += data.len();
        Ok(())
    }

    /// Room for `push` before the cap is reached, or for one whole record if that is less.
    pub(crate) fn free_space(&mut self) -> usize {
        self.compact(MAX_CIPHERTEXT + RECORD_HEADER_LEN);
        self.max_buffered.saturating_sub(self.filled)
    }

    /// `len` writable bytes right after the received ones.
    fn room(&mut self, len: usize) -> &mut [u8] {
        let end = self.filled + len;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        &mut self.buf[self.filled..end]
    }

    /// Gives the buffer's memory back when it holds nothing: no partial record, no
    /// unread data, no partial handshake message.
    pub(crate) fn release(&mut self) {
        let idle = self.processed == self.filled
            && self.plaintext.is_empty()
            && self.early.is_empty()
            && self.handshake.is_empty();
        if idle {
            self.buf = Vec::new();
            self.filled = 0;
            self.processed = 0;
            self.handshake = Vec::new();
            self.plaintext = VecDeque::new();
            self.early = VecDeque::new();
        }
    }

    /// Bytes of memory the buffers hold.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity() + self.handshake.capacity()
    }

    /// Reads from a transport straight into the buffer, sparing a copy.
    pub(crate) fn read_from(&mut self, rd: &mut dyn std::io::Read) -> std::io::Result<usize> {
        let room = self.free_space().min(MAX_CIPHERTEXT + RECORD_HEADER_LEN);
        if room == 0 {
            return Err(std::io::Error::other(
                "receive buffer full: read application data first",
            ));
        }
        let n = rd.read(self.room(room))?;
        self.filled += n;
        Ok(n)
    }

    /// Drops the bytes nobody needs any more from the front of the buffer, so that `needed`
    /// more fit under the cap if they can.
    fn compact(&mut self, needed: usize) {
        let keep_from = [self.plaintext.front(), self.early.front()]
            .into_iter()
            .flatten()
            .fold(self.processed, |at, r| r.start.min(at));
        // Moving the tail costs a copy, so only do it once the dead prefix dominates, or
        // when the cap would otherwise refuse bytes that fit once the dead ones are gone.
        let dominates = keep_from * 2 >= self.filled;
        let short = self.filled + needed > self.max_buffered;
        if keep_from == 0 || !(dominates || short) {
            return;
        }
        self.buf.copy_within(keep_from..self.filled, 0);
        self.filled -= keep_from;
        self.processed -= keep_from;
        for r in self.plaintext.iter_mut().chain(self.early.iter_mut()) {
            *r = r.start - keep_from..r.end - keep_from;
        }
    }

    /// Every record from now on is opened with `opener`, numbered from zero. The handshake
    /// calls this at each key change: TLS 1.2 when the peer's ChangeCipherSpec arrives, TLS
    /// 1.3 at each step of the key schedule and at each KeyUpdate.
    ///
    /// Handshake bytes still waiting in the buffer came under the old keys behind the message
    /// that changed them: RFC 8446 §5.1 says messages before a key change must end at a
    /// record boundary, so that is refused.
    pub(crate) fn set_opener(&mut self, opener: Opener) -> Result<(), ProtocolError> {
        if !self.handshake.is_empty() {
            return Err(PeerMisbehaved::HandshakeSpansKeyChange.into());
        }
        self.opener = Some(opener);
        self.seq = 0;
        Ok(())
    }

    /// The version of the keys in use, if any.
    pub(crate) fn protection(&self) -> Option<Version> {
        self.opener.as_ref().map(Opener::version)
    }

    /// Refused 0-RTT data is coming: pass over it as `skip` says.
    pub(crate) fn skip_early_data(&mut self, skip: SkipEarlyData) {
        self.skip = skip;
    }

    /// The next whole record, decrypted in place, or `None` until more bytes arrive.
    /// Refused 0-RTT data is passed over here, bounded by what may be skipped.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, ProtocolError> {
        loop {
            match self.next_record_or_skip()? {
                Some(Next::Record(record)) => return Ok(Some(record)),
                Some(Next::Skipped) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Passes over one record of refused 0-RTT data of `len` body bytes.
    fn skip_record(&mut self, len: usize) -> Result<Next, ProtocolError> {
        let left = match &mut self.skip {
            SkipEarlyData::Encrypted { left } | SkipEarlyData::Undecryptable { left } => left,
            SkipEarlyData::Nothing => return Err(ProtocolError::Internal("nothing to skip")),
        };
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
        //# Only Application Data payload (i.e., plaintext but not padding or the
        //# inner content type byte) is counted.
        // Unopened, a record counts as the most data it can carry: its body less the AEAD
        // tag and the content type (padding is counted as data, as the RFC warns). At least
        // one byte, so that empty records cannot be skipped forever.
        let most_data = len.saturating_sub(EARLY_RECORD_OVERHEAD).max(1);
        *left = left
            .checked_sub(most_data)
            .ok_or(PeerMisbehaved::TooMuchEarlyData)?;
        self.processed += RECORD_HEADER_LEN + len;
        Ok(Next::Skipped)
    }

    fn next_record_or_skip(&mut self) -> Result<Option<Next>, ProtocolError> {
        let avail = &self.buf[self.processed..self.filled];
        if avail.len() < RECORD_HEADER_LEN {
            return Ok(None);
        }
        let typ = ContentType(avail[0]);
        let version = ProtocolVersion(u16::from_be_bytes([avail[1], avail[2]]));
        let len = u16::from_be_bytes([avail[3], avail[4]]) as usize;
        if typ.name().is_none() {
            return Err(InvalidMessage::UnknownContentType(typ.0).into());
        }
        if !version.is_tls_family() {
            return Err(InvalidMessage::IllegalValue {
                what: "record version",
            }
            .into());
        }
        // TLS 1.3 protects only records whose outer type is application_data.
        let opener = self
            .opener
            .as_ref()
            .filter(|o| o.version() == Version::Tls12 || typ == ContentType::APPLICATION_DATA);
        let max = opener.map_or(MAX_PLAINTEXT, Opener::max_body);
        if len > max {
            return Err(ProtocolError::RecordOverflow { len, max });
        }
        if avail.len() < RECORD_HEADER_LEN + len {
            return Ok(None);
        }
        // After a HelloRetryRequest, early data ends with the second ClientHello.
        match (self.skip, typ) {
            (SkipEarlyData::Encrypted { .. }, ContentType::APPLICATION_DATA) => {
                return self.skip_record(len).map(Some)
            }
            (SkipEarlyData::Encrypted { .. }, ContentType::HANDSHAKE) => {
                self.skip = SkipEarlyData::Nothing
            }
            _ => {}
        }
        let body_start = self.processed + RECORD_HEADER_LEN;
        let body = &mut self.buf[body_start..body_start + len];
        let record = match opener {
            None => Record {
                typ,
                range: body_start..body_start + len,
                protected: false,
            },
            Some(opener) => {
                let opened = match opener.open(self.seq, typ, version, body) {
                    Err(ProtocolError::BadRecordMac)
                        if matches!(self.skip, SkipEarlyData::Undecryptable { .. }) =>
                    {
                        return self.skip_record(len).map(Some);
                    }
                    result => result?,
                };
                self.skip = SkipEarlyData::Nothing;
                self.seq = self
                    .seq
                    .checked_add(1)
                    .ok_or(ProtocolError::Internal("read sequence number exhausted"))?;
                Record {
                    typ: opened.typ,
                    range: body_start + opened.range.start..body_start + opened.range.end,
                    protected: true,
                }
            }
        };
        self.processed = body_start + len;
        Ok(Some(Next::Record(record)))
    }

    pub(crate) fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Keeps decrypted application data until the application reads it.
    pub(crate) fn queue_plaintext(&mut self, range: Range<usize>) {
        if !range.is_empty() {
            self.plaintext.push_back(range);
        }
    }

    /// Keeps accepted 0-RTT data until the application reads it as such.
    pub(crate) fn queue_early_data(&mut self, range: Range<usize>) {
        if !range.is_empty() {
            self.early.push_back(range);
        }
    }

    pub(crate) fn plaintext_len(&self) -> usize {
        self.plaintext.iter().map(|r| r.len()).sum()
    }

    pub(crate) fn early_data_len(&self) -> usize {
        self.early.iter().map(|r| r.len()).sum()
    }

    /// Copies decrypted application data out; returns how many bytes were copied.
    pub(crate) fn read_plaintext(&mut self, out: &mut [u8]) -> usize {
        Self::read_from_queue(&self.buf, &mut self.plaintext, out)
    }

    /// Copies accepted 0-RTT data out; returns how many bytes were copied.
    pub(crate) fn read_early_data(&mut self, out: &mut [u8]) -> usize {
        Self::read_from_queue(&self.buf, &mut self.early, out)
    }

    fn read_from_queue(buf: &[u8], queue: &mut VecDeque<Range<usize>>, out: &mut [u8]) -> usize {
        let mut done = 0;
        while done < out.len() {
            let Some(front) = queue.front_mut() else {
                break;
            };
            let n = front.len().min(out.len() - done);
            out[done..done + n].copy_from_slice(&buf[front.start..front.start + n]);
            front.start += n;
            done += n;
            if front.start == front.end {
                queue.pop_front();
            }
        }
        done
    }

    /// Adds a handshake record's plaintext to the reassembly buffer.
    pub(crate) fn push_handshake(&mut self, range: Range<usize>) -> Result<(), ProtocolError> {
        let max = self.max_handshake_message.max(MAX_CLIENT_HELLO) + HANDSHAKE_HEADER_LEN;
        if self.handshake.len() + range.len() > max + MAX_CIPHERTEXT {
            return Err(InvalidMessage::HandshakeMessageTooLarge {
                len: self.handshake.len() + range.len(),
                max,
            }
            .into());
        }
        self.handshake.extend_from_slice(&self.buf[range]);
        self.check_handshake_header()
    }

    /// Refuses a message by its announced length, before its body is buffered. A ClientHello
    /// has its own cap, so the largest valid one is accepted whatever the configured cap.
    fn check_handshake_header(&self) -> Result<(), ProtocolError> {
        if self.handshake.len() >= HANDSHAKE_HEADER_LEN {
            let len = handshake_body_len(&self.handshake);
            let max = match HandshakeType(self.handshake[0]).msg() {
                Some(Msg::ClientHello) => MAX_CLIENT_HELLO,
                _ => self.max_handshake_message,
            };
            if len > max {
                return Err(InvalidMessage::HandshakeMessageTooLarge { len, max }.into());
            }
        }
        Ok(())
    }

    /// The next complete handshake message: its type and its raw bytes (header included,
    /// as the transcript hashes them).
    pub(crate) fn next_handshake(
        &mut self,
    ) -> Result<Option<(HandshakeType, Vec<u8>)>, ProtocolError> {
        self.check_handshake_header()?;
        if self.handshake.len() < HANDSHAKE_HEADER_LEN {
            return Ok(None);
        }
        let total = HANDSHAKE_HEADER_LEN + handshake_body_len(&self.handshake);
        if self.handshake.len() < total {
            return Ok(None);
        }
        let typ = HandshakeType(self.handshake[0]);
        let raw: Vec<u8> = self.handshake.drain(..total).collect();
        Ok(Some((typ, raw)))
    }

    /// Whether part of a handshake message is waiting for its remainder.
    pub(crate) fn handshake_pending(&self) -> bool {
        !self.handshake.is_empty()
    }
}

/// What one step of reading produced.
enum Next {
    Record(Record),
    Skipped,
}

fn handshake_body_len(header: &[u8]) -> usize {
    u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![typ, 0x03, 0x03];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn records_split_anywhere_are_reassembled() {
        let wire = [record(0x16, &[0x0e, 0, 0, 0]), record(0x14, &[1])].concat();
        for split in 0..wire.len() {
            let mut d = Deframer::new(1 << 16, 1 << 16);
            d.push(&wire[..split]).unwrap();
            let mut types = Vec::new();
            while let Some(r) = d.next_record().unwrap() {
                types.push(r.typ);
            }
            d.push(&wire[split..]).unwrap();
            while let Some(r) = d.next_record().unwrap() {
                types.push(r.typ);
            }
            assert_eq!(
                types,
                [ContentType::HANDSHAKE, ContentType::CHANGE_CIPHER_SPEC]
            );
        }
    }

    #[test]
    fn handshake_messages_join_across_records_and_split_within_one() {
        let mut d = Deframer::new(1 << 16, 1 << 16);
        // ServerHelloDone, then a Finished split over two records.
        d.push(&record(0x16, &[0x0e, 0, 0, 0, 0x14, 0, 0, 2, 0xaa]))
            .unwrap();
        d.push(&record(0x16, &[0xbb])).unwrap();
        let mut msgs = Vec::new();
        while let Some(r) = d.next_record().unwrap() {
            d.push_handshake(r.range).unwrap();
            while let Some(m) = d.next_handshake().unwrap() {
                msgs.push(m);
            }
        }
        assert_eq!(
            msgs,
            [
                (
                    HandshakeType::from(Msg::ServerHelloDone),
                    vec![0x0e, 0, 0, 0]
                ),
                (
                    HandshakeType::from(Msg::Finished),
                    vec![0x14, 0, 0, 2, 0xaa, 0xbb]
                ),
            ]
        );
        assert!(!d.handshake_pending());
    }

    #[test]
    fn oversized_records_and_messages_are_refused() {
        let mut d = Deframer::new(1 << 20, 1024);
        let mut header = vec![0x17, 0x03, 0x03];
        header.extend_from_slice(&((MAX_PLAINTEXT + 1) as u16).to_be_bytes());
        d.push(&header).unwrap();
        assert!(matches!(
            d.next_record(),
            Err(ProtocolError::RecordOverflow { .. })
        ));

        let mut d = Deframer::new(1 << 20, 1024);
        d.push(&record(0x16, &[0x0b, 0x00, 0x08, 0x00])).unwrap();
        let r = d.next_record().unwrap().unwrap();
        assert_eq!(
            d.push_handshake(r.range),
            Err(ProtocolError::Decode(
                InvalidMessage::HandshakeMessageTooLarge {
                    len: 0x0800,
                    max: 1024
                }
            ))
        );
    }

    #[test]
    fn unknown_record_type_and_version_are_refused() {
        let mut d = Deframer::new(1 << 16, 1 << 16);
        d.push(&record(0x18, &[0])).unwrap();
        assert_eq!(
            d.next_record().unwrap_err().alert().name(),
            Some("unexpected_message")
        );
        let mut d = Deframer::new(1 << 16, 1 << 16);
        d.push(&[0x16, 0x04, 0x03, 0x00, 0x01, 0x00]).unwrap();
        assert_eq!(
            d.next_record().unwrap_err().alert().name(),
            Some("illegal_parameter")
        );
    }

    #[test]
    fn buffer_cap_holds() {
        let mut d = Deframer::new(100, 100);
        d.push(&[0u8; 60]).unwrap();
        assert_eq!(
            d.push(&[0u8; 41]),
            Err(LocalError::BufferFull {
                what: "received data",
                cap: 100
            })
        );
    }

    /// The deframer fuzz target checks that a reader who has read everything can always
    /// receive the rest of a record. With a cap that holds one record but not two, that did
    /// not hold: processed bytes stayed counted against the cap until they were half the
    /// buffer, so the rest was refused for ever.
    #[test]
    fn processed_bytes_never_keep_the_rest_of_a_record_out() {
        let mut d = Deframer::new(20_000, 1 << 16);
        let done = record(0x17, &[0xaa; 3995]);
        let big = record(0x17, &[0xbb; MAX_PLAINTEXT]);
        d.push(&done).unwrap();
        d.push(&big[..5000]).unwrap();
        let r = d.next_record().unwrap().unwrap();
        d.queue_plaintext(r.range);
        let mut out = [0u8; 4000];
        assert_eq!(d.read_plaintext(&mut out), 3995);
        assert!(d.next_record().unwrap().is_none());
        assert!(d.free_space() >= big.len() - 5000);
        d.push(&big[5000..]).unwrap();
        let r = d.next_record().unwrap().unwrap();
        assert_eq!(d.bytes(r.range), &big[5..]);
    }

    #[test]
    fn plaintext_is_read_in_pieces_and_survives_compaction() {
        let mut d = Deframer::new(1 << 16, 1 << 16);
        d.push(&record(0x17, b"hello")).unwrap();
        let r = d.next_record().unwrap().unwrap();
        d.queue_plaintext(r.range);
        let mut out = [0u8; 3];
        assert_eq!(d.read_plaintext(&mut out), 3);
        assert_eq!(&out, b"hel");
        d.push(&record(0x17, b"!")).unwrap();
        let r = d.next_record().unwrap().unwrap();
        d.queue_plaintext(r.range);
        let mut out = [0u8; 8];
        assert_eq!(d.read_plaintext(&mut out), 3);
        assert_eq!(&out[..3], b"lo!");
        assert_eq!(d.plaintext_len(), 0);
    }
}
