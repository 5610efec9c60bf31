//! TLS 1.3 interop with OpenSSL 3 (issue 8): our client against `openssl s_server -tls1_3`
//! and `openssl s_client -tls1_3` against our server, for the three TLS 1.3 suites × X25519,
//! P-256 and P-384 × ECDSA P-256, RSA-2048 and Ed25519 certificates, with data and
//! close_notify both ways and what was negotiated checked on both sides; then the
//! HelloRetryRequest in both roles, middlebox compatibility mode on and off in both roles
//! (counting ChangeCipherSpec records), client authentication in both roles (required,
//! optional, and a missing certificate answered with `certificate_required`), KeyUpdate in
//! both directions with data after each, and RFC 8446 §7.5 exporters.
//!
//! OpenSSL's view comes from what it prints: `s_client`'s "New, TLSv1.3, Cipher is",
//! "Server Temp Key" and "Peer signature type", `s_server`'s "Protocol version" and
//! "Ciphersuite", and for what neither prints (the group `s_server` chose, a
//! HelloRetryRequest, alerts and KeyUpdates) its `-trace` of every record. `s_server`
//! buffers that trace, so it runs with `-naccept N` and is read once it has exited.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use tlsmachine::codec::enums::{AlertDescription, NamedGroup, ProtocolVersion, SignatureScheme};
use tlsmachine::crypto::suites::Tls13Suite;
use tlsmachine::error::{PeerIncompatible, ProtocolError};
use tlsmachine::pki::KeyType;
use tlsmachine::{
    ClientAuth, ClientConfig, Connection, Error, Phase, ServerConfig, Stream, Version,
};
use tlsmachine_tests::{
    client13_config, connect, echo_until_close, free_port, join_bounded, openssl_group_name,
    openssl_s_client13, openssl_s_server13, peer_available, read_exact_or_eof, s_client_echo,
    serve_connections, serve_once, server13_config, take_trace, Peer, PkiDir, ALL_GROUPS,
    TLS13_CERT_TYPES, TLS13_SUITES,
};

/// Every TLS 1.3 suite, for `-ciphersuites`.
const ALL_SUITES: &str =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/// Every group both of us implement, for `-groups`.
const ALL_GROUP_NAMES: &str = "X25519:P-256:P-384";

/// What `GeneratedPki` puts in the client certificate's subject, as OpenSSL prints it.
const CLIENT_SUBJECT: &str = "CN = tlsmachine client, O = tlsmachine";

// ---------------------------------------------------------------------------------------
// the matrix: 3 suites × 3 groups × 3 certificate types, both roles
// ---------------------------------------------------------------------------------------

#[test]
fn our_client_against_openssl_s_server_every_suite_group_and_certificate() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in TLS13_CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let cases: Vec<(&'static Tls13Suite, NamedGroup)> = TLS13_SUITES
            .iter()
            .flat_map(|&s| ALL_GROUPS.map(|g| (s, g)))
            .collect();
        // One s_server for the key type, offering everything; our client restricts.
        let (port, mut server) = traced_s_server(
            &pki,
            cases.len(),
            &[
                "-rev",
                "-ciphersuites",
                ALL_SUITES,
                "-groups",
                ALL_GROUP_NAMES,
            ],
        );
        for &(suite, group) in &cases {
            let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
            let tls = rev_roundtrip(client13_config(&pki.pki, suite, group), port, &server);
            let conn = tls.connection();
            let n = conn.negotiated();
            assert_eq!(conn.version(), Some(Version::Tls13), "{what}");
            assert_eq!(n.version, Some(ProtocolVersion::TLS1_3), "{what}");
            assert_eq!(n.cipher_suite, Some(suite.suite), "{what}");
            assert_eq!(n.group, Some(group), "{what}");
            assert_eq!(n.signature_scheme, Some(tls13_scheme(key_type)), "{what}");
            assert!(!n.hello_retry, "{what}");
            assert!(conn.peer_closed(), "{what}: no close_notify from s_server");
            assert_eq!(conn.state(), Phase::Shutdown, "{what}");
        }
        assert!(server.wait_exit(), "s_server:\n{}", server.output());
        let out = server.output();

        // s_server's own summary of each connection, in order.
        let versions: Vec<&str> = prefixed(&out, "Protocol version: ");
        assert_eq!(versions, vec!["TLSv1.3"; cases.len()], "{key_type:?}");
        let suites: Vec<&str> = prefixed(&out, "Ciphersuite: ");
        let want: Vec<&str> = cases.iter().map(|(s, _)| s.suite.name().unwrap()).collect();
        assert_eq!(suites, want, "{key_type:?}");
        // Its ServerHellos, as it traced them: the suite and the group it chose.
        let records = trace_records(&out);
        let hellos = server_hellos(&records, true);
        assert_eq!(hellos.len(), cases.len(), "{key_type:?}: {hellos:?}");
        for (hello, &(suite, group)) in hellos.iter().zip(&cases) {
            assert!(!hello.retry, "{key_type:?}: {hello:?}");
            assert_eq!(hello.suite, suite.suite.name().unwrap(), "{hello:?}");
            assert_eq!(hello.group, group.0, "{key_type:?}: {hello:?}");
        }
        // close_notify both ways on every connection.
        assert_eq!(
            alerts(&records, false, AlertDescription::CLOSE_NOTIFY),
            cases.len(),
            "{key_type:?}"
        );
        assert_eq!(
            alerts(&records, true, AlertDescription::CLOSE_NOTIFY),
            cases.len(),
            "{key_type:?}"
        );
    }
}

#[test]
fn openssl_s_client_against_our_server_every_suite_group_and_certificate() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in TLS13_CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let cases: Vec<(&'static Tls13Suite, NamedGroup)> = TLS13_SUITES
            .iter()
            .flat_map(|&s| ALL_GROUPS.map(|g| (s, g)))
            .collect();
        // One server of ours for the key type, accepting everything; s_client restricts.
        let config = Arc::new(server13_config(&pki.pki));
        let (port, server) = serve_connections(config, cases.len(), echo_until_close);
        let mut outputs = Vec::new();
        for &(suite, group) in &cases {
            let cmd = openssl_s_client13(
                port,
                &[
                    "-CAfile",
                    &pki.path("ca.pem"),
                    "-verify_return_error",
                    "-ciphersuites",
                    suite.suite.name().unwrap(),
                    "-groups",
                    openssl_group_name(group),
                ],
            );
            outputs.push(s_client_echo(cmd, "ping from openssl"));
        }
        let served = join_bounded(server);
        for ((out, served), &(suite, group)) in outputs.iter().zip(&served).zip(&cases) {
            let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
            // OpenSSL's view.
            let cipher = format!("New, TLSv1.3, Cipher is {}", suite.suite.name().unwrap());
            assert!(out.contains(&cipher), "{what}:\n{out}");
            let temp_key = format!("Server Temp Key: {}", openssl_temp_key(group));
            assert!(out.contains(&temp_key), "{what}:\n{out}");
            let sig = format!("Peer signature type: {}", openssl_signature_type(key_type));
            assert!(out.contains(&sig), "{what}:\n{out}");
            // Ours.
            let result = served.result.as_deref();
            assert_eq!(result.unwrap(), b"ping from openssl\n", "{what}");
            let n = &served.negotiated;
            assert_eq!(n.version, Some(ProtocolVersion::TLS1_3), "{what}");
            assert_eq!(n.cipher_suite, Some(suite.suite), "{what}");
            assert_eq!(n.group, Some(group), "{what}");
            assert_eq!(n.signature_scheme, Some(tls13_scheme(key_type)), "{what}");
            assert_eq!(n.server_name.as_deref(), Some("localhost"), "{what}");
            assert!(!n.hello_retry, "{what}");
            assert!(served.peer_closed, "{what}: no close_notify from s_client");
            assert_eq!(served.state, Phase::Shutdown, "{what}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// HelloRetryRequest
// ---------------------------------------------------------------------------------------

/// Our client sends a share for X25519 only; `s_server -groups P-256` asks for P-256.
#[test]
fn openssl_s_server_asks_our_client_to_retry_with_p256() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, mut server) = traced_s_server(&pki, 1, &["-rev", "-groups", "P-256"]);
    let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    config.groups = vec![NamedGroup::X25519, NamedGroup::SECP256R1];
    config.key_share_groups = vec![NamedGroup::X25519];
    let tls = rev_roundtrip(config, port, &server);
    let n = tls.connection().negotiated();
    assert!(n.hello_retry, "{n:?}");
    assert_eq!(n.group, Some(NamedGroup::SECP256R1));
    assert_eq!(tls.connection().state(), Phase::Shutdown);

    assert!(server.wait_exit(), "s_server:\n{}", server.output());
    let out = server.output();
    let hellos = server_hellos(&trace_records(&out), true);
    let groups: Vec<(bool, u16)> = hellos.iter().map(|h| (h.retry, h.group)).collect();
    let p256 = NamedGroup::SECP256R1.0;
    assert_eq!(groups, [(true, p256), (false, p256)], "{out}");
}

/// `s_client -groups X25519:P-256` sends a share for X25519 only; our server, configured
/// without X25519, has none it can use and asks for P-256, its first choice the client
/// supports.
#[test]
fn our_server_asks_openssl_s_client_to_retry_with_p256() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let mut config = server13_config(&pki.pki);
    config.groups = vec![NamedGroup::SECP256R1, NamedGroup::SECP384R1];
    let (port, server) = serve_once(Arc::new(config), echo_until_close);
    let cmd = openssl_s_client13(
        port,
        &[
            "-CAfile",
            &pki.path("ca.pem"),
            "-verify_return_error",
            "-groups",
            "X25519:P-256",
            "-trace",
        ],
    );
    let out = s_client_echo(cmd, "retried");
    let served = join_bounded(server);
    assert_eq!(served.result.unwrap(), b"retried\n");
    assert!(served.negotiated.hello_retry);
    assert_eq!(served.negotiated.group, Some(NamedGroup::SECP256R1));
    assert!(served.peer_closed);

    // s_client's trace: its first ClientHello shared X25519, then it received our
    // HelloRetryRequest and a ServerHello, both naming P-256.
    let records = trace_records(&out);
    let hellos = server_hellos(&records, false);
    let groups: Vec<(bool, u16)> = hellos.iter().map(|h| (h.retry, h.group)).collect();
    let p256 = NamedGroup::SECP256R1.0;
    assert_eq!(groups, [(true, p256), (false, p256)], "{out}");
    assert!(
        out.contains("Server Temp Key: ECDH, prime256v1, 256 bits"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------
// middlebox compatibility mode (RFC 8446 §D.4)
// ---------------------------------------------------------------------------------------

/// With `middlebox_compat` our client sends a legacy session ID and one dummy
/// ChangeCipherSpec; without, neither. `s_server` sends its own dummy ChangeCipherSpec either
/// way (OpenSSL's server keeps its compatibility option on whatever the client does), which
/// our client must then drop (RFC 8446 §5).
#[test]
fn our_client_with_and_without_middlebox_compatibility_against_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    for compat in [true, false] {
        let (port, mut server) = traced_s_server(&pki, 1, &["-rev"]);
        let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
        config.versions = vec![Version::Tls13];
        config.middlebox_compat = compat;
        rev_roundtrip(config, port, &server);
        assert!(server.wait_exit(), "s_server:\n{}", server.output());
        let out = server.output();
        let records = trace_records(&out);
        let session_id = if compat { "(len=32)" } else { "(len=0)" };
        assert!(
            client_hello_has(&records, false, &format!("session_id {session_id}:")),
            "compat {compat}:\n{out}"
        );
        let ccs = usize::from(compat);
        assert_eq!(
            change_cipher_specs(&records, false),
            ccs,
            "compat {compat}:\n{out}"
        );
        assert_eq!(
            change_cipher_specs(&records, true),
            1,
            "compat {compat}:\n{out}"
        );
    }
}

/// `s_client` in compatibility mode (its default) gets our dummy ChangeCipherSpec; with
/// `-no_middlebox` it sends none and gets none.
#[test]
fn openssl_s_client_with_and_without_middlebox_compatibility_against_our_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    for compat in [true, false] {
        let (port, server) = serve_once(Arc::new(server13_config(&pki.pki)), echo_until_close);
        let ca = pki.path("ca.pem");
        let mut args = vec!["-CAfile", &ca, "-verify_return_error", "-trace"];
        if !compat {
            args.push("-no_middlebox");
        }
        let out = s_client_echo(openssl_s_client13(port, &args), "compat check");
        let served = join_bounded(server);
        assert_eq!(served.result.unwrap(), b"compat check\n", "compat {compat}");
        let records = trace_records(&out);
        let ccs = usize::from(compat);
        assert_eq!(
            change_cipher_specs(&records, true),
            ccs,
            "compat {compat}:\n{out}"
        );
        assert_eq!(
            change_cipher_specs(&records, false),
            ccs,
            "compat {compat}:\n{out}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// client authentication
// ---------------------------------------------------------------------------------------

#[test]
fn our_client_presents_certificates_of_every_key_type_to_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in TLS13_CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let (port, mut server) = traced_s_server(&pki, 1, &verify_args(&pki));
        let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
        config.versions = vec![Version::Tls13];
        config.client_certificate = Some(pki.pki.client_key().unwrap());
        let tls = rev_roundtrip(config, port, &server);
        assert!(tls.connection().negotiated().client_certificate_requested);
        assert!(server.wait_exit(), "s_server:\n{}", server.output());
        // s_server's verify callback prints each certificate it checked, then the summary
        // names the peer certificate.
        let out = server.output();
        let subject = format!("Peer certificate: {CLIENT_SUBJECT}");
        assert!(out.contains(&subject), "{key_type:?}:\n{out}");
        let verified = format!("depth=0 {CLIENT_SUBJECT}");
        assert!(out.contains(&verified), "{key_type:?}:\n{out}");
    }
}

/// RFC 8446 §4.4.2.4: a server that requires a certificate the client did not send aborts
/// with `certificate_required`. The client has finished its handshake by then, so it learns
/// it on its next read.
#[test]
fn our_client_without_a_certificate_gets_certificate_required_from_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, mut server) = traced_s_server(&pki, 1, &verify_args(&pki));
    let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    let conn = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut tls = Stream::new(conn, connect(port)).unwrap();
    tls.handshake()
        .expect("our side of the handshake ends first");
    assert!(tls.connection().negotiated().client_certificate_requested);
    let _ = tls.write_all(b"let me in\n");
    let mut buf = [0u8; 64];
    let err = tls.read(&mut buf).expect_err("s_server let us in");
    println!("our client: {err}");
    assert_eq!(
        tls.connection().error(),
        Some(&Error::AlertReceived {
            alert: AlertDescription::CERTIFICATE_REQUIRED
        })
    );
    assert!(server.wait_exit(), "s_server:\n{}", server.output());
    let out = server.output();
    assert!(out.contains("peer did not return a certificate"), "{out}");
    let records = trace_records(&out);
    assert_eq!(
        alerts(&records, true, AlertDescription::CERTIFICATE_REQUIRED),
        1,
        "{out}"
    );
}

/// `s_server -rev -Verify 1`: a client certificate from the PKI's CA is required.
fn verify_args(pki: &PkiDir) -> Vec<String> {
    vec![
        "-rev".into(),
        "-Verify".into(),
        "1".into(),
        "-CAfile".into(),
        pki.path("ca.pem"),
        "-verify_return_error".into(),
    ]
}

fn our_server_asking(pki: &PkiDir, required: bool) -> Arc<ServerConfig> {
    let mut config = server13_config(&pki.pki);
    let roots = pki.pki.trust_store().unwrap();
    config.client_auth = if required {
        ClientAuth::Required(roots)
    } else {
        ClientAuth::Optional(roots)
    };
    Arc::new(config)
}

#[test]
fn openssl_s_client_with_a_certificate_is_accepted_when_required_or_optional() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in TLS13_CERT_TYPES {
        let pki = PkiDir::new(key_type);
        for required in [true, false] {
            let what = format!("{key_type:?}, required: {required}");
            let config = our_server_asking(&pki, required);
            let (port, server) = serve_once(config, echo_until_close);
            let cmd = openssl_s_client13(
                port,
                &[
                    "-CAfile",
                    &pki.path("ca.pem"),
                    "-verify_return_error",
                    "-cert",
                    &pki.path("client.pem"),
                    "-key",
                    &pki.path("client.key"),
                ],
            );
            s_client_echo(cmd, "authenticated client");
            let served = join_bounded(server);
            assert_eq!(served.result.unwrap(), b"authenticated client\n", "{what}");
            assert!(served.negotiated.client_authenticated, "{what}");
            let leaf = served.negotiated.peer_certificates.first();
            let want = tlsmachine_tests::rustls_certs(&pki.pki.client_chain_pem);
            assert_eq!(leaf, want.first(), "{what}: the client's leaf");
            assert_eq!(served.state, Phase::Shutdown, "{what}");
        }
    }
}

#[test]
fn openssl_s_client_without_a_certificate_is_served_when_optional() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, server) = serve_once(our_server_asking(&pki, false), echo_until_close);
    let cmd = openssl_s_client13(
        port,
        &["-CAfile", &pki.path("ca.pem"), "-verify_return_error"],
    );
    s_client_echo(cmd, "anonymous client");
    let served = join_bounded(server);
    assert_eq!(served.result.unwrap(), b"anonymous client\n");
    assert!(!served.negotiated.client_authenticated);
    assert!(served.negotiated.peer_certificates.is_empty());
    assert_eq!(served.state, Phase::Shutdown);
}

#[test]
fn openssl_s_client_without_a_certificate_gets_certificate_required_when_required() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let (port, server) = serve_once(our_server_asking(&pki, true), echo_until_close);
    let cmd = openssl_s_client13(
        port,
        &["-CAfile", &pki.path("ca.pem"), "-verify_return_error"],
    );
    let mut client = Peer::spawn(cmd);
    let served = join_bounded(server);
    client.wait_exit();
    let out = client.output();
    println!("our server: {:?}\ns_client:\n{out}", served.error);
    assert_eq!(
        served.error,
        Some(Error::Protocol {
            error: ProtocolError::Incompatible(PeerIncompatible::CertificateRequired),
            sent: Some(AlertDescription::CERTIFICATE_REQUIRED),
        })
    );
    assert!(!served.negotiated.client_authenticated);
    assert!(out.contains("alert certificate required"), "{out}");
    assert!(out.contains("SSL alert number 116"), "{out}");
}

// ---------------------------------------------------------------------------------------
// KeyUpdate
// ---------------------------------------------------------------------------------------

/// `s_client`'s `K` (update, and ask us to) and `k` (update) commands, each followed by a
/// line that must come back: after `K` our answering KeyUpdate goes out before the echo.
#[test]
fn openssl_s_client_updates_keys_with_our_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let mut config = server13_config(&pki.pki);
    config.trace = true;
    let (port, server) = serve_once(Arc::new(config), |tls| {
        let received = echo_until_close(tls)?;
        Ok((received, take_trace(tls.connection_mut())))
    });
    let cmd = openssl_s_client13(
        port,
        &["-CAfile", &pki.path("ca.pem"), "-verify_return_error"],
    );
    let mut client = Peer::spawn(cmd);
    client.wait_for_output("Verify return code: 0 (ok)");
    for (command, line) in [("K", "after K"), ("k", "after k")] {
        // A command must be read alone: s_client acts on a read that starts with it and
        // sends nothing of that read.
        let before = client.output().matches("KEYUPDATE").count();
        client
            .stdin()
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        wait_until(&client, |out| out.matches("KEYUPDATE").count() > before);
        client
            .stdin()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        client.wait_for_output(line);
    }
    client.close_stdin();
    assert!(client.wait_exit(), "s_client:\n{}", client.output());

    let served = join_bounded(server);
    let (received, trace) = served.result.unwrap();
    // The command lines themselves are not sent: s_client acts on them.
    assert_eq!(received, b"after K\nafter k\n");
    assert!(served.peer_closed);
    assert_eq!(
        key_update_kinds(&trace),
        [
            ("<-", "update_requested"),
            ("->", "update_not_requested"),
            ("<-", "update_not_requested"),
        ],
        "{trace:#?}"
    );
}

/// Our client updates its keys asking `s_server` to follow, then `s_server`'s own `K` and
/// `k` commands update its keys (the first asking us to follow); a line goes each way after
/// each update.
#[test]
fn our_client_updates_keys_with_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    // Not -rev: s_server prints what it receives and sends its standard input.
    let (port, mut server) = traced_s_server::<&str>(&pki, 1, &[]);
    let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    config.trace = true;
    let conn = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut tls = Stream::new(conn, connect(port)).unwrap();
    tls.handshake()
        .unwrap_or_else(|e| panic!("{e}\n{}", server.output()));
    let mut lines = 0;
    exchange_lines(&mut tls, &mut server, &mut lines);
    tls.connection_mut().update_keys(true).unwrap();
    exchange_lines(&mut tls, &mut server, &mut lines);
    for command in ["K", "k"] {
        server
            .stdin()
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        exchange_lines(&mut tls, &mut server, &mut lines);
    }
    tls.close().unwrap();
    assert!(tls.connection().peer_closed());
    let trace = take_trace(tls.connection_mut());
    assert_eq!(
        key_update_kinds(&trace),
        [
            ("->", "update_requested"),
            ("<-", "update_not_requested"),
            ("<-", "update_requested"),
            ("->", "update_not_requested"),
            ("<-", "update_not_requested"),
        ],
        "{trace:#?}"
    );
    assert!(server.wait_exit(), "s_server:\n{}", server.output());
    // s_server acknowledges each of its commands (not with s_client's "KEYUPDATE").
    let out = server.output();
    assert_eq!(out.matches("SSL_do_handshake -> 1").count(), 2, "{out}");
    // s_server's trace agrees: the same five KeyUpdates, seen from the other side.
    let records = trace_records(&out);
    let theirs: Vec<(bool, bool)> = records
        .iter()
        .filter(|r| {
            r.body
                .iter()
                .any(|l| l.trim_start().starts_with("KeyUpdate"))
        })
        .map(|r| {
            (
                r.sent,
                r.body.iter().any(|l| l.trim() == "update_requested (1)"),
            )
        })
        .collect();
    assert_eq!(
        theirs,
        [
            (false, true),
            (true, false),
            (true, true),
            (false, false),
            (true, false)
        ],
        "{out}"
    );
}

/// One line from us to `s_server` (which prints it) and one from `s_server`'s standard input
/// to us; `n` numbers them so each wait is for a new line.
fn exchange_lines(tls: &mut Stream<TcpStream>, server: &mut Peer, n: &mut usize) {
    *n += 1;
    let ours = format!("from tlsmachine {n}\n");
    tls.write_all(ours.as_bytes()).unwrap();
    server.wait_for_output(ours.trim_end());
    let theirs = format!("from openssl {n}\n");
    server.stdin().write_all(theirs.as_bytes()).unwrap();
    let got = read_exact_or_eof(tls, theirs.len());
    assert_eq!(String::from_utf8_lossy(&got), theirs);
}

/// The KeyUpdates of a trace of ours: direction (`->` sent, `<-` received) and request.
fn key_update_kinds(trace: &[String]) -> Vec<(&'static str, &'static str)> {
    trace
        .iter()
        .filter_map(|l| {
            let dir = if l.starts_with("-> KeyUpdate") {
                "->"
            } else if l.starts_with("<- KeyUpdate") {
                "<-"
            } else {
                return None;
            };
            let request = if l.contains("update_not_requested") {
                "update_not_requested"
            } else {
                "update_requested"
            };
            Some((dir, request))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// exporter
// ---------------------------------------------------------------------------------------

/// RFC 8446 §7.5: `openssl s_client -keymatexport` and our server derive the same bytes for
/// the same label and no context (which TLS 1.3 treats as an empty one).
#[test]
fn exported_keying_material_matches_openssl_in_tls13() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    for suite in TLS13_SUITES {
        let mut config = server13_config(&pki.pki);
        config.cipher_suites = vec![suite.into()];
        let (port, server) = serve_once(Arc::new(config), |tls| {
            let mut material = [0u8; 48];
            tls.connection()
                .export_keying_material(&mut material, b"EXPORTER-tlsmachine-test", None)
                .map_err(std::io::Error::other)?;
            echo_until_close(tls)?;
            Ok(material)
        });
        let cmd = openssl_s_client13(
            port,
            &[
                "-CAfile",
                &pki.path("ca.pem"),
                "-keymatexport",
                "EXPORTER-tlsmachine-test",
                "-keymatexportlen",
                "48",
            ],
        );
        let output = s_client_echo(cmd, "exporter check");
        let served = join_bounded(server);
        assert_eq!(served.negotiated.cipher_suite, Some(suite.suite));
        let ours: String = served
            .result
            .unwrap()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let theirs = output
            .lines()
            .find_map(|l| l.trim().strip_prefix("Keying material: "))
            .unwrap_or_else(|| panic!("no keying material in s_client output:\n{output}"));
        assert_eq!(theirs.trim(), ours, "{:?}", suite.suite);
    }
}

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// `openssl s_server -tls1_3 -trace` serving `pki`'s certificate for `connections`
/// connections and then exiting (which flushes its trace), plus `extra`. Waits for it to
/// listen by its "ACCEPT" line: a probe connection would count as one of `connections`.
fn traced_s_server<S: AsRef<str>>(pki: &PkiDir, connections: usize, extra: &[S]) -> (u16, Peer) {
    let port = free_port();
    let naccept = connections.to_string();
    let mut args = vec![
        "-trace",
        "-naccept",
        &naccept,
        "-cert",
        &pki.path("server.pem"),
        "-key",
        &pki.path("server.key"),
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.as_ref().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Peer::spawn(openssl_s_server13(port, &args));
    server.wait_for_output("ACCEPT");
    (port, server)
}

/// Our client's side of one connection to an `s_server -rev`: handshake, one line out, its
/// reversal back, close_notify both ways. Returns the stream for the caller's checks;
/// panics with s_server's output when anything fails.
fn rev_roundtrip(config: ClientConfig, port: u16, server: &Peer) -> Stream<TcpStream> {
    let conn = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut tls = Stream::new(conn, connect(port)).unwrap();
    let fail = |tls: &Stream<TcpStream>, e: std::io::Error| -> ! {
        panic!(
            "{e} ({:?})\ns_server:\n{}",
            tls.connection().error(),
            server.output()
        )
    };
    if let Err(e) = tls.handshake() {
        fail(&tls, e);
    }
    if let Err(e) = tls.write_all(b"hello tlsmachine\n") {
        fail(&tls, e);
    }
    let reply = read_exact_or_eof(&mut tls, 17);
    assert_eq!(reply, b"enihcamslt olleh\n", "s_server -rev answer");
    if let Err(e) = tls.close() {
        fail(&tls, e);
    }
    tls
}

/// The scheme a TLS 1.3 server with a key of `key_type` signs with, given our offer: the
/// curve's own hash for ECDSA (RFC 8446 §4.2.3), RSA-PSS (never PKCS#1 v1.5 in TLS 1.3).
fn tls13_scheme(key_type: KeyType) -> SignatureScheme {
    match key_type {
        KeyType::EcdsaP256 => SignatureScheme::ECDSA_SECP256R1_SHA256,
        KeyType::Rsa2048 => SignatureScheme::RSA_PSS_RSAE_SHA256,
        KeyType::Ed25519 => SignatureScheme::ED25519,
        other => panic!("no expectation for {other:?}"),
    }
}

/// How `s_client` names the server's signature of each key type.
fn openssl_signature_type(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::EcdsaP256 => "ECDSA",
        KeyType::Rsa2048 => "RSA-PSS",
        KeyType::Ed25519 => "ed25519",
        other => panic!("no expectation for {other:?}"),
    }
}

/// How `s_client` prints the server's key share ("Server Temp Key: ...").
fn openssl_temp_key(group: NamedGroup) -> &'static str {
    match group {
        NamedGroup::X25519 => "X25519, 253 bits",
        NamedGroup::SECP256R1 => "ECDH, prime256v1, 256 bits",
        NamedGroup::SECP384R1 => "ECDH, secp384r1, 384 bits",
        other => panic!("no expectation for {other:?}"),
    }
}

/// The rest of every line starting with `prefix`, in order.
fn prefixed<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
        .collect()
}

/// One record of OpenSSL's `-trace` output: sent or received, and its lines.
#[derive(Debug)]
struct TraceRecord<'a> {
    sent: bool,
    body: Vec<&'a str>,
}

/// Splits `-trace` output into its records. Lines of standard error may land inside a
/// record; the queries below only look for trace lines.
fn trace_records(out: &str) -> Vec<TraceRecord<'_>> {
    let mut records: Vec<TraceRecord<'_>> = Vec::new();
    for line in out.lines() {
        match line {
            "Sent Record" => records.push(TraceRecord {
                sent: true,
                body: Vec::new(),
            }),
            "Received Record" => records.push(TraceRecord {
                sent: false,
                body: Vec::new(),
            }),
            _ => {
                if let Some(r) = records.last_mut() {
                    r.body.push(line);
                }
            }
        }
    }
    records
}

/// A ServerHello as traced: a HelloRetryRequest (its special random, RFC 8446 §4.1.3), the
/// suite's name and the key share's group code.
#[derive(Debug)]
struct TracedHello {
    retry: bool,
    suite: String,
    group: u16,
}

/// The ServerHellos the tracing side sent (`sent`) or received, in order.
fn server_hellos(records: &[TraceRecord<'_>], sent: bool) -> Vec<TracedHello> {
    records
        .iter()
        .filter(|r| r.sent == sent)
        .filter(|r| {
            r.body
                .iter()
                .any(|l| l.trim_start().starts_with("ServerHello,"))
        })
        .map(|r| {
            let find = |key: &str| {
                r.body
                    .iter()
                    .find_map(|l| l.trim_start().strip_prefix(key))
                    .unwrap_or_else(|| panic!("no {key} in {r:?}"))
            };
            // "cipher_suite {0x13, 0x01} TLS_AES_128_GCM_SHA256"
            let suite = find("cipher_suite {")
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string();
            // "NamedGroup: secp256r1 (P-256) (23)"
            let group = find("NamedGroup: ")
                .rsplit_once('(')
                .and_then(|(_, code)| code.trim_end_matches(')').parse().ok())
                .unwrap_or_else(|| panic!("no group code in {r:?}"));
            TracedHello {
                retry: find("gmt_unix_time=") == "0xCF21AD74"
                    && find("random_bytes (len=28): ")
                        == "E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C",
                suite,
                group,
            }
        })
        .collect()
}

/// How many ChangeCipherSpec records the tracing side sent (`sent`) or received.
fn change_cipher_specs(records: &[TraceRecord<'_>], sent: bool) -> usize {
    let is_ccs = |l: &&str| l.trim() == "Content Type = ChangeCipherSpec (20)";
    records
        .iter()
        .filter(|r| r.sent == sent && r.body.iter().any(is_ccs))
        .count()
}

/// Whether a ClientHello the tracing side sent (`sent`) or received has a line starting with
/// `prefix`.
fn client_hello_has(records: &[TraceRecord<'_>], sent: bool, prefix: &str) -> bool {
    records
        .iter()
        .filter(|r| r.sent == sent)
        .filter(|r| {
            r.body
                .iter()
                .any(|l| l.trim_start().starts_with("ClientHello,"))
        })
        .any(|r| r.body.iter().any(|l| l.trim().starts_with(prefix)))
}

/// How many `alert`s the tracing side sent (`sent`) or received. By code: OpenSSL 3.0 names
/// `certificate_required` "unknown(116)".
fn alerts(records: &[TraceRecord<'_>], sent: bool, alert: AlertDescription) -> usize {
    let code = format!("({})", alert.0);
    let is_alert = |l: &&str| l.contains(", description=") && l.trim_end().ends_with(&code);
    records
        .iter()
        .filter(|r| r.sent == sent && r.body.iter().any(is_alert))
        .count()
}

/// Waits (bounded) until `peer`'s output satisfies `done`.
fn wait_until(peer: &Peer, done: impl Fn(&str) -> bool) {
    let deadline = std::time::Instant::now() + tlsmachine_tests::TIMEOUT;
    while !done(&peer.output()) {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out; output:\n{}",
            peer.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
