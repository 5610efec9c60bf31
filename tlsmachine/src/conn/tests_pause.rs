//! Handshake pauses: the connection stops at CHECK_SESSION_CACHE, CHOOSE_CERTIFICATE and
//! SIGN, buffers what arrives, sends nothing, and goes on when the application answers;
//! wrong or missing answers end it with the right alert.

use std::sync::Arc;

use super::tests::{handshake, pair, transfer, Fixture};
use super::*;
use crate::codec::enums::{AlertDescription, SignatureScheme};
use crate::config::{ClientAuth, ClientConfig, ServerConfig};
use crate::error::PeerIncompatible;
use crate::negotiated::EarlyData;
use crate::pause::{Pause, PauseKind, Pauses};
use crate::pki::KeyType;
use crate::session::ClientSessionCache;

const ALL: Pauses = Pauses {
    session_lookup: true,
    certificate: true,
    signing: true,
};

fn paused_server(fx: &Fixture) -> ServerConfig {
    let mut config = fx.server_config();
    config.pauses = ALL;
    config
}

/// The non-trace events so far.
fn events(conn: &mut Connection) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(ev) = conn.poll_event() {
        if !matches!(ev, Event::Trace(_)) {
            out.push(ev);
        }
    }
    out
}

fn trace(conn: &mut Connection) -> Vec<TraceEvent> {
    let mut out = Vec::new();
    while let Some(ev) = conn.poll_event() {
        if let Event::Trace(t) = ev {
            out.push(t);
        }
    }
    out
}

/// Answers the server's certificate question with the fixture's certificate, checking
/// what the question says about the client.
fn answer_certificate(s: &mut Connection, fx: &Fixture, version: Version) {
    let Some(Pause::Certificate(query)) = s.pause() else {
        panic!("not paused for a certificate: {:?}", s.pause());
    };
    assert_eq!(query.version, version);
    assert_eq!(query.server_name.as_deref(), Some("localhost"));
    assert!(query
        .signature_schemes
        .contains(&SignatureScheme::ECDSA_SECP256R1_SHA256));
    s.provide_certificate(Some(fx.pki.server_key().unwrap()))
        .unwrap();
}

/// Signs what the open question asks with the key of the certificate it names: what a
/// remote signer would do.
fn answer_signature(conn: &mut Connection) {
    let Some(Pause::Sign(request)) = conn.pause() else {
        panic!("not paused to sign: {:?}", conn.pause());
    };
    let signature = request
        .certificate
        .signer()
        .sign(request.scheme, &request.message);
    conn.provide_signature(signature).unwrap();
}

#[test]
fn a_full_handshake_stops_to_choose_the_certificate_and_to_sign_in_both_versions() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for (client, version) in [
        (fx.client_config(), Version::Tls12),
        (fx.client_config13(), Version::Tls13),
    ] {
        let (mut c, mut s) = pair(client, paused_server(&fx));
        transfer(&mut c, &mut s).unwrap();
        assert_eq!(s.state(), Phase::ChooseCertificate, "{version:?}");
        assert!(!s.wants_write(), "nothing sent while paused");
        assert_eq!(events(&mut s), [Event::Paused(PauseKind::Certificate)]);

        answer_certificate(&mut s, &fx, version);
        assert_eq!(s.state(), Phase::Sign);
        assert!(!s.wants_write(), "nothing sent while paused");
        assert_eq!(s.pause().map(Pause::kind), Some(PauseKind::Sign));
        answer_signature(&mut s);
        assert_eq!(s.state(), Phase::Wait);
        assert!(s.wants_write(), "the flight went out once signed");

        handshake(&mut c, &mut s).unwrap();
        assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
        assert_eq!(c.version(), Some(version));
        assert_eq!(s.pause().map(Pause::kind), None);
        c.write_data(b"after the pauses").unwrap();
        transfer(&mut c, &mut s).unwrap();
        let mut buf = [0u8; 32];
        let n = s.read_data(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"after the pauses");
    }
}

#[test]
fn pauses_show_in_the_trace_and_the_phases() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config13(), paused_server(&fx));
    transfer(&mut c, &mut s).unwrap();
    answer_certificate(&mut s, &fx, Version::Tls13);
    answer_signature(&mut s);
    let lines: Vec<String> = trace(&mut s)
        .iter()
        .filter(|t| {
            matches!(
                t,
                TraceEvent::Paused { .. }
                    | TraceEvent::Answered { .. }
                    | TraceEvent::Transition { .. }
            )
        })
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "== IDLE -> CHECK_SESSION_CACHE  [ClientHello]",
            "== CHECK_SESSION_CACHE -> CHOOSE_CERTIFICATE  [session absent]",
            "   (paused for the application: certificate choice)",
            "   (the application answered: certificate choice)",
            "== CHOOSE_CERTIFICATE -> SIGN  [certificate chosen]",
            "   (paused for the application: signature)",
            "   (the application answered: signature)",
            "== SIGN -> WAIT  [signed]",
        ]
    );
}

#[test]
fn without_pauses_the_same_points_pass_at_once_and_raise_no_event() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config13(), fx.server_config());
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(s.state(), Phase::Wait);
    assert!(!events(&mut s).iter().any(|e| matches!(e, Event::Paused(_))));
}

/// A TLS 1.2 session ID is looked up by the application; the session it gives back
/// resumes, and `None` means a full handshake.
#[test]
fn a_tls12_session_id_is_looked_up_by_the_application() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut server = fx.server_config();
    // Session IDs only: without a ticketer the client's ticket cannot stand in.
    server.ticketer = None;
    let store = server.session_store.clone().unwrap();
    let mut paused = server.clone();
    paused.pauses.session_lookup = true;
    let client = Arc::new(fx.client_config());
    let mut c = Connection::client(client.clone(), "localhost").unwrap();
    let mut s = Connection::server(Arc::new(server)).unwrap();
    c.start().unwrap();
    handshake(&mut c, &mut s).unwrap();
    let id = s.negotiated().session_id.clone();
    assert!(!id.is_empty());

    let paused = Arc::new(paused);
    for found in [true, false] {
        let mut c = Connection::client(client.clone(), "localhost").unwrap();
        let mut s = Connection::server(paused.clone()).unwrap();
        c.start().unwrap();
        transfer(&mut c, &mut s).unwrap();
        assert_eq!(s.state(), Phase::CheckSessionCache);
        let Some(Pause::SessionLookup(lookup)) = s.pause() else {
            panic!("not paused for the session: {:?}", s.pause());
        };
        assert_eq!(lookup.id, id);
        assert!(!lookup.take, "a TLS 1.2 session may be resumed again");
        let now = fx_now(&paused);
        let answer = found.then(|| store.get(&id, now).unwrap());
        s.provide_session(answer).unwrap();
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.negotiated().resumed, found);
        assert_eq!(c.negotiated().resumed, found);
    }
}

fn fx_now(config: &ServerConfig) -> rustls_pki_types::UnixTime {
    config.provider.time.now()
}

/// A single-use TLS 1.3 ticket is taken by the application; 0-RTT data that came behind
/// the ClientHello waits, unread, until the answer, then arrives as early data.
#[test]
fn a_stateful_tls13_ticket_is_taken_by_the_application_with_early_data_waiting() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut client = fx.client_config13();
    client.session_cache = Some(Arc::new(ClientSessionCache::new(8)));
    client.enable_early_data = true;
    let client = Arc::new(client);
    let mut server = fx.server_config();
    server.stateful_tickets = true;
    server.tls13_tickets = 1;
    server.max_early_data_size = 1024;
    let store = server.session_store.clone().unwrap();
    let mut paused = server.clone();
    paused.pauses.session_lookup = true;
    let (mut c, mut s) = (
        Connection::client(client.clone(), "localhost").unwrap(),
        Connection::server(Arc::new(server)).unwrap(),
    );
    c.start().unwrap();
    handshake(&mut c, &mut s).unwrap();

    let paused = Arc::new(paused);
    let mut c = Connection::client(client, "localhost").unwrap();
    let mut s = Connection::server(paused.clone()).unwrap();
    c.start().unwrap();
    assert_eq!(c.write_early_data(b"early request").unwrap(), 13);
    transfer(&mut c, &mut s).unwrap();
    let Some(Pause::SessionLookup(lookup)) = s.pause() else {
        panic!("not paused for the ticket: {:?}", s.pause());
    };
    assert!(lookup.take, "a stateful TLS 1.3 ticket is single-use");
    let id = lookup.id.clone();
    assert_eq!(s.early_data_available(), 0, "buffered, not processed");
    let taken = store.take(&id, fx_now(&paused));
    assert!(taken.is_some());
    s.provide_session(taken).unwrap();
    assert_eq!(s.early_data_available(), 13);
    let mut buf = [0u8; 32];
    let n = s.read_early_data(&mut buf);
    assert_eq!(&buf[..n], b"early request");
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().resumed);
    assert_eq!(c.negotiated().early_data, EarlyData::Accepted);
}

/// A client whose key is held elsewhere pauses to sign its CertificateVerify.
#[test]
fn a_client_pauses_to_sign_its_certificate_verify_in_both_versions() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut server = fx.server_config();
    server.client_auth = ClientAuth::Required(fx.pki.trust_store().unwrap());
    let with_cert = |mut config: ClientConfig| {
        config.client_certificate = Some(fx.pki.client_key().unwrap());
        config.pauses.signing = true;
        config
    };
    for (client, version) in [
        (with_cert(fx.client_config()), Version::Tls12),
        (with_cert(fx.client_config13()), Version::Tls13),
    ] {
        let (mut c, mut s) = pair(client, server.clone());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.state(), Phase::Sign, "{version:?}");
        assert!(!c.wants_write());
        answer_signature(&mut c);
        handshake(&mut c, &mut s).unwrap();
        assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
        assert!(s.negotiated().client_authenticated);
    }
}

/// A server asking for a certificate the client does not have: the client passes SIGN
/// with nothing to sign, and says so with an empty Certificate.
#[test]
fn a_client_without_a_certificate_has_nothing_to_sign() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut server = fx.server_config();
    server.client_auth = ClientAuth::Optional(fx.pki.trust_store().unwrap());
    let mut client = fx.client_config13();
    client.pauses.signing = true;
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
    assert!(!s.negotiated().client_authenticated);
}

#[test]
fn records_received_while_paused_are_handled_after_the_answer() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config(), paused_server(&fx));
    let mut hello = c.take_outgoing();
    // A ChangeCipherSpec right behind the ClientHello: out of place, but only once the
    // server is past the pause does it look at it.
    hello.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    s.receive_data(&hello).unwrap();
    assert_eq!(s.state(), Phase::ChooseCertificate);
    answer_certificate(&mut s, &fx, Version::Tls12);
    let Some(Pause::Sign(request)) = s.pause() else {
        panic!("not paused to sign: {:?}", s.pause());
    };
    let signature = request
        .certificate
        .signer()
        .sign(request.scheme, &request.message);
    assert!(matches!(
        s.provide_signature(signature),
        Err(Error::Protocol {
            sent: Some(AlertDescription::UNEXPECTED_MESSAGE),
            ..
        })
    ));
}

#[test]
fn an_answer_to_another_question_is_refused_and_the_pause_stays() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config13(), paused_server(&fx));
    transfer(&mut c, &mut s).unwrap();
    assert!(matches!(
        s.provide_signature(Ok(vec![1, 2, 3])),
        Err(Error::Local(LocalError::WrongPhase {
            call: "provide_signature",
            phase: Phase::ChooseCertificate
        }))
    ));
    assert_eq!(s.pause().map(Pause::kind), Some(PauseKind::Certificate));
    answer_certificate(&mut s, &fx, Version::Tls13);
    answer_signature(&mut s);
    handshake(&mut c, &mut s).unwrap();

    // Not paused at all.
    assert!(matches!(
        s.provide_session(None),
        Err(Error::Local(LocalError::WrongPhase { .. }))
    ));
}

#[test]
fn no_certificate_is_unrecognized_name() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config13(), paused_server(&fx));
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(
        s.provide_certificate(None),
        Err(Error::Protocol {
            error: PeerIncompatible::UnrecognizedName.into(),
            sent: Some(AlertDescription::UNRECOGNIZED_NAME)
        })
    );
}

#[test]
fn a_failed_or_abandoned_signature_is_internal_error_for_both_sides() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for abandon in [false, true] {
        let (mut c, mut s) = pair(fx.client_config13(), paused_server(&fx));
        transfer(&mut c, &mut s).unwrap();
        answer_certificate(&mut s, &fx, Version::Tls13);
        let err = match abandon {
            false => s
                .provide_signature(Err(LocalError::Crypto("hardware module unreachable")))
                .unwrap_err(),
            true => s.abandon_pause("signature not answered in time"),
        };
        assert!(
            matches!(
                err,
                Error::Protocol {
                    error: ProtocolError::Internal(_),
                    sent: Some(AlertDescription::INTERNAL_ERROR)
                }
            ),
            "{err:?}"
        );
        assert_eq!(s.state(), Phase::Shutdown);
        assert_eq!(
            transfer(&mut s, &mut c),
            Err(Error::AlertReceived {
                alert: AlertDescription::INTERNAL_ERROR
            })
        );
        assert!(matches!(
            s.provide_signature(Ok(Vec::new())),
            Err(Error::Invalidated { .. })
        ));
    }
}
