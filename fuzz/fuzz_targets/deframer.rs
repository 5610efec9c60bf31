//! The deframer: a byte stream of records (plain, or sealed under TLS 1.2 or 1.3 keys)
//! split at arbitrary points must give the same records, handshake messages, application
//! data and error as the same stream pushed at once, and never hold more than its cap.
//!
//! Input: a config byte (buffer cap, handshake message cap, keys), then operations:
//! `0, len u16, bytes` appends raw bytes; `1, type u8, len u16, bytes` appends a record
//! sealed by the library's own sealer (or plain, without keys); `2` ends a chunk: what
//! came since the last chunk is pushed at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmachine::codec::enums::{ContentType, HandshakeType};
use tlsmachine::codec::limits::MAX_CIPHERTEXT;
use tlsmachine::crypto::aead::AeadAlg;
use tlsmachine::error::{LocalError, ProtocolError};
use tlsmachine::testing::{Deframer, Opener, Sealer};

const KEY: [u8; 32] = [0x42; 32];
const IV: [u8; 12] = [0x24; 12];

#[derive(Debug, PartialEq)]
enum Out {
    Record(ContentType, Vec<u8>, bool),
    Message(HandshakeType, Vec<u8>),
    Error(ProtocolError),
}

#[derive(Clone, Copy)]
enum Keys {
    None,
    Tls12(AeadAlg),
    Tls13(AeadAlg),
}

impl Keys {
    fn from_byte(b: u8) -> Self {
        const ALGS: [AeadAlg; 3] = [
            AeadAlg::Aes128Gcm,
            AeadAlg::Aes256Gcm,
            AeadAlg::Chacha20Poly1305,
        ];
        let alg = ALGS[usize::from(b / 3) % 3];
        match b % 3 {
            0 => Keys::None,
            1 => Keys::Tls12(alg),
            _ => Keys::Tls13(alg),
        }
    }

    fn key(self, alg: AeadAlg) -> &'static [u8] {
        &KEY[..alg.key_len()]
    }

    fn tls12_iv(alg: AeadAlg) -> &'static [u8] {
        &IV[..alg.fixed_iv_len()]
    }

    fn opener(self) -> Option<Opener> {
        match self {
            Keys::None => None,
            Keys::Tls12(alg) => Opener::tls12(alg, self.key(alg), Self::tls12_iv(alg)).ok(),
            Keys::Tls13(alg) => Opener::tls13(alg, self.key(alg), &IV).ok(),
        }
    }

    fn sealer(self) -> Option<Sealer> {
        match self {
            Keys::None => None,
            Keys::Tls12(alg) => Sealer::tls12(alg, self.key(alg), Self::tls12_iv(alg)).ok(),
            Keys::Tls13(alg) => Sealer::tls13(alg, self.key(alg), &IV).ok(),
        }
    }
}

/// What one run saw; `full` tells whether the buffer cap stopped it.
struct Run {
    out: Vec<Out>,
    plaintext: Vec<u8>,
    full: bool,
}

/// Pushes `stream` in the pieces `cuts` ends, processing after each.
fn run(config: u8, keys: Keys, stream: &[u8], cuts: &[usize]) -> Run {
    // Caps that hold many records, one (but not two) of the largest, and less than one.
    let max_buffered = [1 << 15, 1 << 17, 20_000, 300][usize::from(config % 4)];
    let max_handshake = [1 << 16, 1024, 64, 0][usize::from(config / 4 % 4)];
    let reading = config & 0x10 != 0;
    let mut d = Deframer::new(max_buffered, max_handshake);
    let mut run = Run {
        out: Vec::new(),
        plaintext: Vec::new(),
        full: false,
    };
    if let Some(opener) = keys.opener() {
        d.set_opener(opener).expect("nothing buffered yet");
    }
    let mut from = 0;
    for &cut in cuts {
        match d.push(&stream[from..cut]) {
            Ok(()) => {}
            Err(LocalError::BufferFull { .. }) => {
                run.full = true;
                return run;
            }
            Err(e) => panic!("push: {e:?}"),
        }
        from = cut;
        if let Err(e) = drain(&mut d, &mut run.out) {
            run.out.push(Out::Error(e));
            break;
        }
        assert!(
            d.plaintext_len() <= max_buffered,
            "plaintext held past the cap"
        );
        if reading {
            read_all(&mut d, &mut run.plaintext);
            // An application that has read everything can always receive the rest of
            // the record in progress, or it waits forever (with a cap that holds one).
            if max_buffered >= MAX_CIPHERTEXT + 5 {
                let records = run
                    .out
                    .iter()
                    .filter(|o| matches!(o, Out::Record(..)))
                    .count();
                let pending = &stream[record_end(stream, records)..cut];
                let next = match pending {
                    [_, _, _, hi, lo, ..] => 5 + usize::from(u16::from_be_bytes([*hi, *lo])),
                    _ => MAX_CIPHERTEXT + 5,
                };
                let free = d.free_space();
                assert!(
                    free >= next - pending.len(),
                    "{free} bytes free, {} needed to finish the record",
                    next - pending.len()
                );
            }
        }
    }
    read_all(&mut d, &mut run.plaintext);
    run
}

fn read_all(d: &mut Deframer, out: &mut Vec<u8>) {
    let mut buf = vec![0u8; d.plaintext_len()];
    assert_eq!(d.read_plaintext(&mut buf), buf.len());
    out.extend_from_slice(&buf);
}

/// Where the first `records` records of `stream` end.
fn record_end(stream: &[u8], records: usize) -> usize {
    let mut at = 0;
    for _ in 0..records {
        let len = u16::from_be_bytes([stream[at + 3], stream[at + 4]]);
        at += 5 + usize::from(len);
    }
    at
}

fn drain(d: &mut Deframer, out: &mut Vec<Out>) -> Result<(), ProtocolError> {
    while let Some(record) = d.next_record()? {
        let bytes = d.bytes(record.range.clone()).to_vec();
        out.push(Out::Record(record.typ, bytes, record.protected));
        match record.typ {
            ContentType::HANDSHAKE => {
                d.push_handshake(record.range)?;
                while let Some((typ, raw)) = d.next_handshake()? {
                    out.push(Out::Message(typ, raw));
                }
            }
            ContentType::APPLICATION_DATA => d.queue_plaintext(record.range),
            _ => {}
        }
    }
    Ok(())
}

fn take_len<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let len = match rest {
        [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => 0,
    };
    *rest = rest.get(2..).unwrap_or_default();
    let (bytes, tail) = rest.split_at(len.min(rest.len()));
    *rest = tail;
    bytes
}

fuzz_target!(|data: &[u8]| {
    let [config, keys, rest @ ..] = data else {
        return;
    };
    let mut rest = rest;
    let keys = Keys::from_byte(*keys);
    let sealer = keys.sealer();
    let mut stream = Vec::new();
    let mut cuts = Vec::new();
    let mut seq = 0;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 3 {
            0 => stream.extend_from_slice(take_len(&mut rest)),
            1 => {
                let typ = ContentType(rest.first().copied().unwrap_or(0x17));
                rest = rest.get(1..).unwrap_or_default();
                let content = take_len(&mut rest);
                match sealer.as_ref().map(|s| s.seal(seq, typ, content)) {
                    Some(Ok(record)) => {
                        stream.extend_from_slice(&record);
                        seq += 1;
                    }
                    // Too long to seal, or no keys: the plain record a peer would send.
                    _ => {
                        let content = &content[..content.len().min(0xffff)];
                        stream.extend_from_slice(&[typ.0, 0x03, 0x03]);
                        stream.extend_from_slice(&(content.len() as u16).to_be_bytes());
                        stream.extend_from_slice(content);
                    }
                }
            }
            _ => cuts.push(stream.len()),
        }
    }
    cuts.push(stream.len());

    let split = run(*config, keys, &stream, &cuts);
    let whole = run(*config, keys, &stream, &[stream.len()]);
    if whole.full {
        // Pushed at once the stream did not fit; in pieces it may have.
        return;
    }
    assert!(!split.full, "pieces overflowed where the whole stream fit");
    assert_eq!(
        split.out, whole.out,
        "splitting the stream changed what came out"
    );
    assert_eq!(split.plaintext, whole.plaintext);

    // Reassembly loses and invents nothing: the messages are the handshake records'
    // contents, in order, up to a message still incomplete.
    let contents: Vec<u8> = split
        .out
        .iter()
        .filter_map(|o| match o {
            Out::Record(ContentType::HANDSHAKE, bytes, _) => Some(bytes.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    let messages: Vec<u8> = split
        .out
        .iter()
        .filter_map(|o| match o {
            Out::Message(_, raw) => Some(raw.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    assert!(
        contents.starts_with(&messages),
        "reassembled messages differ from the records"
    );
});
