//! Interop with OpenSSL: our client against `openssl s_server -tls1_2`, and `openssl
//! s_client -tls1_2` against our server, for every suite, both certificate types and every
//! group, with application data both ways and close_notify both ways.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;

use tlsmachine::codec::enums::NamedGroup;
use tlsmachine::crypto::suites::{SuiteAuth, Tls12Suite, DEFAULT_TLS12_SUITES};
use tlsmachine::pki::KeyType;
use tlsmachine::{ClientConfig, Connection, Phase, ServerConfig, Stream};
use tlsmachine_tests::{connect, free_port, peer_available, wait_for_port, Peer, PkiDir};

const GROUPS: [(NamedGroup, &str); 3] = [
    (NamedGroup::X25519, "X25519"),
    (NamedGroup::SECP256R1, "P-256"),
    (NamedGroup::SECP384R1, "P-384"),
];

fn suites_for(key_type: KeyType) -> Vec<&'static Tls12Suite> {
    let auth = if key_type == KeyType::Rsa2048 {
        SuiteAuth::Rsa
    } else {
        SuiteAuth::Ecdsa
    };
    DEFAULT_TLS12_SUITES
        .iter()
        .copied()
        .filter(|s| s.auth == auth)
        .collect()
}

/// Reads until `want` bytes arrived or the stream ends.
fn read_exact_or_eof(stream: &mut impl Read, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed after {} bytes: {e}", got.len()),
        }
    }
    got
}

#[test]
fn our_client_against_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in [KeyType::EcdsaP256, KeyType::Rsa2048] {
        let pki = PkiDir::new(key_type);
        for (group, group_name) in GROUPS {
            // The server pins the group; we must still list P-256, the curve of the ECDSA
            // certificate, which OpenSSL requires in supported_groups (RFC 8422 §5.1).
            let port = free_port();
            let mut cmd = Command::new("openssl");
            cmd.args([
                "s_server", "-tls1_2", "-rev", "-curves", group_name, "-accept",
            ])
            .arg(port.to_string())
            .args([
                "-cert",
                &pki.path("server.pem"),
                "-key",
                &pki.path("server.key"),
            ]);
            let server = Peer::spawn(cmd);
            wait_for_port(port);
            for suite in suites_for(key_type) {
                let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
                config.cipher_suites = vec![suite];
                config.groups = vec![group, NamedGroup::SECP256R1];
                let conn = Connection::client(Arc::new(config), "localhost").unwrap();
                let mut tls = Stream::new(conn, connect(port)).unwrap();
                tls.handshake().unwrap_or_else(|e| {
                    panic!("{:?}/{group:?}: {e}\n{}", suite.suite, server.output())
                });
                let n = tls.connection().negotiated();
                assert_eq!(n.cipher_suite, Some(suite.suite));
                assert_eq!(n.group, Some(group));
                assert!(n.extended_master_secret);
                tls.write_all(b"hello tlsmachine\n").unwrap();
                let reply = read_exact_or_eof(&mut tls, 17);
                assert_eq!(reply, b"enihcamslt olleh\n", "{:?}/{group:?}", suite.suite);
                tls.close().unwrap();
                assert_eq!(tls.connection().state(), Phase::Shutdown);
            }
            drop(server);
        }
    }
}

#[test]
fn openssl_s_client_against_our_server() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in [KeyType::EcdsaP256, KeyType::Rsa2048] {
        let pki = PkiDir::new(key_type);
        for suite in suites_for(key_type) {
            for (group, group_name) in GROUPS {
                let mut config = ServerConfig::new(pki.pki.server_key().unwrap());
                config.groups = vec![group];
                let config = Arc::new(config);
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = listener.local_addr().unwrap().port();
                let config = config.clone();
                let server = std::thread::spawn(move || {
                    let (sock, _) = listener.accept().unwrap();
                    sock.set_read_timeout(Some(tlsmachine_tests::TIMEOUT))
                        .unwrap();
                    let mut tls = Stream::new(Connection::server(config).unwrap(), sock).unwrap();
                    tls.handshake().unwrap();
                    let negotiated = tls.connection().negotiated().clone();
                    // Echo until the client's close_notify, then answer it.
                    let mut buf = [0u8; 1024];
                    let mut echoed = Vec::new();
                    loop {
                        let n = tls.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        echoed.extend_from_slice(&buf[..n]);
                        tls.write_all(&buf[..n]).unwrap();
                    }
                    (
                        negotiated,
                        echoed,
                        tls.connection().state(),
                        tls.connection().peer_closed(),
                    )
                });
                let mut cmd = Command::new("openssl");
                cmd.args(["s_client", "-tls1_2", "-connect"])
                    .arg(format!("127.0.0.1:{port}"))
                    .args([
                        "-servername",
                        "localhost",
                        "-CAfile",
                        &pki.path("ca.pem"),
                        "-verify_return_error",
                    ])
                    .args(["-cipher", &openssl_cipher_name(suite)])
                    .args([
                        "-curves",
                        &if group_name == "P-256" {
                            group_name.to_string()
                        } else {
                            format!("{group_name}:P-256")
                        },
                    ]);
                let mut client = Peer::spawn(cmd);
                client.wait_for_output("Verify return code: 0");
                client.stdin().write_all(b"ping from openssl\n").unwrap();
                client.wait_for_output("ping from openssl");
                client.close_stdin();
                assert!(client.wait_exit(), "s_client failed:\n{}", client.output());
                let (negotiated, echoed, state, peer_closed) = server.join().unwrap();
                assert_eq!(negotiated.cipher_suite, Some(suite.suite));
                assert_eq!(negotiated.group, Some(group));
                assert_eq!(echoed, b"ping from openssl\n");
                assert!(peer_closed, "no close_notify from s_client");
                assert_eq!(state, Phase::Shutdown);
            }
        }
    }
}

/// OpenSSL names TLS 1.2 suites its own way.
fn openssl_cipher_name(suite: &Tls12Suite) -> String {
    let iana = suite.suite.name().unwrap();
    let name = iana
        .trim_start_matches("TLS_")
        .replace("_WITH_", "-")
        .replace("AES_128_GCM", "AES128-GCM")
        .replace("AES_256_GCM", "AES256-GCM")
        .replace("CHACHA20_POLY1305_SHA256", "CHACHA20-POLY1305")
        .replace('_', "-");
    name
}
