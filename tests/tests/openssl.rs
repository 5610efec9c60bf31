//! Interop with OpenSSL: our client against `openssl s_server -tls1_2`, and `openssl
//! s_client -tls1_2` against our server, for every suite, both certificate types and every
//! group, with application data both ways and close_notify both ways. Refusals: a TLS 1.0
//! or 1.1 `s_client` gets `protocol_version`; a server from a CA we do not trust gets
//! `unknown_ca` and our error says `unknown issuer`.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use tlsmachine::codec::enums::{AlertDescription, NamedGroup, ProtocolVersion, SignatureScheme};
use tlsmachine::error::{CertificateError, PeerIncompatible, ProtocolError};
use tlsmachine::pki::KeyType;
use tlsmachine::{ClientConfig, Connection, Error, Phase, ServerConfig, Stream};
use tlsmachine_tests::{
    connect, echo_server, free_port, join_server, openssl_cipher_name, peer_available,
    read_exact_or_eof, suites_for, wait_for_port, Peer, PkiDir,
};

const GROUPS: [(NamedGroup, &str); 3] = [
    (NamedGroup::X25519, "X25519"),
    (NamedGroup::SECP256R1, "P-256"),
    (NamedGroup::SECP384R1, "P-384"),
];

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
            .arg(format!("127.0.0.1:{port}"))
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
                let (port, server) = echo_server(Arc::new(config));
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
                let served = join_server(server);
                assert_eq!(served.result.unwrap(), b"ping from openssl\n");
                assert_eq!(served.negotiated.cipher_suite, Some(suite.suite));
                assert_eq!(served.negotiated.group, Some(group));
                assert!(served.peer_closed, "no close_notify from s_client");
                assert_eq!(served.state, Phase::Shutdown);
            }
        }
    }
}

/// RFC 8996 deprecates TLS 1.0 and 1.1: an old-version ClientHello gets `protocol_version`
/// (RFC 5246 §E.1), and OpenSSL says so.
#[test]
fn openssl_s_client_tls1_0_and_1_1_are_refused_with_protocol_version() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    for (flag, version) in [
        ("-tls1", ProtocolVersion::TLS1_0),
        ("-tls1_1", ProtocolVersion::TLS1_1),
    ] {
        let config = Arc::new(ServerConfig::new(pki.pki.server_key().unwrap()));
        let (port, server) = echo_server(config);
        let mut cmd = Command::new("openssl");
        // OpenSSL 3 only speaks TLS 1.0/1.1 at security level 0.
        cmd.args([
            "s_client",
            flag,
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-connect",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "localhost"]);
        let mut client = Peer::spawn(cmd);
        let served = join_server(server);
        let client_ok = client.wait_exit();
        let output = client.output();
        println!("{flag}: our server: {:?}", served.error);
        assert!(served.result.is_err(), "{flag}: handshake succeeded");
        assert_eq!(
            served.error,
            Some(Error::Protocol {
                error: ProtocolError::Incompatible(PeerIncompatible::UnsupportedVersion(vec![
                    version
                ])),
                sent: Some(AlertDescription::PROTOCOL_VERSION),
            }),
            "{flag}"
        );
        assert_eq!(served.state, Phase::Shutdown);
        assert!(!client_ok, "{flag}: s_client succeeded:\n{output}");
        assert!(
            output.contains("alert protocol version"),
            "{flag}: s_client did not report the alert:\n{output}"
        );
    }
}

/// A server whose CA we do not trust: the handshake stops at its Certificate with a clear
/// `unknown issuer`, and the server learns why from our `unknown_ca` alert.
#[test]
fn our_client_refuses_openssl_s_server_with_an_untrusted_ca() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    pki.write_untrusted_server();
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-tls1_2", "-rev", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-cert",
            &pki.path("untrusted.pem"),
            "-key",
            &pki.path("untrusted.key"),
        ]);
    let server = Peer::spawn(cmd);
    wait_for_port(port);

    let config = ClientConfig::new(pki.pki.trust_store().unwrap());
    let conn = Connection::client(Arc::new(config), "localhost").unwrap();
    let mut tls = Stream::new(conn, connect(port)).unwrap();
    let err = tls.handshake().expect_err("untrusted server accepted");
    println!("our client: {err}");
    assert!(err.to_string().contains("unknown issuer"), "{err}");
    assert_eq!(
        tls.connection().error(),
        Some(&Error::Protocol {
            error: ProtocolError::Certificate(CertificateError::UnknownIssuer),
            sent: Some(AlertDescription::UNKNOWN_CA),
        })
    );
    assert_eq!(tls.connection().state(), Phase::Shutdown);
    server.wait_for_output("unknown ca");
}

/// RFC 5705 keying material: `openssl s_client -keymatexport` and our server derive the same
/// bytes for the same label and (empty) context.
#[test]
fn exported_keying_material_matches_openssl() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    let config = Arc::new(tlsmachine::ServerConfig::new(pki.pki.server_key().unwrap()));
    let (port, server) = tlsmachine_tests::serve_once(config, |tls| {
        let mut material = [0u8; 32];
        tls.connection()
            .export_keying_material(&mut material, b"EXPORTER-tlsmachine-test", None)
            .map_err(std::io::Error::other)?;
        tlsmachine_tests::echo_until_close(tls)?;
        Ok(material)
    });
    let cmd = tlsmachine_tests::openssl_s_client(
        port,
        &[
            "-CAfile",
            &pki.path("ca.pem"),
            "-keymatexport",
            "EXPORTER-tlsmachine-test",
            "-keymatexportlen",
            "32",
        ],
    );
    let output = tlsmachine_tests::s_client_echo(cmd, "exporter check");
    let served = tlsmachine_tests::join_server(server);
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
    assert_eq!(theirs.trim(), ours);
}

/// In TLS 1.2 an ECDSA hash is not bound to the curve (RFC 5246 §7.4.1.4.1): a client that
/// offers only ecdsa with SHA-384 or SHA-512 gets a P-256 signature with that hash, which
/// OpenSSL verifies.
#[test]
fn openssl_s_client_offering_only_sha384_or_sha512_gets_a_p256_signature() {
    if !peer_available("openssl") {
        return;
    }
    let pki = PkiDir::new(KeyType::EcdsaP256);
    for (sigalgs, scheme, digest) in [
        (
            "ECDSA+SHA384",
            SignatureScheme::ECDSA_SECP384R1_SHA384,
            "SHA384",
        ),
        (
            "ECDSA+SHA512",
            SignatureScheme::ECDSA_SECP521R1_SHA512,
            "SHA512",
        ),
    ] {
        let config = Arc::new(ServerConfig::new(pki.pki.server_key().unwrap()));
        let (port, server) = echo_server(config);
        let cmd = tlsmachine_tests::openssl_s_client(
            port,
            &[
                "-CAfile",
                &pki.path("ca.pem"),
                "-verify_return_error",
                "-servername",
                "localhost",
                "-sigalgs",
                sigalgs,
            ],
        );
        let output = tlsmachine_tests::s_client_echo(cmd, "signed with another hash");
        let served = join_server(server);
        assert_eq!(served.result.unwrap(), b"signed with another hash\n");
        assert_eq!(
            served.negotiated.signature_scheme,
            Some(scheme),
            "{sigalgs}"
        );
        assert!(
            output.contains(&format!("Peer signing digest: {digest}")),
            "{sigalgs}:\n{output}"
        );
    }
}
