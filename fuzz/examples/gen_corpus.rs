//! Writes the seed corpus under `fuzz/corpus/`: real handshakes of every scenario between
//! our own client and server, recorded with the same deterministic configs the connection
//! targets build, so each recording replays exactly against a fresh connection.
//!
//! - `server/`, `client/`: each side's whole flights (and its application's calls) in the
//!   format of `src/flight.rs`; TLS 1.3 records are stored decrypted, as sealed ops, so
//!   mutations land in the plaintext of encrypted messages.
//! - `codec_handshake/`, `codec_extension/`: every message and extension those handshakes
//!   carried, plus the real ClientHellos of `tlsmachine/tests/data/clienthellos/`.
//! - `deframer/`, `record_protect/`, `server_clienthello/`: small starts for each.
//!
//! Run from `fuzz/`: `cargo run --release --example gen_corpus`. Deterministic: running it
//! again rewrites the same files.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tlsmachine::codec::enums::{CipherSuite, HandshakeType};
use tlsmachine::codec::extensions::{ClientExtension, ServerExtension};
use tlsmachine::codec::handshake::{read_handshake, HandshakePayload};
use tlsmachine::codec::{Codec, Writer};
use tlsmachine::{Connection, KeyLog, Version};
use tlsmachine_fuzz::flight::{encode, Op};
use tlsmachine_fuzz::peer::{RecordKey, Secrets, Sender, EPOCHS};
use tlsmachine_fuzz::scenario::Scenario;

const CAPTURES: [(&str, &[u8]); 5] = [
    (
        "chromium-156",
        include_bytes!("../../tlsmachine/tests/data/clienthellos/chromium-156.bin"),
    ),
    (
        "curl-7.88",
        include_bytes!("../../tlsmachine/tests/data/clienthellos/curl-7.88.bin"),
    ),
    (
        "gnutls-3.7.9",
        include_bytes!("../../tlsmachine/tests/data/clienthellos/gnutls-3.7.9.bin"),
    ),
    (
        "openssl-3.0",
        include_bytes!("../../tlsmachine/tests/data/clienthellos/openssl-3.0.bin"),
    ),
    (
        "python-3.11",
        include_bytes!("../../tlsmachine/tests/data/clienthellos/python-3.11.bin"),
    ),
];

const TLS13_SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];

/// Corpus files by target, then name.
type Corpus = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut corpus = Corpus::new();
    for scenario in Scenario::ALL {
        record(scenario, &mut corpus);
    }
    for (name, wire) in CAPTURES {
        let msg = &wire[5..];
        add(
            &mut corpus,
            "codec_handshake",
            name,
            [&[0u8, msg[0]][..], &msg[4..]].concat(),
        );
        messages_and_extensions(&mut corpus, name, msg, None);
        add(
            &mut corpus,
            "server",
            name,
            encode(Scenario::Tls13, &[Op::Raw(wire.to_vec())]),
        );
        add(
            &mut corpus,
            "server",
            &format!("{name}-tls12"),
            encode(Scenario::Tls12, &[Op::Raw(wire.to_vec())]),
        );
    }
    small_starts(&mut corpus);

    for (target, files) in &corpus {
        // Files already there stay: the corpus also keeps inputs fuzzing found.
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).expect("corpus file");
        }
        let size: usize = files.values().map(Vec::len).sum();
        println!("{target}: {} files, {size} bytes", files.len());
    }
}

/// Files of one name (the two ClientHellos around a HelloRetryRequest) get numbered.
fn add(corpus: &mut Corpus, target: &'static str, name: &str, bytes: Vec<u8>) {
    let files = corpus.entry(target).or_default();
    let mut unique = name.to_string();
    for n in 2.. {
        if !files.contains_key(&unique) {
            break;
        }
        unique = format!("{name}-{n}");
    }
    files.insert(unique, bytes);
}

/// One side of the recording: its connection, its key log and what it sent so far.
struct Side {
    conn: Connection,
    secrets: Arc<Secrets>,
    sender: Sender,
    /// Records sent under each TLS 1.3 epoch, to open the next one.
    seqs: [u64; EPOCHS as usize],
    /// What the other side's target replays: this side's records and the other side's
    /// calls.
    ops: Vec<Op>,
}

impl Side {
    /// Moves what this side has queued into ops for the other side, decrypting the TLS 1.3
    /// records it can, and delivers it.
    fn send(&mut self, to: &mut Side) -> usize {
        let wire = self.conn.take_outgoing();
        let mut rest = wire.as_slice();
        while rest.len() >= 5 {
            let len = 5 + usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            let (record, tail) = rest.split_at(len);
            rest = tail;
            match self.open(record) {
                Some(op) => self.ops.push(op),
                None => match self.ops.last_mut() {
                    Some(Op::Raw(bytes)) => bytes.extend_from_slice(record),
                    _ => self.ops.push(Op::Raw(record.to_vec())),
                },
            }
        }
        to.conn
            .receive_data(&wire)
            .expect("the recorded handshake succeeds");
        wire.len()
    }

    fn open(&mut self, record: &[u8]) -> Option<Op> {
        if record[0] != 0x17 {
            return None;
        }
        let suites = match self.conn.negotiated().cipher_suite {
            Some(suite) => vec![suite],
            // A client's 0-RTT data goes out before the server has chosen: its ticket's suite.
            None => TLS13_SUITES.to_vec(),
        };
        for epoch in 0..EPOCHS {
            for suite in &suites {
                let Some(key) = RecordKey::find(&self.secrets, self.sender, *suite, epoch) else {
                    continue;
                };
                let seq = &mut self.seqs[usize::from(epoch)];
                if let Some((typ, content, padding)) = key.open(*seq, record) {
                    *seq += 1;
                    return Some(Op::Sealed {
                        epoch,
                        typ,
                        padding: padding as u8,
                        content,
                    });
                }
            }
        }
        None
    }
}

/// Runs one scenario between our client and server and keeps what each sent.
fn record(scenario: Scenario, corpus: &mut Corpus) {
    let client_secrets = Arc::new(Secrets::default());
    let server_secrets = Arc::new(Secrets::default());
    let log = |s: &Arc<Secrets>| Some(s.clone() as Arc<dyn KeyLog>);
    let mut c = Side {
        conn: scenario.start_client(scenario.client_config(log(&client_secrets))),
        secrets: client_secrets,
        sender: Sender::Client,
        seqs: [0; EPOCHS as usize],
        ops: Vec::new(),
    };
    let mut s = Side {
        conn: Connection::server(Arc::new(scenario.server_config(log(&server_secrets))))
            .expect("server config"),
        secrets: server_secrets,
        sender: Sender::Server,
        seqs: [0; EPOCHS as usize],
        ops: Vec::new(),
    };
    let exchange = |c: &mut Side, s: &mut Side| {
        for _ in 0..8 {
            if c.send(s) + s.send(c) == 0 {
                break;
            }
        }
    };
    exchange(&mut c, &mut s);
    assert!(
        !c.conn.is_handshaking() && !s.conn.is_handshaking(),
        "{scenario:?}: handshake incomplete"
    );
    // Application data both ways, as the targets' write op sends it.
    s.conn.write_data(b"fuzz").expect("server writes");
    c.ops.push(Op::Write);
    c.conn.write_data(b"fuzz").expect("client writes");
    s.ops.push(Op::Write);
    exchange(&mut c, &mut s);
    if c.conn.version() == Some(Version::Tls13) {
        c.conn.update_keys(true).expect("client updates its keys");
        s.ops.push(Op::UpdateKeys { ask_peer: true });
        exchange(&mut c, &mut s);
    }
    c.ops.push(Op::Read);
    s.ops.push(Op::Read);
    c.conn.close().expect("client closes");
    s.ops.push(Op::Close);
    exchange(&mut c, &mut s);

    let name = scenario.name();
    add(corpus, "server", name, encode(scenario, &c.ops));
    add(corpus, "client", name, encode(scenario, &s.ops));
    let version = c.conn.version();
    for (side, ops) in [("client", &c.ops), ("server", &s.ops)] {
        let mut hs = Vec::new();
        // TLS 1.2 handshake records after ChangeCipherSpec are encrypted; TLS 1.3's
        // ChangeCipherSpec only keeps middleboxes happy.
        let mut clear = true;
        for op in ops {
            match op {
                Op::Raw(wire) if clear => {
                    let (plain, ccs) = records(wire, 0x16);
                    hs.extend(plain);
                    clear = !ccs || version == Some(Version::Tls13);
                }
                Op::Sealed {
                    typ: 0x16, content, ..
                } => hs.extend_from_slice(content),
                _ => {}
            }
        }
        messages_and_extensions(corpus, &format!("{name}-{side}"), &hs, version);
    }
}

/// The contents of the records of type `typ` in `wire` up to a ChangeCipherSpec,
/// concatenated, and whether there was one.
fn records(wire: &[u8], typ: u8) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut rest = wire;
    while rest.len() >= 5 {
        let len = 5 + usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        match rest[0] {
            0x14 => return (out, true),
            t if t == typ => out.extend_from_slice(&rest[5..len]),
            _ => {}
        }
        rest = &rest[len..];
    }
    (out, false)
}

/// Each handshake message in `hs` (as a codec_handshake input) and each of its extensions
/// (as a codec_extension input). TLS 1.2's encrypted Finished is not among them.
fn messages_and_extensions(
    corpus: &mut Corpus,
    name: &str,
    mut hs: &[u8],
    version: Option<Version>,
) {
    while hs.len() >= 4 {
        let len = 4 + (usize::from(hs[1]) << 16 | usize::from(hs[2]) << 8 | usize::from(hs[3]));
        let (msg, tail) = hs.split_at(len.min(hs.len()));
        hs = tail;
        let typ = HandshakeType(msg[0]);
        let hello = matches!(msg[0], 1 | 2);
        let (selector, version) = match version {
            _ if hello => (0, None),
            Some(Version::Tls12) => (1, version),
            _ => (2, version),
        };
        let Ok(payload) = read_handshake(typ, &msg[4..], version) else {
            panic!("{name}: a recorded {typ:?} does not parse");
        };
        let label = format!("{name}-{:?}", payload.msg());
        add(
            corpus,
            "codec_handshake",
            &label,
            [&[selector, msg[0]][..], &msg[4..]].concat(),
        );
        let client =
            |exts: &[ClientExtension]| exts.iter().map(|e| (0u8, encoded(e))).collect::<Vec<_>>();
        let server = |selector: u8, exts: &[ServerExtension]| {
            exts.iter()
                .map(|e| (selector, encoded(e)))
                .collect::<Vec<_>>()
        };
        let exts = match &payload {
            HandshakePayload::ClientHello(h) => client(&h.extensions),
            HandshakePayload::CertificateRequest13(r) => client(&r.extensions),
            HandshakePayload::ServerHello(h) if h.is_retry_request() => server(2, &h.extensions),
            HandshakePayload::ServerHello(h) => server(1, &h.extensions),
            HandshakePayload::EncryptedExtensions(e) => server(3, &e.extensions),
            HandshakePayload::NewSessionTicket13(t) => server(4, &t.extensions),
            HandshakePayload::Certificate13(c) => c
                .entries
                .iter()
                .flat_map(|e| server(5, &e.extensions))
                .collect(),
            _ => Vec::new(),
        };
        for (selector, bytes) in exts {
            let ext = format!("{:04x}", u16::from_be_bytes([bytes[0], bytes[1]]));
            add(
                corpus,
                "codec_extension",
                &format!("{label}-{ext}"),
                [&[selector][..], &bytes].concat(),
            );
        }
    }
}

fn encoded(ext: &impl Codec) -> Vec<u8> {
    let mut out = Vec::new();
    ext.encode(&mut Writer::new(&mut out));
    out
}

/// Hand-made starts for the targets that take no recording.
fn small_starts(corpus: &mut Corpus) {
    // Alerts: a close_notify warning and a fatal handshake_failure.
    add(
        corpus,
        "codec_handshake",
        "alert-close-notify",
        vec![3, 1, 0],
    );
    add(
        corpus,
        "codec_handshake",
        "alert-handshake-failure",
        vec![3, 2, 40],
    );

    let server = corpus.get("server").cloned().unwrap_or_default();
    for (name, input) in server.iter().filter(|(n, _)| n.starts_with("tls1")) {
        // The client's flights as one stream, cut between flights and read as it comes,
        // first in the clear, then with the scenario's records sealed under TLS 1.3 keys.
        let mut plain = vec![0x10, 0];
        let mut sealed = vec![0x10, 2];
        for op in tlsmachine_fuzz::flight::parse(input).1 {
            match op {
                Op::Raw(wire) => {
                    for stream in [&mut plain, &mut sealed] {
                        stream.push(0);
                        stream.extend_from_slice(&(wire.len() as u16).to_be_bytes());
                        stream.extend_from_slice(&wire);
                        stream.push(2);
                    }
                }
                Op::Sealed { typ, content, .. } => {
                    sealed.extend_from_slice(&[1, typ]);
                    sealed.extend_from_slice(&(content.len() as u16).to_be_bytes());
                    sealed.extend_from_slice(&content);
                }
                _ => {}
            }
        }
        add(corpus, "deframer", &format!("{name}-plain"), plain);
        add(corpus, "deframer", &format!("{name}-sealed"), sealed);
    }

    // What found the deframer's stale cap: under a 20,000-byte cap (0x12: read as it
    // comes), a record of 3612 bytes read and done with, then 3613 bytes of a record of
    // the largest size, whose rest must still fit.
    let mut stream = vec![0x12, 0];
    let done = [&[0x17, 0x03, 0x03, 0x0e, 0x17][..], &[0xaa; 3607]].concat();
    let started = [&[0x17, 0x03, 0x03, 0x40, 0x00][..], &[0xbb; 3608]].concat();
    for piece in [done, started] {
        stream.push(0);
        stream.extend_from_slice(&(piece.len() as u16).to_be_bytes());
        stream.extend_from_slice(&piece);
        stream.push(2);
    }
    add(
        corpus,
        "deframer",
        "stale-cap-refuses-rest-of-record",
        stream,
    );

    // Each AEAD in each version, with a short record and a full one.
    for selector in [0u8, 1, 2, 0x80, 0x81, 0x82] {
        let mut head = vec![selector];
        head.extend_from_slice(&7u64.to_be_bytes());
        head.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x05, 0x00]);
        // A record of the largest plaintext allowed, for one AEAD per version.
        let full = [(1 << 14, "full")];
        let sizes = if selector & 0x7f == 0 { &full[..] } else { &[] };
        for &(size, label) in [(32, "short")].iter().chain(sizes) {
            let mut input = head.clone();
            input.extend((0..size).map(|i| i as u8));
            add(
                corpus,
                "record_protect",
                &format!("{selector:02x}-{label}"),
                input,
            );
        }
    }

    // Each scenario with each base hello unedited, then with one edit.
    for scenario in Scenario::ALL {
        for base in 0..10u8 {
            let name = format!("{}-{base}", scenario.name());
            add(
                corpus,
                "server_clienthello",
                &name,
                vec![scenario.byte(), base, 0, 0, 0, 0],
            );
        }
    }
}
