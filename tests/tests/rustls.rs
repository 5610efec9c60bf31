//! Interop with rustls 0.23 (aws-lc-rs provider, TLS 1.2 only), in memory: our client
//! against a rustls server and a rustls client against our server, for every suite with a
//! certificate of its type and every group, with application data both ways, close_notify
//! both ways and the negotiated suite and group checked on both sides. Plus one refusal:
//! a rustls client offering only a suite we do not enable gets `handshake_failure`.

use std::io::Write;
use std::sync::Arc;

use rustls::crypto::{aws_lc_rs, CryptoProvider, SupportedKxGroup};
use rustls::SupportedCipherSuite;
use rustls_pki_types::ServerName;
use tlsmachine::codec::enums::{AlertDescription, NamedGroup};
use tlsmachine::crypto::suites::{
    Tls12Suite, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
};
use tlsmachine::error::{PeerIncompatible, ProtocolError};
use tlsmachine::pki::KeyType;
use tlsmachine::{ClientConfig, Connection, Error, Phase, ServerConfig};
use tlsmachine_tests::{rustls_certs, rustls_key, suites_for, RustlsPair, ALL_GROUPS, CERT_TYPES};

#[test]
fn our_client_against_rustls_server() {
    for key_type in CERT_TYPES {
        let pki = tlsmachine::pki::GeneratedPki::generate(key_type, &["localhost".into()]).unwrap();
        for suite in suites_for(key_type) {
            for group in ALL_GROUPS {
                let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
                let server = rustls::ServerConfig::builder_with_provider(provider(&[suite], group))
                    .with_protocol_versions(&[&rustls::version::TLS12])
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(
                        rustls_certs(&pki.server_chain_pem),
                        rustls_key(&pki.server_key_pem),
                    )
                    .unwrap();
                let server = rustls::ServerConnection::new(Arc::new(server)).unwrap();
                let mut config = ClientConfig::new(pki.trust_store().unwrap());
                config.cipher_suites = vec![suite.into()];
                config.groups = vec![group];
                let client = Connection::client(Arc::new(config), "localhost").unwrap();
                let mut pair = RustlsPair::new(client, server);

                pair.handshake()
                    .unwrap_or_else(|e| panic!("{what}: handshake: {e:?}"));
                assert_negotiated(&pair, suite, group, &what);

                exchange_data(&mut pair, &what);

                // We close first: rustls sees it, answers with its own, we reach SHUTDOWN.
                pair.ours.close().unwrap();
                assert_eq!(pair.ours.state(), Phase::HostInitiatedClosing);
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
        }
    }
}

#[test]
fn rustls_client_against_our_server() {
    for key_type in CERT_TYPES {
        let pki = tlsmachine::pki::GeneratedPki::generate(key_type, &["localhost".into()]).unwrap();
        let certificate = pki.server_key().unwrap();
        for suite in suites_for(key_type) {
            for group in ALL_GROUPS {
                let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
                let client = rustls_client(&pki.ca_pem, &[suite], group);
                let mut config = ServerConfig::new(certificate.clone());
                config.cipher_suites = vec![suite.into()];
                config.groups = vec![group];
                let server = Connection::server(Arc::new(config)).unwrap();
                let mut pair = RustlsPair::new(server, client);

                pair.handshake()
                    .unwrap_or_else(|e| panic!("{what}: handshake: {e:?}"));
                assert_negotiated(&pair, suite, group, &what);
                assert_eq!(
                    pair.ours.negotiated().server_name.as_deref(),
                    Some("localhost")
                );

                exchange_data(&mut pair, &what);

                // rustls closes first: we see it and answer at once (table edge
                // APP_DATA --close_notify--> SHUTDOWN).
                pair.theirs.send_close_notify();
                pair.pump().unwrap();
                assert!(pair.ours.peer_closed(), "{what}");
                assert_eq!(pair.ours.state(), Phase::Shutdown, "{what}");
                assert!(pair.theirs_peer_closed, "{what}: our close_notify missing");
            }
        }
    }
}

/// RFC 5246 §7.4.1.3: a server that finds no acceptable suite answers `handshake_failure`.
#[test]
fn rustls_client_offering_only_a_suite_we_do_not_enable_gets_handshake_failure() {
    let pki =
        tlsmachine::pki::GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".into()]).unwrap();
    let client = rustls_client(
        &pki.ca_pem,
        &[&TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384],
        NamedGroup::X25519,
    );
    let mut config = ServerConfig::new(pki.server_key().unwrap());
    config.cipher_suites = vec![(&TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).into()];
    let server = Connection::server(Arc::new(config)).unwrap();
    let mut pair = RustlsPair::new(server, client);

    let err = pair
        .handshake()
        .expect_err("handshake without a shared suite");
    println!("ours: {:?}\nrustls: {:?}", err.ours, err.theirs);
    assert_eq!(
        err.ours,
        Some(Error::Protocol {
            error: ProtocolError::Incompatible(PeerIncompatible::NoSharedCipherSuite),
            sent: Some(AlertDescription::HANDSHAKE_FAILURE),
        })
    );
    assert_eq!(
        err.theirs,
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure
        ))
    );
    assert_eq!(pair.ours.state(), Phase::Shutdown);
}

/// Both sides agree on TLS 1.2, the suite and the group.
fn assert_negotiated(pair: &RustlsPair, suite: &Tls12Suite, group: NamedGroup, what: &str) {
    let ours = pair.ours.negotiated();
    assert_eq!(ours.cipher_suite, Some(suite.suite), "{what}: our suite");
    assert_eq!(ours.group, Some(group), "{what}: our group");
    assert!(ours.extended_master_secret, "{what}: EMS");
    let theirs = pair.theirs.negotiated_cipher_suite().expect("rustls suite");
    assert_eq!(
        u16::from(theirs.suite()),
        suite.suite.0,
        "{what}: rustls suite"
    );
    let theirs = pair.theirs.negotiated_key_exchange_group().expect("group");
    assert_eq!(u16::from(theirs.name()), group.0, "{what}: rustls group");
    assert_eq!(
        pair.theirs.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
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

/// rustls' aws-lc-rs provider cut down to `suites` and one group.
fn provider(suites: &[&Tls12Suite], group: NamedGroup) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: suites.iter().map(|s| rustls_suite(s)).collect(),
        kx_groups: vec![rustls_group(group)],
        ..aws_lc_rs::default_provider()
    })
}

fn rustls_suite(suite: &Tls12Suite) -> SupportedCipherSuite {
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

/// A rustls TLS 1.2 client for "localhost" trusting `ca_pem`.
fn rustls_client(
    ca_pem: &str,
    suites: &[&Tls12Suite],
    group: NamedGroup,
) -> rustls::ClientConnection {
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_certs(ca_pem) {
        roots.add(ca).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider(suites, group))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    rustls::ClientConnection::new(Arc::new(config), name).unwrap()
}
