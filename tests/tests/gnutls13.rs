//! TLS 1.3 interop with GnuTLS (issue 8): our client against `gnutls-serv --echo` and
//! `gnutls-cli` against our echo server, TLS 1.3 only, for the three suites, X25519, P-256
//! and P-384, and ECDSA P-256, RSA-2048 and Ed25519 certificates, with data and
//! close_notify both ways. Both sides' view of the handshake is checked (GnuTLS prints a
//! "Description" line per connection), and so are exporters: `gnutls-serv` prints the RFC
//! 9266 `tls-exporter` channel binding, `gnutls-cli --keymatexport` any label. Plus client
//! authentication both ways (a missing certificate gets `certificate_required`), and
//! KeyUpdate from `gnutls-cli`'s inline `^rekey^` (ask us to follow) and `^rekey1^`.

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;

use tlsmachine::codec::enums::{AlertDescription, NamedGroup, ProtocolVersion};
use tlsmachine::crypto::suites::Tls13Suite;
use tlsmachine::pki::KeyType;
use tlsmachine::{ClientAuth, ClientConfig, Connection, Error, Phase, Stream, Version};
use tlsmachine_tests::{
    client13_config, connect, echo_until_close, free_port, join_bounded, peer_available,
    read_exact_or_eof, serve_connections, serve_once, server13_config, take_trace, wait_for_port,
    Peer, PkiDir, ALL_GROUPS, TIMEOUT, TLS13_CERT_TYPES, TLS13_SUITES,
};

/// GnuTLS priority string for TLS 1.3 and nothing else.
const TLS13_ONLY: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

/// RFC 9266 §2: the label of the `tls-exporter` channel binding (32 bytes, no context).
const TLS_EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

#[test]
fn our_client_against_gnutls_serv_tls13() {
    if !peer_available("gnutls-serv") {
        return;
    }
    for key_type in TLS13_CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let port = free_port();
        let mut cmd = Command::new("gnutls-serv");
        cmd.args(["--echo", "--disable-client-cert", "--priority", TLS13_ONLY])
            .arg(format!("--port={port}"))
            .args(["--x509certfile", &pki.path("server.pem")])
            .args(["--x509keyfile", &pki.path("server.key")]);
        let mut server = Peer::spawn(cmd);
        wait_for_port(port);
        let mut expected = Vec::new();
        for suite in TLS13_SUITES {
            for group in ALL_GROUPS {
                let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
                let config = client13_config(&pki.pki, suite, group);
                let conn = Connection::client(Arc::new(config), "localhost").unwrap();
                let mut tls = Stream::new(conn, connect(port)).unwrap();
                tls.handshake()
                    .unwrap_or_else(|e| panic!("{what}: {e}\n{}", server.output()));
                let n = tls.connection().negotiated();
                assert_eq!(n.version, Some(ProtocolVersion::TLS1_3), "{what}");
                assert_eq!(n.cipher_suite, Some(suite.suite), "{what}");
                assert_eq!(n.group, Some(group), "{what}");
                assert!(!n.hello_retry, "{what}");
                let mut binding = [0u8; 32];
                tls.connection()
                    .export_keying_material(&mut binding, TLS_EXPORTER_LABEL, None)
                    .unwrap();
                expected.push((description(key_type, suite, group), hex(&binding)));

                tls.write_all(b"hello gnutls\n").unwrap();
                assert_eq!(read_exact_or_eof(&mut tls, 13), b"hello gnutls\n", "{what}");
                tls.close().unwrap();
                assert_eq!(tls.connection().state(), Phase::Shutdown, "{what}");
                assert!(
                    tls.connection().peer_closed(),
                    "{what}: gnutls-serv did not answer our close_notify"
                );
            }
        }
        // gnutls-serv buffers what it prints; SIGTERM makes it exit cleanly and flush.
        stop(&mut server);
        let out = server.output();
        let descriptions = values(&out, "- Description: ");
        let bindings = values(&out, " - 'tls-exporter': ");
        let theirs: Vec<(String, String)> = descriptions
            .into_iter()
            .map(String::from)
            .zip(bindings.into_iter().map(String::from))
            .collect();
        assert_eq!(theirs, expected, "{key_type:?}:\n{out}");
    }
}

#[test]
fn gnutls_cli_against_our_server_tls13() {
    if !peer_available("gnutls-cli") {
        return;
    }
    for (k, key_type) in TLS13_CERT_TYPES.into_iter().enumerate() {
        let pki = PkiDir::new(key_type);
        // Each key type takes every suite, with the groups rotated: over the three key
        // types every suite meets every group.
        let cases: Vec<(&'static Tls13Suite, NamedGroup)> = TLS13_SUITES
            .iter()
            .enumerate()
            .map(|(s, &suite)| (suite, ALL_GROUPS[(k + s) % ALL_GROUPS.len()]))
            .collect();
        let config = Arc::new(server13_config(&pki.pki));
        let (port, server) = serve_connections(config, cases.len(), |tls| {
            let mut material = [0u8; 32];
            tls.connection()
                .export_keying_material(&mut material, b"EXPORTER-tlsmachine-test", None)
                .map_err(std::io::Error::other)?;
            Ok((echo_until_close(tls)?, hex(&material)))
        });
        let mut outputs = Vec::new();
        for &(suite, group) in &cases {
            let priority = format!(
                "{TLS13_ONLY}:-CIPHER-ALL:+{}:-GROUP-ALL:+GROUP-{}",
                gnutls_cipher(suite),
                gnutls_group(group)
            );
            let mut client = Peer::spawn(gnutls_cli(&pki, port, &priority));
            client.wait_for_output("- Handshake was completed");
            client.stdin().write_all(b"ping from gnutls\n").unwrap();
            client.wait_for_output("ping from gnutls");
            // On end of input gnutls-cli sends close_notify and exits.
            client.close_stdin();
            assert!(client.wait_exit(), "gnutls-cli:\n{}", client.output());
            outputs.push(client.output());
        }
        let served = join_bounded(server);
        for ((out, served), &(suite, group)) in outputs.iter().zip(served).zip(&cases) {
            let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
            let (received, material) = served.result.unwrap();
            assert_eq!(received, b"ping from gnutls\n", "{what}");
            let n = &served.negotiated;
            assert_eq!(n.version, Some(ProtocolVersion::TLS1_3), "{what}");
            assert_eq!(n.cipher_suite, Some(suite.suite), "{what}");
            assert_eq!(n.group, Some(group), "{what}");
            assert_eq!(n.server_name.as_deref(), Some("localhost"), "{what}");
            assert!(!n.hello_retry, "{what}");
            assert!(
                served.peer_closed,
                "{what}: no close_notify from gnutls-cli"
            );
            assert_eq!(served.state, Phase::Shutdown, "{what}");
            // GnuTLS's view, and the same exported bytes.
            let theirs = values(out, "- Description: ");
            assert_eq!(theirs, [description(key_type, suite, group)], "{what}");
            assert_eq!(values(out, "- Key material: "), [material], "{what}");
        }
    }
}

/// Client authentication against `gnutls-serv --require-client-cert`: our certificate is
/// verified, and without one GnuTLS answers `certificate_required` (RFC 8446 §4.4.2.4),
/// which our client, its own handshake finished, reads on its next read.
#[test]
fn our_client_authenticates_to_gnutls_serv_or_gets_certificate_required() {
    if !peer_available("gnutls-serv") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let port = free_port();
    let mut cmd = Command::new("gnutls-serv");
    cmd.args(["--echo", "--require-client-cert", "--verify-client-cert"])
        .args(["--priority", TLS13_ONLY])
        .args(["--x509cafile", &pki.path("ca.pem")])
        .arg(format!("--port={port}"))
        .args(["--x509certfile", &pki.path("server.pem")])
        .args(["--x509keyfile", &pki.path("server.key")]);
    let mut server = Peer::spawn(cmd);
    wait_for_port(port);

    let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    config.client_certificate = Some(pki.pki.client_key().unwrap());
    let conn = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut tls = Stream::new(conn, connect(port)).unwrap();
    tls.handshake()
        .unwrap_or_else(|e| panic!("{e}\n{}", server.output()));
    assert!(tls.connection().negotiated().client_certificate_requested);
    tls.write_all(b"authenticated\n").unwrap();
    assert_eq!(read_exact_or_eof(&mut tls, 14), b"authenticated\n");
    tls.close().unwrap();
    assert!(tls.connection().peer_closed());

    let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
    config.versions = vec![Version::Tls13];
    let conn = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut tls = Stream::new(conn, connect(port)).unwrap();
    tls.handshake()
        .expect("our side of the handshake ends first");
    let mut buf = [0u8; 16];
    let err = tls.read(&mut buf).expect_err("gnutls-serv let us in");
    println!("our client: {err}");
    assert_eq!(
        tls.connection().error(),
        Some(&Error::AlertReceived {
            alert: AlertDescription::CERTIFICATE_REQUIRED
        })
    );

    stop(&mut server);
    let out = server.output();
    assert!(
        out.contains("- Status: The certificate is trusted."),
        "{out}"
    );
    assert!(
        out.contains("Subject: O=tlsmachine,CN=tlsmachine client"),
        "{out}"
    );
    assert!(
        out.contains("Error in handshake: Certificate is required."),
        "{out}"
    );
}

/// `gnutls-cli` presenting a certificate of each key type to our server, which requires
/// one.
#[test]
fn gnutls_cli_with_a_certificate_against_our_server() {
    if !peer_available("gnutls-cli") {
        return;
    }
    for key_type in TLS13_CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let mut config = server13_config(&pki.pki);
        config.client_auth = ClientAuth::Required(pki.pki.trust_store().unwrap());
        let (port, server) = serve_once(Arc::new(config), echo_until_close);
        let mut cmd = gnutls_cli(&pki, port, TLS13_ONLY);
        cmd.args(["--x509certfile", &pki.path("client.pem")])
            .args(["--x509keyfile", &pki.path("client.key")]);
        let mut client = Peer::spawn(cmd);
        client.wait_for_output("- Handshake was completed");
        client.stdin().write_all(b"authenticated\n").unwrap();
        client.wait_for_output("authenticated");
        client.close_stdin();
        assert!(client.wait_exit(), "gnutls-cli:\n{}", client.output());
        let served = join_bounded(server);
        assert_eq!(served.result.unwrap(), b"authenticated\n", "{key_type:?}");
        assert!(served.negotiated.client_authenticated, "{key_type:?}");
        assert_eq!(served.state, Phase::Shutdown, "{key_type:?}");
    }
}

/// `^rekey^` updates gnutls-cli's keys and asks us to update ours; `^rekey1^` updates its
/// own only. A line is echoed after each.
#[test]
fn gnutls_cli_updates_keys_with_our_server() {
    if !peer_available("gnutls-cli") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let mut config = server13_config(&pki.pki);
    config.trace = true;
    let (port, server) = serve_once(Arc::new(config), |tls| {
        let received = echo_until_close(tls)?;
        Ok((received, take_trace(tls.connection_mut())))
    });
    let mut cmd = gnutls_cli(&pki, port, TLS13_ONLY);
    cmd.arg("--inline-commands");
    let mut client = Peer::spawn(cmd);
    client.wait_for_output("- Handshake was completed");
    for (n, (command, line)) in [("^rekey^", "after rekey"), ("^rekey1^", "after rekey1")]
        .into_iter()
        .enumerate()
    {
        client
            .stdin()
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        let deadline = std::time::Instant::now() + TIMEOUT;
        while client.output().matches("- Rekey was completed").count() <= n {
            assert!(std::time::Instant::now() < deadline, "{}", client.output());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        client
            .stdin()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        client.wait_for_output(line);
    }
    client.close_stdin();
    assert!(client.wait_exit(), "gnutls-cli:\n{}", client.output());

    let served = join_bounded(server);
    let (received, trace) = served.result.unwrap();
    assert_eq!(received, b"after rekey\nafter rekey1\n");
    assert!(served.peer_closed);
    let key_updates: Vec<&str> = trace
        .iter()
        .filter(|l| l.contains("> KeyUpdate") || l.contains("<- KeyUpdate"))
        .map(|l| l.as_str())
        .collect();
    let kinds: Vec<(bool, &str)> = key_updates
        .iter()
        .map(|l| {
            let request = l.split_whitespace().last().unwrap();
            (l.starts_with("<-"), request)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (true, "update_requested"),
            (false, "update_not_requested"),
            (true, "update_not_requested"),
        ],
        "{trace:#?}"
    );
}

/// `gnutls-cli` at 127.0.0.1:`port` naming "localhost" for SNI and the certificate check,
/// trusting the PKI's CA, with `priority` and an exporter of 32 bytes.
fn gnutls_cli(pki: &PkiDir, port: u16, priority: &str) -> Command {
    let mut cmd = Command::new("gnutls-cli");
    cmd.args(["--x509cafile", &pki.path("ca.pem")])
        .args(["--priority", priority])
        .args(["--sni-hostname", "localhost"])
        .args(["--verify-hostname", "localhost"])
        .args(["--keymatexport", "EXPORTER-tlsmachine-test"])
        .args(["--keymatexportsize", "32"])
        .arg(format!("--port={port}"))
        .arg("127.0.0.1");
    cmd
}

/// Sends SIGTERM (gnutls-serv then exits cleanly, flushing its output) and waits.
fn stop(server: &mut Peer) {
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    server.wait_exit();
}

/// GnuTLS's one-line description of a TLS 1.3 handshake, e.g.
/// "(TLS1.3-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)-(AES-128-GCM)".
fn description(key_type: KeyType, suite: &Tls13Suite, group: NamedGroup) -> String {
    let signature = match key_type {
        KeyType::EcdsaP256 => "ECDSA-SECP256R1-SHA256",
        KeyType::Rsa2048 => "RSA-PSS-RSAE-SHA256",
        KeyType::Ed25519 => "EdDSA-Ed25519",
        other => panic!("no expectation for {other:?}"),
    };
    format!(
        "(TLS1.3-X.509)-(ECDHE-{})-({signature})-({})",
        gnutls_group(group),
        gnutls_cipher(suite)
    )
}

fn gnutls_group(group: NamedGroup) -> &'static str {
    match group {
        NamedGroup::X25519 => "X25519",
        NamedGroup::SECP256R1 => "SECP256R1",
        NamedGroup::SECP384R1 => "SECP384R1",
        other => panic!("no GnuTLS name for {other:?}"),
    }
}

fn gnutls_cipher(suite: &Tls13Suite) -> &'static str {
    match suite.suite.name().unwrap() {
        "TLS_AES_128_GCM_SHA256" => "AES-128-GCM",
        "TLS_AES_256_GCM_SHA384" => "AES-256-GCM",
        "TLS_CHACHA20_POLY1305_SHA256" => "CHACHA20-POLY1305",
        other => panic!("no GnuTLS name for {other}"),
    }
}

/// The rest of every line starting with `prefix`, in order.
fn values<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
