//! RFC 8448's example handshakes replayed byte for byte: §3 (a full 1-RTT handshake), §5
//! (HelloRetryRequest), §4 (resuming §3's ticket, with 0-RTT data) and §7 (middlebox
//! compatibility mode) in both roles, §6 (client authentication) in the client role.
//!
//! Our side is made to be the RFC's: its randoms and ephemeral private keys come from a
//! scripted random source in the order we draw them, its clock stands still, and our
//! CertificateVerify is the RFC's recorded signature (RSA-PSS is randomized, so it cannot be
//! made again). Where the RFC's implementation chose differently from
//! anything we can be configured to do, a [`Replay`] hook brings the messages we build into
//! the RFC's form before anything is derived from them; each such difference is listed,
//! with its reason, where the hook is set up. Then every record we send must equal the
//! RFC's, every record of the RFC's peer must be accepted, and every secret the key log
//! shows must equal the RFC's.
//!
//! The vectors are `tests/data/rfc8448/` (see its README).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::digest;
use rustls_pki_types::{CertificateDer, UnixTime};
use zeroize::Zeroizing;

use super::tests::CaptureKeys;
use super::*;
use crate::codec::enums::{ExtensionType, HandshakeType, NamedGroup, SignatureScheme};
use crate::codec::extensions::ClientExtension;
use crate::codec::handshake::{read_handshake, HandshakePayload};
use crate::config::{ClientConfig, ServerConfig, ServerVerification};
use crate::crypto::fixed::FixedTime;
use crate::crypto::sign::{KeyKind, Signer};
use crate::crypto::sigverify::SignatureError;
use crate::crypto::suites::{
    SupportedSuite, TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384,
    TLS13_CHACHA20_POLY1305_SHA256,
};
use crate::crypto::{Provider, SecureRandom, DEFAULT_GROUPS};
use crate::negotiated::EarlyData;
use crate::replay::Replay;
use crate::session::{ClientSessionCache, SessionStore, StoredSession};

/// The clock of every replay: January 2019, when RFC 8448 was published. It stands still,
/// so the §4 ticket is used in the second the §3 handshake made it.
const NOW: u64 = 1_548_000_000;

/// The name the RFC's client asks for.
const SERVER_NAME: &str = "server";

/// Extension types whose content a ClientHello of ours takes from the RFC's, where the RFC's
/// has them: ones we send only when offering TLS 1.2 (renegotiation_info, session_ticket)
/// or never (record_size_limit, RFC 8449; padding, RFC 7685), and lists of values we do
/// not implement (supported_groups with secp521r1 and the FFDHE groups;
/// signature_algorithms with SHA-1 and DSA schemes). Everything else is ours: random,
/// legacy_session_id, suites, server_name, key_share, supported_versions,
/// psk_key_exchange_modes, early_data, pre_shared_key.
const THEIRS_IN_CLIENT_HELLO: &[ExtensionType] = &[
    ExtensionType::RENEGOTIATION_INFO,
    ExtensionType::SESSION_TICKET,
    ExtensionType::RECORD_SIZE_LIMIT,
    ExtensionType::PADDING,
    ExtensionType::SUPPORTED_GROUPS,
    ExtensionType::SIGNATURE_ALGORITHMS,
];

/// One RFC section's values, by the names of `tests/data/rfc8448/README.md`.
struct Trace(HashMap<&'static str, Vec<u8>>);

impl Trace {
    fn section3() -> Self {
        Self::parse(include_str!("../../tests/data/rfc8448/section3.txt"))
    }

    fn section4() -> Self {
        Self::parse(include_str!("../../tests/data/rfc8448/section4.txt"))
    }

    fn section5() -> Self {
        Self::parse(include_str!("../../tests/data/rfc8448/section5.txt"))
    }

    fn section6() -> Self {
        Self::parse(include_str!("../../tests/data/rfc8448/section6.txt"))
    }

    fn section7() -> Self {
        Self::parse(include_str!("../../tests/data/rfc8448/section7.txt"))
    }

    fn parse(text: &'static str) -> Self {
        let values = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (name, hex) = line.split_once('=').expect("a `name = hex` line");
                (name.trim(), crate::crypto::tests_util::unhex(hex))
            })
            .collect();
        Trace(values)
    }

    fn get(&self, name: &str) -> Vec<u8> {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in the trace"))
            .clone()
    }

    /// The named values one after the other: a flight of records, say.
    fn concat(&self, names: &[&str]) -> Vec<u8> {
        names.iter().flat_map(|name| self.get(name)).collect()
    }

    /// The named handshake message (header included), parsed as TLS 1.3.
    fn message(&self, name: &str) -> HandshakePayload {
        let bytes = self.get(name);
        let len = u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]) as usize;
        assert_eq!(len, bytes.len() - 4, "{name} is one whole message");
        let message =
            read_handshake(HandshakeType(bytes[0]), &bytes[4..], Some(Version::Tls13)).unwrap();
        let mut again = Vec::new();
        message.encode(&mut again);
        assert_eq!(again, bytes, "{name} re-encodes as it was");
        message
    }

    /// The certificate chain of the named Certificate message.
    fn chain(&self, name: &str) -> Vec<CertificateDer<'static>> {
        match self.message(name) {
            HandshakePayload::Certificate13(certificate) => certificate.chain(),
            other => panic!("not a Certificate: {other:?}"),
        }
    }

    /// The recorded signature of the named CertificateVerify, made with `scheme`.
    fn signature(&self, name: &str, scheme: SignatureScheme) -> Vec<u8> {
        match self.message(name) {
            HandshakePayload::CertificateVerify(cv) => {
                assert_eq!(cv.scheme, scheme);
                cv.signature
            }
            other => panic!("not a CertificateVerify: {other:?}"),
        }
    }

    /// What a CertificateVerify signs (RFC 8446 §4.4.3): `context` and the hash of the
    /// transcript made of the named messages; a first ClientHello answered by a
    /// HelloRetryRequest (`retried`) enters it as a message_hash (§4.4.1).
    fn signed_content(&self, context: &str, retried: Option<&str>, messages: &[&str]) -> Vec<u8> {
        let mut transcript = Vec::new();
        if let Some(first) = retried {
            transcript.extend_from_slice(&[0xfe, 0x00, 0x00, 0x20]);
            transcript.extend_from_slice(sha256(&self.get(first)).as_ref());
        }
        transcript.extend(self.concat(messages));
        let mut content = vec![0x20; 64];
        content.extend_from_slice(context.as_bytes());
        content.push(0x00);
        content.extend_from_slice(sha256(&transcript).as_ref());
        content
    }

    /// What the RFC's server signed.
    fn server_signed_content(&self, retried: Option<&str>, messages: &[&str]) -> Vec<u8> {
        self.signed_content("TLS 1.3, server CertificateVerify", retried, messages)
    }
}

fn sha256(data: &[u8]) -> digest::Digest {
    digest::digest(&digest::SHA256, data)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares in hex, so a failure shows where the bytes part.
fn assert_bytes(what: &str, ours: &[u8], rfc: &[u8]) {
    assert_eq!(
        hex(ours),
        hex(rfc),
        "{what}: ours (left) and the RFC's (right)"
    );
}

/// The RFC's random values and private keys, handed out in the order we draw them. A
/// draw of another size than the next value, or one too many, fails the test.
#[derive(Debug)]
struct Scripted(Mutex<VecDeque<Vec<u8>>>);

impl Scripted {
    fn assert_all_drawn(&self) {
        let left = self.0.lock().unwrap();
        assert!(
            left.is_empty(),
            "{} scripted values never drawn",
            left.len()
        );
    }
}

impl SecureRandom for Scripted {
    fn fill(&self, out: &mut [u8]) -> Result<(), LocalError> {
        let next = self.0.lock().unwrap().pop_front();
        let next = next.unwrap_or_else(|| panic!("a draw of {} bytes after the script", out.len()));
        assert_eq!(
            next.len(),
            out.len(),
            "a draw of another size than scripted"
        );
        out.copy_from_slice(&next);
        Ok(())
    }
}

fn provider(values: Vec<Vec<u8>>) -> (Provider, Arc<Scripted>) {
    let script = Arc::new(Scripted(Mutex::new(values.into())));
    let provider = Provider {
        random: script.clone(),
        time: Arc::new(FixedTime(UnixTime::since_unix_epoch(Duration::from_secs(
            NOW,
        )))),
        suites: crate::crypto::suites::DEFAULT_SUITES,
        groups: DEFAULT_GROUPS,
    };
    (provider, script)
}

/// The suites both RFC peers offer, in the client's order.
fn rfc_suites() -> Vec<SupportedSuite> {
    vec![
        (&TLS13_AES_128_GCM_SHA256).into(),
        (&TLS13_CHACHA20_POLY1305_SHA256).into(),
        (&TLS13_AES_256_GCM_SHA384).into(),
    ]
}

/// A message of ours, and the RFC's it must take the form of.
#[derive(Debug)]
struct Shape {
    rfc: HandshakePayload,
    /// Extension types whose content is the RFC's (why: where the shape is made). The
    /// others are ours, in the RFC's order. A NewSessionTicket takes its nonce and ticket
    /// from the RFC's and keeps the rest.
    theirs: Vec<ExtensionType>,
}

/// The replay hook: the RFC's messages ours must take the form of, in the order we build
/// them, and, in the client role, what the RFC's server signed and its signature.
#[derive(Debug)]
struct Rfc8448 {
    shapes: Mutex<VecDeque<Shape>>,
    server_signature: Option<(Vec<u8>, Vec<u8>)>,
}

impl Rfc8448 {
    fn new(shapes: Vec<Shape>, server_signature: Option<(Vec<u8>, Vec<u8>)>) -> Arc<Self> {
        Arc::new(Self {
            shapes: Mutex::new(shapes.into()),
            server_signature,
        })
    }

    fn assert_all_shaped(&self) {
        let left = self.shapes.lock().unwrap();
        assert!(left.is_empty(), "messages never built: {left:?}");
    }
}

impl Replay for Rfc8448 {
    fn shape(&self, message: &mut HandshakePayload) {
        let shape = self.shapes.lock().unwrap().pop_front();
        let Shape { rfc, theirs } =
            shape.unwrap_or_else(|| panic!("we built {message:?}, the trace has no more"));
        match (message, &rfc) {
            (HandshakePayload::ClientHello(ours), HandshakePayload::ClientHello(rfc)) => {
                ours.extensions = reshape(&ours.extensions, &rfc.extensions, &theirs, |e| e.typ());
                // The ticket we offer is ours (the one the §3 handshake gave us) but its age
                // is the RFC's: its client measured 6 ms, our clock counts whole seconds.
                if let (Some(ClientExtension::PreSharedKey(ours)), Some(rfc)) =
                    (ours.extensions.last_mut(), rfc.offered_psks())
                {
                    let (ours, rfc) = (&mut ours.identities[0], &rfc.identities[0]);
                    assert_bytes("offered ticket", &ours.identity, &rfc.identity);
                    let ms = rfc
                        .obfuscated_ticket_age
                        .wrapping_sub(ours.obfuscated_ticket_age);
                    assert!(
                        ms < 1000,
                        "our ticket age differs by {ms} ms, not a fraction"
                    );
                    ours.obfuscated_ticket_age = rfc.obfuscated_ticket_age;
                }
            }
            (HandshakePayload::ServerHello(ours), HandshakePayload::ServerHello(rfc)) => {
                ours.extensions = reshape(&ours.extensions, &rfc.extensions, &theirs, |e| e.typ());
            }
            (
                HandshakePayload::EncryptedExtensions(ours),
                HandshakePayload::EncryptedExtensions(rfc),
            ) => {
                ours.extensions = reshape(&ours.extensions, &rfc.extensions, &theirs, |e| e.typ());
            }
            (
                HandshakePayload::NewSessionTicket13(ours),
                HandshakePayload::NewSessionTicket13(rfc),
            ) => {
                ours.nonce = rfc.nonce.clone();
                ours.ticket = rfc.ticket.clone();
            }
            (ours, rfc) => panic!("we built {ours:?} where the trace has {rfc:?}"),
        }
    }

    // The RFC's server key is 1024-bit RSA, below the 2048 bits that webpki and aws-lc-rs
    // verify RSA-PSS with, so our client cannot check the recorded signature itself (see
    // the data README for where it was checked). What is checked here is that the content
    // our client would verify, from its own transcript, is byte for byte what the RFC's
    // server signed, and that the signature is the recorded one.
    fn verify_signature(
        &self,
        scheme: SignatureScheme,
        content: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>> {
        let (signed, recorded) = self.server_signature.as_ref()?;
        assert_eq!(scheme, SignatureScheme::RSA_PSS_RSAE_SHA256);
        assert_bytes("CertificateVerify content", content, signed);
        assert_bytes("CertificateVerify signature", signature, recorded);
        Some(Ok(()))
    }
}

/// Our extensions in the RFC's order, except those of the `theirs` types, which are the
/// RFC's. Each extension we send must be in the RFC's message and each RFC extension not in
/// `theirs` must be one we send, so nothing of ours is dropped or made up unnoticed.
fn reshape<E: Clone + core::fmt::Debug>(
    ours: &[E],
    rfc: &[E],
    theirs: &[ExtensionType],
    typ: impl Fn(&E) -> ExtensionType,
) -> Vec<E> {
    for ext in ours {
        assert!(
            rfc.iter().any(|r| typ(r) == typ(ext)),
            "we send {ext:?}, the RFC does not"
        );
    }
    for t in theirs {
        assert!(
            rfc.iter().any(|r| typ(r) == *t),
            "{t:?} is not in the RFC's message"
        );
    }
    rfc.iter()
        .map(|r| {
            if theirs.contains(&typ(r)) {
                return r.clone();
            }
            let ours = ours.iter().find(|o| typ(o) == typ(r));
            ours.cloned()
                .unwrap_or_else(|| panic!("the RFC sends {r:?}, we do not"))
        })
        .collect()
}

/// The key signing for the RFC's certificate: it answers with the RFC's recorded signature,
/// and only for the content the RFC's server signed.
#[derive(Debug)]
struct RecordedSigner {
    kind: KeyKind,
    scheme: SignatureScheme,
    content: Vec<u8>,
    signature: Vec<u8>,
}

impl Signer for RecordedSigner {
    fn kind(&self) -> KeyKind {
        self.kind
    }

    fn sign(&self, scheme: SignatureScheme, msg: &[u8]) -> Result<Vec<u8>, LocalError> {
        assert_eq!(scheme, self.scheme);
        assert_bytes("content we sign", msg, &self.content);
        Ok(self.signature.clone())
    }
}

/// The RFC's RSA server certificate (§3, §4, §5, §7), its key answering with the recorded
/// RSA-PSS signature over `signed`.
fn rfc_server_key(t: &Trace, signed: Vec<u8>) -> CertifiedKey {
    let scheme = SignatureScheme::RSA_PSS_RSAE_SHA256;
    let signer = RecordedSigner {
        kind: KeyKind::Rsa,
        scheme,
        content: signed,
        signature: t.signature("certificate_verify", scheme),
    };
    CertifiedKey::with_signer(t.chain("certificate"), Arc::new(signer)).unwrap()
}

/// A client reproducing the RFC's: TLS 1.3 only, its suites, an X25519 share, no
/// middlebox compatibility (§3 to §5 send an empty legacy_session_id), and the RFC's
/// certificate accepted unchecked: its name is "rsa", not "server", and its 1024-bit RSA
/// key is one no path validation would take.
fn client_config(
    random: Vec<Vec<u8>>,
    replay: Arc<Rfc8448>,
    keys: Arc<CaptureKeys>,
    cache: Arc<ClientSessionCache>,
) -> (ClientConfig, Arc<Scripted>) {
    let (provider, script) = provider(random);
    let mut config =
        ClientConfig::with_verification(ServerVerification::DangerousAcceptAnyCertificate);
    config.provider = provider;
    config.versions = vec![Version::Tls13];
    config.cipher_suites = rfc_suites();
    config.groups = vec![
        NamedGroup::X25519,
        NamedGroup::SECP256R1,
        NamedGroup::SECP384R1,
    ];
    config.key_share_groups = vec![NamedGroup::X25519];
    config.middlebox_compat = false;
    config.session_cache = Some(cache);
    config.key_log = Some(keys);
    config.replay = Some(replay);
    (config, script)
}

/// A server reproducing the RFC's: TLS 1.3 only, its suites, `key`, no tickets unless
/// asked; tickets are kept in `store` (the RFC's ticket is an opaque identity, which only a
/// stateful ticket can be).
fn server_config(
    key: CertifiedKey,
    random: Vec<Vec<u8>>,
    replay: Arc<Rfc8448>,
    keys: Arc<CaptureKeys>,
    store: Arc<dyn SessionStore>,
) -> (ServerConfig, Arc<Scripted>) {
    let (provider, script) = provider(random);
    let mut config = ServerConfig::new(Arc::new(key));
    config.provider = provider;
    config.versions = vec![Version::Tls13];
    config.cipher_suites = rfc_suites();
    config.groups = vec![
        NamedGroup::X25519,
        NamedGroup::SECP256R1,
        NamedGroup::SECP384R1,
    ];
    config.stateful_tickets = true;
    config.session_store = Some(store);
    config.tls13_tickets = 0;
    config.key_log = Some(keys);
    config.replay = Some(replay);
    (config, script)
}

/// The server's ticket store: MemoryStore keeps identities of at most 32 bytes (ours are
/// 32), the RFC's ticket is 178.
#[derive(Debug, Default)]
struct TicketStore(Mutex<HashMap<Vec<u8>, Zeroizing<Vec<u8>>>>);

impl SessionStore for TicketStore {
    fn get(&self, id: &[u8], _now: UnixTime) -> Option<Zeroizing<Vec<u8>>> {
        self.0.lock().unwrap().get(id).cloned()
    }

    fn put(&self, id: &[u8], value: Zeroizing<Vec<u8>>, _now: UnixTime) {
        self.0.lock().unwrap().insert(id.to_vec(), value);
    }

    fn remove(&self, id: &[u8]) {
        self.0.lock().unwrap().remove(id);
    }
}

/// Each secret the key log shows, against the RFC's value of that name.
fn assert_secrets(t: &Trace, keys: &CaptureKeys, labels: &[(&str, &str)]) {
    for (label, name) in labels {
        assert_bytes(label, &keys.secret(label), &t.get(name));
    }
}

const HANDSHAKE_SECRETS: &[(&str, &str)] = &[
    ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "c_hs_traffic"),
    ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "s_hs_traffic"),
    ("CLIENT_TRAFFIC_SECRET_0", "c_ap_traffic"),
    ("SERVER_TRAFFIC_SECRET_0", "s_ap_traffic"),
    ("EXPORTER_SECRET", "exp_master"),
];

/// The client's part after its handshake: the trace's application data both ways, then
/// its close_notify and the server's answer.
fn client_exchanges_app_data_and_closes(c: &mut Connection, t: &Trace) {
    c.write_data(&t.get("client_app_data_record_payload"))
        .unwrap();
    assert_bytes(
        "application data",
        &c.take_outgoing(),
        &t.get("client_app_data_record"),
    );
    c.receive_data(&t.get("server_app_data_record")).unwrap();
    assert_eq!(read_all(c), t.get("server_app_data_record_payload"));
    client_closes(c, t);
}

/// The client sends close_notify, the trace's record, and reads the server's.
fn client_closes(c: &mut Connection, t: &Trace) {
    c.close().unwrap();
    assert_bytes(
        "close_notify",
        &c.take_outgoing(),
        &t.get("client_alert_record"),
    );
    c.receive_data(&t.get("server_alert_record")).unwrap();
    assert_eq!(c.state(), Phase::Shutdown);
}

/// The server's part after its handshake: the trace's application data both ways, then the
/// client's close_notify, which it answers.
fn server_exchanges_app_data_and_answers_close(s: &mut Connection, t: &Trace) {
    s.receive_data(&t.get("client_app_data_record")).unwrap();
    assert_eq!(read_all(s), t.get("client_app_data_record_payload"));
    s.write_data(&t.get("server_app_data_record_payload"))
        .unwrap();
    assert_bytes(
        "application data",
        &s.take_outgoing(),
        &t.get("server_app_data_record"),
    );
    server_answers_close(s, t);
}

/// The client's close_notify in, the server's out, both the trace's records.
fn server_answers_close(s: &mut Connection, t: &Trace) {
    s.receive_data(&t.get("client_alert_record")).unwrap();
    assert!(s.peer_closed());
    assert_bytes(
        "close_notify",
        &s.take_outgoing(),
        &t.get("server_alert_record"),
    );
    assert_eq!(s.state(), Phase::Shutdown);
}

/// Reads all the application data waiting.
fn read_all(conn: &mut Connection) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = conn.read_data(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// §3 server shapes: the ServerHello's extensions in the RFC's order; EncryptedExtensions
/// with the RFC server's supported_groups (secp521r1 and FFDHE groups, which we do not
/// implement) and record_size_limit (RFC 8449, which we do not implement); the ticket with
/// the RFC's two-byte nonce (ours is one byte, the ticket's index) and 178-byte opaque
/// ticket (ours is a 32-byte random identity).
fn section3_server_shapes(t: &Trace) -> Vec<Shape> {
    vec![
        Shape {
            rfc: t.message("server_hello"),
            theirs: vec![],
        },
        Shape {
            rfc: t.message("encrypted_extensions"),
            theirs: vec![
                ExtensionType::SUPPORTED_GROUPS,
                ExtensionType::RECORD_SIZE_LIMIT,
            ],
        },
        Shape {
            rfc: t.message("new_session_ticket"),
            theirs: vec![],
        },
    ]
}

/// The RFC's NewSessionTicket.
fn rfc_ticket(t: &Trace) -> crate::codec::handshake::NewSessionTicket13 {
    match t.message("new_session_ticket") {
        HandshakePayload::NewSessionTicket13(ticket) => ticket,
        other => panic!("not a NewSessionTicket: {other:?}"),
    }
}

/// §3 in the server role; leaves the ticket's session in `store` for §4.
fn replay_section3_server(store: Arc<dyn SessionStore>) {
    let t = Trace::section3();
    let keys = Arc::new(CaptureKeys::default());
    let replay = Rfc8448::new(section3_server_shapes(&t), None);
    // The ticket's lifetime, age_add and max_early_data are ours, configured or drawn as
    // the RFC's; its draw gives age_add, then the identity the hook replaces.
    let ticket = rfc_ticket(&t);
    let mut ticket_draw = ticket.age_add.to_be_bytes().to_vec();
    ticket_draw.extend_from_slice(&[0; 32]);
    let random = vec![
        t.get("server_random"),
        t.get("server_x25519_private"),
        ticket_draw,
    ];
    let signed = t.server_signed_content(
        None,
        &[
            "client_hello",
            "server_hello",
            "encrypted_extensions",
            "certificate",
        ],
    );
    let key = rfc_server_key(&t, signed);
    let (mut config, script) =
        server_config(key, random, replay.clone(), keys.clone(), store.clone());
    config.tls13_tickets = 1;
    config.session_lifetime = Duration::from_secs(u64::from(ticket.lifetime));
    config.max_early_data_size = ticket.max_early_data().unwrap();
    let mut s = Connection::server(Arc::new(config)).unwrap();

    s.receive_data(&t.get("client_hello_record")).unwrap();
    assert_bytes(
        "server flight",
        &s.take_outgoing(),
        &t.concat(&["server_hello_record", "server_handshake_record"]),
    );
    s.receive_data(&t.get("client_finished_record")).unwrap();
    assert_eq!(s.state(), Phase::AppData);
    assert_bytes("ticket", &s.take_outgoing(), &t.get("nst_record"));

    server_exchanges_app_data_and_answers_close(&mut s, &t);

    assert_secrets(&t, &keys, HANDSHAKE_SECRETS);
    let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW));
    let session = StoredSession::decode(&store.get(&ticket.ticket, now).unwrap()).unwrap();
    assert_bytes("resumption PSK", &session.secret, &t.get("psk"));
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

/// The shape of a first ClientHello: the RFC's, with the extensions of
/// [`THEIRS_IN_CLIENT_HELLO`] it has.
fn client_hello_shape(t: &Trace, name: &str) -> Shape {
    let rfc = t.message(name);
    let HandshakePayload::ClientHello(hello) = &rfc else {
        panic!("{name} is not a ClientHello");
    };
    let theirs = THEIRS_IN_CLIENT_HELLO
        .iter()
        .copied()
        .filter(|typ| hello.has_extension(*typ))
        .collect();
    Shape { rfc, theirs }
}

/// §3 in the client role; leaves the RFC's ticket in `cache` for §4.
fn replay_section3_client(cache: Arc<ClientSessionCache>) {
    let t = Trace::section3();
    let keys = Arc::new(CaptureKeys::default());
    let signed = t.server_signed_content(
        None,
        &[
            "client_hello",
            "server_hello",
            "encrypted_extensions",
            "certificate",
        ],
    );
    let replay = Rfc8448::new(
        vec![client_hello_shape(&t, "client_hello")],
        Some((
            signed,
            t.signature("certificate_verify", SignatureScheme::RSA_PSS_RSAE_SHA256),
        )),
    );
    let random = vec![t.get("client_random"), t.get("client_x25519_private")];
    let (config, script) = client_config(random, replay.clone(), keys.clone(), cache.clone());
    let mut c = Connection::client(Arc::new(config), SERVER_NAME).unwrap();

    c.start().unwrap();
    assert_bytes(
        "ClientHello",
        &c.take_outgoing(),
        &t.get("client_hello_record"),
    );
    c.receive_data(&t.concat(&["server_hello_record", "server_handshake_record"]))
        .unwrap();
    assert_eq!(c.state(), Phase::AppData);
    assert_bytes(
        "Finished",
        &c.take_outgoing(),
        &t.get("client_finished_record"),
    );
    c.receive_data(&t.get("nst_record")).unwrap();
    assert!(c.take_outgoing().is_empty());

    client_exchanges_app_data_and_closes(&mut c, &t);

    assert_secrets(&t, &keys, HANDSHAKE_SECRETS);
    let session = cache.get(SERVER_NAME).unwrap();
    let ticket = rfc_ticket(&t);
    assert_bytes("resumption PSK", &session.secret, &t.get("psk"));
    assert_eq!(session.ticket, ticket.ticket);
    assert_eq!(session.age_add, ticket.age_add);
    assert_eq!(session.ticket_lifetime_hint, ticket.lifetime);
    assert_eq!(Some(session.max_early_data), ticket.max_early_data());
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

#[test]
fn rfc8448_section3_server() {
    replay_section3_server(Arc::new(TicketStore::default()));
}

#[test]
fn rfc8448_section3_client() {
    replay_section3_client(Arc::new(ClientSessionCache::new(16)));
}

/// §5 transcript through the server's Certificate, after the first ClientHello.
const SECTION5_SIGNED: &[&str] = &[
    "hello_retry_request",
    "client_hello_2",
    "server_hello",
    "encrypted_extensions",
    "certificate",
];

#[test]
fn rfc8448_section5_server() {
    let t = Trace::section5();
    let keys = Arc::new(CaptureKeys::default());
    // The HelloRetryRequest in the RFC's order with the RFC server's 114-byte cookie (ours
    // is 32 random bytes); EncryptedExtensions as in §3 (its supported_groups lists X25519,
    // which our server would then have taken the client's share for instead of asking).
    let replay = Rfc8448::new(
        vec![
            Shape {
                rfc: t.message("hello_retry_request"),
                theirs: vec![ExtensionType::COOKIE],
            },
            Shape {
                rfc: t.message("server_hello"),
                theirs: vec![],
            },
            Shape {
                rfc: t.message("encrypted_extensions"),
                theirs: vec![
                    ExtensionType::SUPPORTED_GROUPS,
                    ExtensionType::RECORD_SIZE_LIMIT,
                ],
            },
        ],
        None,
    );
    // The cookie draw is replaced by the RFC's cookie.
    let random = vec![
        t.get("server_random"),
        vec![0; 32],
        t.get("server_p256_private"),
    ];
    let signed = t.server_signed_content(Some("client_hello_1"), SECTION5_SIGNED);
    let store = Arc::new(TicketStore::default());
    let key = rfc_server_key(&t, signed);
    let (mut config, script) = server_config(key, random, replay.clone(), keys.clone(), store);
    // Without X25519 the client's only share is of no use: P-256 is asked for.
    config.groups = vec![NamedGroup::SECP256R1, NamedGroup::SECP384R1];
    let mut s = Connection::server(Arc::new(config)).unwrap();

    s.receive_data(&t.get("client_hello_1_record")).unwrap();
    assert_bytes(
        "HelloRetryRequest",
        &s.take_outgoing(),
        &t.get("hello_retry_request_record"),
    );
    s.receive_data(&t.get("client_hello_2_record")).unwrap();
    assert_bytes(
        "server flight",
        &s.take_outgoing(),
        &t.concat(&["server_hello_record", "server_handshake_record"]),
    );
    s.receive_data(&t.get("client_finished_record")).unwrap();
    assert_eq!(s.state(), Phase::AppData);
    assert!(s.take_outgoing().is_empty());
    assert!(s.negotiated().hello_retry);
    assert_eq!(s.negotiated().group, Some(NamedGroup::SECP256R1));
    server_answers_close(&mut s, &t);

    assert_secrets(&t, &keys, HANDSHAKE_SECRETS);
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

#[test]
fn rfc8448_section5_client() {
    let t = Trace::section5();
    let keys = Arc::new(CaptureKeys::default());
    let signed = t.server_signed_content(Some("client_hello_1"), SECTION5_SIGNED);
    // The second ClientHello is the first as shaped, with our new key share and the
    // server's cookie, and the padding extension the RFC's client added.
    let replay = Rfc8448::new(
        vec![
            client_hello_shape(&t, "client_hello_1"),
            Shape {
                rfc: t.message("client_hello_2"),
                theirs: vec![ExtensionType::PADDING],
            },
        ],
        Some((
            signed,
            t.signature("certificate_verify", SignatureScheme::RSA_PSS_RSAE_SHA256),
        )),
    );
    let random = vec![
        t.get("client_random"),
        t.get("client_x25519_private"),
        t.get("client_p256_private"),
    ];
    let cache = Arc::new(ClientSessionCache::new(16));
    let (config, script) = client_config(random, replay.clone(), keys.clone(), cache);
    let mut c = Connection::client(Arc::new(config), SERVER_NAME).unwrap();

    c.start().unwrap();
    assert_bytes(
        "first ClientHello",
        &c.take_outgoing(),
        &t.get("client_hello_1_record"),
    );
    c.receive_data(&t.get("hello_retry_request_record"))
        .unwrap();
    assert_bytes(
        "second ClientHello",
        &c.take_outgoing(),
        &t.get("client_hello_2_record"),
    );
    c.receive_data(&t.concat(&["server_hello_record", "server_handshake_record"]))
        .unwrap();
    assert_eq!(c.state(), Phase::AppData);
    assert_bytes(
        "Finished",
        &c.take_outgoing(),
        &t.get("client_finished_record"),
    );
    assert!(c.negotiated().hello_retry);
    assert_eq!(c.negotiated().group, Some(NamedGroup::SECP256R1));
    client_closes(&mut c, &t);

    assert_secrets(&t, &keys, HANDSHAKE_SECRETS);
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

/// §4's secrets: those of §3's list, and the early traffic secret of the 0-RTT data.
const RESUMED_SECRETS: &[(&str, &str)] = &[
    ("CLIENT_EARLY_TRAFFIC_SECRET", "c_e_traffic"),
    ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "c_hs_traffic"),
    ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "s_hs_traffic"),
    ("CLIENT_TRAFFIC_SECRET_0", "c_ap_traffic"),
    ("SERVER_TRAFFIC_SECRET_0", "s_ap_traffic"),
    ("EXPORTER_SECRET", "exp_master"),
];

/// §4 in the server role: §3's ticket, as our §3 server stored it, resumed with 0-RTT data.
#[test]
fn rfc8448_section4_server() {
    let store = Arc::new(TicketStore::default());
    replay_section3_server(store.clone());

    let t = Trace::section4();
    let keys = Arc::new(CaptureKeys::default());
    // The ServerHello in the RFC's order; EncryptedExtensions as in §3, plus the RFC
    // server's server_name acknowledgement, which we never send when resuming (RFC 6066
    // §3). Our early_data acknowledgement is kept.
    let replay = Rfc8448::new(
        vec![
            Shape {
                rfc: t.message("server_hello"),
                theirs: vec![],
            },
            Shape {
                rfc: t.message("encrypted_extensions"),
                theirs: vec![
                    ExtensionType::SUPPORTED_GROUPS,
                    ExtensionType::RECORD_SIZE_LIMIT,
                    ExtensionType::SERVER_NAME,
                ],
            },
        ],
        None,
    );
    let random = vec![t.get("server_random"), t.get("server_x25519_private")];
    // The §3 certificate, which a resumed handshake does not send: the signer is never asked.
    let key = rfc_server_key(&Trace::section3(), Vec::new());
    let (mut config, script) = server_config(key, random, replay.clone(), keys.clone(), store);
    config.max_early_data_size = rfc_ticket(&Trace::section3()).max_early_data().unwrap();
    let mut s = Connection::server(Arc::new(config)).unwrap();

    s.receive_data(&t.concat(&["client_hello_record", "client_early_app_data_record"]))
        .unwrap();
    assert_bytes(
        "server flight",
        &s.take_outgoing(),
        &t.concat(&["server_hello_record", "server_handshake_record"]),
    );
    assert_eq!(s.negotiated().early_data, EarlyData::Accepted);
    let mut early = vec![0u8; 64];
    let n = s.read_early_data(&mut early);
    assert_eq!(&early[..n], t.get("client_early_app_data_record_payload"));
    s.receive_data(&t.concat(&["end_of_early_data_record", "client_finished_record"]))
        .unwrap();
    assert_eq!(s.state(), Phase::AppData);
    assert!(s.negotiated().resumed);
    assert!(s.take_outgoing().is_empty());

    server_exchanges_app_data_and_answers_close(&mut s, &t);

    assert_secrets(&t, &keys, RESUMED_SECRETS);
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

/// §4 in the client role: the ticket our §3 client kept, offered with 0-RTT data.
#[test]
fn rfc8448_section4_client() {
    let cache = Arc::new(ClientSessionCache::new(16));
    replay_section3_client(cache.clone());

    let t = Trace::section4();
    let keys = Arc::new(CaptureKeys::default());
    // §4's `client_hello` stops before the binders; the whole message is the payload.
    let replay = Rfc8448::new(
        vec![client_hello_shape(&t, "client_hello_record_payload")],
        None,
    );
    let random = vec![t.get("client_random"), t.get("client_x25519_private")];
    let (mut config, script) = client_config(random, replay.clone(), keys.clone(), cache);
    config.enable_early_data = true;
    let mut c = Connection::client(Arc::new(config), SERVER_NAME).unwrap();

    c.start().unwrap();
    let early = t.get("client_early_app_data_record_payload");
    assert_eq!(c.write_early_data(&early).unwrap(), early.len());
    assert_bytes(
        "ClientHello and 0-RTT data",
        &c.take_outgoing(),
        &t.concat(&["client_hello_record", "client_early_app_data_record"]),
    );
    c.receive_data(&t.concat(&["server_hello_record", "server_handshake_record"]))
        .unwrap();
    assert_eq!(c.state(), Phase::AppData);
    assert!(c.negotiated().resumed);
    assert_eq!(c.negotiated().early_data, EarlyData::Accepted);
    assert_bytes(
        "EndOfEarlyData and Finished",
        &c.take_outgoing(),
        &t.concat(&["end_of_early_data_record", "client_finished_record"]),
    );

    client_exchanges_app_data_and_closes(&mut c, &t);

    assert_secrets(&t, &keys, RESUMED_SECRETS);
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

/// §7 transcript through the server's Certificate.
const SECTION7_SIGNED: &[&str] = &[
    "client_hello",
    "server_hello",
    "encrypted_extensions",
    "certificate",
];

/// §7 in the server role: middlebox compatibility mode (RFC 8446 §D.4), which a client asks
/// for with a legacy_session_id; our ChangeCipherSpec follows our ServerHello.
#[test]
fn rfc8448_section7_server() {
    let t = Trace::section7();
    let keys = Arc::new(CaptureKeys::default());
    // As in §3: the ServerHello's order, the RFC server's groups and record_size_limit.
    let replay = Rfc8448::new(
        vec![
            Shape {
                rfc: t.message("server_hello"),
                theirs: vec![],
            },
            Shape {
                rfc: t.message("encrypted_extensions"),
                theirs: vec![
                    ExtensionType::SUPPORTED_GROUPS,
                    ExtensionType::RECORD_SIZE_LIMIT,
                ],
            },
        ],
        None,
    );
    let random = vec![t.get("server_random"), t.get("server_x25519_private")];
    let key = rfc_server_key(&t, t.server_signed_content(None, SECTION7_SIGNED));
    let store = Arc::new(TicketStore::default());
    let (config, script) = server_config(key, random, replay.clone(), keys.clone(), store);
    let mut s = Connection::server(Arc::new(config)).unwrap();

    s.receive_data(&t.get("client_hello_record")).unwrap();
    assert_bytes(
        "server flight",
        &s.take_outgoing(),
        &t.concat(&[
            "server_hello_record",
            "server_ccs_record",
            "server_handshake_record",
        ]),
    );
    s.receive_data(&t.concat(&["client_ccs_record", "client_finished_record"]))
        .unwrap();
    assert_eq!(s.state(), Phase::AppData);
    server_answers_close(&mut s, &t);

    assert_secrets(&t, &keys, HANDSHAKE_SECRETS);
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

/// §7 in the client role: our legacy_session_id and ChangeCipherSpec in compatibility mode.
#[test]
fn rfc8448_section7_client() {
    let t = Trace::section7();
    let keys = Arc::new(CaptureKeys::default());
    let signature = t.signature("certificate_verify", SignatureScheme::RSA_PSS_RSAE_SHA256);
    let replay = Rfc8448::new(
        vec![client_hello_shape(&t, "client_hello")],
        Some((t.server_signed_content(None, SECTION7_SIGNED), signature)),
    );
    let random = vec![
        t.get("client_random"),
        t.get("client_x25519_private"),
        t.get("client_legacy_session_id"),
    ];
    let cache = Arc::new(ClientSessionCache::new(16));
    let (mut config, script) = client_config(random, replay.clone(), keys.clone(), cache);
    config.middlebox_compat = true;
    let mut c = Connection::client(Arc::new(config), SERVER_NAME).unwrap();

    c.start().unwrap();
    assert_bytes(
        "ClientHello",
        &c.take_outgoing(),
        &t.get("client_hello_record"),
    );
    c.receive_data(&t.concat(&[
        "server_hello_record",
        "server_ccs_record",
        "server_handshake_record",
    ]))
    .unwrap();
    assert_eq!(c.state(), Phase::AppData);
    assert_bytes(
        "ChangeCipherSpec and Finished",
        &c.take_outgoing(),
        &t.concat(&["client_ccs_record", "client_finished_record"]),
    );
    client_closes(&mut c, &t);

    assert_secrets(&t, &keys, HANDSHAKE_SECRETS);
    script.assert_all_drawn();
    replay.assert_all_shaped();
}

/// §6 in the client role: the server asks for a certificate and signs with ECDSA P-256,
/// which our client verifies itself; our RSA certificate answers with the RFC client's
/// recorded RSA-PSS signature. (The server role would need the RFC client's 1024-bit RSA
/// chain validated and its signature verified, which nothing we have can do.)
#[test]
fn rfc8448_section6_client() {
    let t = Trace::section6();
    let keys = Arc::new(CaptureKeys::default());
    let replay = Rfc8448::new(vec![client_hello_shape(&t, "client_hello")], None);
    let scheme = SignatureScheme::RSA_PSS_RSAE_SHA256;
    let signer = RecordedSigner {
        kind: KeyKind::Rsa,
        scheme,
        content: t.signed_content(
            "TLS 1.3, client CertificateVerify",
            None,
            &[
                "client_hello",
                "server_hello",
                "encrypted_extensions",
                "certificate_request",
                "certificate",
                "certificate_verify",
                "server_finished",
                "client_certificate",
            ],
        ),
        signature: t.signature("client_certificate_verify", scheme),
    };
    let certificate =
        CertifiedKey::with_signer(t.chain("client_certificate"), Arc::new(signer)).unwrap();
    let random = vec![t.get("client_random"), t.get("client_x25519_private")];
    let cache = Arc::new(ClientSessionCache::new(16));
    let (mut config, script) = client_config(random, replay.clone(), keys.clone(), cache);
    config.client_certificate = Some(Arc::new(certificate));
    let mut c = Connection::client(Arc::new(config), SERVER_NAME).unwrap();

    c.start().unwrap();
    assert_bytes(
        "ClientHello",
        &c.take_outgoing(),
        &t.get("client_hello_record"),
    );
    c.receive_data(&t.concat(&["server_hello_record", "server_handshake_record"]))
        .unwrap();
    assert_eq!(c.state(), Phase::AppData);
    assert_eq!(
        c.negotiated().signature_scheme,
        Some(SignatureScheme::ECDSA_SECP256R1_SHA256)
    );
    assert_bytes(
        "Certificate, CertificateVerify and Finished",
        &c.take_outgoing(),
        &t.get("client_handshake_record"),
    );
    client_closes(&mut c, &t);

    assert_secrets(&t, &keys, HANDSHAKE_SECRETS);
    script.assert_all_drawn();
    replay.assert_all_shaped();
}
