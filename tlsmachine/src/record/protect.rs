//! Record protection, per version: TLS 1.2 AEAD records (RFC 5246 §6.2.3.3, RFC 5288 for
//! AES-GCM, RFC 7905 for ChaCha20-Poly1305) and TLS 1.3 records (RFC 8446 §5.2, §5.3), both
//! sealed in one pass into the output and opened in place.
//!
//! The two versions differ in three places, each a `match` on [`Layout`] below: the nonce
//! (TLS 1.2 GCM sends 8 bytes of it with each record; everything else XORs the sequence
//! number into the IV), the additional data (TLS 1.2 authenticates sequence number, type,
//! version and plaintext length; TLS 1.3 the record header), and TLS 1.3's inner content
//! type, which hides the real type behind an outer application_data.

use core::fmt;
use core::ops::Range;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::codec::enums::{ContentType, ProtocolVersion};
use crate::codec::limits::{MAX_PLAINTEXT, RECORD_HEADER_LEN};
use crate::crypto::aead::AeadAlg;
use crate::error::{InvalidMessage, LocalError, ProtocolError};
use crate::names::Version;

const TAG_LEN: usize = AeadAlg::TAG_LEN;

/// seq_num(8) + type(1) + version(2) + length(2).
const TLS12_AAD_LEN: usize = 13;

/// How a record is laid out around its ciphertext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Tls12,
    Tls13,
}

/// Key and IV for one direction, wiped on drop.
#[derive(ZeroizeOnDrop)]
struct DirectionKey {
    #[zeroize(skip)]
    alg: AeadAlg,
    #[zeroize(skip)]
    layout: Layout,
    /// The AEAD key lives only inside aws-lc, in memory it allocates with `OPENSSL_malloc`;
    /// `OPENSSL_free` cleanses it when the `LessSafeKey` is dropped (aws-lc
    /// `crypto/mem.c`). The raw key bytes it was made from are the caller's `Zeroizing`.
    #[zeroize(skip)]
    key: LessSafeKey,
    // TLS 1.2 GCM uses only the first four bytes (the salt); the rest stay zero.
    iv: Zeroizing<[u8; NONCE_LEN]>,
}

impl DirectionKey {
    fn new(alg: AeadAlg, layout: Layout, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        if key.len() != alg.key_len() {
            return Err(LocalError::Crypto("AEAD key has the wrong length"));
        }
        let iv_len = match layout {
            Layout::Tls12 => alg.fixed_iv_len(),
            Layout::Tls13 => NONCE_LEN,
        };
        if iv.len() != iv_len {
            return Err(LocalError::Crypto("AEAD IV has the wrong length"));
        }
        let unbound = UnboundKey::new(alg.aws_lc(), key)
            .map_err(|_| LocalError::Crypto("aws-lc-rs refused the AEAD key"))?;
        let mut padded = Zeroizing::new([0u8; NONCE_LEN]);
        padded[..iv.len()].copy_from_slice(iv);
        Ok(DirectionKey {
            alg,
            layout,
            key: LessSafeKey::new(unbound),
            iv: padded,
        })
    }

    /// Bytes of nonce sent in front of the ciphertext: only TLS 1.2's GCM has any.
    fn explicit_nonce_len(&self) -> usize {
        match self.layout {
            Layout::Tls12 => self.alg.explicit_nonce_len(),
            Layout::Tls13 => 0,
        }
    }

    /// Bytes a record adds to its content: explicit nonce, TLS 1.3's inner type, tag.
    fn overhead(&self) -> usize {
        let inner_type = usize::from(self.layout == Layout::Tls13);
        self.explicit_nonce_len() + inner_type + TAG_LEN
    }

    /// The record nonce. For TLS 1.2 GCM, `explicit` is the 8 bytes sent with the record.
    fn nonce(&self, seq: u64, explicit: &[u8]) -> Nonce {
        let mut n = *self.iv;
        match (self.layout, self.alg) {
            (Layout::Tls12, AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm) => {
                n[4..].copy_from_slice(explicit)
            }
            //= https://www.rfc-editor.org/rfc/rfc8446#section-5.3
            //# The 64-bit record sequence number is encoded in network byte order and
            //# padded to the left with zeros to iv_length.
            //#
            //# The padded sequence number is XORed with either the static
            //# client_write_iv or server_write_iv (depending on the role).
            _ => {
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
fn tls12_aad(seq: u64, typ: u8, version: [u8; 2], plain_len: u16) -> [u8; TLS12_AAD_LEN] {
    let mut a = [0u8; TLS12_AAD_LEN];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = typ;
    a[9..11].copy_from_slice(&version);
    a[11..].copy_from_slice(&plain_len.to_be_bytes());
    a
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-5.2
//# additional_data = TLSCiphertext.opaque_type ||
//#                   TLSCiphertext.legacy_record_version ||
//#                   TLSCiphertext.length
fn tls13_aad(ciphertext_len: u16) -> [u8; RECORD_HEADER_LEN] {
    let len = ciphertext_len.to_be_bytes();
    [ContentType::APPLICATION_DATA.0, 0x03, 0x03, len[0], len[1]]
}

/// Encrypts outgoing records for one connection direction.
#[derive(ZeroizeOnDrop)]
pub(crate) struct Sealer(DirectionKey);

impl Sealer {
    /// TLS 1.2: `key` and `iv` are this direction's write key and write IV from the key block.
    pub(crate) fn tls12(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        DirectionKey::new(alg, Layout::Tls12, key, iv).map(Sealer)
    }

    /// TLS 1.3: the write key and 12-byte IV of a traffic secret.
    pub(crate) fn tls13(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        DirectionKey::new(alg, Layout::Tls13, key, iv).map(Sealer)
    }

    /// The version whose layout this sealer writes.
    pub(crate) fn version(&self) -> Version {
        match self.0.layout {
            Layout::Tls12 => Version::Tls12,
            Layout::Tls13 => Version::Tls13,
        }
    }

    /// The AEAD; its limits decide when TLS 1.3 must update the key.
    pub(crate) fn alg(&self) -> AeadAlg {
        self.0.alg
    }

    /// The length of the record that carries `plain_len` bytes of content.
    pub(crate) fn record_len(&self, plain_len: usize) -> usize {
        RECORD_HEADER_LEN + self.0.overhead() + plain_len
    }

    /// Writes a whole protected record of type `typ` carrying `plaintext` at the start of
    /// `out`, and returns its length. Encryption reads the plaintext and writes the
    /// ciphertext in one pass, with no copy first; `out` must hold
    /// [`record_len`](Self::record_len) bytes.
    pub(crate) fn seal_into(
        &self,
        seq: u64,
        typ: ContentType,
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
        let explicit_len = self.0.explicit_nonce_len();
        let Some(record) = out.get_mut(..record_len) else {
            return Err(LocalError::BufferFull {
                what: "record output",
                cap: out.len(),
            });
        };
        let (header, body) = record.split_at_mut(RECORD_HEADER_LEN);
        let (explicit, body) = body.split_at_mut(explicit_len);
        let (ciphertext, extra_and_tag) = body.split_at_mut(plain_len);
        // At most 8 + 2^14 + 1 + 16 bytes, well inside u16.
        let body_len = (record_len - RECORD_HEADER_LEN) as u16;
        let seq_bytes = seq.to_be_bytes();
        let mut seal = |nonce, aad: &[u8], extra_in: &[u8], extra_and_tag: &mut [u8]| {
            self.0
                .key
                .seal_out_of_place_scatter(
                    nonce,
                    Aad::from(aad),
                    plaintext,
                    ciphertext,
                    extra_in,
                    extra_and_tag,
                )
                .map_err(|_| LocalError::Crypto("AEAD seal failed"))
        };
        match self.0.layout {
            Layout::Tls12 => {
                header[0] = typ.0;
                header[1..3].copy_from_slice(&ProtocolVersion::TLS1_2.0.to_be_bytes());
                header[3..].copy_from_slice(&body_len.to_be_bytes());
                // RFC 5288 §3 lets the explicit nonce be the sequence number, which can never
                // repeat under one key, so no nonce state is needed beyond `seq`.
                explicit.copy_from_slice(&seq_bytes[..explicit_len]);
                let nonce = self.0.nonce(seq, &seq_bytes[..explicit_len]);
                // Checked against MAX_PLAINTEXT above, so this cannot truncate.
                let aad = tls12_aad(seq, typ.0, [0x03, 0x03], plain_len as u16);
                seal(nonce, &aad, &[], extra_and_tag)?;
            }
            Layout::Tls13 => {
                let aad = tls13_aad(body_len);
                header.copy_from_slice(&aad);
                // The real type travels encrypted after the content, with no padding.
                seal(self.0.nonce(seq, &[]), &aad, &[typ.0], extra_and_tag)?;
            }
        }
        Ok(record_len)
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("alg", &self.0.alg)
            .field("layout", &self.0.layout)
            .finish_non_exhaustive()
    }
}

/// Decrypts incoming records for one connection direction.
#[derive(ZeroizeOnDrop)]
pub(crate) struct Opener(DirectionKey);

/// What [`Opener::open`] found inside a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    /// The content type: the header's in TLS 1.2, the inner one in TLS 1.3.
    pub(crate) typ: ContentType,
    /// Where the content lies inside the record body.
    pub(crate) range: Range<usize>,
}

impl Opener {
    /// TLS 1.2: `key` and `iv` are the peer's write key and write IV from the key block.
    pub(crate) fn tls12(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        DirectionKey::new(alg, Layout::Tls12, key, iv).map(Opener)
    }

    /// TLS 1.3: the peer's write key and 12-byte IV of a traffic secret.
    pub(crate) fn tls13(alg: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, LocalError> {
        DirectionKey::new(alg, Layout::Tls13, key, iv).map(Opener)
    }

    /// The version whose layout this opener reads.
    pub(crate) fn version(&self) -> Version {
        match self.0.layout {
            Layout::Tls12 => Version::Tls12,
            Layout::Tls13 => Version::Tls13,
        }
    }

    /// The largest record body this version allows (RFC 5246 §6.2.3, RFC 8446 §5.2).
    pub(crate) fn max_body(&self) -> usize {
        match self.0.layout {
            Layout::Tls12 => MAX_PLAINTEXT + 2048,
            Layout::Tls13 => MAX_PLAINTEXT + 256,
        }
    }

    /// Opens one record body (`body`, everything after the 5-byte header) in place.
    ///
    /// Every failure to authenticate, including a body too short to hold nonce and tag, is
    /// [`ProtocolError::BadRecordMac`]: the peer learns nothing about which check failed.
    pub(crate) fn open(
        &self,
        seq: u64,
        typ: ContentType,
        version: ProtocolVersion,
        body: &mut [u8],
    ) -> Result<Opened, ProtocolError> {
        let explicit_len = self.0.explicit_nonce_len();
        if body.len() < explicit_len + TAG_LEN {
            return Err(ProtocolError::BadRecordMac);
        }
        let (explicit, sealed) = body.split_at_mut(explicit_len);
        let content_len = sealed.len() - TAG_LEN;
        // A length that does not fit the header's u16 cannot have been sealed by anyone.
        let len_field = |len: usize| u16::try_from(len).map_err(|_| ProtocolError::BadRecordMac);
        let (typ, content_len) = match self.0.layout {
            Layout::Tls12 => {
                let nonce = self.0.nonce(seq, explicit);
                let aad = tls12_aad(seq, typ.0, version.0.to_be_bytes(), len_field(content_len)?);
                self.0
                    .key
                    .open_in_place(nonce, Aad::from(aad), sealed)
                    .map_err(|_| ProtocolError::BadRecordMac)?;
                (typ, content_len)
            }
            Layout::Tls13 => {
                let len = len_field(sealed.len())?.to_be_bytes();
                let v = version.0.to_be_bytes();
                let aad = [typ.0, v[0], v[1], len[0], len[1]];
                let inner = self
                    .0
                    .key
                    .open_in_place(self.0.nonce(seq, &[]), Aad::from(aad), sealed)
                    .map_err(|_| ProtocolError::BadRecordMac)?;
                //= https://www.rfc-editor.org/rfc/rfc8446#section-5.4
                //# If a receiving implementation does not
                //# find a non-zero octet in the cleartext, it MUST terminate the
                //# connection with an "unexpected_message" alert.
                let end = inner
                    .iter()
                    .rposition(|b| *b != 0)
                    .ok_or(InvalidMessage::NoContentType)?;
                (ContentType(inner[end]), end)
            }
        };
        // Checked after authentication so only a genuine record from the peer can cause
        // record_overflow.
        //= https://www.rfc-editor.org/rfc/rfc8446#section-5.4
        //# The length MUST NOT exceed 2^14 + 1 octets.
        if content_len > MAX_PLAINTEXT {
            return Err(ProtocolError::RecordOverflow {
                len: content_len,
                max: MAX_PLAINTEXT,
            });
        }
        Ok(Opened {
            typ,
            range: explicit_len..explicit_len + content_len,
        })
    }
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("alg", &self.0.alg)
            .field("layout", &self.0.layout)
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

    /// Seals one whole record into a fresh buffer.
    fn seal_with(sealer: &Sealer, seq: u64, typ: u8, plain: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; sealer.record_len(plain.len())];
        let n = sealer
            .seal_into(seq, ContentType(typ), plain, &mut buf)
            .unwrap();
        assert_eq!(n, buf.len());
        buf
    }

    fn seal(alg: AeadAlg, seq: u64, typ: u8, plain: &[u8]) -> Vec<u8> {
        let (key, iv) = keys(alg);
        seal_with(&Sealer::tls12(alg, &key, &iv).unwrap(), seq, typ, plain)
    }

    fn open_with(opener: &Opener, seq: u64, record: &mut [u8]) -> Result<Opened, ProtocolError> {
        let typ = ContentType(record[0]);
        let version = ProtocolVersion(u16::from_be_bytes([record[1], record[2]]));
        opener.open(seq, typ, version, &mut record[RECORD_HEADER_LEN..])
    }

    fn open(alg: AeadAlg, seq: u64, record: &mut [u8]) -> Result<Vec<u8>, ProtocolError> {
        let (key, iv) = keys(alg);
        let opened = open_with(&Opener::tls12(alg, &key, &iv).unwrap(), seq, record)?;
        Ok(record[RECORD_HEADER_LEN..][opened.range].to_vec())
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
                let overhead = alg.explicit_nonce_len() + TAG_LEN;
                assert_eq!(rec.len(), RECORD_HEADER_LEN + overhead + plain.len());
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
            let sealer = Sealer::tls12(alg, &key, &iv).unwrap();
            let mut buf = vec![0u8; MAX_PLAINTEXT + 100];
            assert!(matches!(
                sealer.seal_into(
                    0,
                    ContentType::APPLICATION_DATA,
                    &[0; MAX_PLAINTEXT + 1],
                    &mut buf
                ),
                Err(LocalError::BufferFull { .. })
            ));

            // A peer that authenticates a 2^14 + 1 byte record gets record_overflow. Build it
            // with aws-lc-rs directly, since our sealer refuses to.
            let plain = vec![0u8; MAX_PLAINTEXT + 1];
            let dk = DirectionKey::new(alg, Layout::Tls12, &key, &iv).unwrap();
            let seq_bytes = 3u64.to_be_bytes();
            let explicit = &seq_bytes[..alg.explicit_nonce_len()];
            let mut body = explicit.to_vec();
            body.extend_from_slice(&plain);
            let tag = dk
                .key
                .seal_in_place_separate_tag(
                    dk.nonce(3, explicit),
                    Aad::from(tls12_aad(3, 0x17, [3, 3], plain.len() as u16)),
                    &mut body[explicit.len()..],
                )
                .unwrap();
            body.extend_from_slice(tag.as_ref());
            let opener = Opener::tls12(alg, &key, &iv).unwrap();
            assert_eq!(
                opener.open(
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
            assert!(Sealer::tls12(alg, &key[1..], &iv).is_err());
            assert!(Opener::tls12(alg, &key, &iv[1..]).is_err());
            assert!(Opener::tls12(alg, &key, &[0; 13]).is_err());
            assert!(Sealer::tls13(alg, &key, &[0; 4]).is_err());
            assert!(Sealer::tls13(alg, &key, &[0; 12]).is_ok());
            assert!(Opener::tls13(alg, &key, &[0; 11]).is_err());
        }
    }

    // Records computed independently with Python `cryptography` (OpenSSL's AES-GCM and
    // ChaCha20-Poly1305), following RFC 5246 §6.2.3.3 with RFC 5288 / RFC 7905 nonces:
    // the plaintext is "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".
    const HTTP_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

    fn check_known_record(alg: AeadAlg, key: &[u8], iv: &[u8], seq: u64, typ: u8, want: &str) {
        let want = unhex(want);
        let sealer = Sealer::tls12(alg, key, iv).unwrap();
        assert_eq!(seal_with(&sealer, seq, typ, HTTP_GET), want, "{alg:?} seal");

        let opener = Opener::tls12(alg, key, iv).unwrap();
        let mut rec = want.clone();
        let opened = open_with(&opener, seq, &mut rec).unwrap();
        assert_eq!(opened.typ, ContentType(typ));
        assert_eq!(
            &rec[RECORD_HEADER_LEN..][opened.range],
            HTTP_GET,
            "{alg:?} open"
        );
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
            let dk = DirectionKey::new(AeadAlg::Chacha20Poly1305, Layout::Tls12, &key, iv).unwrap();
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
        let dk =
            DirectionKey::new(AeadAlg::Aes128Gcm, Layout::Tls12, &key, &unhex("cafebabe")).unwrap();
        let nonce = dk.nonce(0, &unhex("facedbaddecaf888"));
        let plain = dk
            .key
            .open_in_place(nonce, Aad::from(&aad[..]), &mut sealed)
            .unwrap();
        assert_eq!(plain, &want_plain[..]);
    }

    /// Seals a TLS 1.3 record by hand with aws-lc-rs: `inner` is content || type || padding,
    /// exactly as the peer chose it.
    fn tls13_by_hand(alg: AeadAlg, seq: u64, inner: &[u8]) -> Vec<u8> {
        let (key, _) = keys(alg);
        let iv = [0x5a; 12];
        let dk = DirectionKey::new(alg, Layout::Tls13, &key, &iv).unwrap();
        let len = (inner.len() + TAG_LEN) as u16;
        let aad = tls13_aad(len);
        let mut body = inner.to_vec();
        let tag = dk
            .key
            .seal_in_place_separate_tag(dk.nonce(seq, &[]), Aad::from(aad), &mut body)
            .unwrap();
        body.extend_from_slice(tag.as_ref());
        [&aad[..], &body].concat()
    }

    fn tls13_pair(alg: AeadAlg) -> (Sealer, Opener) {
        let (key, _) = keys(alg);
        (
            Sealer::tls13(alg, &key, &[0x5a; 12]).unwrap(),
            Opener::tls13(alg, &key, &[0x5a; 12]).unwrap(),
        )
    }

    #[test]
    fn tls13_records_hide_their_type_behind_application_data() {
        for alg in ALL {
            let (sealer, opener) = tls13_pair(alg);
            for (typ, plain) in [
                (ContentType::HANDSHAKE, &b"\x14\x00\x00\x00"[..]),
                (ContentType::ALERT, &[0x01, 0x00][..]),
                (ContentType::APPLICATION_DATA, &[0x42; MAX_PLAINTEXT][..]),
            ] {
                let mut rec = seal_with(&sealer, 7, typ.0, plain);
                assert_eq!(&rec[..3], &[0x17, 0x03, 0x03], "outer type and version");
                assert_eq!(rec.len(), RECORD_HEADER_LEN + plain.len() + 1 + TAG_LEN);
                let opened = open_with(&opener, 7, &mut rec).unwrap();
                assert_eq!(opened.typ, typ);
                assert_eq!(&rec[RECORD_HEADER_LEN..][opened.range], plain);
                // A sealed record is bound to its sequence number.
                let mut again = seal_with(&sealer, 7, typ.0, plain);
                assert_eq!(
                    open_with(&opener, 8, &mut again),
                    Err(ProtocolError::BadRecordMac)
                );
            }
        }
    }

    #[test]
    fn tls13_padding_is_stripped_and_all_padding_refused() {
        for alg in ALL {
            let (_, opener) = tls13_pair(alg);
            let mut padded = tls13_by_hand(alg, 0, b"hi\x17\x00\x00\x00\x00");
            let opened = open_with(&opener, 0, &mut padded).unwrap();
            assert_eq!(opened.typ, ContentType::APPLICATION_DATA);
            assert_eq!(&padded[RECORD_HEADER_LEN..][opened.range], b"hi");

            // An empty record of some type is legal (the type byte is there).
            let mut empty = tls13_by_hand(alg, 1, b"\x17");
            let opened = open_with(&opener, 1, &mut empty).unwrap();
            assert!(opened.range.is_empty());

            for inner in [&[0u8; 0][..], &[0u8; 1][..], &[0u8; 300][..]] {
                let mut zeros = tls13_by_hand(alg, 2, inner);
                let err = open_with(&opener, 2, &mut zeros).unwrap_err();
                assert_eq!(err, ProtocolError::Decode(InvalidMessage::NoContentType));
                assert_eq!(err.alert().name(), Some("unexpected_message"));
            }
        }
    }

    #[test]
    fn tls13_overflow_flipped_bits_and_headers_are_refused() {
        for alg in ALL {
            let (sealer, opener) = tls13_pair(alg);
            // 2^14 + 1 bytes of content plus the type: record_overflow, after authentication.
            let mut inner = vec![0x61; MAX_PLAINTEXT + 1];
            inner.push(0x17);
            let mut big = tls13_by_hand(alg, 3, &inner);
            assert_eq!(
                open_with(&opener, 3, &mut big),
                Err(ProtocolError::RecordOverflow {
                    len: MAX_PLAINTEXT + 1,
                    max: MAX_PLAINTEXT
                })
            );
            // Padding may take a full record beyond 2^14 of content: not an overflow.
            let mut inner = vec![0x61; MAX_PLAINTEXT];
            inner.extend_from_slice(&[0x17, 0, 0, 0]);
            let mut padded = tls13_by_hand(alg, 4, &inner);
            assert!(open_with(&opener, 4, &mut padded).is_ok());

            let rec = seal_with(&sealer, 9, 0x17, b"attack at dawn");
            for byte in (0..rec.len()).filter(|b| *b != 3 && *b != 4) {
                let mut bad = rec.clone();
                bad[byte] ^= 0x01;
                assert_eq!(
                    open_with(&opener, 9, &mut bad),
                    Err(ProtocolError::BadRecordMac),
                    "{alg:?} byte {byte}"
                );
            }
            assert_eq!(opener.max_body(), MAX_PLAINTEXT + 256);
            assert_eq!(sealer.version(), Version::Tls13);
        }
    }
}
