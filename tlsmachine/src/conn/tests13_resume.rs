//! TLS 1.3 resumption and 0-RTT in memory: tickets, PSK handshakes, early data accepted,
//! refused and replayed, single-use stateful tickets.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::UnixTime;

use super::tests::{handshake, transfer, Fixture};
use super::tests13_resume_hostile::client_hello;
use super::*;
use crate::codec::enums::PskKeyExchangeMode;
use crate::config::{ClientAuth, ClientConfig, ServerConfig};
use crate::crypto::fixed::FixedTime;
use crate::negotiated::EarlyData;
use crate::pki::KeyType;
use crate::session::ClientSessionCache;

/// A client and a server config whose connections share a ticket cache and ticket keys.
struct Setup {
    fx: Fixture,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

impl Setup {
    fn new(early_data: u32) -> Self {
        let fx = Fixture::new(KeyType::EcdsaP256);
        let mut client = fx.client_config13();
        client.session_cache = Some(Arc::new(ClientSessionCache::new(16)));
        client.enable_early_data = early_data > 0;
        let mut server = fx.server_config();
        server.max_early_data_size = early_data;
        Self {
            client: Arc::new(client),
            server: Arc::new(server),
            fx,
        }
    }

    fn connect(&self) -> (Connection, Connection) {
        connect(&self.client, &self.server)
    }
}

fn connect(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) -> (Connection, Connection) {
    let mut c = Connection::client(client.clone(), "localhost").unwrap();
    let s = Connection::server(server.clone()).unwrap();
    c.start().unwrap();
    (c, s)
}

fn transitions(conn: &mut Connection) -> Vec<(Phase, Phase)> {
    let mut out = Vec::new();
    while let Some(ev) = conn.poll_event() {
        if let Event::Trace(TraceEvent::Transition { from, to, .. }) = ev {
            out.push((from, to));
        }
    }
    out
}

fn events(conn: &mut Connection) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(ev) = conn.poll_event() {
        if !matches!(ev, Event::Trace(_)) {
            out.push(ev);
        }
    }
    out
}

fn full(setup: &Setup) {
    let (mut c, mut s) = setup.connect();
    handshake(&mut c, &mut s).unwrap();
    assert!(!c.negotiated().resumed);
}

#[test]
fn tickets_resume_with_psk_dhe_ke() {
    let setup = Setup::new(0);
    full(&setup);
    let cache = setup.client.session_cache.as_ref().unwrap();
    assert!(cache.get("localhost").is_some(), "tickets kept");

    let (mut c, mut s) = setup.connect();
    handshake(&mut c, &mut s).unwrap();
    for conn in [&c, &s] {
        let n = conn.negotiated();
        assert!(n.resumed);
        assert_eq!(
            n.version,
            Some(crate::codec::enums::ProtocolVersion::TLS1_3)
        );
        assert_eq!(
            n.psk_key_exchange_mode,
            Some(PskKeyExchangeMode::PSK_DHE_KE)
        );
        assert_eq!(
            n.group,
            Some(crate::codec::enums::NamedGroup::X25519MLKEM768)
        );
    }
    assert_eq!(c.negotiated().peer_certificates.len(), 2, "from the ticket");
    use Phase::*;
    let server = transitions(&mut s);
    assert_eq!(
        &server[..3],
        [
            (Idle, CheckSessionCache),
            (CheckSessionCache, WaitResume),
            (WaitResume, AppData)
        ]
    );
    assert_eq!(transitions(&mut c)[..2], [(Idle, Wait1), (Wait1, AppData)]);

    c.write_data(b"after resumption").unwrap();
    transfer(&mut c, &mut s).unwrap();
    let mut buf = [0u8; 32];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"after resumption");
}

#[test]
fn each_ticket_is_offered_once_and_a_refused_one_is_gone() {
    let setup = Setup::new(0);
    let mut server = (*setup.server).clone();
    server.tls13_tickets = 1;
    let server = Arc::new(server);
    let (mut c, mut s) = connect(&setup.client, &server);
    handshake(&mut c, &mut s).unwrap();
    let cache = setup.client.session_cache.as_ref().unwrap();
    // A server with other ticket keys cannot open the one ticket: a full handshake, and
    // the ticket is spent.
    let mut other = (*server).clone();
    other.ticketer = Some(Arc::new(
        crate::session::Ticketer::new(crate::session::ticket::DEFAULT_ROTATION).unwrap(),
    ));
    let other = Arc::new(other);
    let (mut c, mut s) = connect(&setup.client, &other);
    assert!(cache.take_tls13("localhost").is_none(), "offered, so taken");
    handshake(&mut c, &mut s).unwrap();
    assert!(
        !s.negotiated().resumed,
        "unknown ticket: a full handshake, no error"
    );
    // That handshake brought a ticket for `other`, which resumes there.
    let (mut c, mut s) = connect(&setup.client, &other);
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().resumed);
}

#[test]
fn stateful_tickets_work_once() {
    let setup = Setup::new(0);
    let mut server = (*setup.server).clone();
    server.stateful_tickets = true;
    server.tls13_tickets = 1;
    let server = Arc::new(server);
    let (mut c, mut s) = connect(&setup.client, &server);
    handshake(&mut c, &mut s).unwrap();
    let cache = setup.client.session_cache.as_ref().unwrap();
    let saved = cache.export("localhost").unwrap();
    let ticket = cache.get("localhost").unwrap();
    assert_eq!(ticket.ticket.len(), 32, "a stateful ticket is an ID");

    let (mut c, mut s) = connect(&setup.client, &server);
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().resumed);

    // The same ticket again (saved bytes put back): the server already used it up.
    while cache.take_tls13("localhost").is_some() {}
    cache.import("localhost", &saved).unwrap();
    let (mut c, mut s) = connect(&setup.client, &server);
    handshake(&mut c, &mut s).unwrap();
    assert!(!s.negotiated().resumed, "single use");
}

#[test]
fn early_data_accepted_arrives_as_such() {
    let setup = Setup::new(16384);
    full(&setup);
    let (mut c, mut s) = setup.connect();
    assert_eq!(c.write_early_data(b"GET / early").unwrap(), 11);
    let flight = c.take_outgoing();
    s.receive_data(&flight).unwrap();
    assert_eq!(s.early_data_available(), 11);
    let mut buf = [0u8; 32];
    let n = s.read_early_data(&mut buf);
    assert_eq!(&buf[..n], b"GET / early");
    assert_eq!(
        s.plaintext_available(),
        0,
        "early data is not ordinary data"
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.negotiated().early_data, EarlyData::Accepted);
    assert_eq!(s.negotiated().early_data, EarlyData::Accepted);
    assert!(events(&mut c).contains(&Event::EarlyDataAccepted));
    // EndOfEarlyData came, and the handshake went on to APP_DATA.
    assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
    c.write_data(b"then normal").unwrap();
    transfer(&mut c, &mut s).unwrap();
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"then normal");
}

#[test]
fn early_data_refused_is_skipped_and_the_client_told() {
    let setup = Setup::new(16384);
    full(&setup);
    // The same ticket keys, but 0-RTT off: the ticket resumes, its early data does not.
    let mut no_early = (*setup.server).clone();
    no_early.max_early_data_size = 0;
    let no_early = Arc::new(no_early);
    let (mut c, mut s) = connect(&setup.client, &no_early);
    c.write_early_data(&[0x45; 5000]).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().resumed);
    assert_eq!(c.negotiated().early_data, EarlyData::Rejected);
    assert_eq!(s.early_data_available(), 0);
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
    c.write_data(b"resent").unwrap();
    transfer(&mut c, &mut s).unwrap();
    let mut buf = [0u8; 32];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"resent");
}

#[test]
fn replayed_early_data_is_refused_and_the_handshake_goes_on() {
    let setup = Setup::new(16384);
    full(&setup);
    let (mut c, mut s) = setup.connect();
    c.write_early_data(b"transfer 100 coins").unwrap();
    let first_flight = c.take_outgoing();
    s.receive_data(&first_flight).unwrap();
    assert_eq!(s.negotiated().early_data, EarlyData::Accepted);

    // An attacker replays the same first flight to another connection of the server.
    let mut replay = Connection::server(setup.server.clone()).unwrap();
    replay.receive_data(&first_flight).unwrap();
    assert_eq!(replay.negotiated().early_data, EarlyData::Rejected);
    assert_eq!(replay.early_data_available(), 0);
    assert!(
        replay.negotiated().resumed,
        "the PSK is fine, only 0-RTT is refused"
    );
    assert_eq!(replay.state(), Phase::WaitResume);
}

#[test]
fn early_data_beyond_the_allowance_is_refused() {
    let setup = Setup::new(100);
    full(&setup);
    let (mut c, mut s) = setup.connect();
    assert_eq!(
        c.write_early_data(&[1; 300]).unwrap(),
        100,
        "the ticket allows 100"
    );
    assert!(c.write_early_data(b"x").is_err());
    // A client that ignores the allowance: the server says unexpected_message.
    let mut c2 = Connection::client(setup.client.clone(), "localhost").unwrap();
    c2.start().unwrap();
    c2.write_early_data(&[1; 100]).unwrap();
    let mut flight = c2.take_outgoing();
    let extra = {
        // One more early record, sealed like the others by the same client.
        c2.writer
            .write(ContentType::APPLICATION_DATA, &[2; 10], &mut c2.out)
            .unwrap();
        c2.take_outgoing()
    };
    flight.extend_from_slice(&extra);
    let err = s.receive_data(&flight).unwrap_err();
    assert_eq!(
        err,
        Error::Protocol {
            error: PeerMisbehaved::TooMuchEarlyData.into(),
            sent: Some(AlertDescription::UNEXPECTED_MESSAGE)
        }
    );
}

#[test]
fn resumption_never_lifts_a_client_certificate_requirement() {
    let setup = Setup::new(0);
    full(&setup);
    let mut strict = (*setup.server).clone();
    strict.client_auth = ClientAuth::Required(setup.fx.pki.trust_store().unwrap());
    let strict = Arc::new(strict);
    let mut client = (*setup.client).clone();
    client.client_certificate = Some(setup.fx.pki.client_key().unwrap());
    let client = Arc::new(client);
    let (mut c, mut s) = connect(&client, &strict);
    handshake(&mut c, &mut s).unwrap();
    assert!(
        !s.negotiated().resumed,
        "the ticket had no client certificate"
    );
    assert!(s.negotiated().client_authenticated);
    // That session carries the certificate; resuming it keeps the client authenticated.
    let (mut c, mut s) = connect(&client, &strict);
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().resumed);
    assert!(s.negotiated().client_authenticated);
    assert_eq!(s.negotiated().peer_certificates.len(), 2);
}

#[test]
fn early_data_is_for_the_same_alpn_only() {
    let setup = Setup::new(16384);
    let mut server = (*setup.server).clone();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let server = Arc::new(server);
    let mut client = (*setup.client).clone();
    client.alpn_protocols = vec![b"h2".to_vec()];
    let client = Arc::new(client);
    let (mut c, mut s) = connect(&client, &server);
    handshake(&mut c, &mut s).unwrap();
    // Another protocol first: the client does not even offer early data.
    let mut other = (*client).clone();
    other.alpn_protocols = vec![b"http/1.1".to_vec()];
    let other = Arc::new(other);
    let (mut c, mut s) = connect(&other, &server);
    assert!(c.write_early_data(b"x").is_err());
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().resumed);
    assert_eq!(s.negotiated().early_data, EarlyData::NotOffered);
}

#[test]
fn resumption_with_a_hello_retry_request() {
    let setup = Setup::new(16384);
    full(&setup);
    let mut picky = (*setup.server).clone();
    picky.groups = vec![crate::codec::enums::NamedGroup::SECP256R1];
    let picky = Arc::new(picky);
    let (mut c, mut s) = connect(&setup.client, &picky);
    c.write_early_data(b"lost to the retry").unwrap();
    handshake(&mut c, &mut s).unwrap();
    for conn in [&c, &s] {
        assert!(conn.negotiated().hello_retry);
        assert!(
            conn.negotiated().resumed,
            "binders recomputed for the second hello"
        );
    }
    assert_eq!(c.negotiated().early_data, EarlyData::Rejected);
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
}

#[test]
fn tickets_are_kept_per_port() {
    let setup = Setup::new(0);
    let mut c = Connection::client_to(setup.client.clone(), "localhost", 443).unwrap();
    let mut s = Connection::server(setup.server.clone()).unwrap();
    c.start().unwrap();
    handshake(&mut c, &mut s).unwrap();
    let cache = setup.client.session_cache.as_ref().unwrap();
    assert!(cache.get("localhost:443").is_some());
    assert!(cache.get("localhost:8443").is_none());
    assert!(cache.get("localhost").is_none());
}

/// RFC 8446 §4.2.11.1: the ticket age a client sends. Our clock counts whole seconds, and
/// between an instant of second T and one of second T + n lie more than n - 1 seconds, and
/// maybe barely more. The client claims no more than that (a server may take a ticket
/// claimed older than it knows it to be for a replay, as GnuTLS does), and no less than a
/// second below it (servers compare the ages within a tolerance).
#[test]
fn the_ticket_age_sent_is_never_more_than_the_least_time_passed() {
    const T0: u64 = 1_800_000_000;
    let setup = Setup::new(0);
    let at = |secs| {
        let mut config = (*setup.client).clone();
        config.provider.time = Arc::new(FixedTime(UnixTime::since_unix_epoch(
            Duration::from_secs(secs),
        )));
        Arc::new(config)
    };
    let cache = setup.client.session_cache.as_ref().unwrap();
    for elapsed in [0, 1, 2, 30] {
        let (mut c, mut s) = connect(&at(T0), &setup.server);
        handshake(&mut c, &mut s).unwrap();
        let ticket = cache.get("localhost").unwrap();
        let (mut c, _) = connect(&at(T0 + elapsed), &setup.server);
        let hello = client_hello(&c.take_outgoing());
        let identity = &hello.offered_psks().unwrap().identities[0];
        assert_eq!(identity.identity, ticket.ticket, "the newest ticket");
        let age_ms = identity.obfuscated_ticket_age.wrapping_sub(ticket.age_add);
        let least_passed_ms = elapsed.saturating_sub(1) * 1000;
        assert!(
            u64::from(age_ms) <= least_passed_ms,
            "{elapsed} s: {age_ms} ms"
        );
        assert!(
            u64::from(age_ms) + 1000 > least_passed_ms,
            "{elapsed} s: {age_ms} ms"
        );
    }
}

/// A server that refuses our ClientHello with a fatal alert: its tickets are not offered
/// again (RFC 8446 §C.4).
#[test]
fn a_fatal_alert_to_the_client_hello_drops_the_servers_tickets() {
    let setup = Setup::new(0);
    full(&setup);
    let cache = setup.client.session_cache.clone().unwrap();
    assert!(cache.get("localhost").is_some());
    let mut refusing = (*setup.server).clone();
    refusing.alpn_protocols = vec![b"h2".to_vec()];
    let mut client = (*setup.client).clone();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (mut c, mut s) = connect(&Arc::new(client), &Arc::new(refusing));
    assert!(handshake(&mut c, &mut s).is_err(), "the server refuses");
    assert!(
        transfer(&mut s, &mut c).is_err(),
        "its alert reaches the client"
    );
    assert!(matches!(
        c.error(),
        Some(Error::AlertReceived {
            alert: crate::codec::enums::AlertDescription::NO_APPLICATION_PROTOCOL
        })
    ));
    assert!(cache.get("localhost").is_none(), "tickets dropped");
}

/// A stateless ticket opens only while its key lives (two rotation periods at least one):
/// the lifetime we announce is no longer than one period.
#[test]
fn ticket_lifetime_is_capped_by_the_ticket_key_rotation() {
    let setup = Setup::new(0);
    let mut server = (*setup.server).clone();
    server.ticketer = Some(Arc::new(
        crate::session::Ticketer::new(core::time::Duration::from_secs(3600)).unwrap(),
    ));
    let (mut c, mut s) = connect(&setup.client, &Arc::new(server));
    handshake(&mut c, &mut s).unwrap();
    let cache = setup.client.session_cache.as_ref().unwrap();
    let ticket = cache.take_tls13("localhost").unwrap();
    assert_eq!(ticket.ticket_lifetime_hint, 3600);
}
