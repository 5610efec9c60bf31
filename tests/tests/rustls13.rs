//! TLS 1.3 interop with rustls 0.23 (aws-lc-rs provider), in memory (issue 8): our client
//! against a rustls server and a rustls client against our server, for the three suites ×
//! X25519MLKEM768, X25519, P-256 and P-384 × ECDSA P-256, RSA-2048 and Ed25519
//! certificates, with data and close_notify both ways and the version, suite and group
//! checked on both sides. Then the hybrid post-quantum X25519MLKEM768 with each side's
//! defaults, the HelloRetryRequest in both roles (rustls says `FullWithHelloRetryRequest`),
//! client authentication (accepted, and a missing certificate answered with
//! `certificate_required`), KeyUpdate both ways (`refresh_traffic_keys` and our
//! `update_keys`), exporters with and without a context, and when application data may
//! flow: a rustls server's 0.5-RTT data (RFC 8446 §2) is read by our client, while data
//! written before the handshake ends by a default rustls server, or by our server, waits
//! for the client's Finished.

use std::io::Write;
use std::sync::Arc;

use rustls::crypto::{aws_lc_rs, CryptoProvider, SupportedKxGroup};
use rustls::server::WebPkiClientVerifier;
use rustls::{HandshakeKind, SupportedCipherSuite};
use rustls_pki_types::ServerName;
use tlsmachine::codec::enums::{AlertDescription, NamedGroup, ProtocolVersion};
use tlsmachine::crypto::suites::Tls13Suite;
use tlsmachine::error::{LocalError, PeerIncompatible, ProtocolError};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::{ClientAuth, ClientConfig, Connection, Error, Phase, ServerConfig, Version};
use tlsmachine_tests::{
    client13_config, rustls_certs, rustls_key, rustls_roots, server13_config, take_trace,
    RustlsPair, TLS13_CERT_TYPES, TLS13_SUITES,
};

/// Every group both of us implement, the hybrid first.
const GROUPS: [NamedGroup; 4] = [
    NamedGroup::X25519MLKEM768,
    NamedGroup::X25519,
    NamedGroup::SECP256R1,
    NamedGroup::SECP384R1,
];

// ---------------------------------------------------------------------------------------
// the matrix
// ---------------------------------------------------------------------------------------

#[test]
fn our_client_against_rustls_server_every_suite_group_and_certificate() {
    for key_type in TLS13_CERT_TYPES {
        let pki = generate(key_type);
        for suite in TLS13_SUITES {
            for group in GROUPS {
                let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
                let server = rustls_server(&pki, provider(&[suite], &[group]));
                let client =
                    Connection::client(Arc::new(client13_config(&pki, suite, group)), "localhost")
                        .unwrap();
                let mut pair = RustlsPair::new(client, server);
                pair.handshake()
                    .unwrap_or_else(|e| panic!("{what}: handshake: {e:?}"));
                assert_negotiated(&pair, suite, group, HandshakeKind::Full, &what);
                exchange_data(&mut pair, &what);
                we_close_first(&mut pair, &what);
            }
        }
    }
}

#[test]
fn rustls_client_against_our_server_every_suite_group_and_certificate() {
    for key_type in TLS13_CERT_TYPES {
        let pki = generate(key_type);
        // Our server accepts everything; the rustls client restricts.
        let config = Arc::new(server13_config(&pki));
        for suite in TLS13_SUITES {
            for group in GROUPS {
                let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
                let client = rustls_client(&pki, provider(&[suite], &[group]), None);
                let server = Connection::server(config.clone()).unwrap();
                let mut pair = RustlsPair::new(server, client);
                pair.handshake()
                    .unwrap_or_else(|e| panic!("{what}: handshake: {e:?}"));
                assert_negotiated(&pair, suite, group, HandshakeKind::Full, &what);
                let name = pair.ours.negotiated().server_name.as_deref();
                assert_eq!(name, Some("localhost"), "{what}");
                exchange_data(&mut pair, &what);
                they_close_first(&mut pair, &what);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// X25519MLKEM768 by default
// ---------------------------------------------------------------------------------------

/// With our defaults (both versions, every suite and group) and rustls preferring the hybrid
/// group the way its `prefer-post-quantum` feature orders it, both roles settle on TLS 1.3
/// with X25519MLKEM768 in one round trip.
#[test]
fn x25519mlkem768_is_negotiated_with_rustls_in_both_roles() {
    let pki = generate(KeyType::EcdsaP256);
    let pq_first = || {
        provider(
            &TLS13_SUITES,
            &[
                NamedGroup::X25519MLKEM768,
                NamedGroup::X25519,
                NamedGroup::SECP256R1,
                NamedGroup::SECP384R1,
            ],
        )
    };
    let suite = TLS13_SUITES[0];
    let group = NamedGroup::X25519MLKEM768;

    let ours = ClientConfig::new(pki.trust_store().unwrap());
    let client = Connection::client(Arc::new(ours), "localhost").unwrap();
    let mut pair = RustlsPair::new(client, rustls_server(&pki, pq_first()));
    pair.handshake().unwrap();
    assert_negotiated(&pair, suite, group, HandshakeKind::Full, "our client");
    exchange_data(&mut pair, "our client");
    we_close_first(&mut pair, "our client");

    let ours = ServerConfig::new(pki.server_key().unwrap());
    let server = Connection::server(Arc::new(ours)).unwrap();
    let mut pair = RustlsPair::new(server, rustls_client(&pki, pq_first(), None));
    pair.handshake().unwrap();
    assert_negotiated(&pair, suite, group, HandshakeKind::Full, "our server");
    exchange_data(&mut pair, "our server");
    they_close_first(&mut pair, "our server");
}

// ---------------------------------------------------------------------------------------
// HelloRetryRequest
// ---------------------------------------------------------------------------------------

/// The rustls client shares P-384 first, which our server (configured without it) does not
/// accept: we ask for X25519MLKEM768, our first choice among the groups it supports, and
/// its second ClientHello carries the 1216-byte hybrid share.
#[test]
fn our_server_asks_rustls_client_to_retry_with_x25519mlkem768() {
    let pki = generate(KeyType::EcdsaP256);
    let mut config = server13_config(&pki);
    config.groups = vec![
        NamedGroup::X25519MLKEM768,
        NamedGroup::X25519,
        NamedGroup::SECP256R1,
    ];
    let server = Connection::server(Arc::new(config)).unwrap();
    let client = rustls_client(
        &pki,
        provider(
            &TLS13_SUITES,
            &[NamedGroup::SECP384R1, NamedGroup::X25519MLKEM768],
        ),
        None,
    );
    let mut pair = RustlsPair::new(server, client);
    pair.handshake().unwrap();
    let (suite, group) = (TLS13_SUITES[0], NamedGroup::X25519MLKEM768);
    let kind = HandshakeKind::FullWithHelloRetryRequest;
    assert_negotiated(&pair, suite, group, kind, "retry");
    exchange_data(&mut pair, "retry");
    they_close_first(&mut pair, "retry");
}

/// Our client shares X25519 only; a rustls server that accepts only X25519MLKEM768 asks for
/// it.
#[test]
fn rustls_server_asks_our_client_to_retry_with_x25519mlkem768() {
    let pki = generate(KeyType::Ed25519);
    let mut config = ClientConfig::new(pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    config.key_share_groups = vec![NamedGroup::X25519];
    let client = Connection::client(Arc::new(config), "localhost").unwrap();
    let server = rustls_server(&pki, provider(&TLS13_SUITES, &[NamedGroup::X25519MLKEM768]));
    let mut pair = RustlsPair::new(client, server);
    pair.handshake().unwrap();
    let (suite, group) = (TLS13_SUITES[0], NamedGroup::X25519MLKEM768);
    let kind = HandshakeKind::FullWithHelloRetryRequest;
    assert_negotiated(&pair, suite, group, kind, "retry");
    exchange_data(&mut pair, "retry");
    we_close_first(&mut pair, "retry");
}

// ---------------------------------------------------------------------------------------
// client authentication
// ---------------------------------------------------------------------------------------

#[test]
fn rustls_client_with_a_certificate_against_our_server() {
    for key_type in TLS13_CERT_TYPES {
        let what = format!("{key_type:?}");
        let pki = generate(key_type);
        let mut config = server13_config(&pki);
        config.client_auth = ClientAuth::Required(pki.trust_store().unwrap());
        let server = Connection::server(Arc::new(config)).unwrap();
        let client = rustls_client(&pki, provider(&TLS13_SUITES, &GROUPS), Some(&pki));
        let mut pair = RustlsPair::new(server, client);
        pair.handshake().unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let n = pair.ours.negotiated();
        assert!(n.client_authenticated, "{what}");
        let leaf = n.peer_certificates.first();
        assert_eq!(leaf, rustls_certs(&pki.client_chain_pem).first(), "{what}");
        exchange_data(&mut pair, &what);
        they_close_first(&mut pair, &what);
    }
}

#[test]
fn our_client_with_a_certificate_against_rustls_server() {
    for key_type in TLS13_CERT_TYPES {
        let what = format!("{key_type:?}");
        let pki = generate(key_type);
        let mut config = ClientConfig::new(pki.trust_store().unwrap());
        config.versions = vec![Version::Tls13];
        config.client_certificate = Some(pki.client_key().unwrap());
        let client = Connection::client(Arc::new(config), "localhost").unwrap();
        let server = rustls_server_requiring_client_certs(&pki);
        let mut pair = RustlsPair::new(client, server);
        pair.handshake().unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert!(
            pair.ours.negotiated().client_certificate_requested,
            "{what}"
        );
        let theirs = pair
            .theirs
            .peer_certificates()
            .expect("rustls saw our chain");
        assert_eq!(theirs.first(), rustls_certs(&pki.client_chain_pem).first());
        exchange_data(&mut pair, &what);
        we_close_first(&mut pair, &what);
    }
}

/// RFC 8446 §4.4.2.4: the server aborts with `certificate_required`; our client has sent its
/// Finished by then and learns it from the alert.
#[test]
fn our_client_without_a_certificate_gets_certificate_required_from_rustls() {
    let pki = generate(KeyType::EcdsaP256);
    let mut config = ClientConfig::new(pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    let client = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut pair = RustlsPair::new(client, rustls_server_requiring_client_certs(&pki));
    let err = pair.pump().expect_err("rustls accepted no certificate");
    println!("ours: {:?}\nrustls: {:?}", err.ours, err.theirs);
    assert_eq!(
        err.ours,
        Some(Error::AlertReceived {
            alert: AlertDescription::CERTIFICATE_REQUIRED
        })
    );
    assert_eq!(err.theirs, Some(rustls::Error::NoCertificatesPresented));
    assert_eq!(pair.ours.state(), Phase::Shutdown);
}

#[test]
fn rustls_client_without_a_certificate_gets_certificate_required_from_our_server() {
    let pki = generate(KeyType::EcdsaP256);
    let mut config = server13_config(&pki);
    config.client_auth = ClientAuth::Required(pki.trust_store().unwrap());
    let server = Connection::server(Arc::new(config)).unwrap();
    let client = rustls_client(&pki, provider(&TLS13_SUITES, &GROUPS), None);
    let mut pair = RustlsPair::new(server, client);
    let err = pair.pump().expect_err("we accepted no certificate");
    println!("ours: {:?}\nrustls: {:?}", err.ours, err.theirs);
    assert_eq!(
        err.ours,
        Some(Error::Protocol {
            error: ProtocolError::Incompatible(PeerIncompatible::CertificateRequired),
            sent: Some(AlertDescription::CERTIFICATE_REQUIRED),
        })
    );
    assert_eq!(
        err.theirs,
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired
        ))
    );
}

// ---------------------------------------------------------------------------------------
// KeyUpdate
// ---------------------------------------------------------------------------------------

/// Each side in turn updates its keys asking the other to follow (rustls'
/// `refresh_traffic_keys` always asks), with data both ways after each update; in both
/// roles.
#[test]
fn key_updates_both_ways_with_rustls() {
    let pki = generate(KeyType::EcdsaP256);
    for we_are_client in [true, false] {
        let what = if we_are_client {
            "our client"
        } else {
            "our server"
        };
        let mut pair = if we_are_client {
            let mut config = client13_config(&pki, TLS13_SUITES[1], NamedGroup::X25519MLKEM768);
            config.trace = true;
            let client = Connection::client(Arc::new(config), "localhost").unwrap();
            RustlsPair::new(
                client,
                rustls_server(&pki, provider(&TLS13_SUITES, &GROUPS)),
            )
        } else {
            let mut config = server13_config(&pki);
            config.trace = true;
            let server = Connection::server(Arc::new(config)).unwrap();
            let client = rustls_client(&pki, provider(&TLS13_SUITES, &GROUPS), None);
            RustlsPair::new(server, client)
        };
        pair.handshake().unwrap();
        exchange_data(&mut pair, what);
        take_trace(&mut pair.ours);

        pair.ours.update_keys(true).unwrap();
        exchange_data(&mut pair, what);
        pair.theirs.refresh_traffic_keys().unwrap();
        exchange_data(&mut pair, what);
        pair.ours.update_keys(false).unwrap();
        exchange_data(&mut pair, what);

        let trace = take_trace(&mut pair.ours);
        let key_updates: Vec<&str> = trace
            .iter()
            .filter(|l| l.starts_with("-> KeyUpdate") || l.starts_with("<- KeyUpdate"))
            .map(|l| l.as_str())
            .collect();
        let kinds: Vec<(&str, &str)> = key_updates
            .iter()
            .map(|l| (&l[..2], l.split_whitespace().last().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("->", "update_requested"),
                ("<-", "update_not_requested"),
                ("<-", "update_requested"),
                ("->", "update_not_requested"),
                ("->", "update_not_requested"),
            ],
            "{what}: {trace:#?}"
        );
        if we_are_client {
            we_close_first(&mut pair, what);
        } else {
            they_close_first(&mut pair, what);
        }
    }
}

// ---------------------------------------------------------------------------------------
// exporter
// ---------------------------------------------------------------------------------------

/// RFC 8446 §7.5: the same bytes on both sides, for an absent, an empty and a non-empty
/// context (absent and empty are the same in TLS 1.3), in both roles, for each suite's hash.
#[test]
fn exported_keying_material_matches_rustls() {
    let pki = generate(KeyType::EcdsaP256);
    for suite in TLS13_SUITES {
        for we_are_client in [true, false] {
            let group = NamedGroup::X25519;
            let mut pair = if we_are_client {
                let client =
                    Connection::client(Arc::new(client13_config(&pki, suite, group)), "localhost")
                        .unwrap();
                RustlsPair::new(client, rustls_server(&pki, provider(&[suite], &[group])))
            } else {
                let server = Connection::server(Arc::new(server13_config(&pki))).unwrap();
                let client = rustls_client(&pki, provider(&[suite], &[group]), None);
                RustlsPair::new(server, client)
            };
            pair.handshake().unwrap();
            for context in [None, Some(&b""[..]), Some(&b"some context"[..])] {
                let what = format!(
                    "{:?}, our client: {we_are_client}, {context:?}",
                    suite.suite
                );
                let mut ours = [0u8; 64];
                pair.ours
                    .export_keying_material(&mut ours, b"EXPORTER-tlsmachine-test", context)
                    .unwrap();
                let theirs = pair
                    .theirs
                    .export_keying_material([0u8; 64], b"EXPORTER-tlsmachine-test", context)
                    .unwrap();
                assert_eq!(ours, theirs, "{what}");
            }
            let mut none = [0u8; 32];
            let mut empty = [0u8; 32];
            pair.ours
                .export_keying_material(&mut none, b"EXPORTER-x", None)
                .unwrap();
            pair.ours
                .export_keying_material(&mut empty, b"EXPORTER-x", Some(b""))
                .unwrap();
            assert_eq!(none, empty);
        }
    }
}

// ---------------------------------------------------------------------------------------
// when application data may flow
// ---------------------------------------------------------------------------------------

/// RFC 8446 §2: a server may send application data right after its first flight, before the
/// client's Finished (0.5-RTT data). rustls does when `send_half_rtt_data` is set; our
/// client reads it on the same delivery that completes its handshake.
#[test]
fn our_client_reads_half_rtt_data_from_rustls() {
    let pki = generate(KeyType::EcdsaP256);
    let mut server = rustls_server_config(&pki, provider(&TLS13_SUITES, &GROUPS));
    server.send_half_rtt_data = true;
    let server = rustls::ServerConnection::new(Arc::new(server)).unwrap();
    let config = client13_config(&pki, TLS13_SUITES[0], NamedGroup::X25519);
    let client = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut pair = RustlsPair::new(client, server);
    pair.theirs.writer().write_all(b"half-RTT hello").unwrap();

    // ClientHello to rustls; its whole answer to us, without our Finished reaching it.
    let hello = pair.ours.take_outgoing();
    pair.theirs.read_tls(&mut &hello[..]).unwrap();
    pair.theirs.process_new_packets().unwrap();
    let mut flight = Vec::new();
    while pair.theirs.wants_write() {
        pair.theirs.write_tls(&mut flight).unwrap();
    }
    pair.ours.receive_data(&flight).unwrap();
    assert_eq!(pair.ours.state(), Phase::AppData);
    assert!(
        pair.theirs.is_handshaking(),
        "rustls has not seen our Finished"
    );
    assert_eq!(pair.read_ours(), b"half-RTT hello");

    pair.pump().unwrap();
    assert!(!pair.theirs.is_handshaking());
    exchange_data(&mut pair, "after half-RTT data");
    we_close_first(&mut pair, "after half-RTT data");
}

/// Without 0.5-RTT data, what a server writes before the handshake ends waits for the
/// client's Finished: rustls (its default) holds it back, and our server refuses to write
/// before APP_DATA. Data written right after each handshake arrives at once.
#[test]
fn servers_hold_data_until_the_clients_finished() {
    let pki = generate(KeyType::EcdsaP256);

    // A default rustls server: nothing reaches our client with the server's flight.
    let server = rustls_server(&pki, provider(&TLS13_SUITES, &GROUPS));
    let config = client13_config(&pki, TLS13_SUITES[0], NamedGroup::X25519);
    let client = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut pair = RustlsPair::new(client, server);
    pair.theirs.writer().write_all(b"early").unwrap();
    let hello = pair.ours.take_outgoing();
    pair.theirs.read_tls(&mut &hello[..]).unwrap();
    pair.theirs.process_new_packets().unwrap();
    let mut flight = Vec::new();
    while pair.theirs.wants_write() {
        pair.theirs.write_tls(&mut flight).unwrap();
    }
    pair.ours.receive_data(&flight).unwrap();
    assert_eq!(pair.ours.state(), Phase::AppData);
    assert_eq!(pair.read_ours(), b"");
    pair.pump().unwrap();
    assert_eq!(pair.read_ours(), b"early");
    we_close_first(&mut pair, "rustls server");

    // Our server, between its flight and the client's Finished: writing is refused.
    let server = Connection::server(Arc::new(server13_config(&pki))).unwrap();
    let client = rustls_client(&pki, provider(&TLS13_SUITES, &GROUPS), None);
    let mut pair = RustlsPair::new(server, client);
    let mut hello = Vec::new();
    while pair.theirs.wants_write() {
        pair.theirs.write_tls(&mut hello).unwrap();
    }
    pair.ours.receive_data(&hello).unwrap();
    assert_eq!(pair.ours.state(), Phase::Wait);
    assert_eq!(
        pair.ours.write_data(b"too early"),
        Err(Error::Local(LocalError::WrongPhase {
            call: "write_data",
            phase: Phase::Wait
        }))
    );
    pair.pump().unwrap();
    assert_eq!(pair.ours.state(), Phase::AppData);
    pair.ours.write_data(b"in time").unwrap();
    pair.pump().unwrap();
    assert_eq!(pair.read_theirs(), b"in time");
    they_close_first(&mut pair, "our server");
}

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

fn generate(key_type: KeyType) -> GeneratedPki {
    GeneratedPki::generate(key_type, &["localhost".into()]).unwrap()
}

/// Both sides agree on TLS 1.3, the suite, the group and whether there was a retry.
fn assert_negotiated(
    pair: &RustlsPair,
    suite: &Tls13Suite,
    group: NamedGroup,
    kind: HandshakeKind,
    what: &str,
) {
    let ours = pair.ours.negotiated();
    assert_eq!(pair.ours.version(), Some(Version::Tls13), "{what}");
    assert_eq!(ours.version, Some(ProtocolVersion::TLS1_3), "{what}");
    assert_eq!(ours.cipher_suite, Some(suite.suite), "{what}: our suite");
    assert_eq!(ours.group, Some(group), "{what}: our group");
    let retry = kind == HandshakeKind::FullWithHelloRetryRequest;
    assert_eq!(ours.hello_retry, retry, "{what}: our hello_retry");

    let theirs = &pair.theirs;
    assert_eq!(
        theirs.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3),
        "{what}"
    );
    let suite_code = theirs
        .negotiated_cipher_suite()
        .expect("rustls suite")
        .suite();
    assert_eq!(u16::from(suite_code), suite.suite.0, "{what}: rustls suite");
    let group_code = theirs
        .negotiated_key_exchange_group()
        .expect("group")
        .name();
    assert_eq!(u16::from(group_code), group.0, "{what}: rustls group");
    assert_eq!(theirs.handshake_kind(), Some(kind), "{what}");
}

/// Application data both ways, including one write larger than a record.
fn exchange_data(pair: &mut RustlsPair, what: &str) {
    let big: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    pair.ours.write_data(b"hello from tlsmachine").unwrap();
    pair.ours.write_data(&big).unwrap();
    pair.pump().unwrap();
    let mut want = b"hello from tlsmachine".to_vec();
    want.extend_from_slice(&big);
    assert_eq!(pair.read_theirs(), want, "{what}: rustls received");

    pair.theirs
        .writer()
        .write_all(b"hello from rustls")
        .unwrap();
    pair.theirs.writer().write_all(&big).unwrap();
    pair.pump().unwrap();
    let mut want = b"hello from rustls".to_vec();
    want.extend_from_slice(&big);
    assert_eq!(pair.read_ours(), want, "{what}: we received");
}

/// We close first; rustls sees it, answers with its own, we reach SHUTDOWN.
fn we_close_first(pair: &mut RustlsPair, what: &str) {
    pair.ours.close().unwrap();
    assert_eq!(pair.ours.state(), Phase::HostInitiatedClosing, "{what}");
    pair.pump().unwrap();
    assert!(
        pair.theirs_peer_closed,
        "{what}: rustls missed our close_notify"
    );
    pair.theirs.send_close_notify();
    pair.pump().unwrap();
    assert!(pair.ours.peer_closed(), "{what}");
    assert_eq!(pair.ours.state(), Phase::Shutdown, "{what}");
}

/// rustls closes first; we see it and answer at once.
fn they_close_first(pair: &mut RustlsPair, what: &str) {
    pair.theirs.send_close_notify();
    pair.pump().unwrap();
    assert!(pair.ours.peer_closed(), "{what}");
    assert_eq!(pair.ours.state(), Phase::Shutdown, "{what}");
    assert!(pair.theirs_peer_closed, "{what}: our close_notify missing");
}

/// rustls' aws-lc-rs provider cut down to `suites` and `groups`, in that order.
fn provider(suites: &[&Tls13Suite], groups: &[NamedGroup]) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: suites.iter().map(|s| rustls_suite(s)).collect(),
        kx_groups: groups.iter().map(|&g| rustls_group(g)).collect(),
        ..aws_lc_rs::default_provider()
    })
}

fn rustls_suite(suite: &Tls13Suite) -> SupportedCipherSuite {
    aws_lc_rs::ALL_CIPHER_SUITES
        .iter()
        .copied()
        .find(|s| u16::from(s.suite()) == suite.suite.0)
        .unwrap_or_else(|| panic!("rustls lacks {:?}", suite.suite))
}

fn rustls_group(group: NamedGroup) -> &'static dyn SupportedKxGroup {
    aws_lc_rs::ALL_KX_GROUPS
        .iter()
        .copied()
        .find(|g| u16::from(g.name()) == group.0)
        .unwrap_or_else(|| panic!("rustls lacks {group:?}"))
}

/// A rustls TLS 1.3 server config serving `pki`'s server certificate.
fn rustls_server_config(pki: &GeneratedPki, provider: Arc<CryptoProvider>) -> rustls::ServerConfig {
    rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            rustls_certs(&pki.server_chain_pem),
            rustls_key(&pki.server_key_pem),
        )
        .unwrap()
}

fn rustls_server(pki: &GeneratedPki, provider: Arc<CryptoProvider>) -> rustls::ServerConnection {
    rustls::ServerConnection::new(Arc::new(rustls_server_config(pki, provider))).unwrap()
}

/// A rustls TLS 1.3 server that requires a client certificate from `pki`'s CA.
fn rustls_server_requiring_client_certs(pki: &GeneratedPki) -> rustls::ServerConnection {
    let provider = provider(&TLS13_SUITES, &GROUPS);
    let verifier =
        WebPkiClientVerifier::builder_with_provider(rustls_roots(&pki.ca_pem), provider.clone())
            .build()
            .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            rustls_certs(&pki.server_chain_pem),
            rustls_key(&pki.server_key_pem),
        )
        .unwrap();
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

/// A rustls TLS 1.3 client for "localhost" trusting `pki`'s CA, presenting the client
/// certificate of `client_cert` when given.
fn rustls_client(
    pki: &GeneratedPki,
    provider: Arc<CryptoProvider>,
    client_cert: Option<&GeneratedPki>,
) -> rustls::ClientConnection {
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(rustls_roots(&pki.ca_pem));
    let config = match client_cert {
        Some(c) => builder
            .with_client_auth_cert(
                rustls_certs(&c.client_chain_pem),
                rustls_key(&c.client_key_pem),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("localhost").unwrap();
    rustls::ClientConnection::new(Arc::new(config), name).unwrap()
}
