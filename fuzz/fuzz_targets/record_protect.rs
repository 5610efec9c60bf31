//! Record protection, TLS 1.2 and 1.3, every AEAD:
//! - arbitrary bytes never open (bad_record_mac, whatever the header says);
//! - what the library seals opens to the same type and content, and one flipped bit
//!   anywhere in the record makes it bad_record_mac;
//! - TLS 1.3 records sealed by the independent sealer in `src/peer.rs` (with padding) open
//!   in the library to the same content, and the library's open there: the two
//!   implementations must agree.
//!
//! Input: selector (version, AEAD), seq u64, content type, record version u16, flip
//! position u16, padding u8, then the bytes used as ciphertext and as plaintext.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmachine::codec::enums::{ContentType, ProtocolVersion};
use tlsmachine::codec::limits::MAX_PLAINTEXT;
use tlsmachine::crypto::aead::AeadAlg;
use tlsmachine::error::ProtocolError;
use tlsmachine::testing::{Opener, Sealer};
use tlsmachine_fuzz::peer::RecordKey;

const KEY: [u8; 32] = [0x42; 32];
const IV: [u8; 12] = [0x24; 12];

fuzz_target!(|data: &[u8]| {
    if data.len() < 15 {
        return;
    }
    let (head, bytes) = data.split_at(15);
    let alg = [
        AeadAlg::Aes128Gcm,
        AeadAlg::Aes256Gcm,
        AeadAlg::Chacha20Poly1305,
    ][usize::from(head[0] % 3)];
    let tls13 = head[0] & 0x80 != 0;
    let seq = u64::from_be_bytes(head[1..9].try_into().expect("8 bytes"));
    let typ = ContentType(head[9]);
    let version = ProtocolVersion(u16::from_be_bytes([head[10], head[11]]));
    let flip = usize::from(u16::from_be_bytes([head[12], head[13]]));
    let padding = usize::from(head[14]);

    let key = &KEY[..alg.key_len()];
    let (opener, sealer) = if tls13 {
        (Opener::tls13(alg, key, &IV), Sealer::tls13(alg, key, &IV))
    } else {
        let iv = &IV[..alg.fixed_iv_len()];
        (Opener::tls12(alg, key, iv), Sealer::tls12(alg, key, iv))
    };
    let (opener, sealer) = (opener.expect("valid key"), sealer.expect("valid key"));

    // Nobody without the key can make a record that opens.
    let mut body = bytes.to_vec();
    assert_eq!(
        opener.open(seq, typ, version, &mut body),
        Err(ProtocolError::BadRecordMac)
    );

    // TLS 1.3 finds the content type as the last non-zero byte: type 0 cannot be sent,
    // and the connection never seals it.
    if tls13 && typ.0 == 0 {
        return;
    }
    let plaintext = &bytes[..bytes.len().min(MAX_PLAINTEXT)];
    let record = sealer.seal(seq, typ, plaintext).expect("within limits");
    let header = |record: &[u8]| {
        (
            ContentType(record[0]),
            ProtocolVersion(u16::from_be_bytes([record[1], record[2]])),
        )
    };
    let open = |record: &[u8]| {
        let (outer, version) = header(record);
        let mut body = record[5..].to_vec();
        opener
            .open(seq, outer, version, &mut body)
            .map(|(typ, range)| (typ, body[range].to_vec()))
    };
    assert_eq!(open(&record), Ok((typ, plaintext.to_vec())));
    let mut flipped = record.clone();
    let at = flip % flipped.len();
    flipped[at] ^= 1 << (head[14] % 8);
    // The header's length is what the deframer cuts the body by; `open` is given the body
    // whole, so those two bytes play no part here.
    if !(3..5).contains(&at) {
        assert!(
            open(&flipped).is_err(),
            "a flipped bit at {at} went unnoticed"
        );
    }

    if tls13 {
        let theirs = RecordKey::new(alg, key, IV).expect("valid key");
        let sealed = theirs.seal(seq, typ.0, bytes, padding);
        let opened = open(&sealed);
        let content = &bytes[..bytes.len().min(0xffff - 17 - padding)];
        if content.len() + padding + 1 + 16 > MAX_PLAINTEXT + 256 {
            // Records this long never reach `open`: the deframer refuses the header.
        } else if content.len() > MAX_PLAINTEXT {
            assert!(matches!(opened, Err(ProtocolError::RecordOverflow { .. })));
        } else {
            assert_eq!(opened, Ok((typ, content.to_vec())));
        }
        assert_eq!(
            theirs.open(seq, &record),
            Some((typ.0, plaintext.to_vec(), 0))
        );
    }
});
