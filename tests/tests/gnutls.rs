//! Interop with GnuTLS: our client against `gnutls-serv --echo`, and `gnutls-cli` against
//! our echo server, TLS 1.2 only, for every suite, both certificate types (ECDSA P-256,
//! RSA-2048) and every group, with application data both ways and close_notify both ways.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use tlsmachine::codec::enums::NamedGroup;
use tlsmachine::crypto::suites::Tls12Suite;
use tlsmachine::{ClientConfig, Connection, Phase, ServerConfig, Stream};
use tlsmachine_tests::{
    connect, echo_server, free_port, join_server, peer_available, read_exact_or_eof, suites_for,
    wait_for_port, Peer, PkiDir, ALL_GROUPS, CERT_TYPES,
};

/// GnuTLS priority string for TLS 1.2 and nothing else.
const TLS12_ONLY: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.2";

#[test]
fn our_client_against_gnutls_serv() {
    if !peer_available("gnutls-serv") {
        return;
    }
    for key_type in CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let port = free_port();
        let mut cmd = Command::new("gnutls-serv");
        cmd.args(["--echo", "--disable-client-cert", "--priority", TLS12_ONLY])
            .arg(format!("--port={port}"))
            .args(["--x509certfile", &pki.path("server.pem")])
            .args(["--x509keyfile", &pki.path("server.key")]);
        let server = Peer::spawn(cmd);
        wait_for_port(port);
        for suite in suites_for(key_type) {
            for group in ALL_GROUPS {
                let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
                let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
                config.cipher_suites = vec![suite.into()];
                config.groups = vec![group];
                let conn = Connection::client(Arc::new(config), "localhost").unwrap();
                let mut tls = Stream::new(conn, connect(port)).unwrap();
                tls.handshake()
                    .unwrap_or_else(|e| panic!("{what}: {e}\n{}", server.output()));
                let n = tls.connection().negotiated();
                assert_eq!(n.cipher_suite, Some(suite.suite), "{what}");
                assert_eq!(n.group, Some(group), "{what}");
                assert!(n.extended_master_secret, "{what}");

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
    }
}

#[test]
fn gnutls_cli_against_our_server() {
    if !peer_available("gnutls-cli") {
        return;
    }
    for key_type in CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let certificate = pki.pki.server_key().unwrap();
        for suite in suites_for(key_type) {
            for group in ALL_GROUPS {
                let what = format!("{key_type:?}/{:?}/{group:?}", suite.suite);
                let mut config = ServerConfig::new(certificate.clone());
                config.cipher_suites = vec![suite.into()];
                config.groups = vec![group];
                let (port, server) = echo_server(Arc::new(config));

                // Connect to 127.0.0.1 (not whatever "localhost" resolves to) and name
                // "localhost" for SNI and the certificate check.
                let mut cmd = Command::new("gnutls-cli");
                cmd.args(["--x509cafile", &pki.path("ca.pem")])
                    .args(["--priority", TLS12_ONLY])
                    .args(["--sni-hostname", "localhost"])
                    .args(["--verify-hostname", "localhost"])
                    .arg(format!("--port={port}"))
                    .arg("127.0.0.1");
                let mut client = Peer::spawn(cmd);
                let out = client.wait_for_output("- Handshake was completed");
                client.stdin().write_all(b"ping from gnutls\n").unwrap();
                client.wait_for_output("ping from gnutls");
                // On end of input gnutls-cli sends close_notify and exits.
                client.close_stdin();
                assert!(
                    client.wait_exit(),
                    "{what}: gnutls-cli:\n{}",
                    client.output()
                );

                let served = join_server(server);
                assert_eq!(served.result.unwrap(), b"ping from gnutls\n", "{what}");
                assert_eq!(served.negotiated.cipher_suite, Some(suite.suite), "{what}");
                assert_eq!(served.negotiated.group, Some(group), "{what}");
                assert_eq!(served.negotiated.server_name.as_deref(), Some("localhost"));
                assert!(
                    served.peer_closed,
                    "{what}: no close_notify from gnutls-cli"
                );
                assert_eq!(served.state, Phase::Shutdown, "{what}");

                // GnuTLS's own view, e.g.
                // "- Description: (TLS1.2-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)-(AES-128-GCM)"
                let description = out
                    .lines()
                    .find(|l| l.starts_with("- Description:"))
                    .unwrap_or_else(|| panic!("{what}: no description:\n{out}"));
                println!("{what}: gnutls-cli {description}");
                assert!(description.contains("(TLS1.2-"), "{description}");
                assert!(
                    description.contains(&format!("(ECDHE-{})", gnutls_group(group))),
                    "{what}: {description}"
                );
                assert!(
                    description.ends_with(&format!("-({})", gnutls_cipher(suite))),
                    "{what}: {description}"
                );
            }
        }
    }
}

fn gnutls_group(group: NamedGroup) -> &'static str {
    match group {
        NamedGroup::X25519 => "X25519",
        NamedGroup::SECP256R1 => "SECP256R1",
        NamedGroup::SECP384R1 => "SECP384R1",
        other => panic!("no GnuTLS name for {other:?}"),
    }
}

/// GnuTLS's name for the record cipher of `suite`.
fn gnutls_cipher(suite: &Tls12Suite) -> &'static str {
    let name = suite.suite.name().unwrap();
    if name.contains("AES_128_GCM") {
        "AES-128-GCM"
    } else if name.contains("AES_256_GCM") {
        "AES-256-GCM"
    } else {
        "CHACHA20-POLY1305"
    }
}
