//! Real ClientHellos captured from common clients, plus robustness runs over them and the
//! golden messages: truncation and deterministic mutation must never panic.

use super::*;
use crate::codec::alert::Alert;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/clienthellos/");

/// Loads one captured record and returns the ClientHello body, checking both headers.
fn load(name: &str) -> Vec<u8> {
    let record = std::fs::read(format!("{DIR}{name}")).unwrap();
    let mut r = Reader::new(&record);
    assert_eq!(
        r.u8("content type").unwrap(),
        0x16,
        "{name}: handshake record"
    );
    assert_eq!(r.u16("record version").unwrap() >> 8, 0x03, "{name}");
    let fragment = r.vec_u16("fragment").unwrap();
    r.finish("record").unwrap();
    let (typ, body) = split(fragment);
    assert_eq!(typ, HandshakeType::CLIENT_HELLO, "{name}");
    assert_eq!(
        body.len() + 9,
        record.len(),
        "{name}: one message per record"
    );
    body.to_vec()
}

/// Where the extension block starts: truncating the body exactly there leaves a valid,
/// extension-less hello.
fn extensions_offset(ch: &ClientHello) -> usize {
    2 + 32
        + 1
        + ch.session_id.as_slice().len()
        + 2
        + 2 * ch.cipher_suites.len()
        + 1
        + ch.compression_methods.len()
}

struct Sample {
    file: &'static str,
    check: fn(&ClientHello),
}

const SAMPLES: &[Sample] = &[
    Sample {
        file: "chromium-156.bin",
        check: |ch| {
            assert_eq!(
                ch.cipher_suites[0],
                CipherSuite(0x2a2a),
                "GREASE suite kept"
            );
            for grease in [0x3a3a, 0xbaba] {
                assert!(ch.extensions.contains(&ClientExtension::Unknown {
                    typ: ExtensionType(grease),
                    data: if grease == 0xbaba { vec![0x00] } else { vec![] },
                }));
            }
            assert_eq!(
                ch.supported_groups(),
                Some(
                    &[
                        NamedGroup(0x6a6a),
                        NamedGroup::X25519MLKEM768,
                        NamedGroup::X25519,
                        NamedGroup::SECP256R1,
                        NamedGroup::SECP384R1,
                    ][..]
                )
            );
            assert_eq!(
                ch.supported_versions(),
                Some(
                    &[
                        ProtocolVersion(0x3a3a),
                        ProtocolVersion::TLS1_3,
                        ProtocolVersion::TLS1_2
                    ][..]
                )
            );
            assert_eq!(
                ch.signature_algorithms().map(|s| s[0]),
                Some(SignatureScheme(0x8a8a))
            );
            for typ in [
                0xca34, // unassigned
                0x44cd, // ALPS
                0xfe0d, // ECH GREASE
                0x001b, // compress_certificate
                0x0033, // key_share, with the 1216-byte X25519MLKEM768 share
            ] {
                assert!(
                    ch.extensions.iter().any(|e| matches!(
                        e,
                        ClientExtension::Unknown { typ: t, .. } if t.0 == typ
                    )),
                    "0x{typ:04x} kept as Unknown"
                );
            }
            let key_share = ch.extensions.iter().find_map(|e| match e {
                ClientExtension::Unknown { typ, data } if *typ == ExtensionType::KEY_SHARE => {
                    Some(data.len())
                }
                _ => None,
            });
            assert_eq!(key_share, Some(1263));
            assert_eq!(ch.alpn(), Some(&[b"h2".to_vec(), b"http/1.1".to_vec()][..]));
            assert_eq!(ch.renegotiation_info(), Some(&[][..]));
            assert_eq!(ch.session_ticket(), Some(&[][..]));
            assert_eq!(
                ch.ec_point_formats(),
                Some(&[EcPointFormat::UNCOMPRESSED][..])
            );
        },
    },
    Sample {
        file: "curl-7.88.bin",
        check: |ch| {
            assert_eq!(ch.alpn(), Some(&[b"h2".to_vec(), b"http/1.1".to_vec()][..]));
            assert!(ch.has_extension(ExtensionType::PADDING));
            assert!(ch.has_extension(ExtensionType::POST_HANDSHAKE_AUTH));
            assert_eq!(ch.session_ticket(), None);
            assert_eq!(
                ch.cipher_suites.last(),
                Some(&CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
            );
        },
    },
    Sample {
        file: "gnutls-3.7.9.bin",
        check: |ch| {
            assert!(ch.has_extension(ExtensionType::RECORD_SIZE_LIMIT));
            assert_eq!(
                ch.supported_groups().map(|g| &g[..5]),
                Some(
                    &[
                        NamedGroup::SECP256R1,
                        NamedGroup::SECP384R1,
                        NamedGroup::SECP521R1,
                        NamedGroup::X25519,
                        NamedGroup::X448,
                    ][..]
                )
            );
            assert_eq!(ch.renegotiation_info(), Some(&[][..]));
            assert_eq!(ch.session_ticket(), Some(&[][..]));
            // Order is kept as sent: gnutls puts server_name after its key shares.
            let at = |typ| ch.extensions.iter().position(|e| e.typ() == typ);
            assert!(at(ExtensionType::KEY_SHARE).is_some());
            assert!(at(ExtensionType::SERVER_NAME) > at(ExtensionType::KEY_SHARE));
        },
    },
    Sample {
        file: "openssl-3.0.bin",
        check: |ch| {
            assert_eq!(ch.session_ticket(), Some(&[][..]));
            assert!(ch.has_extension(ExtensionType::ENCRYPT_THEN_MAC));
            assert_eq!(ch.alpn(), None);
        },
    },
    Sample {
        file: "python-3.11.bin",
        check: |ch| {
            assert!(ch.has_extension(ExtensionType::PADDING));
            // The folder README lists post_handshake_auth for this capture, but the bytes
            // do not contain it.
            assert!(!ch.has_extension(ExtensionType::POST_HANDSHAKE_AUTH));
            assert_eq!(ch.session_ticket(), Some(&[][..]));
            assert_eq!(
                ch.supported_versions(),
                Some(&[ProtocolVersion::TLS1_3, ProtocolVersion::TLS1_2][..])
            );
        },
    },
];

#[test]
fn every_sample_file_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    files.sort();
    let known: Vec<&str> = SAMPLES.iter().map(|s| s.file).collect();
    assert_eq!(files, known);
}

#[test]
fn real_client_hellos_parse_and_re_encode_exactly() {
    for sample in SAMPLES {
        let body = load(sample.file);
        let payload = read_handshake(HandshakeType::CLIENT_HELLO, &body)
            .unwrap_or_else(|e| panic!("{}: {e}", sample.file));
        let HandshakePayload::ClientHello(ch) = &payload else {
            panic!("{}: not a ClientHello", sample.file)
        };

        // What every one of these clients sends.
        assert_eq!(
            ch.legacy_version,
            ProtocolVersion::TLS1_2,
            "{}",
            sample.file
        );
        assert_eq!(ch.session_id.as_slice().len(), 32, "{}", sample.file);
        assert_eq!(ch.compression_methods, [CompressionMethod::NULL]);
        assert_eq!(ch.server_name(), Some(&b"localhost"[..]), "{}", sample.file);
        assert!(ch.ems_offered(), "{}", sample.file);
        assert!(ch.signature_algorithms().is_some(), "{}", sample.file);
        let versions = ch.supported_versions().unwrap();
        assert!(
            versions.contains(&ProtocolVersion::TLS1_3),
            "{}",
            sample.file
        );
        assert!(
            versions.contains(&ProtocolVersion::TLS1_2),
            "{}",
            sample.file
        );
        (sample.check)(ch);

        let mut out = Vec::new();
        payload.encode_body(&mut Writer::new(&mut out));
        assert_eq!(out, body, "{}: re-encoding", sample.file);
    }
}

#[test]
fn every_truncation_of_every_sample_fails_cleanly() {
    for sample in SAMPLES {
        let body = load(sample.file);
        let Ok(HandshakePayload::ClientHello(full)) =
            read_handshake(HandshakeType::CLIENT_HELLO, &body)
        else {
            panic!("{}", sample.file)
        };
        let no_extensions = extensions_offset(&full);
        for len in 0..body.len() {
            let result = read_handshake(HandshakeType::CLIENT_HELLO, &body[..len]);
            if len == no_extensions {
                let Ok(HandshakePayload::ClientHello(ch)) = result else {
                    panic!("{}: cut before extensions: {result:?}", sample.file)
                };
                assert!(ch.extensions.is_empty());
            } else {
                assert!(result.is_err(), "{}: cut at {len} parsed", sample.file);
            }
        }
    }
}

/// xorshift64: deterministic, so a failure reproduces from the iteration number alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Decodes `body`; whatever decodes must survive encode → decode unchanged.
fn decode_never_panics(typ: HandshakeType, body: &[u8]) {
    if let Ok(payload) = read_handshake(typ, body) {
        let mut again = Vec::new();
        payload.encode(&mut again);
        let (typ2, body2) = split(&again);
        assert_eq!(read_handshake(typ2, body2).as_ref(), Ok(&payload));
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            // Length fields are where parsers break, and they are small numbers near the
            // real value, so nudge bytes as often as we replace them.
            0 | 1 if !m.is_empty() => {
                let at = rng.below(m.len());
                m[at] = rng.next() as u8;
            }
            2 if !m.is_empty() => {
                let at = rng.below(m.len());
                m[at] = m[at].wrapping_add(1 + rng.below(2) as u8);
            }
            3 if !m.is_empty() => {
                let at = rng.below(m.len());
                m[at] = m[at].wrapping_sub(1);
            }
            4 => {
                let at = rng.below(m.len() + 1);
                m.insert(at, rng.next() as u8);
            }
            _ if !m.is_empty() => {
                let at = rng.below(m.len());
                m.remove(at);
            }
            _ => {}
        }
    }
    m
}

#[test]
fn mutated_samples_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    for sample in SAMPLES {
        let body = load(sample.file);
        for _ in 0..1000 {
            let m = mutate(&mut rng, &body);
            decode_never_panics(HandshakeType::CLIENT_HELLO, &m);
            decoded += usize::from(read_handshake(HandshakeType::CLIENT_HELLO, &m).is_ok());
        }
    }
    // Some mutations land in randoms, session IDs or opaque extension data and still parse;
    // if none did, the mutator would only be testing the first length check.
    assert!(decoded > 100, "only {decoded} mutants parsed");
}

#[test]
fn mutated_golden_messages_never_panic() {
    let goldens = [
        CLIENT_HELLO,
        CLIENT_HELLO_NO_EXTENSIONS,
        SERVER_HELLO,
        CERTIFICATE,
        SERVER_KEY_EXCHANGE,
        CERTIFICATE_REQUEST,
        CLIENT_KEY_EXCHANGE,
        CERTIFICATE_VERIFY,
        NEW_SESSION_TICKET,
        FINISHED,
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for golden in goldens {
        let (typ, body) = split(golden);
        for i in 0..500 {
            let m = mutate(&mut rng, body);
            // Every tenth mutant is also read as some other message type.
            let typ = if i % 10 == 0 {
                HandshakeType(rng.next() as u8 % 0x16)
            } else {
                typ
            };
            decode_never_panics(typ, &m);
        }
        for len in 0..body.len() {
            decode_never_panics(typ, &body[..len]);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..2000 {
        let len = rng.below(96);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let typ = HandshakeType(rng.next() as u8 % 0x16);
        decode_never_panics(typ, &bytes);
        let _ = Alert::read_record(&bytes);
    }
}
