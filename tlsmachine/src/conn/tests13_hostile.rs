//! A hostile TLS 1.3 peer (issue 8, "Bad input"): each refusal with the exact error and the
//! exact alert, which must also reach the other side; then random mutation of every flight
//! of a handshake with HelloRetryRequest and client authentication, and of the default one.
//!
//! Flights are real ones from an in-memory pair, edited: hellos are decoded, changed and
//! encoded again; protected records are opened and sealed again with keys rebuilt from the
//! traffic secrets a key log captured (sequence numbers start at 0 for every key).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey};

use super::tests::{handshake, records, transfer, CaptureKeys, Fixture};
use super::*;
use crate::codec::enums::{CipherSuite, ExtensionType, HandshakeType, NamedGroup, ProtocolVersion};
use crate::codec::extensions::{ClientExtension, ServerExtension};
use crate::codec::handshake::{
    read_handshake, ClientHello, HandshakePayload, NewSessionTicket13, ServerHello,
    DOWNGRADE_TLS11, DOWNGRADE_TLS12,
};
use crate::config::{ClientAuth, ClientConfig, ServerConfig};
use crate::crypto::aead::AeadAlg;
use crate::crypto::key_schedule::{Secret, TrafficSecret};
use crate::handshake::Msg;
use crate::pki::KeyType;
use crate::record::Opener;

const HANDSHAKE: u8 = ContentType::HANDSHAKE.0;
const CCS: u8 = ContentType::CHANGE_CIPHER_SPEC.0;
const APPLICATION_DATA: u8 = ContentType::APPLICATION_DATA.0;
/// The compatibility ChangeCipherSpec, in the clear.
const CCS_RECORD: [u8; 6] = [CCS, 0x03, 0x03, 0x00, 0x01, 0x01];

// --- connections ------------------------------------------------------------------------

/// Both sides log their secrets into one capture.
fn connect(
    mut cc: ClientConfig,
    mut sc: ServerConfig,
) -> (Connection, Connection, Arc<CaptureKeys>) {
    let log = Arc::new(CaptureKeys::default());
    cc.key_log = Some(log.clone());
    sc.key_log = Some(log.clone());
    let (c, s) = connect_with(&Arc::new(cc), &Arc::new(sc));
    (c, s, log)
}

pub(super) fn connect_with(
    cc: &Arc<ClientConfig>,
    sc: &Arc<ServerConfig>,
) -> (Connection, Connection) {
    let mut c = Connection::client(cc.clone(), "localhost").unwrap();
    let s = Connection::server(sc.clone()).unwrap();
    c.start().unwrap();
    (c, s)
}

/// A client whose only key share (X25519) the server does not take: the server asks for
/// secp384r1 with a HelloRetryRequest.
pub(super) fn retry_configs(fx: &Fixture) -> (ClientConfig, ServerConfig) {
    let mut cc = fx.client_config13();
    cc.key_share_groups = vec![NamedGroup::X25519];
    let mut sc = fx.server_config();
    sc.groups = vec![NamedGroup::SECP384R1, NamedGroup::SECP256R1];
    (cc, sc)
}

/// The server requires a client certificate, and the client has one.
pub(super) fn client_auth_configs(fx: &Fixture) -> (ClientConfig, ServerConfig) {
    let mut cc = fx.client_config13();
    cc.client_certificate = Some(fx.pki.client_key().unwrap());
    let mut sc = fx.server_config();
    sc.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
    (cc, sc)
}

/// `to` refuses `input` with exactly `error` and sends `alert`, which reaches `from` as the
/// fatal alert it is.
#[track_caller]
pub(super) fn assert_refused(
    to: &mut Connection,
    from: &mut Connection,
    input: &[u8],
    error: impl Into<ProtocolError>,
    alert: AlertDescription,
) {
    assert_eq!(
        to.receive_data(input),
        Err(Error::Protocol {
            error: error.into(),
            sent: Some(alert)
        })
    );
    assert_eq!(to.state(), Phase::Shutdown);
    assert_eq!(transfer(to, from), Err(Error::AlertReceived { alert }));
}

// --- records and messages ---------------------------------------------------------------

/// One direction's TLS 1.3 record protection, rebuilt from a traffic secret in the key log.
pub(super) struct Keys {
    aead: AeadAlg,
    secret: TrafficSecret,
    key: Vec<u8>,
    iv: [u8; 12],
}

impl Keys {
    /// The keys of the secret logged under `label` (an NSS key log label), for the suite
    /// `conn` negotiated.
    pub(super) fn new(conn: &Connection, log: &CaptureKeys, label: &str) -> Self {
        Self::with_suite(conn.negotiated().cipher_suite.unwrap(), log, label)
    }

    /// The keys of the secret logged under `label`, for `suite`: for a flight taken before
    /// its connection has settled the suite (a ClientHello with 0-RTT data).
    pub(super) fn with_suite(suite: CipherSuite, log: &CaptureKeys, label: &str) -> Self {
        let suite = crate::crypto::suites::lookup(suite)
            .and_then(|s| s.tls13())
            .unwrap();
        let secret = Secret::from_bytes(suite.hash, &log.secret(label)).unwrap();
        Self::from_secret(suite.aead, TrafficSecret::from_secret(secret))
    }

    fn from_secret(aead: AeadAlg, secret: TrafficSecret) -> Self {
        let (key, iv) = secret.record_key(aead);
        Keys {
            aead,
            secret,
            key: key.to_vec(),
            iv: *iv,
        }
    }

    /// The keys after a KeyUpdate.
    pub(super) fn next(&self) -> Self {
        Self::from_secret(self.aead, self.secret.next())
    }

    pub(super) fn opener(&self) -> Opener {
        Opener::tls13(self.aead, &self.key, &self.iv).unwrap()
    }

    /// A protected record of inner type `typ` carrying `content`.
    pub(super) fn seal(&self, seq: u64, typ: u8, content: &[u8]) -> Vec<u8> {
        self.seal_inner(seq, &[content, &[typ]].concat())
    }

    /// A protected record whose inner plaintext (content, type, padding) is exactly
    /// `inner`. Sealed here with aws-lc-rs, because the record layer's sealer refuses what
    /// a hostile peer may send (too much content, no type).
    fn seal_inner(&self, seq: u64, inner: &[u8]) -> Vec<u8> {
        let key = LessSafeKey::new(UnboundKey::new(self.aead.aws_lc(), &self.key).unwrap());
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let len = u16::try_from(inner.len() + AeadAlg::TAG_LEN).unwrap();
        let [hi, lo] = len.to_be_bytes();
        let header = [APPLICATION_DATA, 0x03, 0x03, hi, lo];
        let mut body = inner.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(header),
            &mut body,
        )
        .unwrap();
        [&header[..], &body].concat()
    }
}

/// A record in the clear.
pub(super) fn plain_record(typ: u8, version: [u8; 2], content: &[u8]) -> Vec<u8> {
    let len = u16::try_from(content.len()).unwrap().to_be_bytes();
    [&[typ, version[0], version[1], len[0], len[1]][..], content].concat()
}

/// One record of a flight as its sender meant it: the type (the inner one when protected),
/// the header's version, and the content.
#[derive(Clone, Debug)]
struct Rec {
    typ: u8,
    version: [u8; 2],
    protected: bool,
    content: Vec<u8>,
}

/// A flight opened with its sender's keys.
#[derive(Clone, Debug)]
struct Flight(Vec<Rec>);

impl Flight {
    /// Records of outer type application_data are opened with `keys`, numbered from 0.
    fn open(wire: &[u8], keys: Option<&Keys>) -> Self {
        let opener = keys.map(Keys::opener);
        let mut seq = 0;
        let recs = records(wire)
            .into_iter()
            .map(|(typ, range)| {
                let version = [wire[range.start + 1], wire[range.start + 2]];
                let mut body = wire[range.start + 5..range.end].to_vec();
                match &opener {
                    Some(opener) if typ == APPLICATION_DATA => {
                        let opened = opener
                            .open(seq, ContentType(typ), ProtocolVersion::TLS1_2, &mut body)
                            .unwrap();
                        seq += 1;
                        Rec {
                            typ: opened.typ.0,
                            version,
                            protected: true,
                            content: body[opened.range].to_vec(),
                        }
                    }
                    _ => Rec {
                        typ,
                        version,
                        protected: false,
                        content: body,
                    },
                }
            })
            .collect();
        Flight(recs)
    }

    /// The flight on the wire again; protected records sealed with `keys`, from 0.
    fn seal(&self, keys: Option<&Keys>) -> Vec<u8> {
        let mut seq = 0;
        let mut out = Vec::new();
        for rec in &self.0 {
            if rec.protected {
                out.extend(keys.unwrap().seal(seq, rec.typ, &rec.content));
                seq += 1;
            } else {
                out.extend(plain_record(rec.typ, rec.version, &rec.content));
            }
        }
        out
    }
}

/// The whole handshake messages (header included) of a handshake byte stream.
pub(super) fn split_messages(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let len = u32::from_be_bytes([0, stream[at + 1], stream[at + 2], stream[at + 3]]);
        let end = at + 4 + len as usize;
        out.push(stream[at..end].to_vec());
        at = end;
    }
    out
}

/// The message of type `msg` among `msgs`.
fn message(msgs: &mut [Vec<u8>], msg: Msg) -> &mut Vec<u8> {
    let typ = msg.wire_type().unwrap();
    msgs.iter_mut().find(|m| m[0] == typ).unwrap()
}

/// `message` with the last bit of its body flipped: the end of a signature or of
/// verify_data.
fn flip_last_bit(message: &mut [u8]) {
    *message.last_mut().unwrap() ^= 0x01;
}

/// A handshake message from its type and body.
pub(super) fn handshake_message(msg: Msg, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    [
        &[msg.wire_type().unwrap(), len[1], len[2], len[3]][..],
        body,
    ]
    .concat()
}

/// Re-seals a flight with a message changed: the handshake messages of `wire`'s protected
/// records (whole, header included) go through `edit`, get their length fields fixed, and
/// are sealed again with `keys` into one record where the first of them was.
pub(super) fn reseal(wire: &[u8], keys: &Keys, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    let Flight(recs) = Flight::open(wire, Some(keys));
    let hidden = |r: &Rec| r.protected && r.typ == HANDSHAKE;
    let first = recs.iter().position(hidden).unwrap();
    let stream: Vec<u8> = recs
        .iter()
        .filter(|r| hidden(r))
        .flat_map(|r| r.content.clone())
        .collect();
    let mut msgs = split_messages(&stream);
    edit(&mut msgs);
    for m in &mut msgs {
        let len = u32::try_from(m.len() - 4).unwrap().to_be_bytes();
        m[1..4].copy_from_slice(&len[1..]);
    }
    let mut kept: Vec<Rec> = recs.into_iter().filter(|r| !hidden(r)).collect();
    kept.insert(
        first,
        Rec {
            typ: HANDSHAKE,
            version: [0x03, 0x03],
            protected: true,
            content: msgs.concat(),
        },
    );
    Flight(kept).seal(Some(keys))
}

/// `wire` with the hello that starts its first (plaintext) record decoded, changed by
/// `edit` and encoded again; what follows it is kept as it was.
fn edit_hello(wire: &[u8], edit: impl FnOnce(&mut HandshakePayload)) -> Vec<u8> {
    let (typ, first) = records(wire)[0].clone();
    assert_eq!(typ, HANDSHAKE);
    let msgs = split_messages(&wire[first.start + 5..first.end]);
    let (hello, rest) = msgs.split_first().unwrap();
    let mut payload = read_handshake(HandshakeType(hello[0]), &hello[4..], None).unwrap();
    edit(&mut payload);
    let mut content = Vec::new();
    payload.encode(&mut content);
    content.extend(rest.concat());
    let mut out = plain_record(HANDSHAKE, [wire[1], wire[2]], &content);
    out.extend_from_slice(&wire[first.end..]);
    out
}

pub(super) fn edit_client_hello(wire: &[u8], edit: impl FnOnce(&mut ClientHello)) -> Vec<u8> {
    edit_hello(wire, |payload| match payload {
        HandshakePayload::ClientHello(hello) => edit(hello),
        other => panic!("not a ClientHello: {other:?}"),
    })
}

pub(super) fn edit_server_hello(wire: &[u8], edit: impl FnOnce(&mut ServerHello)) -> Vec<u8> {
    edit_hello(wire, |payload| match payload {
        HandshakePayload::ServerHello(hello) => edit(hello),
        other => panic!("not a ServerHello: {other:?}"),
    })
}

/// The server's flight up to the first protected record: ServerHello and its
/// compatibility ChangeCipherSpec.
fn clear_part(wire: &[u8]) -> &[u8] {
    let recs = records(wire);
    let (_, first_protected) = recs
        .iter()
        .find(|(typ, _)| *typ == APPLICATION_DATA)
        .unwrap();
    &wire[..first_protected.start]
}

// --- the checks in the helpers hold --------------------------------------------------------

/// Flights opened and sealed again unchanged still complete the handshake, so a refusal
/// below comes from the change, not from the re-sealing.
#[test]
fn resealed_flights_complete_the_handshake_unchanged() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (cc, sc) = client_auth_configs(&fx);
    let (mut c, mut s, log) = connect(cc, sc);
    transfer(&mut c, &mut s).unwrap();
    let server_flight = s.take_outgoing();
    let keys = Keys::new(&s, &log, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    c.receive_data(&reseal(&server_flight, &keys, |_| {}))
        .unwrap();
    let client_flight = c.take_outgoing();
    let keys = Keys::new(&c, &log, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    let resealed = Flight::open(&client_flight, Some(&keys)).seal(Some(&keys));
    s.receive_data(&resealed).unwrap();
    assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
    assert!(s.negotiated().client_authenticated);
}

// --- 1. a second HelloRetryRequest ------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
//# If a client receives a second
//# HelloRetryRequest in the same connection (i.e., where the ClientHello
//# was itself in response to a HelloRetryRequest), it MUST abort the
//# handshake with an "unexpected_message" alert.
#[test]
fn second_hello_retry_request_is_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (cc, sc) = retry_configs(&fx);
    let (mut c, mut s, _) = connect(cc, sc);
    transfer(&mut c, &mut s).unwrap();
    let flight = s.take_outgoing();
    c.receive_data(&flight).unwrap();
    let hrr = &flight[records(&flight)[0].1.clone()];
    // After the HelloRetryRequest and its ChangeCipherSpec only the ServerHello may come.
    assert_refused(
        &mut c,
        &mut s,
        hrr,
        ProtocolError::Unexpected {
            phase: Phase::Wait1,
            expected: vec![Msg::ServerHello],
            got: Msg::HelloRetryRequest,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

// --- 2. a HelloRetryRequest for a group we cannot use -------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8
//# If either of these checks fails, then
//# the client MUST abort the handshake with an "illegal_parameter"
//# alert.
#[test]
fn hello_retry_request_for_an_unoffered_or_already_shared_group_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    // secp521r1 is not in our supported_groups; X25519 already has our share.
    for group in [NamedGroup::SECP521R1, NamedGroup::X25519] {
        let (cc, sc) = retry_configs(&fx);
        assert!(!cc.groups.contains(&NamedGroup::SECP521R1));
        let (mut c, mut s, _) = connect(cc, sc);
        transfer(&mut c, &mut s).unwrap();
        let hrr = edit_server_hello(&s.take_outgoing(), |h| {
            for ext in &mut h.extensions {
                if let ServerExtension::SelectedGroup(g) = ext {
                    *g = group;
                }
            }
        });
        assert_refused(
            &mut c,
            &mut s,
            &hrr,
            PeerMisbehaved::RetryRequestGroupNotUsable(group),
            AlertDescription::ILLEGAL_PARAMETER,
        );
    }
}

// --- 3. the client's key shares -----------------------------------------------------------

#[test]
fn key_share_outside_supported_groups_or_twice_for_a_group_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    // Our shares are X25519MLKEM768 and X25519; supported_groups now lists neither.
    let hello = edit_client_hello(&c.take_outgoing(), |h| {
        for ext in &mut h.extensions {
            if let ClientExtension::SupportedGroups(groups) = ext {
                *groups = vec![NamedGroup::SECP256R1];
            }
        }
    });
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        PeerMisbehaved::KeyShareGroupNotSupported(NamedGroup::X25519MLKEM768),
        AlertDescription::ILLEGAL_PARAMETER,
    );

    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    let hello = edit_client_hello(&c.take_outgoing(), |h| {
        for ext in &mut h.extensions {
            if let ClientExtension::KeyShare(shares) = ext {
                shares.push(shares[1].clone());
            }
        }
    });
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        PeerMisbehaved::DuplicateKeyShare(NamedGroup::X25519),
        AlertDescription::ILLEGAL_PARAMETER,
    );
}

// --- 4. a ServerHello choosing what we did not offer --------------------------------------

#[test]
fn server_hello_with_an_unoffered_suite_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    // A TLS 1.3 suite we left out, and a suite we offered for TLS 1.2 only.
    for suite in [
        CipherSuite::TLS_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ] {
        let mut cc = fx.client_config13();
        cc.cipher_suites
            .retain(|s| s.suite() != CipherSuite::TLS_AES_256_GCM_SHA384);
        let (mut c, mut s, _) = connect(cc, fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        let flight = edit_server_hello(&s.take_outgoing(), |h| h.cipher_suite = suite);
        assert_refused(
            &mut c,
            &mut s,
            &flight,
            PeerMisbehaved::SelectedUnofferedCipherSuite(suite),
            AlertDescription::ILLEGAL_PARAMETER,
        );
    }
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
//# If the "supported_versions" extension in the ServerHello
//# contains a version not offered by the client or contains a version
//# prior to TLS 1.3, the client MUST abort the handshake with an
//# "illegal_parameter" alert.
#[test]
fn server_hello_selecting_an_unoffered_version_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for version in [ProtocolVersion(0x0305), ProtocolVersion::TLS1_2] {
        let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        let flight = edit_server_hello(&s.take_outgoing(), |h| {
            for ext in &mut h.extensions {
                if let ServerExtension::SupportedVersions(v) = ext {
                    *v = version;
                }
            }
        });
        assert_refused(
            &mut c,
            &mut s,
            &flight,
            PeerMisbehaved::SelectedUnofferedVersion(version),
            AlertDescription::ILLEGAL_PARAMETER,
        );
    }
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
//# The value of selected_version in the HelloRetryRequest
//# "supported_versions" extension MUST be retained in the ServerHello,
//# and a client MUST abort the handshake with an "illegal_parameter"
//# alert if the value changes.
#[test]
fn server_hello_after_hello_retry_request_selecting_another_version_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for version in [
        Some(ProtocolVersion(0x0305)),
        Some(ProtocolVersion::TLS1_2),
        None,
    ] {
        let (cc, sc) = retry_configs(&fx);
        let (mut c, mut s, _) = connect(cc, sc);
        transfer(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        transfer(&mut c, &mut s).unwrap();
        let flight = edit_server_hello(&s.take_outgoing(), |h| {
            h.extensions
                .retain(|e| e.typ() != ExtensionType::SUPPORTED_VERSIONS);
            h.extensions
                .extend(version.map(ServerExtension::SupportedVersions));
        });
        assert_refused(
            &mut c,
            &mut s,
            &flight,
            PeerMisbehaved::VersionChangedAfterRetryRequest(
                version.unwrap_or(ProtocolVersion::TLS1_2),
            ),
            AlertDescription::ILLEGAL_PARAMETER,
        );
    }
}

// --- 5. the downgrade sentinel ------------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
//# If a match is found, the client MUST abort the handshake with an
//# "illegal_parameter" alert.
#[test]
fn tls12_server_hello_with_a_downgrade_sentinel_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for sentinel in [DOWNGRADE_TLS12, DOWNGRADE_TLS11] {
        let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
        // Someone in the middle hides our supported_versions: the server, which speaks
        // TLS 1.3, negotiates TLS 1.2 and says so in its random.
        let hello = edit_client_hello(&c.take_outgoing(), |h| {
            h.extensions
                .retain(|e| e.typ() != ExtensionType::SUPPORTED_VERSIONS)
        });
        s.receive_data(&hello).unwrap();
        assert_eq!(s.version(), Some(Version::Tls12));
        let flight = edit_server_hello(&s.take_outgoing(), |h| {
            assert_eq!(h.random.0[24..], DOWNGRADE_TLS12);
            h.random.0[24..].copy_from_slice(&sentinel);
        });
        assert_refused(
            &mut c,
            &mut s,
            &flight,
            PeerMisbehaved::DowngradeDetected,
            AlertDescription::ILLEGAL_PARAMETER,
        );
    }
}

// --- 6. legacy_version ----------------------------------------------------------------------

#[test]
fn tls13_server_hello_with_legacy_version_other_than_0x0303_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for version in [ProtocolVersion::TLS1_0, ProtocolVersion::TLS1_3] {
        let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
        transfer(&mut c, &mut s).unwrap();
        let flight = edit_server_hello(&s.take_outgoing(), |h| h.legacy_version = version);
        assert_refused(
            &mut c,
            &mut s,
            &flight,
            PeerMisbehaved::IllegalLegacyVersion(version),
            AlertDescription::ILLEGAL_PARAMETER,
        );
    }
}

// --- 7. ChangeCipherSpec --------------------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-5
//# An implementation may receive an unencrypted record of type
//# change_cipher_spec consisting of the single byte value 0x01 at any
//# time after the first ClientHello message has been sent or received
//# and before the peer's Finished message has been received and MUST
//# simply drop it without further processing.
#[test]
fn change_cipher_spec_after_the_handshake_is_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    assert_refused(
        &mut c,
        &mut s,
        &CCS_RECORD,
        ProtocolError::Unexpected {
            phase: Phase::AppData,
            expected: vec![Msg::NewSessionTicket, Msg::KeyUpdate],
            got: Msg::ChangeCipherSpec,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    assert_refused(
        &mut s,
        &mut c,
        &CCS_RECORD,
        ProtocolError::Unexpected {
            phase: Phase::AppData,
            expected: vec![Msg::KeyUpdate],
            got: Msg::ChangeCipherSpec,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

#[test]
fn second_compatibility_change_cipher_spec_is_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    // The server's: ServerHello, ChangeCipherSpec, ChangeCipherSpec, then its protected
    // records.
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    let flight = s.take_outgoing();
    let clear = clear_part(&flight);
    assert_eq!(&clear[clear.len() - 6..], &CCS_RECORD);
    let doubled = [clear, &CCS_RECORD[..], &flight[clear.len()..]].concat();
    assert_refused(
        &mut c,
        &mut s,
        &doubled,
        ProtocolError::Unexpected {
            phase: Phase::Wait1,
            expected: vec![Msg::EncryptedExtensions],
            got: Msg::ChangeCipherSpec,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // The client's: ChangeCipherSpec twice before its Finished.
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let flight = c.take_outgoing();
    assert_eq!(&flight[..6], &CCS_RECORD);
    let doubled = [&CCS_RECORD[..], &flight].concat();
    assert_refused(
        &mut s,
        &mut c,
        &doubled,
        ProtocolError::Unexpected {
            phase: Phase::Wait,
            expected: vec![Msg::Finished],
            got: Msg::ChangeCipherSpec,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-5
//# An implementation which receives any other change_cipher_spec value or
//# which receives a protected change_cipher_spec record MUST abort the
//# handshake with an "unexpected_message" alert.
#[test]
fn protected_change_cipher_spec_is_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    let flight = s.take_outgoing();
    let keys = Keys::new(&s, &log, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let forged = [clear_part(&flight), &keys.seal(0, CCS, &[0x01])].concat();
    assert_refused(
        &mut c,
        &mut s,
        &forged,
        PeerMisbehaved::BadChangeCipherSpec,
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

#[test]
fn change_cipher_spec_before_the_hellos_is_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    c.take_outgoing();
    assert_refused(
        &mut c,
        &mut s,
        &CCS_RECORD,
        ProtocolError::Unexpected {
            phase: Phase::Wait1,
            expected: vec![Msg::ServerHello, Msg::HelloRetryRequest],
            got: Msg::ChangeCipherSpec,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    assert_refused(
        &mut s,
        &mut c,
        &CCS_RECORD,
        ProtocolError::Unexpected {
            phase: Phase::Idle,
            expected: vec![Msg::ClientHello],
            got: Msg::ChangeCipherSpec,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

// --- 8 and 9. CertificateVerify and Finished ----------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.3
//# If the verification fails, the receiver MUST terminate the handshake
//# with a "decrypt_error" alert.
#[test]
fn bad_certificate_verify_is_decrypt_error_both_ways() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (cc, sc) = client_auth_configs(&fx);
    let (mut c, mut s, log) = connect(cc.clone(), sc.clone());
    transfer(&mut c, &mut s).unwrap();
    let keys = Keys::new(&s, &log, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let flight = reseal(&s.take_outgoing(), &keys, |msgs| {
        flip_last_bit(message(msgs, Msg::CertificateVerify))
    });
    assert_refused(
        &mut c,
        &mut s,
        &flight,
        PeerMisbehaved::BadCertificateVerifySignature,
        AlertDescription::DECRYPT_ERROR,
    );

    let (mut c, mut s, log) = connect(cc, sc);
    handshake_until_client_flight(&mut c, &mut s);
    let keys = Keys::new(&c, &log, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    let flight = reseal(&c.take_outgoing(), &keys, |msgs| {
        flip_last_bit(message(msgs, Msg::CertificateVerify))
    });
    assert_refused(
        &mut s,
        &mut c,
        &flight,
        PeerMisbehaved::BadCertificateVerifySignature,
        AlertDescription::DECRYPT_ERROR,
    );
}

/// Runs the hellos and the server's flight: the client's flight waits in its output.
fn handshake_until_client_flight(c: &mut Connection, s: &mut Connection) {
    transfer(c, s).unwrap();
    transfer(s, c).unwrap();
    assert_eq!(c.state(), Phase::AppData);
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.4
//# Recipients of Finished messages MUST verify that the contents are
//# correct and if incorrect MUST terminate the connection with a
//# "decrypt_error" alert.
#[test]
fn wrong_finished_is_decrypt_error_both_ways() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    let keys = Keys::new(&s, &log, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let flight = reseal(&s.take_outgoing(), &keys, |msgs| {
        flip_last_bit(message(msgs, Msg::Finished))
    });
    assert_refused(
        &mut c,
        &mut s,
        &flight,
        PeerMisbehaved::IncorrectFinished,
        AlertDescription::DECRYPT_ERROR,
    );

    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    handshake_until_client_flight(&mut c, &mut s);
    let keys = Keys::new(&c, &log, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    let flight = reseal(&c.take_outgoing(), &keys, |msgs| {
        flip_last_bit(message(msgs, Msg::Finished))
    });
    assert_refused(
        &mut s,
        &mut c,
        &flight,
        PeerMisbehaved::IncorrectFinished,
        AlertDescription::DECRYPT_ERROR,
    );
}

// --- 10. KeyUpdate --------------------------------------------------------------------------

#[test]
fn unknown_key_update_request_is_illegal_parameter() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    let keys = Keys::new(&c, &log, "CLIENT_TRAFFIC_SECRET_0");
    let update = handshake_message(Msg::KeyUpdate, &[0x02]);
    assert_refused(
        &mut s,
        &mut c,
        &keys.seal(0, HANDSHAKE, &update),
        InvalidMessage::IllegalValue {
            what: "KeyUpdateRequest",
        },
        AlertDescription::ILLEGAL_PARAMETER,
    );
}

// --- 11. handshake data across a key change ----------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-5.1
//# -  Handshake messages MUST NOT span key changes.  Implementations
//#    MUST verify that all messages immediately preceding a key change
//#    align with a record boundary; if not, then they MUST terminate the
//#    connection with an "unexpected_message" alert.
#[test]
fn handshake_messages_sharing_a_record_across_a_key_change_are_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let not_requested = handshake_message(Msg::KeyUpdate, &[0x00]);

    // A KeyUpdate and the start of another handshake message in one record.
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    let keys = Keys::new(&c, &log, "CLIENT_TRAFFIC_SECRET_0");
    let content = [&not_requested[..], &not_requested[..2]].concat();
    assert_refused(
        &mut s,
        &mut c,
        &keys.seal(0, HANDSHAKE, &content),
        PeerMisbehaved::HandshakeSpansKeyChange,
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // A KeyUpdate split over two records ends at a record boundary: that is allowed, and the
    // data after it comes under the next key.
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    let keys = Keys::new(&c, &log, "CLIENT_TRAFFIC_SECRET_0");
    let split = [
        keys.seal(0, HANDSHAKE, &not_requested[..2]),
        keys.seal(1, HANDSHAKE, &not_requested[2..]),
        keys.next().seal(0, APPLICATION_DATA, b"after the update"),
    ]
    .concat();
    s.receive_data(&split).unwrap();
    let mut buf = [0u8; 32];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"after the update");

    //= https://www.rfc-editor.org/rfc/rfc8446#section-5.1
    //# Handshake messages MUST NOT be interleaved
    //# with other record types.
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    let keys = Keys::new(&c, &log, "CLIENT_TRAFFIC_SECRET_0");
    let interleaved = [
        keys.seal(0, HANDSHAKE, &not_requested[..2]),
        keys.seal(1, APPLICATION_DATA, b"in between"),
        keys.seal(2, HANDSHAKE, &not_requested[2..]),
    ]
    .concat();
    assert_refused(
        &mut s,
        &mut c,
        &interleaved,
        PeerMisbehaved::ApplicationDataDuringHandshake,
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // The server's Finished and a KeyUpdate in one record.
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    let keys = Keys::new(&s, &log, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let flight = reseal(&s.take_outgoing(), &keys, |msgs| {
        msgs.push(not_requested.clone())
    });
    assert_refused(
        &mut c,
        &mut s,
        &flight,
        PeerMisbehaved::HandshakeSpansKeyChange,
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // The client's Finished and a KeyUpdate in one record.
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    handshake_until_client_flight(&mut c, &mut s);
    let keys = Keys::new(&c, &log, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    let flight = reseal(&c.take_outgoing(), &keys, |msgs| {
        msgs.push(not_requested.clone())
    });
    assert_refused(
        &mut s,
        &mut c,
        &flight,
        PeerMisbehaved::HandshakeSpansKeyChange,
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // The ServerHello and the server's next message in one plaintext record.
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    let flight = s.take_outgoing();
    let keys = Keys::new(&s, &log, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let Flight(recs) = Flight::open(&flight, Some(&keys));
    let joined = [&recs[0].content[..], &recs[2].content[..]].concat();
    assert_eq!(
        recs[2].content[0],
        Msg::EncryptedExtensions.wire_type().unwrap()
    );
    assert_refused(
        &mut c,
        &mut s,
        &plain_record(HANDSHAKE, [0x03, 0x03], &joined),
        PeerMisbehaved::HandshakeSpansKeyChange,
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

/// A server that sends no tickets, so the first record under its application keys that the
/// client reads is the forged one, at sequence number 0.
fn server_without_tickets(fx: &Fixture) -> ServerConfig {
    let mut config = fx.server_config();
    config.tls13_tickets = 0;
    config
}

// --- 12. record_overflow ----------------------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-5.2
//# The length MUST NOT exceed 2^14 + 256 bytes.
//# An endpoint that receives a record that exceeds this length MUST
//# terminate the connection with a "record_overflow" alert.
#[test]
fn tls13_record_too_long_by_its_header_or_its_content_is_record_overflow() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    // The header alone says too much: 2^14 + 256 + 1 bytes of ciphertext.
    let len = ((1u16 << 14) + 257).to_be_bytes();
    assert_refused(
        &mut c,
        &mut s,
        &[APPLICATION_DATA, 0x03, 0x03, len[0], len[1]],
        ProtocolError::RecordOverflow {
            len: (1 << 14) + 257,
            max: (1 << 14) + 256,
        },
        AlertDescription::RECORD_OVERFLOW,
    );

    // Authenticated, within the ciphertext limit, but 2^14 + 1 bytes of content.
    let (mut c, mut s, log) = connect(fx.client_config13(), server_without_tickets(&fx));
    handshake(&mut c, &mut s).unwrap();
    let keys = Keys::new(&s, &log, "SERVER_TRAFFIC_SECRET_0");
    let big = vec![0x61; (1 << 14) + 1];
    assert_refused(
        &mut c,
        &mut s,
        &keys.seal(0, APPLICATION_DATA, &big),
        ProtocolError::RecordOverflow {
            len: (1 << 14) + 1,
            max: 1 << 14,
        },
        AlertDescription::RECORD_OVERFLOW,
    );
}

// --- 13. records without a type, and records in the clear -----------------------------------

#[test]
fn all_padding_record_is_unexpected_message() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for inner in [&[0u8][..], &[0u8; 100][..]] {
        let (mut c, mut s, log) = connect(fx.client_config13(), server_without_tickets(&fx));
        handshake(&mut c, &mut s).unwrap();
        let keys = Keys::new(&s, &log, "SERVER_TRAFFIC_SECRET_0");
        assert_refused(
            &mut c,
            &mut s,
            &keys.seal_inner(0, inner),
            InvalidMessage::NoContentType,
            AlertDescription::UNEXPECTED_MESSAGE,
        );
    }
}

#[test]
fn records_in_the_clear_where_protection_is_due_are_refused() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    // A handshake record in the clear after the ServerHello switched the keys on.
    let (mut c, mut s, log) = connect(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    let flight = s.take_outgoing();
    let keys = Keys::new(&s, &log, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let Flight(recs) = Flight::open(&flight, Some(&keys));
    let in_the_clear = [
        clear_part(&flight),
        &plain_record(HANDSHAKE, [0x03, 0x03], &recs[2].content),
    ]
    .concat();
    assert_refused(
        &mut c,
        &mut s,
        &in_the_clear,
        PeerMisbehaved::UnprotectedRecord,
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // An alert in the clear after the handshake.
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    assert_refused(
        &mut c,
        &mut s,
        &plain_record(ContentType::ALERT.0, [0x03, 0x03], &[0x02, 0x28]),
        PeerMisbehaved::UnprotectedRecord,
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // Application data in the clear before any keys.
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    c.take_outgoing();
    assert_refused(
        &mut c,
        &mut s,
        &plain_record(APPLICATION_DATA, [0x03, 0x03], b"early"),
        PeerMisbehaved::ApplicationDataDuringHandshake,
        AlertDescription::UNEXPECTED_MESSAGE,
    );

    // Under TLS 1.3 keys a record of outer type application_data is a protected record by
    // definition (RFC 8446 §5.2): one in the clear fails to open.
    let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    assert_refused(
        &mut c,
        &mut s,
        &plain_record(APPLICATION_DATA, [0x03, 0x03], &[0x61; 40]),
        ProtocolError::BadRecordMac,
        AlertDescription::BAD_RECORD_MAC,
    );
}

// --- 14. a TLS 1.3 ClientHello without what TLS 1.3 needs ---------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-9.2
//# Servers receiving a ClientHello which does not conform to these
//# requirements MUST abort the handshake with a "missing_extension"
//# alert.
#[test]
fn tls13_client_hello_without_groups_shares_or_signature_algorithms_is_missing_extension() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let cases: [(&[ExtensionType], ExtensionType); 3] = [
        (
            &[ExtensionType::KEY_SHARE, ExtensionType::SUPPORTED_GROUPS],
            ExtensionType::SUPPORTED_GROUPS,
        ),
        (
            &[ExtensionType::SIGNATURE_ALGORITHMS],
            ExtensionType::SIGNATURE_ALGORITHMS,
        ),
        (&[ExtensionType::KEY_SHARE], ExtensionType::KEY_SHARE),
    ];
    for (removed, missing) in cases {
        let (mut c, mut s, _) = connect(fx.client_config13(), fx.server_config());
        let hello = edit_client_hello(&c.take_outgoing(), |h| {
            h.extensions.retain(|e| !removed.contains(&e.typ()))
        });
        assert_refused(
            &mut s,
            &mut c,
            &hello,
            PeerMisbehaved::MissingExtension(missing),
            AlertDescription::MISSING_EXTENSION,
        );
    }
}

// --- 15. random mutation of every flight ------------------------------------------------------

/// xorshift64: the same cases on every run.
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

/// Flips, inserts or deletes one to four bytes.
fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..=rng.below(4) {
        match rng.below(3) {
            0 if !bytes.is_empty() => {
                let at = rng.below(bytes.len());
                bytes[at] ^= (rng.next() as u8) | 1;
            }
            1 => {
                let at = rng.below(bytes.len() + 1);
                bytes.insert(at, rng.next() as u8);
            }
            _ if !bytes.is_empty() => {
                let at = rng.below(bytes.len());
                bytes.remove(at);
            }
            _ => {}
        }
    }
}

/// Changes the flight's shape rather than its bytes: a record dropped, repeated, moved or
/// split in two, a ChangeCipherSpec slipped in, or a handshake message of a record dropped,
/// repeated or moved to the end.
fn restructure(flight: &mut Flight, rng: &mut Rng) {
    let recs = &mut flight.0;
    let at = rng.below(recs.len());
    match rng.below(7) {
        0 if recs.len() > 1 => {
            recs.remove(at);
        }
        1 => recs.insert(at, recs[at].clone()),
        2 => {
            let to = rng.below(recs.len());
            recs.swap(at, to);
        }
        3 if recs[at].content.len() > 1 => {
            let cut = 1 + rng.below(recs[at].content.len() - 1);
            let mut tail = recs[at].clone();
            tail.content = recs[at].content.split_off(cut);
            recs.insert(at + 1, tail);
        }
        4 => recs.insert(
            at,
            Rec {
                typ: CCS,
                version: [0x03, 0x03],
                protected: false,
                content: vec![0x01],
            },
        ),
        _ if recs[at].typ == HANDSHAKE => {
            let mut msgs = split_messages(&recs[at].content);
            let m = rng.below(msgs.len());
            match rng.below(3) {
                0 => drop(msgs.remove(m)),
                1 => msgs.insert(m, msgs[m].clone()),
                _ => {
                    let moved = msgs.remove(m);
                    msgs.push(moved);
                }
            }
            recs[at].content = msgs.concat();
        }
        _ => {}
    }
}

/// A flight to mutate: who sends it, the key log label of its protected records, and what
/// the sides do to make it once the flights before it have arrived.
struct FlightSpec {
    name: &'static str,
    from_client: bool,
    keys: Option<&'static str>,
    make: fn(&mut Connection, &mut Connection),
    /// The server sends no tickets yet; a forged one goes first, so the client's ticket
    /// parser sees hostile input too.
    forged_ticket: bool,
}

const fn flight(name: &'static str, from_client: bool, keys: Option<&'static str>) -> FlightSpec {
    FlightSpec {
        name,
        from_client,
        keys,
        make: |_, _| {},
        forged_ticket: false,
    }
}

/// A handshake with HelloRetryRequest and client authentication, and two flights after it.
const RETRY_AND_CLIENT_AUTH: &[FlightSpec] = &[
    flight("ClientHello", true, None),
    flight("HelloRetryRequest, ChangeCipherSpec", false, None),
    flight("ChangeCipherSpec, ClientHello", true, None),
    flight(
        "ServerHello .. CertificateRequest .. Finished",
        false,
        Some("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
    ),
    flight(
        "Certificate, CertificateVerify, Finished",
        true,
        Some("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
    ),
    FlightSpec {
        make: |c, _| {
            c.write_data(b"ping").unwrap();
            c.update_keys(true).unwrap();
        },
        ..flight(
            "application data, KeyUpdate",
            true,
            Some("CLIENT_TRAFFIC_SECRET_0"),
        )
    },
    FlightSpec {
        forged_ticket: true,
        ..flight(
            "NewSessionTicket, KeyUpdate",
            false,
            Some("SERVER_TRAFFIC_SECRET_0"),
        )
    },
];

/// The default handshake: hybrid X25519MLKEM768 key shares, no client certificate.
const DEFAULT_HANDSHAKE: &[FlightSpec] = &[
    flight("ClientHello with X25519MLKEM768", true, None),
    flight(
        "ServerHello .. Finished",
        false,
        Some("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
    ),
    flight(
        "ChangeCipherSpec, Finished",
        true,
        Some("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
    ),
];

/// What peer input may do to a connection: nothing, or end it with an alert, ours or the
/// peer's. An internal error caused by peer input is a bug.
fn outcome(result: Result<(), Error>) -> Result<Option<AlertDescription>, String> {
    match result {
        Ok(()) => Ok(None),
        Err(Error::Protocol {
            error: ProtocolError::Internal(why),
            ..
        }) => Err(format!("internal error from peer input: {why}")),
        Err(Error::Protocol {
            sent: Some(alert), ..
        }) => Ok(Some(alert)),
        Err(Error::AlertReceived { .. }) => Ok(None),
        Err(other) => Err(format!("unexpected error class: {other:?}")),
    }
}

/// Runs the handshake up to flight `k` of `flights`, gives the receiver that flight
/// mutated, then lets both sides go on until they are done or dead. Returns the alert the
/// receiver sent, if any.
fn mutated_case(
    cc: &Arc<ClientConfig>,
    sc: &Arc<ServerConfig>,
    log: &CaptureKeys,
    flights: &[FlightSpec],
    k: usize,
    rng: &mut Rng,
) -> Result<Option<AlertDescription>, String> {
    log.clear();
    let (mut c, mut s) = connect_with(cc, sc);
    for spec in &flights[..k] {
        (spec.make)(&mut c, &mut s);
        if spec.from_client {
            transfer(&mut c, &mut s).unwrap();
        } else {
            transfer(&mut s, &mut c).unwrap();
        }
    }
    let spec = &flights[k];
    (spec.make)(&mut c, &mut s);
    let (sender, receiver) = if spec.from_client {
        (&mut c, &mut s)
    } else {
        (&mut s, &mut c)
    };
    let keys = spec.keys.map(|l| Keys::new(sender, log, l));
    let mut flight = Flight::open(&sender.take_outgoing(), keys.as_ref());
    if spec.forged_ticket {
        let ticket = HandshakePayload::NewSessionTicket13(NewSessionTicket13 {
            lifetime: 7200,
            age_add: 0x0102_0304,
            nonce: vec![0x00],
            ticket: vec![0x5a; 64],
            extensions: vec![ServerExtension::MaxEarlyData(0x4000)],
        });
        let mut content = Vec::new();
        ticket.encode(&mut content);
        let rec = Rec {
            typ: HANDSHAKE,
            version: [0x03, 0x03],
            protected: true,
            content,
        };
        flight.0.insert(0, rec);
    }
    let wire = match rng.below(4) {
        // Raw bytes: headers, records in the clear, ciphertext.
        0 => {
            let mut wire = flight.seal(keys.as_ref());
            mutate(&mut wire, rng);
            wire
        }
        // The shape of the flight.
        1 => {
            restructure(&mut flight, rng);
            flight.seal(keys.as_ref())
        }
        // Content: the bytes the receiver parses once the records are open.
        _ => {
            let at = rng.below(flight.0.len());
            mutate(&mut flight.0[at].content, rng);
            flight.seal(keys.as_ref())
        }
    };
    let sent = outcome(receiver.receive_data(&wire))?;
    for _ in 0..10 {
        if !(pass(&mut c, &mut s)? | pass(&mut s, &mut c)?) {
            break;
        }
    }
    Ok(sent)
}

/// Moves what `from` has to say to `to`, unless `to` is dead; says whether anything moved.
fn pass(from: &mut Connection, to: &mut Connection) -> Result<bool, String> {
    let bytes = from.take_outgoing();
    if bytes.is_empty() || to.error().is_some() {
        return Ok(false);
    }
    outcome(to.receive_data(&bytes))?;
    Ok(true)
}

#[test]
fn mutated_tls13_flights_never_panic_nor_fail_internally() {
    const CASES_PER_FLIGHT: usize = 1200;
    let fx = Fixture::new(KeyType::EcdsaP256);
    let log = Arc::new(CaptureKeys::default());
    let (mut retry_cc, mut retry_sc) = retry_configs(&fx);
    let (auth_cc, auth_sc) = client_auth_configs(&fx);
    retry_cc.client_certificate = auth_cc.client_certificate;
    retry_sc.client_auth = auth_sc.client_auth;
    let scenarios = [
        (retry_cc, retry_sc, RETRY_AND_CLIENT_AUTH),
        (fx.client_config13(), fx.server_config(), DEFAULT_HANDSHAKE),
    ];

    let started = Instant::now();
    let mut seeds = Rng(0x2545_f491_4f6c_dd1d);
    let mut cases = 0;
    let mut failures = Vec::new();
    for (mut cc, mut sc, flights) in scenarios {
        cc.key_log = Some(log.clone());
        sc.key_log = Some(log.clone());
        let (cc, sc) = (Arc::new(cc), Arc::new(sc));
        for (k, spec) in flights.iter().enumerate() {
            let mut alerts = std::collections::BTreeMap::new();
            for case in 0..CASES_PER_FLIGHT {
                let seed = seeds.next();
                let result = catch_unwind(AssertUnwindSafe(|| {
                    mutated_case(&cc, &sc, &log, flights, k, &mut Rng(seed))
                }));
                let name = spec.name;
                match result {
                    Ok(Ok(alert)) => {
                        let alert = alert.map_or("none", |a| a.name().unwrap_or("unknown"));
                        *alerts.entry(alert).or_insert(0) += 1;
                    }
                    Ok(Err(why)) => failures.push(format!("{name} #{case} seed {seed:#x}: {why}")),
                    Err(_) => failures.push(format!("{name} #{case} seed {seed:#x}: panic")),
                }
                cases += 1;
            }
            eprintln!("{}: {alerts:?}", spec.name);
            // The mutations reach the parsers, not only the record layer.
            let refused_past_the_aead = alerts
                .keys()
                .filter(|a| !matches!(**a, "none" | "bad_record_mac"))
                .count();
            assert!(refused_past_the_aead >= 2, "{}: {alerts:?}", spec.name);
        }
    }
    eprintln!("{cases} mutated flights in {:.1?}", started.elapsed());
    let first: Vec<_> = failures.iter().take(20).collect();
    assert!(
        failures.is_empty(),
        "{} failures: {first:#?}",
        failures.len()
    );
}
