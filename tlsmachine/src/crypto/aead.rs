//! TLS 1.2 AEAD record protection (RFC 5246 §6.2.3.3, RFC 5288 for AES-GCM, RFC 7905 for
//! ChaCha20-Poly1305), sealing and opening in place.

use core::fmt;
use core::ops::Range;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use zeroize::Zeroizing;

use crate::codec::enums::{ContentType, ProtocolVersion};
use crate::codec::limits::{MAX_PLAINTEXT, RECORD_HEADER_LEN};
use crate::error::{LocalError, ProtocolError};

/// The AEAD a suite uses for its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlg {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

/// Every AEAD here has a 16-byte tag.
const TAG_LEN: usize = 16;

/// seq_num(8) + type(1) + version(2) + length(2).
const AAD_LEN: usize = 13;

impl AeadAlg {
    /// Encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm => 16,
            AeadAlg::Aes256Gcm | AeadAlg::Chacha20Poly1305 => 32,
        }
    }

    /// Length of the implicit IV taken from the key block.
    pub fn fixed_iv_len(self) -> usize {
        match self {
            // RFC 5288 §3: a 4-byte salt from the key block; the other 8 nonce bytes travel
            // with each record.
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 4,
            // RFC 7905 §2: the whole 12-byte nonce is the IV XOR the padded sequence number.
            AeadAlg::Chacha20Poly1305 => 12,
        }
    }

    /// Length of the per-record nonce sent in front of the ciphertext.
    pub fn explicit_nonce_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 8,
            AeadAlg::Chacha20Poly1305 => 0,
        }
    }

    /// Authentication tag length in bytes.
    pub fn tag_len(self) -> usize {
        TAG_LEN
    }

    fn aws_lc(self) -> &'static aead::Algorithm {
        match self {
            AeadAlg::Aes128Gcm => &aead::AES_128_GCM,
            AeadAlg::Aes256Gcm => &aead::AES_256_GCM,
            AeadAlg::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }
}

/// Key and implicit IV for one direction.
struct DirectionKey {
    alg: AeadAlg,
    key: LessSafeKey,
    // Zero-padded to 12 bytes; only `fixed_iv_len()` bytes are meaningful.
    iv: Zeroizing<[u8; NONCE_LEN]>,
}

impl DirectionKey {
    fn new(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        if key.len() != alg.key_len() {
            return Err(LocalError::Crypto("AEAD key has the wrong length"));
        }
        if iv.len() != alg.fixed_iv_len() {
            return Err(LocalError::Crypto("AEAD implicit IV has the wrong length"));
        }
        let unbound = UnboundKey::new(alg.aws_lc(), key)
            .map_err(|_| LocalError::Crypto("aws-lc-rs refused the AEAD key"))?;
        let mut padded = Zeroizing::new([0u8; NONCE_LEN]);
        padded[..iv.len()].copy_from_slice(iv);
        Ok(DirectionKey {
            alg,
            key: LessSafeKey::new(unbound),
            iv: padded,
        })
    }

    /// The record nonce. For GCM `explicit` is the 8 bytes sent with the record.
    fn nonce(&self, seq: u64, explicit: &[u8]) -> Nonce {
        let mut n = *self.iv;
        match self.alg {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => n[4..].copy_from_slice(explicit),
            AeadAlg::Chacha20Poly1305 => {
                for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
                    *b ^= s;
                }
            }
        }
        Nonce::assume_unique_for_key(n)
    }
}

//= https://www.rfc-editor.org/rfc/rfc5246#section-6.2.3.3
//# additional_data = seq_num + TLSCompressed.type +
//#                   TLSCompressed.version + TLSCompressed.length;
fn aad(seq: u64, typ: u8, version: [u8; 2], plain_len: u16) -> [u8; AAD_LEN] {
    let mut a = [0u8; AAD_LEN];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = typ;
    a[9..11].copy_from_slice(&version);
    a[11..].copy_from_slice(&plain_len.to_be_bytes());
    a
}

/// Encrypts outgoing records for one connection direction.
pub struct RecordSealer(DirectionKey);

impl RecordSealer {
    /// `key` and `iv` are this direction's write key and write IV from the key block.
    pub fn new(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        DirectionKey::new(alg, key, iv).map(RecordSealer)
    }

    /// Bytes a sealed record adds to its plaintext: explicit nonce plus tag.
    pub fn overhead(&self) -> usize {
        self.0.alg.explicit_nonce_len() + TAG_LEN
    }

    /// Placeholder bytes the caller leaves between the header and the plaintext.
    pub fn explicit_nonce_len(&self) -> usize {
        self.0.alg.explicit_nonce_len()
    }

    /// Which AEAD this is.
    pub fn alg(&self) -> AeadAlg {
        self.0.alg
    }

    /// Seals `plaintext` as the body of the record that starts at `buf[record_start..]`.
    ///
    /// The caller has appended the 5-byte header (type, version, any length) and then
    /// [`explicit_nonce_len`](Self::explicit_nonce_len) placeholder bytes. The record is
    /// completed behind them as [`seal_into`](Self::seal_into) does. Nothing is allocated
    /// when the caller reserved room for the plaintext plus [`overhead`](Self::overhead).
    pub fn seal_record(
        &self,
        seq: u64,
        buf: &mut Vec<u8>,
        record_start: usize,
        plaintext: &[u8],
    ) -> Result<(), LocalError> {
        if buf.len() != record_start + RECORD_HEADER_LEN + self.explicit_nonce_len() {
            return Err(LocalError::Crypto(
                "record buffer must end right after header and explicit nonce",
            ));
        }
        let typ = ContentType(buf[record_start]);
        let version = ProtocolVersion(u16::from_be_bytes([
            buf[record_start + 1],
            buf[record_start + 2],
        ]));
        buf.resize(record_start + self.record_len(plaintext.len()), 0);
        self.seal_into(seq, typ, version, plaintext, &mut buf[record_start..])?;
        Ok(())
    }

    /// The length of the record that carries `plain_len` bytes.
    pub fn record_len(&self, plain_len: usize) -> usize {
        RECORD_HEADER_LEN + self.overhead() + plain_len
    }

    /// Writes a whole protected record carrying `plaintext` at the start of `out`, and
    /// returns its length. Encryption reads the plaintext and writes the ciphertext in one
    /// pass, with no copy first; `out` must hold [`record_len`](Self::record_len) bytes.
    pub fn seal_into(
        &self,
        seq: u64,
        typ: ContentType,
        version: ProtocolVersion,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, LocalError> {
        let plain_len = plaintext.len();
        if plain_len > MAX_PLAINTEXT {
            return Err(LocalError::BufferFull {
                what: "record plaintext",
                cap: MAX_PLAINTEXT,
            });
        }
        let record_len = self.record_len(plain_len);
        let explicit_len = self.explicit_nonce_len();
        let Some(record) = out.get_mut(..record_len) else {
            return Err(LocalError::BufferFull {
                what: "record output",
                cap: out.len(),
            });
        };
        let (header, body) = record.split_at_mut(RECORD_HEADER_LEN);
        let (explicit, body) = body.split_at_mut(explicit_len);
        let (ciphertext, tag) = body.split_at_mut(plain_len);

        // explicit + plaintext + tag <= 8 + 2^14 + 16, well inside u16.
        let body_len = (explicit_len + plain_len + TAG_LEN) as u16;
        header[0] = typ.0;
        header[1..3].copy_from_slice(&version.0.to_be_bytes());
        header[3..].copy_from_slice(&body_len.to_be_bytes());
        // RFC 5288 §3 lets the explicit nonce be the sequence number, which can never repeat
        // under one key, so no nonce state is needed beyond `seq`.
        let seq_bytes = seq.to_be_bytes();
        explicit.copy_from_slice(&seq_bytes[..explicit_len]);
        let nonce = self.0.nonce(seq, &seq_bytes[..explicit_len]);
        // Checked against MAX_PLAINTEXT above, so this cannot truncate.
        let aad = aad(seq, typ.0, version.0.to_be_bytes(), plain_len as u16);
        self.0
            .key
            .seal_out_of_place_scatter(nonce, Aad::from(aad), plaintext, ciphertext, &[], tag)
            .map_err(|_| LocalError::Crypto("AEAD seal failed"))?;
        Ok(record_len)
    }
}

impl fmt::Debug for RecordSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordSealer")
            .field("alg", &self.0.alg)
            .finish_non_exhaustive()
    }
}

/// Decrypts incoming records for one connection direction.
pub struct RecordOpener(DirectionKey);

impl RecordOpener {
    /// `key` and `iv` are the peer's write key and write IV from the key block.
    pub fn new(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        DirectionKey::new(alg, key, iv).map(RecordOpener)
    }

    /// Which AEAD this is.
    pub fn alg(&self) -> AeadAlg {
        self.0.alg
    }

    /// Opens one record body (`fragment`, everything after the 5-byte header) in place and
    /// returns where the plaintext lies inside `fragment`.
    ///
    /// Every failure to authenticate, including a body too short to hold nonce and tag, is
    /// [`ProtocolError::BadRecordMac`]: the peer learns nothing about which check failed.
    pub fn open_record(
        &self,
        seq: u64,
        typ: ContentType,
        version: ProtocolVersion,
        fragment: &mut [u8],
    ) -> Result<Range<usize>, ProtocolError> {
        let explicit_len = self.0.alg.explicit_nonce_len();
        if fragment.len() < explicit_len + TAG_LEN {
            return Err(ProtocolError::BadRecordMac);
        }
        let plain_len = fragment.len() - explicit_len - TAG_LEN;
        // A length that does not fit the AAD's u16 cannot have been sealed by anyone.
        let aad_len = u16::try_from(plain_len).map_err(|_| ProtocolError::BadRecordMac)?;

        let (explicit, body) = fragment.split_at_mut(explicit_len);
        let nonce = self.0.nonce(seq, explicit);
        let aad = aad(seq, typ.0, version.0.to_be_bytes(), aad_len);
        self.0
            .key
            .open_in_place(nonce, Aad::from(aad), body)
            .map_err(|_| ProtocolError::BadRecordMac)?;

        // Checked after authentication so only a genuine record from the peer can cause
        // record_overflow.
        //= https://www.rfc-editor.org/rfc/rfc5246#section-6.2.1
        //# The length MUST NOT exceed 2^14.
        if plain_len > MAX_PLAINTEXT {
            return Err(ProtocolError::RecordOverflow {
                len: plain_len,
                max: MAX_PLAINTEXT,
            });
        }
        Ok(explicit_len..explicit_len + plain_len)
    }
}

impl fmt::Debug for RecordOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordOpener")
            .field("alg", &self.0.alg)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::tests_util::unhex;

    const ALL: [AeadAlg; 3] = [
        AeadAlg::Aes128Gcm,
        AeadAlg::Aes256Gcm,
        AeadAlg::Chacha20Poly1305,
    ];

    fn keys(alg: AeadAlg) -> (Vec<u8>, Vec<u8>) {
        let key = (0..alg.key_len() as u8).collect();
        let iv = (0..alg.fixed_iv_len() as u8).map(|b| b ^ 0xa5).collect();
        (key, iv)
    }

    /// Appends a record the way the record layer will: header, nonce room, plaintext.
    fn start_record(buf: &mut Vec<u8>, sealer: &RecordSealer, typ: u8) -> usize {
        let start = buf.len();
        buf.extend_from_slice(&[typ, 0x03, 0x03, 0x00, 0x00]);
        buf.extend(core::iter::repeat_n(0u8, sealer.explicit_nonce_len()));
        start
    }

    fn seal(alg: AeadAlg, seq: u64, typ: u8, plain: &[u8]) -> Vec<u8> {
        let (key, iv) = keys(alg);
        let sealer = RecordSealer::new(alg, &key, &iv).unwrap();
        let mut buf = Vec::new();
        let start = start_record(&mut buf, &sealer, typ);
        sealer.seal_record(seq, &mut buf, start, plain).unwrap();
        buf
    }

    fn open(alg: AeadAlg, seq: u64, record: &mut [u8]) -> Result<Vec<u8>, ProtocolError> {
        let (key, iv) = keys(alg);
        let opener = RecordOpener::new(alg, &key, &iv).unwrap();
        let typ = ContentType(record[0]);
        let version = ProtocolVersion(u16::from_be_bytes([record[1], record[2]]));
        let body = &mut record[RECORD_HEADER_LEN..];
        let range = opener.open_record(seq, typ, version, body)?;
        Ok(body[range].to_vec())
    }

    #[test]
    fn parameters_match_rfc_5288_and_7905() {
        assert_eq!(
            (
                AeadAlg::Aes128Gcm.key_len(),
                AeadAlg::Aes128Gcm.fixed_iv_len()
            ),
            (16, 4)
        );
        assert_eq!(
            (
                AeadAlg::Aes256Gcm.key_len(),
                AeadAlg::Aes256Gcm.fixed_iv_len()
            ),
            (32, 4)
        );
        let c = AeadAlg::Chacha20Poly1305;
        assert_eq!(
            (c.key_len(), c.fixed_iv_len(), c.explicit_nonce_len()),
            (32, 12, 0)
        );
        assert_eq!(AeadAlg::Aes128Gcm.explicit_nonce_len(), 8);
        assert!(ALL.iter().all(|a| a.tag_len() == 16));
    }

    #[test]
    fn seal_then_open_round_trips_for_every_alg() {
        for alg in ALL {
            for plain in [&b""[..], b"x", &[0x42; 1000], &[7; MAX_PLAINTEXT]] {
                let mut rec = seal(alg, 5, 0x17, plain);
                let sealer = RecordSealer::new(alg, &keys(alg).0, &keys(alg).1).unwrap();
                assert_eq!(
                    rec.len(),
                    RECORD_HEADER_LEN + sealer.overhead() + plain.len()
                );
                let body_len = u16::from_be_bytes([rec[3], rec[4]]) as usize;
                assert_eq!(body_len, rec.len() - RECORD_HEADER_LEN);
                if alg != AeadAlg::Chacha20Poly1305 {
                    assert_eq!(rec[5..13], 5u64.to_be_bytes(), "explicit nonce is the seq");
                }
                assert_eq!(open(alg, 5, &mut rec).unwrap(), plain, "{alg:?}");
            }
        }
    }

    #[test]
    fn seal_appends_after_earlier_records_without_reallocating() {
        for alg in ALL {
            let (key, iv) = keys(alg);
            let sealer = RecordSealer::new(alg, &key, &iv).unwrap();
            let mut buf = Vec::with_capacity(2 * (RECORD_HEADER_LEN + sealer.overhead() + 3));
            let first = start_record(&mut buf, &sealer, 0x17);
            sealer.seal_record(0, &mut buf, first, b"one").unwrap();
            let second = start_record(&mut buf, &sealer, 0x17);
            let ptr = buf.as_ptr();
            sealer.seal_record(1, &mut buf, second, b"two").unwrap();
            assert_eq!(ptr, buf.as_ptr(), "reserved capacity is enough");
            assert_eq!(open(alg, 0, &mut buf[..second]).unwrap(), b"one");
            assert_eq!(open(alg, 1, &mut buf[second..]).unwrap(), b"two");
        }
    }

    #[test]
    fn any_flipped_bit_is_bad_record_mac() {
        for alg in ALL {
            let rec = seal(alg, 9, 0x17, b"attack at dawn");
            for byte in 0..rec.len() {
                // Byte 3 and 4 are the length: the deframer, not the AEAD, owns that.
                if byte == 3 || byte == 4 {
                    continue;
                }
                let mut bad = rec.clone();
                bad[byte] ^= 0x01;
                // Flipping the header changes the AAD (type, version), which must fail too.
                assert_eq!(
                    open(alg, 9, &mut bad),
                    Err(ProtocolError::BadRecordMac),
                    "{alg:?} byte {byte}"
                );
            }
        }
    }

    #[test]
    fn wrong_seq_or_truncation_is_bad_record_mac() {
        for alg in ALL {
            let rec = seal(alg, 9, 0x17, b"attack at dawn");
            assert_eq!(
                open(alg, 10, &mut rec.clone()),
                Err(ProtocolError::BadRecordMac)
            );
            for cut in [0, 1, 15, rec.len() - RECORD_HEADER_LEN - 1] {
                let mut short = rec[..rec.len() - cut].to_vec();
                if cut == 0 {
                    continue;
                }
                assert_eq!(open(alg, 9, &mut short), Err(ProtocolError::BadRecordMac));
            }
            let mut header_only = rec[..RECORD_HEADER_LEN].to_vec();
            assert_eq!(
                open(alg, 9, &mut header_only),
                Err(ProtocolError::BadRecordMac)
            );
        }
    }

    #[test]
    fn oversized_plaintext_is_refused_both_ways() {
        for alg in ALL {
            let (key, iv) = keys(alg);
            let sealer = RecordSealer::new(alg, &key, &iv).unwrap();
            let mut buf = Vec::new();
            let start = start_record(&mut buf, &sealer, 0x17);
            assert!(matches!(
                sealer.seal_record(0, &mut buf, start, &[0; MAX_PLAINTEXT + 1]),
                Err(LocalError::BufferFull { .. })
            ));

            // A peer that authenticates a 2^14 + 1 byte record gets record_overflow. Build it
            // with aws-lc-rs directly, since our sealer refuses to.
            let plain = vec![0u8; MAX_PLAINTEXT + 1];
            let dk = DirectionKey::new(alg, &key, &iv).unwrap();
            let seq_bytes = 3u64.to_be_bytes();
            let explicit = &seq_bytes[..alg.explicit_nonce_len()];
            let mut body = explicit.to_vec();
            body.extend_from_slice(&plain);
            let tag = dk
                .key
                .seal_in_place_separate_tag(
                    dk.nonce(3, explicit),
                    Aad::from(aad(3, 0x17, [3, 3], plain.len() as u16)),
                    &mut body[explicit.len()..],
                )
                .unwrap();
            body.extend_from_slice(tag.as_ref());
            let opener = RecordOpener::new(alg, &key, &iv).unwrap();
            assert_eq!(
                opener.open_record(
                    3,
                    ContentType::APPLICATION_DATA,
                    ProtocolVersion::TLS1_2,
                    &mut body
                ),
                Err(ProtocolError::RecordOverflow {
                    len: MAX_PLAINTEXT + 1,
                    max: MAX_PLAINTEXT
                })
            );
        }
    }

    #[test]
    fn bad_key_or_iv_length_is_refused() {
        for alg in ALL {
            let (key, iv) = keys(alg);
            assert!(RecordSealer::new(alg, &key[1..], &iv).is_err());
            assert!(RecordOpener::new(alg, &key, &iv[1..]).is_err());
            assert!(RecordOpener::new(alg, &key, &[0; 13]).is_err());
        }
    }

    // Records computed independently with Python `cryptography` (OpenSSL's AES-GCM and
    // ChaCha20-Poly1305), following RFC 5246 §6.2.3.3 with RFC 5288 / RFC 7905 nonces:
    // the plaintext is "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".
    const HTTP_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

    fn check_known_record(alg: AeadAlg, key: &[u8], iv: &[u8], seq: u64, typ: u8, want: &str) {
        let want = unhex(want);
        let sealer = RecordSealer::new(alg, key, iv).unwrap();
        let mut buf = Vec::new();
        let start = start_record(&mut buf, &sealer, typ);
        sealer.seal_record(seq, &mut buf, start, HTTP_GET).unwrap();
        assert_eq!(buf, want, "{alg:?} seal");

        let opener = RecordOpener::new(alg, key, iv).unwrap();
        let mut rec = want.clone();
        let range = opener
            .open_record(
                seq,
                ContentType(typ),
                ProtocolVersion::TLS1_2,
                &mut rec[RECORD_HEADER_LEN..],
            )
            .unwrap();
        assert_eq!(&rec[RECORD_HEADER_LEN..][range], HTTP_GET, "{alg:?} open");
    }

    #[test]
    fn aes_128_gcm_known_record() {
        check_known_record(
            AeadAlg::Aes128Gcm,
            &unhex("000102030405060708090a0b0c0d0e0f"),
            &unhex("a0a1a2a3"),
            0x0102_0304_0506_0708,
            0x17,
            "170303003d
             0102030405060708
             5b78cfea14e8d490d2f7d83136353b05f558f026933d13640a6815c2e08bd43575ce915f10
             573c7fe2153a3317ac6a6582a9b67115",
        );
    }

    #[test]
    fn aes_256_gcm_known_record() {
        check_known_record(
            AeadAlg::Aes256Gcm,
            &unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
            &unhex("b0b1b2b3"),
            1,
            0x16,
            "160303003d
             0000000000000001
             b84adf9da40d2617deb4c537615effe012d1946b92f1121402de52fa799b96333af4dfc166
             e328cbeb523bd36598c48ca4c47ec579",
        );
    }

    #[test]
    fn chacha20_poly1305_known_record() {
        check_known_record(
            AeadAlg::Chacha20Poly1305,
            &unhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"),
            &unhex("c0c1c2c3c4c5c6c7c8c9cacb"),
            0x0a0b_0c0d_0e0f_1011,
            0x17,
            "1703030035
             380d35ac139b7226313addf820d9f6f530958b380e5cc32cc604c927e8bedd4e3deff43515
             0e30b8f4829504eecb547ff2a9828746",
        );
    }

    /// RFC 8439 §2.8.2 through our ChaCha nonce construction: with the IV equal to the RFC's
    /// nonce and seq 0, the XOR leaves it unchanged; with seq s and IV = nonce XOR s, it
    /// comes back. (The RFC's AAD is not TLS-shaped, so the AEAD is driven directly.)
    #[test]
    fn rfc_8439_vector_through_chacha_nonce() {
        let key = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        let nonce = unhex("070000004041424344454647");
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let want = unhex(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
             3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
             92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
             3ff4def08e4b7a9de576d26586cec64b6116
             1ae10b594f09e26a7e902ecbd0600691",
        );
        let seq = 0x1122_3344_5566_7788u64;
        let mut iv = nonce.clone();
        for (b, s) in iv[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        for (iv, seq) in [(&nonce, 0u64), (&iv, seq)] {
            let dk = DirectionKey::new(AeadAlg::Chacha20Poly1305, &key, iv).unwrap();
            let mut buf = want.clone();
            let plain = dk
                .key
                .open_in_place(dk.nonce(seq, &[]), Aad::from(&aad[..]), &mut buf)
                .unwrap();
            assert!(plain.starts_with(b"Ladies and Gentlemen of the class of '99"));
        }
    }

    /// GCM specification (McGrew and Viega) test case 4 through our GCM nonce construction:
    /// salt = first 4 IV bytes, explicit nonce = last 8.
    #[test]
    fn gcm_test_case_4_through_gcm_nonce() {
        let key = unhex("feffe9928665731c6d6a8f9467308308");
        let aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let want_plain = unhex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let mut sealed = unhex(
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091
             5bc94fbc3221a5db94fae95ae7121a47",
        );
        let dk = DirectionKey::new(AeadAlg::Aes128Gcm, &key, &unhex("cafebabe")).unwrap();
        let nonce = dk.nonce(0, &unhex("facedbaddecaf888"));
        let plain = dk
            .key
            .open_in_place(nonce, Aad::from(&aad[..]), &mut sealed)
            .unwrap();
        assert_eq!(plain, &want_plain[..]);
    }
}
