//! TLS 1.3 client and server in memory: whole handshakes for every suite, key type and
//! group, HelloRetryRequest, client authentication, KeyUpdate, closing, and version
//! negotiation between the two versions.

use std::sync::Arc;

use super::tests::{handshake, pair, transfer, Fixture};
use super::*;
use crate::codec::enums::{CipherSuite, NamedGroup, ProtocolVersion};
use crate::config::ClientAuth;
use crate::crypto::suites::DEFAULT_SUITES;
use crate::pki::KeyType;

fn transitions(conn: &mut Connection) -> Vec<(Phase, Phase)> {
    let mut out = Vec::new();
    while let Some(ev) = conn.poll_event() {
        if let Event::Trace(TraceEvent::Transition { from, to, .. }) = ev {
            out.push((from, to));
        }
    }
    out
}

fn exchange_data(c: &mut Connection, s: &mut Connection) {
    c.write_data(b"ping from client").unwrap();
    transfer(c, s).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping from client");
    let big = vec![0x5a; 100_000];
    s.write_data(&big).unwrap();
    transfer(s, c).unwrap();
    let mut got = vec![0u8; 200_000];
    let n = c.read_data(&mut got).unwrap();
    assert_eq!(&got[..n], &big[..]);
}

fn established(fx: &Fixture) -> (Connection, Connection) {
    let (mut c, mut s) = pair(fx.client_config13(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!((c.state(), s.state()), (Phase::AppData, Phase::AppData));
    (c, s)
}

#[test]
fn defaults_negotiate_tls13_with_the_hybrid_group() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = established(&fx);
    for conn in [&c, &s] {
        let n = conn.negotiated();
        assert_eq!(n.version, Some(ProtocolVersion::TLS1_3));
        assert_eq!(conn.version(), Some(Version::Tls13));
        assert_eq!(n.group, Some(NamedGroup::X25519MLKEM768));
        assert_eq!(n.cipher_suite, Some(CipherSuite::TLS_AES_128_GCM_SHA256));
        assert_eq!(
            n.signature_scheme,
            Some(crate::codec::enums::SignatureScheme::ECDSA_SECP256R1_SHA256)
        );
        assert!(!n.hello_retry);
    }
    assert_eq!(c.negotiated().peer_certificates.len(), 2);
    exchange_data(&mut c, &mut s);
    use Phase::*;
    // The server's two tickets come after the handshake, each a post-handshake row.
    assert_eq!(
        transitions(&mut c),
        [
            (Idle, Wait1),
            (Wait1, AppData),
            (AppData, AppData),
            (AppData, AppData)
        ]
    );
    assert_eq!(
        transitions(&mut s),
        [
            (Idle, CheckSessionCache),
            (CheckSessionCache, ChooseCertificate),
            (ChooseCertificate, Sign),
            (Sign, Wait),
            (Wait, AppData)
        ]
    );
}

#[test]
fn every_suite_and_key_type() {
    for key_type in [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Ed25519,
    ] {
        let fx = Fixture::new(key_type);
        for suite in DEFAULT_SUITES
            .iter()
            .filter(|s| s.version() == Version::Tls13)
        {
            let mut cc = fx.client_config13();
            cc.cipher_suites = vec![*suite];
            let (mut c, mut s) = pair(cc, fx.server_config());
            handshake(&mut c, &mut s).unwrap();
            assert_eq!(
                c.state(),
                Phase::AppData,
                "{key_type:?} {:?}",
                suite.suite()
            );
            assert_eq!(s.negotiated().cipher_suite, Some(suite.suite()));
            exchange_data(&mut c, &mut s);
        }
    }
}

#[test]
fn every_group_negotiates() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    for group in [
        NamedGroup::X25519MLKEM768,
        NamedGroup::X25519,
        NamedGroup::SECP256R1,
        NamedGroup::SECP384R1,
    ] {
        let mut cc = fx.client_config13();
        cc.groups = vec![group];
        cc.key_share_groups = vec![group];
        let (mut c, mut s) = pair(cc, fx.server_config());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.negotiated().group, Some(group));
        assert_eq!(s.negotiated().group, Some(group));
        assert!(!c.negotiated().hello_retry, "{group:?}");
        exchange_data(&mut c, &mut s);
    }
}

#[test]
fn hello_retry_request_when_no_share_fits() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut cc = fx.client_config13();
    cc.key_share_groups = vec![NamedGroup::X25519];
    let mut sc = fx.server_config();
    sc.groups = vec![NamedGroup::SECP384R1, NamedGroup::SECP256R1];
    let (mut c, mut s) = pair(cc, sc);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.state(), Phase::AppData);
    for conn in [&c, &s] {
        assert!(conn.negotiated().hello_retry);
        assert_eq!(conn.negotiated().group, Some(NamedGroup::SECP384R1));
    }
    exchange_data(&mut c, &mut s);
    use Phase::*;
    assert_eq!(
        transitions(&mut c),
        [
            (Idle, Wait1),
            (Wait1, Wait1),
            (Wait1, AppData),
            (AppData, AppData),
            (AppData, AppData)
        ]
    );
    assert_eq!(
        transitions(&mut s),
        [
            (Idle, Idle),
            (Idle, CheckSessionCache),
            (CheckSessionCache, ChooseCertificate),
            (ChooseCertificate, Sign),
            (Sign, Wait),
            (Wait, AppData)
        ]
    );
}

#[test]
fn client_authentication_required_optional_and_missing() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let roots = fx.pki.trust_store().unwrap();

    let mut sc = fx.server_config();
    sc.client_auth = ClientAuth::Required(roots.clone());
    let mut cc = fx.client_config13();
    cc.client_certificate = Some(fx.pki.client_key().unwrap());
    let (mut c, mut s) = pair(cc, sc.clone());
    handshake(&mut c, &mut s).unwrap();
    assert!(s.negotiated().client_authenticated);
    assert!(c.negotiated().client_certificate_requested);
    assert_eq!(s.negotiated().peer_certificates.len(), 2);
    exchange_data(&mut c, &mut s);

    // Required, and the client has none: certificate_required (RFC 8446 §4.4.2.4).
    let (mut c, mut s) = pair(fx.client_config13(), sc);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(
        err,
        Error::Protocol {
            error: crate::error::PeerIncompatible::CertificateRequired.into(),
            sent: Some(AlertDescription::CERTIFICATE_REQUIRED)
        }
    );
    // The client already sent its Finished and is in APP_DATA; the alert ends it.
    assert_eq!(
        transfer(&mut s, &mut c),
        Err(Error::AlertReceived {
            alert: AlertDescription::CERTIFICATE_REQUIRED
        })
    );

    let mut optional = fx.server_config();
    optional.client_auth = ClientAuth::Optional(roots);
    let (mut c, mut s) = pair(fx.client_config13(), optional);
    handshake(&mut c, &mut s).unwrap();
    assert!(!s.negotiated().client_authenticated);
    exchange_data(&mut c, &mut s);
}

#[test]
fn key_update_both_ways() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = established(&fx);
    // The client updates and asks the server to follow: exactly one answer comes back.
    c.update_keys(true).unwrap();
    transfer(&mut c, &mut s).unwrap();
    let answer = s.take_outgoing();
    assert_eq!(
        super::tests::records(&answer).len(),
        1,
        "one KeyUpdate answers"
    );
    c.receive_data(&answer).unwrap();
    exchange_data(&mut c, &mut s);
    // The server updates without asking: nothing comes back.
    s.update_keys(false).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert!(c.take_outgoing().is_empty());
    exchange_data(&mut c, &mut s);
}

#[test]
fn keys_are_updated_before_the_aead_limit() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = established(&fx);
    c.writer.set_confidentiality_limit(3);
    for i in 0..10u8 {
        c.write_data(&[i; 100]).unwrap();
        transfer(&mut c, &mut s).unwrap();
        let mut buf = [0u8; 200];
        assert_eq!(s.read_data(&mut buf).unwrap(), 100, "record {i}");
        assert_eq!(buf[0], i);
    }
    // Three records per key: KeyUpdates went out with the data, and none was requested.
    assert!(s.take_outgoing().is_empty());
}

#[test]
fn closing_first_still_reads_what_the_peer_sends() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = established(&fx);
    c.close().unwrap();
    assert_eq!(c.state(), Phase::HostInitiatedClosing);
    let close_notify = c.take_outgoing();
    s.write_data(b"last words").unwrap();
    s.update_keys(true).unwrap();
    s.write_data(b" and more").unwrap();
    transfer(&mut s, &mut c).unwrap();
    let mut buf = [0u8; 64];
    let n = c.read_data(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"last words and more");
    // After our close_notify we cannot answer the KeyUpdate's request.
    assert!(c.take_outgoing().is_empty());
    s.receive_data(&close_notify).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert_eq!((c.state(), s.state()), (Phase::Shutdown, Phase::Shutdown));
}

#[test]
fn versions_meet_where_both_sides_can() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    // A TLS 1.3 client against a TLS 1.2-only server, and the other way round.
    let mut sc12 = fx.server_config();
    sc12.versions = vec![Version::Tls12];
    let (mut c, mut s) = pair(fx.client_config13(), sc12);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.version(), Some(Version::Tls12));
    exchange_data(&mut c, &mut s);

    let (mut c, mut s) = pair(fx.client_config(), fx.server_config());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.version(), Some(Version::Tls12));
    // A TLS 1.3 server that negotiates TLS 1.2 says so in its random (RFC 8446 §4.1.3).
    let random = c.negotiated().server_random.unwrap();
    assert_eq!(&random[24..], &crate::codec::handshake::DOWNGRADE_TLS12);

    // TLS 1.3 only on both sides of a TLS 1.2-only peer: protocol_version.
    let mut cc13 = fx.client_config13();
    cc13.versions = vec![Version::Tls13];
    let mut sc12 = fx.server_config();
    sc12.versions = vec![Version::Tls12];
    let (mut c, mut s) = pair(cc13, sc12);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(
        err,
        Error::Protocol {
            error: crate::error::PeerIncompatible::UnsupportedVersion(vec![
                ProtocolVersion::TLS1_3
            ])
            .into(),
            sent: Some(AlertDescription::PROTOCOL_VERSION)
        }
    );
    assert_eq!(
        transfer(&mut s, &mut c),
        Err(Error::AlertReceived {
            alert: AlertDescription::PROTOCOL_VERSION
        })
    );
}

#[test]
fn first_client_hello_record_says_tls10_and_the_retry_tls12() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut cc = fx.client_config13();
    cc.key_share_groups = vec![NamedGroup::X25519];
    let mut sc = fx.server_config();
    sc.groups = vec![NamedGroup::SECP256R1];
    let (mut c, mut s) = pair(cc, sc);
    let first = c.take_outgoing();
    assert_eq!(&first[..3], &[0x16, 0x03, 0x01], "RFC 8446 §5.1");
    s.receive_data(&first).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let second = c.take_outgoing();
    // Compatibility ChangeCipherSpec, then the second ClientHello with 0x0303.
    assert_eq!(&second[..6], &[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    assert_eq!(&second[6..9], &[0x16, 0x03, 0x03]);
    s.receive_data(&second).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.state(), Phase::AppData);
}

#[test]
fn exporters_agree_and_differ_by_label_and_context() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (c, s) = established(&fx);
    let export = |conn: &Connection, label: &[u8], context: Option<&[u8]>| {
        let mut out = [0u8; 32];
        conn.export_keying_material(&mut out, label, context)
            .unwrap();
        out
    };
    assert_eq!(
        export(&c, b"EXPERIMENTAL a", None),
        export(&s, b"EXPERIMENTAL a", None)
    );
    assert_ne!(
        export(&c, b"EXPERIMENTAL a", None),
        export(&c, b"EXPERIMENTAL b", None)
    );
    assert_ne!(
        export(&c, b"EXPERIMENTAL a", Some(b"x")),
        export(&c, b"EXPERIMENTAL a", None)
    );
}

#[test]
fn config_without_a_usable_version_is_refused() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let mut cc = fx.client_config13();
    cc.versions = vec![Version::Tls13];
    cc.cipher_suites =
        vec![(&crate::crypto::suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).into()];
    assert!(matches!(
        Connection::client(Arc::new(cc), "localhost"),
        Err(Error::Local(LocalError::Config(_)))
    ));
}

/// The handshake flights are owed until the last byte leaves; the server's tickets that
/// follow its APP_DATA transition are not, so an adapter need not wait on them.
#[test]
fn handshake_output_is_owed_until_sent_but_tickets_are_not() {
    let fx = Fixture::new(KeyType::EcdsaP256);
    let (mut c, mut s) = pair(fx.client_config13(), fx.server_config());
    assert!(c.handshake_output_pending(), "ClientHello queued");
    transfer(&mut c, &mut s).unwrap();
    assert!(!c.handshake_output_pending());

    let flight = s.outgoing().len();
    assert!(s.handshake_output_pending());
    let first = s.outgoing()[..flight - 1].to_vec();
    s.consume_outgoing(flight - 1);
    assert!(s.handshake_output_pending(), "one byte of the flight left");
    let mut rest = s.take_outgoing();
    assert!(!s.handshake_output_pending());
    let mut whole = first;
    whole.append(&mut rest);
    c.receive_data(&whole).unwrap();

    assert!(c.handshake_output_pending(), "client Finished queued");
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(s.state(), Phase::AppData);
    assert!(s.wants_write(), "tickets queued");
    assert!(
        !s.handshake_output_pending(),
        "tickets are not handshake output"
    );
    transfer(&mut s, &mut c).unwrap();
    exchange_data(&mut c, &mut s);
}
