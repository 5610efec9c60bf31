//! TLS 1.3 resumption and 0-RTT against a hostile peer (issue 9, "Bad input"): each refusal
//! with the exact error and the exact alert, which must also reach the other side; and the
//! tickets a server passes over (another server's, expired, another hash, another name, a
//! client certificate owed) leading to a full handshake rather than an error.
//!
//! Flights are real ones from an in-memory pair, edited with the helpers of
//! `tests13_hostile.rs`: hellos decoded, changed and encoded again, protected records opened
//! and sealed again with keys rebuilt from the secrets a key log captured.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::UnixTime;

use super::tests::{handshake, records, transfer, CaptureKeys, Fixture};
use super::tests13_hostile::{
    assert_refused, edit_client_hello, edit_server_hello, handshake_message, reseal, Keys,
};
use super::*;
use crate::codec::enums::{ExtensionType, HandshakeType, ProtocolVersion, PskKeyExchangeMode};
use crate::codec::extensions::{ClientExtension, OfferedPsks};
use crate::codec::handshake::{read_handshake, ClientHello, HandshakePayload};
use crate::config::{ClientAuth, ClientConfig, ServerConfig};
use crate::crypto::fixed::FixedTime;
use crate::crypto::suites::{TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384};
use crate::error::PeerIncompatible;
use crate::handshake::Msg;
use crate::negotiated::EarlyData;
use crate::pki::{GeneratedPki, KeyType};
use crate::session::{ClientSessionCache, Ticketer};

// --- connections ------------------------------------------------------------------------

/// A client and a server config whose connections share a ticket cache, ticket keys and a
/// key log.
struct Setup {
    fx: Fixture,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    log: Arc<CaptureKeys>,
}

impl Setup {
    /// 0-RTT up to `early_data` bytes on both sides; 0 turns it off.
    fn new(early_data: u32) -> Self {
        Self::with_fixture(Fixture::new(KeyType::EcdsaP256), early_data)
    }

    fn with_fixture(fx: Fixture, early_data: u32) -> Self {
        let log = Arc::new(CaptureKeys::default());
        let mut client = fx.client_config13();
        client.session_cache = Some(Arc::new(ClientSessionCache::new(16)));
        client.enable_early_data = early_data > 0;
        client.key_log = Some(log.clone());
        let mut server = fx.server_config();
        server.max_early_data_size = early_data;
        server.key_log = Some(log.clone());
        Self {
            fx,
            client: Arc::new(client),
            server: Arc::new(server),
            log,
        }
    }

    /// The server config changed by `change`; it keeps the ticket keys.
    fn server_with(&self, change: impl FnOnce(&mut ServerConfig)) -> Arc<ServerConfig> {
        let mut config = (*self.server).clone();
        change(&mut config);
        Arc::new(config)
    }

    /// The client config changed by `change`; it keeps the ticket cache.
    fn client_with(&self, change: impl FnOnce(&mut ClientConfig)) -> Arc<ClientConfig> {
        let mut config = (*self.client).clone();
        change(&mut config);
        Arc::new(config)
    }

    fn cache(&self) -> &ClientSessionCache {
        self.client.session_cache.as_deref().unwrap()
    }

    fn connect(&self) -> (Connection, Connection) {
        connect(&self.client, &self.server, "localhost")
    }

    /// A full handshake, after which the client holds the server's tickets.
    fn full_handshake(&self) {
        full_handshake(&self.client, &self.server);
    }

    /// The keys of the secret logged last under `label`, for the suite `conn` negotiated.
    fn keys(&self, conn: &Connection, label: &str) -> Keys {
        Keys::new(conn, &self.log, label)
    }
}

fn connect(
    client: &Arc<ClientConfig>,
    server: &Arc<ServerConfig>,
    name: &str,
) -> (Connection, Connection) {
    let mut c = Connection::client(client.clone(), name).unwrap();
    let s = Connection::server(server.clone()).unwrap();
    c.start().unwrap();
    (c, s)
}

fn full_handshake(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) {
    let (mut c, mut s) = connect(client, server, "localhost");
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.state(), Phase::AppData);
    assert!(!s.negotiated().resumed);
}

/// The ClientHello that starts `wire`.
pub(super) fn client_hello(wire: &[u8]) -> ClientHello {
    let (_, first) = records(wire)[0].clone();
    let msg = &wire[first.start + 5..first.end];
    match read_handshake(HandshakeType::from(Msg::ClientHello), &msg[4..], None).unwrap() {
        HandshakePayload::ClientHello(hello) => hello,
        other => panic!("not a ClientHello: {other:?}"),
    }
}

fn offers_psk(wire: &[u8]) -> bool {
    client_hello(wire).has_extension(ExtensionType::PRE_SHARED_KEY)
}

/// The handshake messages of one protected record of a flight, opened with `keys` at `seq`.
fn open_handshake(keys: &Keys, seq: u64, record: &[u8]) -> Vec<u8> {
    let mut body = record[5..].to_vec();
    let opened = keys
        .opener()
        .open(
            seq,
            ContentType::APPLICATION_DATA,
            ProtocolVersion::TLS1_2,
            &mut body,
        )
        .unwrap();
    assert_eq!(opened.typ, ContentType::HANDSHAKE);
    body[opened.range].to_vec()
}

/// The server's table went past the ticket: CHECK_SESSION_CACHE → CHOOSE_CERTIFICATE, a
/// full handshake.
fn assert_full_handshake(c: &mut Connection, s: &mut Connection) {
    assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
    assert!(!c.negotiated().resumed && !s.negotiated().resumed);
    assert!(c.negotiated().signature_scheme.is_some(), "server signed");
    let went_to_full = std::iter::from_fn(|| s.poll_event()).any(|ev| {
        matches!(
            ev,
            Event::Trace(TraceEvent::Transition {
                from: Phase::CheckSessionCache,
                to: Phase::ChooseCertificate,
                ..
            })
        )
    });
    assert!(went_to_full);
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event())
        .filter(|ev| !matches!(ev, Event::Trace(_)))
        .collect()
}

/// The client's pre_shared_key extension, to be edited.
fn psks(hello: &mut ClientHello) -> &mut OfferedPsks {
    match hello.extensions.last_mut() {
        Some(ClientExtension::PreSharedKey(psks)) => psks,
        other => panic!("pre_shared_key is not last: {other:?}"),
    }
}

// --- 1. binders ---------------------------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-6.2
//# decrypt_error:  A handshake (not record layer) cryptographic
//#    operation failed, including being unable to correctly verify a
//#    signature or validate a Finished message or a PSK binder.
#[test]
fn binder_that_does_not_verify_is_decrypt_error() {
    let setup = Setup::new(0);
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    let hello = edit_client_hello(&c.take_outgoing(), |h| psks(h).binders[0][0] ^= 0x01);
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        PeerMisbehaved::IncorrectBinder,
        AlertDescription::DECRYPT_ERROR,
    );
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
//# Prior to accepting PSK key establishment, the server MUST validate
//# the corresponding binder value (see Section 4.2.11.2 below).  If this
//# value is not present or does not validate, the server MUST abort the
//# handshake.
//
//= https://www.rfc-editor.org/rfc/rfc8446#section-6.2
//# illegal_parameter:  A field in the handshake was incorrect or
//#    inconsistent with other fields.
#[test]
fn binders_that_do_not_pair_with_the_identities_are_illegal_parameter() {
    let setup = Setup::new(0);
    // Two identities, one binder: the second identity's binder is missing.
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    let hello = edit_client_hello(&c.take_outgoing(), |h| {
        let psks = psks(h);
        psks.identities.push(psks.identities[0].clone());
    });
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        PeerMisbehaved::PskBindersMismatch,
        AlertDescription::ILLEGAL_PARAMETER,
    );
    // One identity, two binders.
    setup.cache().remove("localhost");
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    let hello = edit_client_hello(&c.take_outgoing(), |h| {
        let psks = psks(h);
        psks.binders.push(psks.binders[0].clone());
    });
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        PeerMisbehaved::PskBindersMismatch,
        AlertDescription::ILLEGAL_PARAMETER,
    );
}

/// With no binder at all the extension breaks its own syntax, which is a decoding error,
/// not an inconsistency between fields.
//
//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
//#       PskBinderEntry binders<33..2^16-1>;
//
//= https://www.rfc-editor.org/rfc/rfc8446#section-6.2
//# decode_error:  A message could not be decoded because some field was
//#    out of the specified range or the length of the message was
//#    incorrect.
#[test]
fn an_empty_binder_list_is_decode_error() {
    let setup = Setup::new(0);
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    let hello = edit_client_hello(&c.take_outgoing(), |h| psks(h).binders.clear());
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        InvalidMessage::EmptyList {
            what: "pre_shared_key",
        },
        AlertDescription::DECODE_ERROR,
    );
}

// --- 2. the extensions around a PSK ------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
//# Servers MUST check that it is the last extension and otherwise fail
//# the handshake with an "illegal_parameter" alert.
#[test]
fn pre_shared_key_not_last_is_illegal_parameter() {
    let setup = Setup::new(0);
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    let hello = edit_client_hello(&c.take_outgoing(), |h| {
        let psk = h.extensions.pop().unwrap();
        let at = h.extensions.len() - 1;
        h.extensions.insert(at, psk);
    });
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        PeerMisbehaved::PreSharedKeyNotLast,
        AlertDescription::ILLEGAL_PARAMETER,
    );
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.9
//# If clients offer
//# "pre_shared_key" without a "psk_key_exchange_modes" extension,
//# servers MUST abort the handshake.
//
//= https://www.rfc-editor.org/rfc/rfc8446#section-6.2
//# missing_extension:  Sent by endpoints that receive a handshake
//#    message not containing an extension that is mandatory to send for
//#    the offered TLS version or other negotiated parameters.
#[test]
fn pre_shared_key_without_psk_key_exchange_modes_is_missing_extension() {
    let setup = Setup::new(0);
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    let hello = edit_client_hello(&c.take_outgoing(), |h| {
        h.extensions
            .retain(|e| e.typ() != ExtensionType::PSK_KEY_EXCHANGE_MODES)
    });
    assert_refused(
        &mut s,
        &mut c,
        &hello,
        PeerMisbehaved::MissingExtension(ExtensionType::PSK_KEY_EXCHANGE_MODES),
        AlertDescription::MISSING_EXTENSION,
    );
}

// --- 3. tickets passed over: a full handshake, not an error --------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
//# Any unknown PSKs (e.g., ones not in the PSK database or encrypted with an
//# unknown key) SHOULD simply be ignored.  If no acceptable PSKs are found, the
//# server SHOULD perform a non-PSK handshake if possible.
#[test]
fn ticket_sealed_by_another_server_means_a_full_handshake() {
    let setup = Setup::new(0);
    setup.full_handshake();
    let other = setup.server_with(|s| {
        s.ticketer = Some(Arc::new(
            Ticketer::new(crate::session::ticket::DEFAULT_ROTATION).unwrap(),
        ))
    });
    let (mut c, mut s) = connect(&setup.client, &other, "localhost");
    let hello = c.take_outgoing();
    assert!(offers_psk(&hello));
    s.receive_data(&hello).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_full_handshake(&mut c, &mut s);
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
//# A server
//# MAY treat a ticket as valid for a shorter period of time than what
//# is stated in the ticket_lifetime.
#[test]
fn expired_ticket_means_a_full_handshake() {
    const T0: u64 = 1_800_000_000;
    const LIFETIME: u64 = 60;
    let at = |mut provider: crate::crypto::Provider, secs: u64| {
        provider.time = Arc::new(FixedTime(UnixTime::since_unix_epoch(Duration::from_secs(
            secs,
        ))));
        provider
    };
    let setup = Setup::new(0);
    // The client's clock stays at T0, so it always thinks its ticket is new and offers it.
    let client = setup.client_with(|c| c.provider = at(c.provider.clone(), T0));
    let server_at = |secs| {
        setup.server_with(|s| {
            s.provider = at(s.provider.clone(), secs);
            s.session_lifetime = Duration::from_secs(LIFETIME);
        })
    };
    let issuing = server_at(T0);
    // At the end of its lifetime a ticket still resumes: the age is not what refuses below.
    full_handshake(&client, &issuing);
    let (mut c, mut s) = connect(&client, &server_at(T0 + LIFETIME), "localhost");
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().resumed);

    // Without the tickets that resumption brought, which are newer.
    setup.cache().remove("localhost");
    full_handshake(&client, &issuing);
    let (mut c, mut s) = connect(&client, &server_at(T0 + LIFETIME + 1), "localhost");
    let hello = c.take_outgoing();
    assert!(offers_psk(&hello));
    s.receive_data(&hello).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_full_handshake(&mut c, &mut s);
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
//# Any ticket MUST only be resumed with a cipher suite that has the same
//# KDF hash algorithm as that used to establish the original connection.
#[test]
fn ticket_of_another_hash_is_passed_over_for_a_full_handshake() {
    let setup = Setup::new(0);
    let sha384 = setup.server_with(|s| s.cipher_suites = vec![(&TLS13_AES_256_GCM_SHA384).into()]);
    full_handshake(&setup.client, &sha384);
    let sha256 = setup.server_with(|s| s.cipher_suites = vec![(&TLS13_AES_128_GCM_SHA256).into()]);
    // The client offers the SHA-384 ticket, since it offers a SHA-384 suite too; the server
    // picks a SHA-256 suite, which the ticket's PSK cannot serve.
    let (mut c, mut s) = connect(&setup.client, &sha256, "localhost");
    let hello = c.take_outgoing();
    assert!(offers_psk(&hello));
    s.receive_data(&hello).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_full_handshake(&mut c, &mut s);
    assert_eq!(
        s.negotiated().cipher_suite,
        Some(TLS13_AES_128_GCM_SHA256.suite)
    );
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
//# Clients MUST verify that the server's selected_identity is within the
//# range supplied by the client, that the server selected a cipher suite
//# indicating a Hash associated with the PSK, and that a server
//# "key_share" extension is present if required by the ClientHello
//# "psk_key_exchange_modes" extension.  If these values are not
//# consistent, the client MUST abort the handshake with an
//# "illegal_parameter" alert.
#[test]
fn server_resuming_with_a_suite_of_another_hash_is_illegal_parameter() {
    let setup = Setup::new(0);
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(
        s.negotiated().cipher_suite,
        Some(TLS13_AES_128_GCM_SHA256.suite)
    );
    let flight = edit_server_hello(&s.take_outgoing(), |h| {
        h.cipher_suite = TLS13_AES_256_GCM_SHA384.suite
    });
    assert_refused(
        &mut c,
        &mut s,
        &flight,
        PeerMisbehaved::SelectedUnofferedPsk,
        AlertDescription::ILLEGAL_PARAMETER,
    );
}

// --- 4. resumption and the client's certificate ------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.4.2.4
//# If the client does not send any certificates (i.e., it sends an empty
//# Certificate message), the server MAY at its discretion either
//# continue the handshake without client authentication or abort the
//# handshake with a "certificate_required" alert.
#[test]
fn resumption_never_lifts_a_client_certificate_requirement() {
    let setup = Setup::new(0);
    // The ticket comes from a connection without a client certificate.
    setup.full_handshake();
    let trust = setup.fx.pki.trust_store().unwrap();
    let strict = setup.server_with(|s| s.client_auth = ClientAuth::Required(trust));
    let (mut c, mut s) = connect(&setup.client, &strict, "localhost");
    let hello = c.take_outgoing();
    assert!(offers_psk(&hello), "the client offers the ticket");
    s.receive_data(&hello).unwrap();
    // No PSK accepted: the server authenticates itself and asks for a certificate.
    transfer(&mut s, &mut c).unwrap();
    assert!(!c.negotiated().resumed);
    assert!(c.negotiated().client_certificate_requested);
    assert!(c.negotiated().signature_scheme.is_some());
    let empty_certificate = c.take_outgoing();
    assert_refused(
        &mut s,
        &mut c,
        &empty_certificate,
        PeerIncompatible::CertificateRequired,
        AlertDescription::CERTIFICATE_REQUIRED,
    );
}

// --- 5. resumption and the server name ---------------------------------------------------

/// A fixture whose server certificate covers two names.
fn two_names() -> Fixture {
    let names = ["localhost".to_string(), "alias.localhost".to_string()];
    Fixture {
        pki: GeneratedPki::generate(KeyType::EcdsaP256, &names).unwrap(),
    }
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
//# Clients MUST only resume if the new SNI value is valid for the server
//# certificate presented in the original session and SHOULD only resume
//# if the SNI value matches the one used in the original session.
#[test]
fn client_never_offers_a_ticket_for_another_name() {
    let setup = Setup::with_fixture(two_names(), 16384);
    setup.full_handshake();
    // The ticket for "localhost", put where the client looks for "alias.localhost" (as an
    // application importing sessions might): the client checks the name it was made for.
    let saved = setup.cache().export("localhost").unwrap();
    setup.cache().import("alias.localhost", &saved).unwrap();
    let (mut c, mut s) = connect(&setup.client, &setup.server, "alias.localhost");
    let hello = c.take_outgoing();
    assert!(!offers_psk(&hello));
    assert!(!client_hello(&hello).has_extension(ExtensionType::EARLY_DATA));
    assert!(c.write_early_data(b"x").is_err());
    s.receive_data(&hello).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_full_handshake(&mut c, &mut s);
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
//# On resumption, if reporting an SNI value to the calling application,
//# implementations MUST use the value sent in the resumption ClientHello
//# rather than the value sent in the previous session.  Note that if a
//# server implementation declines all PSK identities with different SNI
//# values, these two values are always the same.
#[test]
fn server_declines_a_ticket_made_for_another_name_and_its_early_data() {
    let setup = Setup::with_fixture(two_names(), 16384);
    setup.full_handshake();
    // A client that resumes across names (RFC 8446 §4.6.1 lets it, given an indication
    // that the servers share tickets): the "localhost" ticket, offered for "alias.localhost"
    // with 0-RTT data.
    let mut ticket = setup.cache().take_tls13("localhost").unwrap();
    ticket.server_name = "alias.localhost".into();
    setup.cache().put("alias.localhost", ticket);
    let (mut c, mut s) = connect(&setup.client, &setup.server, "alias.localhost");
    assert_eq!(c.write_early_data(b"GET /alias").unwrap(), 10);
    let flight = c.take_outgoing();
    assert!(offers_psk(&flight));
    s.receive_data(&flight).unwrap();
    assert_eq!(s.early_data_available(), 0);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        s.negotiated().server_name.as_deref(),
        Some("alias.localhost")
    );
    assert_eq!(s.negotiated().early_data, EarlyData::Rejected);
    assert_eq!(c.negotiated().early_data, EarlyData::Rejected);
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
    assert_full_handshake(&mut c, &mut s);
}

// --- 6. early data and ALPN ----------------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.10
//# In order to accept early data, the server MUST have accepted a PSK
//# cipher suite and selected the first key offered in the client's
//# "pre_shared_key" extension.  In addition, it MUST verify that the
//# following values are the same as those associated with the
//# selected PSK:
//#
//# -  The TLS version number
//#
//# -  The selected cipher suite
//#
//# -  The selected ALPN [RFC7301] protocol, if any
#[test]
fn early_data_for_another_alpn_protocol_is_refused_and_the_handshake_goes_on() {
    let setup = Setup::new(16384);
    let server =
        setup.server_with(|s| s.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    let h2 = setup.client_with(|c| c.alpn_protocols = vec![b"h2".to_vec()]);
    full_handshake(&h2, &server);
    // A client that believes the h2 ticket was made for http/1.1 sends http/1.1 early.
    let mut ticket = setup.cache().take_tls13("localhost").unwrap();
    assert_eq!(ticket.alpn.as_deref(), Some(&b"h2"[..]));
    ticket.alpn = Some(b"http/1.1".to_vec());
    setup.cache().put("localhost", ticket);
    let http1 = setup.client_with(|c| c.alpn_protocols = vec![b"http/1.1".to_vec()]);
    let (mut c, mut s) = connect(&http1, &server, "localhost");
    assert_eq!(c.write_early_data(b"GET / HTTP/1.1").unwrap(), 14);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
    assert!(
        s.negotiated().resumed,
        "the PSK is fine, only 0-RTT is refused"
    );
    assert_eq!(
        s.negotiated().alpn_protocol.as_deref(),
        Some(&b"http/1.1"[..])
    );
    assert_eq!(s.negotiated().early_data, EarlyData::Rejected);
    assert_eq!(s.early_data_available(), 0);
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
}

// --- 7. how much early data ----------------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
//# A server receiving more than
//# max_early_data_size bytes of 0-RTT data SHOULD terminate the
//# connection with an "unexpected_message" alert.
#[test]
fn accepted_early_data_past_the_limit_is_unexpected_message() {
    let setup = Setup::new(100);
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    assert_eq!(c.write_early_data(&[0x61; 300]).unwrap(), 100);
    let mut flight = c.take_outgoing();
    // One byte more under the same early keys: a client ignoring the ticket's limit.
    c.writer
        .write(ContentType::APPLICATION_DATA, b"!", &mut c.out)
        .unwrap();
    flight.extend_from_slice(&c.take_outgoing());
    assert_refused(
        &mut s,
        &mut c,
        &flight,
        PeerMisbehaved::TooMuchEarlyData,
        AlertDescription::UNEXPECTED_MESSAGE,
    );
    assert_eq!(s.early_data_available(), 100, "what came within the limit");
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.10
//# -  Ignore the extension and return a regular 1-RTT response.  The
//#    server then skips past early data by attempting to deprotect
//#    received records using the handshake traffic key, discarding
//#    records which fail deprotection (up to the configured
//#    max_early_data_size).  Once a record is deprotected successfully,
//#    it is treated as the start of the client's second flight and the
//#    server proceeds as with an ordinary 1-RTT handshake.
#[test]
fn early_data_when_0rtt_is_off_is_skipped_up_to_the_limit_and_no_further() {
    let setup = Setup::new(16384);
    let off = setup.server_with(|s| s.max_early_data_size = 0);
    // All the ticket allows, in one full record: skipped, and the handshake completes.
    setup.full_handshake();
    let (mut c, mut s) = connect(&setup.client, &off, "localhost");
    assert_eq!(c.write_early_data(&[0x61; 16384]).unwrap(), 16384);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
    assert!(s.negotiated().resumed);
    assert_eq!(s.negotiated().early_data, EarlyData::Rejected);
    assert_eq!(s.early_data_available(), 0);
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
    c.write_data(b"resent").unwrap();
    transfer(&mut c, &mut s).unwrap();
    let mut buf = [0u8; 16];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"resent");

    // One byte more than that: refused. (Fresh tickets: those of the resumed connection
    // come from the server with 0-RTT off and allow none.)
    setup.cache().remove("localhost");
    setup.full_handshake();
    let (mut c, mut s) = connect(&setup.client, &off, "localhost");
    c.write_early_data(&[0x61; 16384]).unwrap();
    let mut flight = c.take_outgoing();
    c.writer
        .write(ContentType::APPLICATION_DATA, b"!", &mut c.out)
        .unwrap();
    flight.extend_from_slice(&c.take_outgoing());
    assert_refused(
        &mut s,
        &mut c,
        &flight,
        PeerMisbehaved::TooMuchEarlyData,
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

// --- 8. EndOfEarlyData ---------------------------------------------------------------------

/// A resumed handshake with 0-RTT data accepted, up to the client's second flight: its
/// EndOfEarlyData under the early keys (record 1 of them, after the data) and its Finished
/// under the handshake keys, one record each. Returns the two records.
fn after_accepted_early_data(setup: &Setup) -> (Connection, Connection, Vec<u8>, Vec<u8>) {
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    c.write_early_data(b"early").unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(s.negotiated().early_data, EarlyData::Accepted);
    transfer(&mut s, &mut c).unwrap();
    let flight = c.take_outgoing();
    let recs: Vec<Vec<u8>> = records(&flight)
        .into_iter()
        .map(|(typ, range)| {
            assert_eq!(typ, ContentType::APPLICATION_DATA.0);
            flight[range].to_vec()
        })
        .collect();
    let [end_of_early_data, finished] = <[Vec<u8>; 2]>::try_from(recs).unwrap();
    (c, s, end_of_early_data, finished)
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.5
//# If the server sent an "early_data" extension, the client MUST send an
//# EndOfEarlyData message after receiving the server Finished.
#[test]
fn finished_without_end_of_early_data_is_unexpected_message() {
    let setup = Setup::new(16384);
    let (mut c, mut s, _, finished) = after_accepted_early_data(&setup);
    let hs = setup.keys(&c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    let early = setup.keys(&c, "CLIENT_EARLY_TRAFFIC_SECRET");
    // The Finished where EndOfEarlyData belongs: next under the early keys, after the data.
    let finished = open_handshake(&hs, 0, &finished);
    let record = early.seal(1, ContentType::HANDSHAKE.0, &finished);
    assert_refused(
        &mut s,
        &mut c,
        &record,
        ProtocolError::Unexpected {
            phase: Phase::WaitResume,
            expected: vec![Msg::EndOfEarlyData],
            got: Msg::Finished,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

#[test]
fn a_second_end_of_early_data_is_unexpected_message() {
    let setup = Setup::new(16384);
    let (mut c, mut s, end_of_early_data, _) = after_accepted_early_data(&setup);
    let hs = setup.keys(&c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    let again = hs.seal(
        0,
        ContentType::HANDSHAKE.0,
        &handshake_message(Msg::EndOfEarlyData, &[]),
    );
    assert_refused(
        &mut s,
        &mut c,
        &[end_of_early_data, again].concat(),
        ProtocolError::Unexpected {
            phase: Phase::WaitResume,
            expected: vec![Msg::Finished],
            got: Msg::EndOfEarlyData,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.5
//# If the
//# server does not send an "early_data" extension, then the client
//# MUST NOT send an EndOfEarlyData message.
#[test]
fn end_of_early_data_without_accepted_early_data_is_unexpected_message() {
    // Resumed without 0-RTT, then a full handshake.
    for resumed in [true, false] {
        let setup = Setup::new(0);
        if resumed {
            setup.full_handshake();
        }
        let (mut c, mut s) = setup.connect();
        handshake_until_client_finished(&mut c, &mut s);
        let keys = setup.keys(&c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
        let flight = reseal(&c.take_outgoing(), &keys, |msgs| {
            msgs.insert(0, handshake_message(Msg::EndOfEarlyData, &[]))
        });
        let phase = if resumed {
            Phase::WaitResume
        } else {
            Phase::Wait
        };
        assert_refused(
            &mut s,
            &mut c,
            &flight,
            ProtocolError::Unexpected {
                phase,
                expected: vec![Msg::Finished],
                got: Msg::EndOfEarlyData,
            },
            AlertDescription::UNEXPECTED_MESSAGE,
        );
    }
}

/// Both hellos and the server's flight have been through; the client's Finished waits.
fn handshake_until_client_finished(c: &mut Connection, s: &mut Connection) {
    transfer(c, s).unwrap();
    transfer(s, c).unwrap();
    assert_eq!(c.state(), Phase::AppData);
}

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.5
//# Servers MUST NOT send this message, and clients receiving it
//# MUST terminate the connection with an "unexpected_message" alert.
#[test]
fn end_of_early_data_from_the_server_is_unexpected_message() {
    let setup = Setup::new(16384);
    setup.full_handshake();
    let (mut c, mut s) = setup.connect();
    c.write_early_data(b"early").unwrap();
    transfer(&mut c, &mut s).unwrap();
    let keys = setup.keys(&s, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let flight = reseal(&s.take_outgoing(), &keys, |msgs| {
        let finished = msgs.len() - 1;
        msgs.insert(finished, handshake_message(Msg::EndOfEarlyData, &[]))
    });
    assert_refused(
        &mut c,
        &mut s,
        &flight,
        ProtocolError::Unexpected {
            phase: Phase::Wait1,
            expected: vec![Msg::Finished],
            got: Msg::EndOfEarlyData,
        },
        AlertDescription::UNEXPECTED_MESSAGE,
    );
}

// --- 9. a replayed 0-RTT ClientHello ------------------------------------------------------------

//= https://www.rfc-editor.org/rfc/rfc8446#section-8.2
//# If the expected_arrival_time is in the window, then the server checks
//# to see if it has recorded a matching ClientHello.  If one is found,
//# it either aborts the handshake with an "illegal_parameter" alert or
//# accepts the PSK but rejects 0-RTT.
#[test]
fn replayed_0rtt_client_hello_gets_its_early_data_refused_and_the_handshake_goes_on() {
    let setup = Setup::new(16384);
    setup.full_handshake();
    let (mut c, mut first) = setup.connect();
    c.write_early_data(b"transfer 100 coins").unwrap();
    let flight = c.take_outgoing();
    first.receive_data(&flight).unwrap();
    assert_eq!(first.negotiated().early_data, EarlyData::Accepted);
    assert_eq!(first.early_data_available(), 18);

    // The same flight again, to another connection of the server. The client, which cannot
    // tell, goes on with that one.
    let mut replay = Connection::server(setup.server.clone()).unwrap();
    replay.receive_data(&flight).unwrap();
    assert_eq!(replay.negotiated().early_data, EarlyData::Rejected);
    assert_eq!(replay.early_data_available(), 0);
    handshake(&mut c, &mut replay).unwrap();
    assert_eq!(
        (c.state(), replay.state()),
        (Phase::AppData, Phase::AppData)
    );
    assert!(replay.negotiated().resumed && c.negotiated().resumed);
    assert_eq!(
        replay.negotiated().psk_key_exchange_mode,
        Some(PskKeyExchangeMode::PSK_DHE_KE)
    );
    assert_eq!(c.negotiated().early_data, EarlyData::Rejected);
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
    assert_eq!(replay.early_data_available(), 0, "never read as 0-RTT");
}
